"""What the compliance views, reviews and the ledger answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from scipass.core.clock import Semester
from scipass.core.inputs import RequestModel
from scipass.policy.review_models import ReviewKind, ReviewStatus

State = Literal["met", "missed", "open"]


class TermRead(BaseModel):
    school_year: int = Field(description="学年开始的年份（9 月 1 日起）")
    semester: Semester
    label: str = Field(examples=["2026-2027学年第一学期"])


class EvidenceRead(BaseModel):
    kind: str = Field(
        description="`activity` 活动、`pairing` 结对、`science_staff` 科技副校长/辅导员、"
        "`mobile_museum_tour` 流动科技馆、`counsellor_training` 辅导员培训"
    )
    id: int
    label: str
    on: date | None
    link: str = Field(description="该佐证的 API 路径")


class RuleResultRead(BaseModel):
    """A rule judged for a school (``school_id``) or for the region (``school_id`` null)."""

    rule_id: str
    description: str
    source: str = Field(description="依据：文件与条款")
    period: str = Field(description="`week` | `semester` | `school_year` | `deadline`")
    school_id: int | None
    school_name: str
    region_code: str
    district_name: str
    area: str
    window_start: date
    window_end: date
    figure: int = Field(description="数值；每周规则为达标的教学周数")
    threshold: int | None = Field(
        description="要求（每周规则为每周次数）；为空表示教育局尚未设定，不作判断"
    )
    weeks_asked: int = Field(description="每周规则：到目前应达标的教学周数（其他规则为 0）")
    met: bool | None
    state: State = Field(
        description="`met` 达标、`missed` 未达标、`open` 未判定（未设定数值、未到截止日期或"
        "尚无已结束的教学周，原因见 `missing`）"
    )
    missing: str = Field(description="缺少什么，或为何未判定（达标时为空）")
    due: date | None = Field(description="截止日期类规则的截止日")
    evidence_total: int
    evidence: list[EvidenceRead] = Field(
        description="计入的佐证（至多 200 条，冻结评估至多 50 条）"
    )


class SchoolCompliance(BaseModel):
    school_id: int
    school_name: str
    term: TermRead
    rules: list[RuleResultRead]


class Tally(BaseModel):
    met: int
    missed: int
    open: int


class DistrictTally(Tally):
    region_code: str
    name: str


class AreaTally(Tally):
    area: str


class SchoolFigure(BaseModel):
    school_id: int
    school_name: str
    region_code: str
    area: str
    figure: int
    threshold: int | None
    weeks_asked: int
    state: State
    missing: str
    evidence_total: int


class RuleTableRead(BaseModel):
    """One school rule across the region: met and not met, by district and by urban or
    rural, and every school behind the figures."""

    rule_id: str
    description: str
    source: str
    period: str
    total: Tally
    by_district: list[DistrictTally]
    by_area: list[AreaTally]
    schools: list[SchoolFigure]


class ReviewRead(BaseModel):
    id: int
    region_code: str
    name: str
    kind: ReviewKind
    school_year: int
    semester: Semester
    status: ReviewStatus
    as_of: date | None = Field(description="冻结时数据统计到的日期")
    created_at: datetime
    frozen_at: datetime | None


class RegionCompliance(BaseModel):
    region_code: str
    region_name: str
    term: TermRead
    schools: int
    rules: list[RuleTableRead]
    region_rules: list[RuleResultRead] = Field(description="以本地区为对象的规则（如培训人次）")
    review: ReviewRead | None = None


class ReviewCreate(RequestModel):
    name: str = Field(min_length=2, max_length=60, examples=["2026年中期评估"])
    kind: ReviewKind
    region_code: str | None = Field(
        default=None, pattern=r"^\d{6}$", description="默认为本局辖区；可为下级行政区划"
    )
    school_year: int = Field(ge=2000, le=2100)
    semester: Semester
