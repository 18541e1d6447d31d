from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from scipass.core.inputs import Id, RequestModel
from scipass.reservation.models import ReservationKind, ReservationStatus, SlotStatus


class SlotCreate(RequestModel):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int | None = Field(
        default=None, ge=1, le=10_000, description="不填时取资源的默认容量"
    )
    resource_id: Id | None = Field(default=None, description="实验室、仪器、场次等资源")
    activity_id: Id | None = Field(default=None, description="本场馆的活动")
    school_channel: bool = Field(
        default=False, description="课后服务时段的学校绿色通道：截止前只接受学校团体预约"
    )
    school_priority_until: AwareDatetime | None = Field(
        default=None, description="学校优先截止时间，之后个人也可预约；学校通道时段必填"
    )
    note: str = Field(default="", max_length=200)


class SlotRead(BaseModel):
    id: int
    venue_id: int
    resource_id: int | None
    activity_id: int | None
    starts_at: datetime
    ends_at: datetime
    capacity: int
    taken: int
    available: int
    waitlist_length: int
    school_channel: bool
    school_priority_until: datetime | None
    status: SlotStatus
    note: str


class ReserveSelf(RequestModel):
    join_waitlist: bool = Field(
        default=True, description="名额已满时是否排队候补；为 false 时返回 409 `capacity_full`"
    )


class GroupReserve(RequestModel):
    """A class (grade and class name) or a list of students, as one group."""

    grade: int | None = Field(default=None, ge=1, le=12)
    class_name: str | None = Field(default=None, min_length=1, max_length=20)
    student_ids: list[Id] | None = Field(default=None, min_length=1, max_length=500)
    escorts: int = Field(default=0, ge=0, le=50, description="带队教师人数，计入名额")
    join_waitlist: bool = True
    note: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def one_way(self) -> GroupReserve:
        by_class = self.grade is not None and self.class_name is not None
        if by_class == (self.student_ids is not None):
            raise ValueError("请给出 grade 与 class_name，或 student_ids（二选一）")
        return self


class CancelRequest(RequestModel):
    reason: str = Field(default="", max_length=200)


class ReservationRead(BaseModel):
    id: int
    slot_id: int
    venue_id: int
    starts_at: datetime
    ends_at: datetime
    kind: ReservationKind
    status: ReservationStatus
    waitlist_position: int | None = Field(description="候补中时的排队位次（从 1 起）")
    school_id: int
    student_id: int | None
    student_name: str | None = Field(
        default=None, description="个人预约的学生（场馆方只见脱敏姓名）"
    )
    group_label: str
    students: int
    escorts: int
    party_size: int
    note: str
    created_at: datetime
    cancelled_at: datetime | None
    cancel_reason: str


class GroupMember(BaseModel):
    """A pupil of a group reservation, as the teacher at the door needs them: who, which class."""

    student_id: int
    name: str
    grade: int
    grade_label: str
    class_name: str


class GroupMembers(BaseModel):
    reservation: ReservationRead
    activity_id: int | None = Field(
        description="时段所属的活动；为空时教师不能为该团体签到（由场馆扫码）"
    )
    activity_title: str | None
    items: list[GroupMember] = Field(description="按年级、班级、姓名排列；预约取消后为空")
