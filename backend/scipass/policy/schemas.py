from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from scipass.core.inputs import INT32_MAX, RequestModel
from scipass.policy.loader import OriginKind
from scipass.policy.pack_schema import (
    REGION_CODE,
    RULE_ID,
    AppliesTo,
    InForce,
    Measure,
    Period,
    Source,
    Subject,
)
from scipass.record.models import Dimension, RecordCategory

MAX_THRESHOLD = 1_000_000


class OverrideCreate(RequestModel):
    """One new version of a rule's setting for a region. A value left out (null) keeps what
    applies above: the parent regions' overrides, else the pack files."""

    region_code: str = Field(pattern=REGION_CODE, description="适用的行政区划（含下级区划）")
    rule_id: str = Field(pattern=RULE_ID, examples=["venue_visit_yearly"])
    expected_version: int = Field(
        ge=0,
        le=INT32_MAX,
        description="读到的本地区该规则设置的版本（政策包中规则的 `version`，尚无为 0）；"
        "期间他人已修改则返回 409 `policy_override_stale`",
    )
    threshold_min: int | None = Field(default=None, ge=0, le=MAX_THRESHOLD, description="达标下限")
    threshold_max: int | None = Field(
        default=None, ge=0, le=MAX_THRESHOLD, description="文件所列区间的上限（如 1~2 次）"
    )
    enabled: bool | None = Field(default=None, description="false：本地区停用该规则")
    reason: str = Field(min_length=2, max_length=200, examples=["本市按每学期 2 次考核"])


class OverrideRead(BaseModel):
    id: int
    region_code: str
    rule_id: str
    version: int
    threshold_min: int | None
    threshold_max: int | None
    enabled: bool | None
    reason: str
    created_by: str
    created_at: datetime


class PackRef(BaseModel):
    id: str
    name: str
    region_code: str | None


class ValueOrigin(BaseModel):
    """Where a value comes from: the pack file that defines the rule (``pack``), a later
    pack file's override (``pack_override``), or a bureau's override (``override``: the
    region and version)."""

    kind: OriginKind
    pack_id: str | None = None
    region_code: str | None = None
    version: int | None = None


class RuleOrigins(BaseModel):
    threshold_min: ValueOrigin
    threshold_max: ValueOrigin
    enabled: ValueOrigin


class EffectiveThreshold(BaseModel):
    min: int | None = Field(description="达标下限；空：文件未规定数值，须由教育局设定")
    max: int | None = Field(description="文件所列区间的上限（超过仍达标）")


class EffectiveRuleRead(BaseModel):
    id: str
    description: str
    source: Source = Field(description="依据：种子文件与条款")
    subject: Subject
    applies_to: AppliesTo
    period: Period
    measure: Measure
    in_force: InForce | None
    defined_in: PackRef = Field(description="定义该规则的政策包")
    threshold: EffectiveThreshold
    enabled: bool
    ready: bool = Field(description="可评估：已启用且有达标下限")
    origins: RuleOrigins
    version: int = Field(description="本地区该规则设置的最新版本（0：本地区未设置）")


class DimensionRead(BaseModel):
    code: Dimension
    name: str


class CategoryDimensionRead(BaseModel):
    category: RecordCategory
    dimension: Dimension


class EffectivePackRead(BaseModel):
    region_code: str
    pack: PackRef = Field(description="适用的政策包（本地区或最近的上级地区的）")
    chain: list[PackRef] = Field(description="继承链，从全国默认到适用的政策包")
    dimensions: list[DimensionRead]
    category_dimensions: list[CategoryDimensionRead]
    rules: list[EffectiveRuleRead]
