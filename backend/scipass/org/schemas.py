from __future__ import annotations

from pydantic import BaseModel, Field

from scipass.core.inputs import RequestModel
from scipass.org.models import RegionLevel, SchoolArea, Stage, VenueKind

Name = Field(min_length=2, max_length=100)


class RegionRead(BaseModel):
    code: str = Field(description="GB/T 2260 行政区划代码", examples=["430381"])
    name: str = Field(examples=["湘乡市"])
    level: RegionLevel
    parent_code: str | None = Field(default=None, examples=["430300"])


class RegionDetail(RegionRead):
    ancestors: list[RegionRead] = Field(description="从省级到上一级的上级区划")
    children: list[RegionRead] = Field(description="直接下级区划")


class RegionCreate(RequestModel):
    code: str = Field(pattern=r"^\d{6}$")
    name: str = Field(min_length=1, max_length=50)
    level: RegionLevel
    parent_code: str | None = Field(default=None, pattern=r"^\d{6}$")


class BureauCreate(RequestModel):
    name: str = Name
    region_code: str = Field(pattern=r"^\d{6}$")


class BureauRead(BaseModel):
    id: int
    name: str
    region_code: str


REMOTE = "边远地区（流动科技馆覆盖边远地区，湘 003 三.(一)）"
MAIN_URBAN_DISTRICT = "城市主城区（主城区学校须与场馆结对，晋城 004 二.4）；只能是城市学校"


class SchoolCreate(RequestModel):
    name: str = Name
    region_code: str = Field(pattern=r"^\d{6}$")
    stages: list[Stage] = Field(min_length=1)
    area: SchoolArea
    address: str = Field(default="", max_length=200)
    remote: bool = Field(default=False, description=REMOTE)
    main_urban_district: bool = Field(default=False, description=MAIN_URBAN_DISTRICT)


class SchoolFlagsUpdate(RequestModel):
    """The flags of a school that the policy rules read; a field left out keeps its value."""

    area: SchoolArea | None = Field(default=None, description="城市或农村")
    remote: bool | None = Field(default=None, description=REMOTE)
    main_urban_district: bool | None = Field(default=None, description=MAIN_URBAN_DISTRICT)


class SchoolRead(BaseModel):
    id: int
    name: str
    region_code: str
    stages: list[Stage]
    area: SchoolArea
    remote: bool = Field(description="边远地区")
    main_urban_district: bool = Field(description="城市主城区")
    address: str


class VenueCreate(RequestModel):
    name: str = Name
    kind: VenueKind
    region_code: str = Field(pattern=r"^\d{6}$")
    address: str = Field(default="", max_length=200)
    longitude: float = Field(ge=73, le=136, description="GCJ-02 经度")
    latitude: float = Field(ge=3, le=54, description="GCJ-02 纬度")
    phone: str = Field(default="", max_length=30)


class VenueRead(BaseModel):
    id: int
    name: str
    kind: VenueKind
    region_code: str
    address: str
    longitude: float
    latitude: float
    phone: str


class SchoolSettingsUpdate(RequestModel):
    """A school's own settings; a field left out keeps its value."""

    teacher_attestation: bool | None = Field(
        default=None,
        description="教师代为确认：开启后，本校教职工可为没有绑定微信、也没有已绑定家长的学生"
        "代为确认写实记录（标注“教师代为确认”）。默认关闭：教师指导学生记录，不代替学生记录。",
    )
    whitelisted_competitions_only: bool | None = Field(
        default=None,
        description="只参加白名单竞赛：开启后，本校学生只能报名列入白名单的竞赛，"
        "报名其他竞赛返回 403 `competition_not_whitelisted`。默认关闭。",
    )


class SchoolSettingsRead(BaseModel):
    school_id: int
    teacher_attestation: bool = Field(description="是否开启教师代为确认")
    whitelisted_competitions_only: bool = Field(
        default=False, description="是否只允许报名白名单竞赛"
    )
