from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, Field

from scipass.core.inputs import MULTILINE, RequestModel
from scipass.org.models import Stage, VenueKind
from scipass.venue.models import ResourceKind

Periods = list[list[str]]
WEEK_EXAMPLE = {
    "1": [],
    "2": [["09:00", "12:00"], ["13:30", "17:30"]],
    "3": [["09:00", "17:30"]],
    "4": [["09:00", "17:30"]],
    "5": [["09:00", "17:30"], ["18:00", "20:00"]],
    "6": [["09:00", "17:30"]],
    "7": [["09:00", "17:30"]],
}


class VenueProfile(RequestModel):
    """What a venue shows in the directory; edited by its admin, approved by the bureau."""

    name: str = Field(min_length=2, max_length=100)
    kind: VenueKind
    region_code: str = Field(pattern=r"^\d{6}$")
    address: str = Field(min_length=2, max_length=200)
    longitude: float = Field(ge=73, le=136, description="GCJ-02 经度")
    latitude: float = Field(ge=3, le=54, description="GCJ-02 纬度")
    phone: str = Field(min_length=5, max_length=30, examples=["0731-52381234"])
    services: str = Field(max_length=2000, description="服务内容", json_schema_extra=MULTILINE)
    facilities: str = Field(max_length=2000, description="设施条件", json_schema_extra=MULTILINE)
    weekly_hours: dict[str, Periods] = Field(
        description="每周开放时段（北京时间），键 1-7 为周一至周日，空列表为闭馆",
        examples=[WEEK_EXAMPLE],
    )
    is_free: bool = Field(description="是否免费")
    fee_note: str = Field(default="", max_length=200, description="收费说明")
    stages: list[Stage] = Field(min_length=1, description="适合的学段")
    reservation_required: bool = Field(description="是否需要预约")
    photos: list[AnyHttpUrl] = Field(default_factory=list, max_length=9)


class VenueProfileState(BaseModel):
    venue_id: int
    live: VenueProfile | None = Field(description="已审核生效的资料；从未审核通过时为空")
    listed: bool = Field(description="是否已列入科普地图")
    approved_at: datetime | None
    draft: VenueProfile | None
    review_status: Literal["draft", "pending", "rejected"] | None
    review_note: str
    submitted_at: datetime | None
    reviewed_at: datetime | None


class ReviewDecision(RequestModel):
    decision: Literal["approve", "reject"]
    note: str = Field(default="", max_length=200, description="退回时必填")


class PendingReview(BaseModel):
    venue_id: int
    name: str
    region_code: str
    submitted_at: datetime | None
    listed: bool


class HoursExceptionWrite(RequestModel):
    periods: Periods = Field(
        default_factory=list, description="当天开放时段；空列表表示当天闭馆", examples=[[]]
    )
    note: str = Field(default="", max_length=100, examples=["设备检修闭馆"])


class HoursExceptionRead(BaseModel):
    on_date: date
    closed: bool
    periods: Periods
    note: str


class ResourceWrite(RequestModel):
    name: str = Field(min_length=2, max_length=100, examples=["扫描电子显微镜"])
    kind: ResourceKind
    description: str = Field(default="", max_length=2000, json_schema_extra=MULTILINE)
    value_yuan: int | None = Field(default=None, ge=0, le=2**31 - 1, description="设备原值（元）")
    capacity: int = Field(ge=1, le=1000, description="每个时段默认容量")
    active: bool = True


class ResourceRead(ResourceWrite):
    id: int
    venue_id: int
    major_instrument: bool = Field(description="单台价值 50 万元及以上的科学仪器")


class DirectoryItem(BaseModel):
    id: int
    name: str
    kind: VenueKind
    region_code: str
    address: str
    longitude: float
    latitude: float
    phone: str
    is_free: bool
    stages: list[Stage]
    reservation_required: bool
    hours_summary: str
    distance_m: int | None = Field(default=None, description="与给定位置的距离（米）")


class VenueDetail(DirectoryItem):
    services: str
    facilities: str
    fee_note: str
    weekly_hours: dict[str, Periods]
    photos: list[str]
    hours_exceptions: list[HoursExceptionRead] = Field(description="今天起的特殊开放/闭馆日")
    resources: list[ResourceRead]


class EditionCreate(RequestModel):
    year: int = Field(ge=2020, le=2100)
    title: str | None = Field(default=None, max_length=100)


class EditionRead(BaseModel):
    id: int
    region_code: str
    year: int
    title: str
    published_at: datetime
    venue_count: int


class EditionDetail(EditionRead):
    entries: list[dict[str, object]]
