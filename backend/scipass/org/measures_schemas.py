"""Bodies and answers of the facts the policy rules measure: science staff, counsellor
trainings, mobile science museum tours, school calendars (issue 19)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from scipass.core.inputs import Id, RequestModel, SchoolYear
from scipass.core.pagination import Page
from scipass.org.organiser import OrganiserKind
from scipass.policy.vocab import StaffRole

PersonName = Field(min_length=1, max_length=40, examples=["李明"])

# --- science staff (004 二.5) -----------------------------------------------------------------


class ScienceStaffCreate(RequestModel):
    role: StaffRole = Field(description="`vice_principal` 科学副校长、`counsellor` 科技辅导员")
    name: str = PersonName
    title: str = Field(
        default="", max_length=60, description="职务或单位，如“副校长”“湘潭大学物理学院教授”"
    )
    started_on: date = Field(description="任职开始日期")
    ended_on: date | None = Field(default=None, description="任职结束日期（含），在任则不填")


class ScienceStaffEnd(RequestModel):
    ended_on: date = Field(description="任职结束日期（含），不早于开始日期")


class ScienceStaffRead(BaseModel):
    id: int
    school_id: int
    role: StaffRole
    name: str
    title: str
    started_on: date
    ended_on: date | None


# --- counsellor trainings (000 二.7, 001 二.(一).7) ------------------------------------------

MAX_ATTENDEES = 2000


class AttendeeWrite(RequestModel):
    name: str = PersonName
    school_id: Id | None = Field(
        default=None, description="本辖区学校的参训人员填写学校；辖区外人员（场馆、高校等）不填"
    )


class TrainingCreate(RequestModel):
    title: str = Field(min_length=2, max_length=100, examples=["2026年湘乡市科技辅导员培训班"])
    held_on: date = Field(description="培训日期（多日培训填开始日期）")
    hours: int | None = Field(default=None, ge=1, le=1000, description="学时")
    attendees: list[AttendeeWrite] = Field(
        min_length=1,
        max_length=MAX_ATTENDEES,
        description=f"参训人员，每人一行（人次即行数），最多 {MAX_ATTENDEES} 人",
    )


class AttendeeRead(BaseModel):
    name: str
    school_id: int | None


class TrainingRead(BaseModel):
    id: int
    bureau_id: int
    region_code: str
    title: str
    held_on: date
    school_year: int = Field(description="所属学年（开始的年份）")
    hours: int | None
    person_times: int = Field(description="人次")


class TrainingDetail(TrainingRead):
    attendees: list[AttendeeRead]


class TrainingPage(Page[TrainingRead]):
    person_times: int = Field(description="符合条件的全部培训合计人次（不限于本页）")


# --- mobile science museum tours (003 三.(一)) ------------------------------------------------

MAX_TOUR_DAYS = 366


class TourCreate(RequestModel):
    visited_school_id: Id = Field(description="巡展所到学校")
    starts_on: date
    ends_on: date = Field(description=f"结束日期（含），最长 {MAX_TOUR_DAYS} 天")
    note: str = Field(default="", max_length=200)


class TourRead(BaseModel):
    id: int
    organiser: OrganiserKind
    school_id: int | None = Field(description="组织方学校（校园科技馆巡展）")
    venue_id: int | None
    bureau_id: int | None
    visited_school_id: int
    starts_on: date
    ends_on: date
    days: int = Field(description="覆盖天数（含首尾）")
    note: str


class TourPage(Page[TourRead]):
    days: int = Field(description="符合条件的全部巡展合计覆盖天数（不限于本页，各次相加）")


# --- school calendars -------------------------------------------------------------------------


class CalendarWrite(RequestModel):
    """Term dates (inclusive) of a school year: 第一学期 autumn, 第二学期 spring."""

    autumn_start: date = Field(examples=["2026-09-01"])
    autumn_end: date = Field(examples=["2027-01-22"])
    spring_start: date = Field(examples=["2027-02-22"])
    spring_end: date = Field(examples=["2027-07-02"])


class CalendarRead(BaseModel):
    region_code: str = Field(description="所查询的区划")
    school_year: SchoolYear
    source_region_code: str | None = Field(
        description="校历来自哪一级区划（本区划或最近的上级）；都没有设置时为空，按默认学期划分"
    )
    autumn_start: date
    autumn_end: date
    spring_start: date
    spring_end: date
