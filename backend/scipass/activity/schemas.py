from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from scipass.activity.models import (
    ActivityKind,
    ActivityStatus,
    Admission,
    AutoCloseCredit,
)
from scipass.core.inputs import MULTILINE, RequestModel
from scipass.org.models import Stage
from scipass.org.organiser import OrganiserKind
from scipass.policy.vocab import Campaign, Programme
from scipass.record.models import Dimension, RecordCategory


class ActivityWrite(RequestModel):
    """An activity as its organiser describes it. Place, stages, minutes, category and
    dimension have defaults: the venue's (or school's, or bureau's) place and stages, the
    scheduled length, and the category and dimension that follow from the kind."""

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
    after_school: bool = Field(
        default=False, description="是否在课后服务时段开展（课后服务科学类活动，湘 003 三.(一)）"
    )
    programme: Programme | None = Field(
        default=None,
        description="所属专项：`science_first_lesson` 科学第一课进校园、`scientist_in_school` "
        "科学家（精神）进校园、`practice_at_base` 科学实践到基地（晋城 004 二.4）、"
        "`top_scientist_talk` 顶尖科学家（院士）报告（湘 003 三.(一)）；不属于任何专项则不填",
    )
    campaigns: list[Campaign] = Field(
        default_factory=list,
        max_length=len(Campaign),
        description="所属主题活动（可多选，不可重复）：`science_popularisation_day` 全国科普日、"
        "`science_week` 科技活动周、`science_workers_day` 全国科技工作者日",
    )

    @field_validator("campaigns")
    @classmethod
    def _campaigns_once(cls, value: list[Campaign]) -> list[Campaign]:
        if len(set(value)) != len(value):
            raise ValueError("主题活动不可重复")
        return value


class StatusChange(RequestModel):
    reason: str = Field(default="", max_length=200, description="取消时必填")


class ActivityRead(BaseModel):
    id: int
    organiser: OrganiserKind = Field(
        description="组织方：`venue` 场馆、`school` 学校或 `bureau` 教育局（科协）"
    )
    venue_id: int | None
    school_id: int | None
    bureau_id: int | None
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
    after_school: bool
    programme: Programme | None
    campaigns: list[Campaign]
    status: ActivityStatus
    status_reason: str
