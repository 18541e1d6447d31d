from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from scipass.activity.models import (
    ActivityKind,
    ActivityStatus,
    Admission,
    Dimension,
    RecordCategory,
)
from scipass.org.models import Stage


class ActivityWrite(BaseModel):
    """An activity as its organiser describes it. Place, stages, minutes, category and
    dimension have defaults: the venue's (or school's) place and stages, the scheduled length,
    and the category and dimension that follow from the kind."""

    kind: ActivityKind
    title: str = Field(min_length=2, max_length=100, examples=["走进湘乡科技馆：力与运动"])
    description: str = Field(default="", max_length=5000)
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


class StatusChange(BaseModel):
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
    stages: list[Stage]
    credited_minutes: int
    record_category: RecordCategory
    dimension: Dimension
    auto_confirm_records: bool
    status: ActivityStatus
    status_reason: str
