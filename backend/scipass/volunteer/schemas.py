from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from annotated_types import Interval
from pydantic import AwareDatetime, BaseModel, Field

from scipass.core.inputs import MULTILINE, Id, RequestModel
from scipass.org.models import Stage
from scipass.org.organiser import OrganiserKind
from scipass.volunteer.models import RolePreset, ShiftStatus, SignupKind, SignupStatus

# 星期几: 1 is Monday, 7 Sunday (ISO).
Weekday = Annotated[int, Interval(ge=1, le=7)]

HOURS = Field(
    default=None, gt=0, le=8, multiple_of=0.5, description="学生每天在本岗位最多服务的小时数"
)


class PresetRead(BaseModel):
    key: RolePreset
    name: str
    description: str
    duties: str
    stages: list[Stage]
    min_age: int | None
    training: str
    max_daily_hours: float


class RoleCreate(RequestModel):
    """A role of the caller's organisation (a venue, or a school for its science festival).
    With ``preset``, every field left out takes the preset's value."""

    preset: RolePreset | None = Field(default=None, description="三个预设岗位之一")
    name: str | None = Field(default=None, min_length=1, max_length=40)
    description: str | None = Field(default=None, max_length=2000, json_schema_extra=MULTILINE)
    duties: str | None = Field(default=None, max_length=2000, json_schema_extra=MULTILINE)
    stages: list[Stage] | None = Field(default=None, description="适合的学段；空表示不限")
    min_age: int | None = Field(default=None, ge=6, le=18, description="最低年龄（周岁）")
    training: str | None = Field(
        default=None, max_length=500, description="上岗前须完成的培训（说明）"
    )
    prerequisite_role_id: Id | None = Field(
        default=None, description="须先服务过的岗位（本组织的岗位）"
    )
    max_daily_hours: float | None = HOURS


class RoleUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=40)
    description: str | None = Field(default=None, max_length=2000, json_schema_extra=MULTILINE)
    duties: str | None = Field(default=None, max_length=2000, json_schema_extra=MULTILINE)
    stages: list[Stage] | None = None
    min_age: int | None = Field(default=None, ge=6, le=18)
    clear_min_age: bool = Field(default=False, description="为 true 时取消最低年龄")
    training: str | None = Field(default=None, max_length=500)
    prerequisite_role_id: Id | None = None
    clear_prerequisite: bool = Field(default=False, description="为 true 时取消前置岗位")
    max_daily_hours: float | None = HOURS
    active: bool | None = Field(default=None, description="false：停用，不再发布新班次")


class RoleRead(BaseModel):
    id: int
    organiser_kind: OrganiserKind
    organiser_id: int
    organiser_name: str
    preset: RolePreset | None
    name: str
    description: str
    duties: str
    stages: list[Stage]
    min_age: int | None
    training: str
    prerequisite_role_id: int | None
    max_daily_hours: float
    max_daily_minutes: int
    active: bool
    created_at: datetime


class ShiftCreate(RequestModel):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place: str = Field(default="", max_length=100, description="服务地点，如“一楼序厅”")
    capacity: int = Field(ge=1, le=1000)
    signup_closes_at: AwareDatetime | None = Field(
        default=None, description="报名截止时间，不晚于开始时间；不填即开始时间"
    )
    walk_ins: bool = Field(default=False, description="是否允许未报名的学生到场补位（签到时）")
    note: str = Field(default="", max_length=200)


class ShiftSeriesCreate(RequestModel):
    """Shifts on given weekdays between two dates, at the same local times."""

    from_date: date
    to_date: date = Field(description="含当天")
    weekdays: list[Weekday] = Field(
        min_length=1, max_length=7, description="星期几，1 为星期一，7 为星期日"
    )
    start_time: time = Field(description="北京时间")
    end_time: time = Field(description="北京时间")
    except_dates: list[date] = Field(default=[], max_length=100, description="不安排的日期")
    place: str = Field(default="", max_length=100)
    capacity: int = Field(ge=1, le=1000)
    close_hours_before: int = Field(
        default=24, ge=0, le=336, description="每个班次开始前多少小时截止报名"
    )
    walk_ins: bool = False
    note: str = Field(default="", max_length=200)


class ShiftRead(BaseModel):
    id: int
    role_id: int
    role_name: str
    organiser_kind: OrganiserKind
    organiser_id: int
    series_key: str | None
    starts_at: datetime
    ends_at: datetime
    place: str
    capacity: int
    taken: int
    available: int
    waitlist_length: int
    signup_closes_at: datetime
    walk_ins: bool
    status: ShiftStatus
    note: str
    cancelled_at: datetime | None
    cancel_reason: str


class ShiftCancel(RequestModel):
    reason: str = Field(min_length=1, max_length=200, description="取消原因，会通知已报名的学生")


class SignupCreate(RequestModel):
    join_waitlist: bool = Field(
        default=False,
        description="名额已满时是否排队候补（按报名先后递补）；为 false 时返回 409 "
        "`volunteer_shift_full`",
    )


class GroupSignupCreate(RequestModel):
    student_ids: list[Id] = Field(min_length=1, max_length=200)
    group_label: str = Field(default="", max_length=60, description="如“七年级 2 班”")


class SignupCancel(RequestModel):
    reason: str = Field(default="", max_length=200)


class SignupRead(BaseModel):
    id: int
    shift_id: int
    role_id: int
    role_name: str
    starts_at: datetime
    ends_at: datetime
    place: str
    kind: SignupKind
    status: SignupStatus
    waitlist_position: int | None = Field(description="候补中时的排队位次（从 1 起）")
    school_id: int
    student_id: int
    student_name: str = Field(description="按查看者的权限显示（场馆只见脱敏姓名）")
    group_label: str
    created_at: datetime
    placed_at: datetime | None
    promoted_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str


# --- attendance, minutes, totals and certificates (issue 18 points 4-7) -----------------------


class ShiftCodeRead(BaseModel):
    """A shift's code. Its images, A4 poster, mini-program code and revocation are the routes
    of every code: `/codes/{code_id}/qr.png`, `qr.svg`, `poster.pdf`, `wxacode.png`, and
    `POST /codes/{code_id}/revoke`; a rotating code's `kiosk_url` is the shift's screen."""

    id: int
    shift_id: int
    kind: str = Field(description="`static` 海报码，`rotating` 大屏动态码")
    short_id: str
    step_seconds: int
    valid_until: datetime | None
    revoked_at: datetime | None
    revoke_reason: str = ""
    created_at: datetime
    payload: str = Field(description="码内容；动态码为当前这一步的")
    link: str = Field(description="码的内容：静态码为固定链接，动态码为此刻的链接（每步更新）")
    scene: str = Field(description="小程序码的 scene（`c=<短编号>`，打开志愿者扫码页）")
    kiosk_url: str | None = Field(
        default=None, description="动态码的大屏页面（含大屏令牌，请勿外传）"
    )


class AttendanceRead(BaseModel):
    """A pupil's attendance at a shift and its confirmed minutes."""

    signup_id: int
    shift_id: int
    role_id: int
    student_id: int
    student_name: str = Field(description="按查看者的权限显示（场馆只见脱敏姓名）")
    status: SignupStatus
    arrived_at: datetime | None
    left_at: datetime | None
    confirmed_minutes: int | None = Field(description="确认的服务时长（分钟，权威值）")
    minutes_reason: str
    confirmed_by: str | None
    confirmed_at: datetime | None
    record_id: int | None
    needs_minutes: bool = Field(
        description="已到岗但未扫离岗码：没有默认时长，须由工作人员填写时长（并写原因）后才确认"
    )


class ShiftScanRead(AttendanceRead):
    direction: str
    duplicate: bool = Field(description="此前已记录过到岗（或离岗）：返回已有记录")
    walk_in: bool = Field(description="未报名、按班次设置补位到岗")


class MinutesItem(RequestModel):
    signup_id: Id
    minutes: int | None = Field(
        default=None, ge=0, le=480, description="修改后的时长（分钟）；与默认值不同时须写原因"
    )
    no_show: bool = Field(default=False, description="标记为缺席")
    reason: str = Field(default="", max_length=200)


class MinutesConfirm(RequestModel):
    items: list[MinutesItem] = Field(
        default_factory=list,
        max_length=500,
        description="只列出要改动的学生；其余按默认（到岗至离岗、限于班次时间、按 30 分钟计）确认",
    )


class TermTotal(BaseModel):
    school_year: int
    semester: str
    minutes: int
    hours: float
    times: int


class YearTotal(BaseModel):
    school_year: int
    minutes: int
    hours: float
    times: int


class MyVolunteerHours(BaseModel):
    student_id: int
    terms: list[TermTotal]
    years: list[YearTotal]


class PupilTotal(BaseModel):
    student_id: int
    student_name: str
    grade: int
    class_name: str
    minutes: int
    hours: float
    times: int


class CertificateCreate(RequestModel):
    student_id: Id
    from_date: date
    to_date: date
    person_in_charge: str = Field(min_length=1, max_length=40, description="单位负责人")
    handler: str = Field(min_length=1, max_length=40, description="经办人")
    contact: str = Field(min_length=1, max_length=40, description="联系方式")


class CertificateLine(BaseModel):
    role_name: str
    content: str
    minutes: int
    hours: float
    times: int


class CertificateRead(BaseModel):
    id: int
    number: str
    student_id: int
    student_name: str
    school_name: str
    venue_name: str
    from_date: date
    to_date: date
    minutes: int
    hours: float
    times: int
    lines: list[CertificateLine]
    person_in_charge: str
    handler: str
    contact: str
    status: str = Field(description="`valid` 有效，`voided` 已作废（其中一条记录已作废）")
    issued_at: datetime
    verify_url: str


class CertificateCheck(BaseModel):
    status: str = Field(description="`valid`、`voided` 或 `unknown`")
    number: str
    student_name: str | None = Field(default=None, description="脱敏姓名")
    venue_name: str | None = None
    hours: float | None = None
    issued_date: date | None = None
