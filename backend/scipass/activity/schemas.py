from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from scipass.activity.models import (
    ActivityKind,
    ActivityStatus,
    Admission,
    AutoCloseCredit,
)
from scipass.core.inputs import MULTILINE, RequestModel
from scipass.org.models import Stage
from scipass.record.models import Dimension, RecordCategory


class ActivityWrite(RequestModel):
    """An activity as its organiser describes it. Place, stages, minutes, category and
    dimension have defaults: the venue's (or school's) place and stages, the scheduled length,
    and the category and dimension that follow from the kind."""

    kind: ActivityKind
    title: str = Field(min_length=2, max_length=100, examples=["走进湘乡科技馆：力与运动"])
    description: str = Field(default="", max_length=5000, json_schema_extra=MULTILINE)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place_name: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=200)
    longitude: float | None = Field(default=None, ge=73, le=136, description="GCJ-02 经度")
    latitude: float | None = Field(default=None, ge=3, le=54, description="GCJ-02 纬度")
    geofence_radius_m: int | None = Field(
        default=None, ge=50, le=5000, description="签到地理围栏半径（米），不设则不校验位置"
    )
    capacity: int | None = Field(default=None, ge=1, le=100_000)
    admission: Admission = Admission.open
    open_to_other_schools: bool = Field(
        default=False,
        description="学校组织的活动是否接受外校学生（如邀请周边学校的科技节）；"
        "默认只接受本校学生。场馆的活动总是面向所有学校",
    )
    stages: list[Stage] | None = Field(default=None, min_length=1)
    credited_minutes: int | None = Field(
        default=None, ge=0, le=24 * 60, description="计入写实记录的时长（分钟）"
    )
    record_category: RecordCategory | None = None
    dimension: Dimension | None = None
    auto_confirm_records: bool = Field(
        default=False,
        description="参加者的写实记录自动视为组织方已确认（组织方事先证明），否则须逐条确认",
    )
    checkin_opens_minutes: int = Field(
        default=30, ge=0, le=24 * 60, description="开始前多少分钟可以签到"
    )
    checkin_closes_minutes: int | None = Field(
        default=None, ge=0, le=31 * 24 * 60, description="开始后多少分钟停止签到；不设则到结束为止"
    )
    minutes_unit: int = Field(default=30, ge=1, le=240, description="时长向下取整的单位（分钟）")
    daily_cap_minutes: int = Field(
        default=480, ge=1, le=24 * 60, description="每人每天最多计入的时长（分钟）"
    )
    auto_close_credit: AutoCloseCredit = Field(
        default=AutoCloseCredit.scheduled,
        description="未签退的到访在结束时自动关闭：`scheduled` 计入入场到结束的时长，"
        "`zero` 不计时长",
    )
    geofence_max_accuracy_m: int = Field(
        default=100, ge=10, le=2000, description="地理围栏校验时可接受的最大定位误差（米）"
    )


class StatusChange(RequestModel):
    reason: str = Field(default="", max_length=200, description="取消时必填")


class ActivityRead(BaseModel):
    id: int
    organiser: str = Field(description="`venue` 或 `school`")
    venue_id: int | None
    school_id: int | None
    kind: ActivityKind
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    place_name: str
    address: str
    longitude: float | None
    latitude: float | None
    geofence_radius_m: int | None
    capacity: int | None
    admission: Admission
    open_to_other_schools: bool
    stages: list[Stage]
    credited_minutes: int
    record_category: RecordCategory
    dimension: Dimension
    auto_confirm_records: bool
    checkin_opens_minutes: int
    checkin_closes_minutes: int | None
    minutes_unit: int
    daily_cap_minutes: int
    auto_close_credit: AutoCloseCredit
    geofence_max_accuracy_m: int
    status: ActivityStatus
    status_reason: str
