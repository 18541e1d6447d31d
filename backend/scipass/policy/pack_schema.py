"""The schema of a policy pack file: what a ``policy/packs/*.toml`` file may say.

The pydantic models here are the whole definition of a valid pack, field by field: unknown
fields are refused (``extra="forbid"``), numbers, flags and dates must have their TOML types
(no ``"1"`` for 1, no ``"2024-06-30"`` for a date), and the rules between fields (a deadline
only for a deadline period, a staff role only for a staff measure, ...) are validators of the
field they concern, so that an error names that field. What needs several packs to check (a
parent that exists, no cycle, an override of a rule that is inherited) is the loader's
(:mod:`scipass.policy.loader`), with the same kind of message: file, rule, field.

A pack::

    id = "hunan"                   # the file's name without .toml
    name = "湖南省"
    region_code = "430000"         # GB/T 2260; none for the national pack only
    parent = "national"            # pack id; none for the national pack only
    [dimensions]                   # optional: replaces the parent's list as a whole
    [category_dimensions]          # optional: record category -> dimension, per category
    [[rules]]                      # rules this pack adds
    [[overrides]]                  # changes to rules inherited from its parents

Thresholds: ``min`` is what the figure must reach; no ``min`` means the document sets no
number and the region's bureau must set one (an override) before the rule is evaluated.
``max`` is the upper end of a range the document names ("1~2次"): shown with the rule, and not
a cap: a figure above it still meets the rule.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
)

from scipass.activity.models import ActivityKind
from scipass.org.models import Stage
from scipass.org.organiser import OrganiserKind
from scipass.policy.vocab import SEED_DOCUMENTS, Campaign, Programme, StaffRole
from scipass.record.models import Dimension, RecordCategory

RULE_ID = r"^[a-z][a-z0-9_]{2,63}$"
PACK_ID = r"^[a-z][a-z0-9_]{1,39}$"
REGION_CODE = r"^\d{6}$"
SEED_FILE = r"^\d{3}_[0-9a-f]{16}\.txt$"
_CJK = re.compile(r"[\u4e00-\u9fff]")

PackDate = Annotated[date, Strict()]
Count = Annotated[StrictInt, Field(ge=0, le=1_000_000)]


class Subject(StrEnum):
    school = "school"  # each school must reach the figure
    region = "region"  # the region (its bureau) must reach it, counted over the region


class AreaScope(StrEnum):
    any = "any"
    urban = "urban"
    rural = "rural"


class PeriodKind(StrEnum):
    week = "week"  # Monday to Sunday, term weeks only
    semester = "semester"
    school_year = "school_year"  # from 1 September
    deadline = "deadline"  # by a date


class MeasureKind(StrEnum):
    activity_count = "activity_count"  # activities matching the filters
    distinct_students = "distinct_students"  # pupils who took part in matching activities
    days_covered = "days_covered"  # days a mobile science museum tour covered
    pairing_exists = "pairing_exists"  # pairings (结对) with science venues in force
    staff_in_role = "staff_in_role"  # science staff of ``staff_role`` in post
    training_person_times = "training_person_times"  # counsellor training attendances


# The measures whose figure comes from activities, and so take the activity filters.
ACTIVITY_MEASURES = frozenset({MeasureKind.activity_count, MeasureKind.distinct_students})
# What only a school can have, and what only a region (its bureau) does.
SCHOOL_MEASURES = frozenset({MeasureKind.pairing_exists, MeasureKind.staff_in_role})
REGION_MEASURES = frozenset({MeasureKind.training_person_times})


class PackModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _no_repeats(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("a value is listed twice")
    return values


class Source(PackModel):
    """Where the rule's number is written: a seed document and its section."""

    file: str = Field(pattern=SEED_FILE, examples=["003_09c4e1dfef763b9a.txt"])
    section: str = Field(min_length=1, max_length=40, examples=["三.(二)"])

    @field_validator("file")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in SEED_DOCUMENTS:
            raise ValueError("not a seed document named in policy/vocab.py SEED_DOCUMENTS")
        return value


class AppliesTo(PackModel):
    """Which schools the rule concerns: for a school's rule, the schools held to it; for a
    region's rule, the schools whose figures count. Every condition given must hold; a school
    fits ``stages`` when it teaches any of them (empty: every school)."""

    area: AreaScope = AreaScope.any
    stages: list[Stage] = Field(default_factory=list)
    remote: StrictBool | None = None  # 边远地区: only remote schools (true), only others (false)
    main_urban_district: StrictBool | None = None  # 主城区

    _stages = field_validator("stages")(_no_repeats)


class Period(PackModel):
    kind: PeriodKind
    deadline: PackDate | None = Field(default=None, validate_default=True)

    @field_validator("deadline")
    @classmethod
    def _deadline_only_for_deadlines(cls, value: date | None, info: ValidationInfo) -> date | None:
        kind = info.data.get("kind")
        if kind is PeriodKind.deadline and value is None:
            raise ValueError("a deadline period needs its date (deadline = YYYY-MM-DD)")
        if kind is not None and kind is not PeriodKind.deadline and value is not None:
            raise ValueError(f"only a deadline period has a deadline, not a {kind} period")
        return value


class Measure(PackModel):
    """What is counted. The activity filters (kinds, programmes, campaigns, organisers, the
    after-school flag) apply to activity measures only; each list admits any of its values
    (empty: no condition) and all the filters given must hold.

    Two more say when an activity is the school's: ``own_kinds``, activities of these kinds
    the school organised itself count too, whatever ``activity_kinds`` and
    ``organiser_kinds`` say (a trip the school leads to a venue); ``min_pupils``, an activity
    another organiser held counts for a school once at least that many of its pupils took
    part (a school's group, not one pupil's own visit)."""

    kind: MeasureKind
    activity_kinds: list[ActivityKind] = Field(default_factory=list)
    programmes: list[Programme] = Field(default_factory=list)
    campaigns: list[Campaign] = Field(default_factory=list)
    organiser_kinds: list[OrganiserKind] = Field(default_factory=list)
    own_kinds: list[ActivityKind] = Field(default_factory=list)
    after_school: StrictBool | None = None  # 课后服务
    min_pupils: Annotated[StrictInt, Field(ge=1, le=1000)] = 1
    staff_role: StaffRole | None = Field(default=None, validate_default=True)

    @field_validator("min_pupils")
    @classmethod
    def _min_pupils(cls, value: int, info: ValidationInfo) -> int:
        _activity_filter(value != 1, info)
        return value

    @field_validator("activity_kinds", "programmes", "campaigns", "organiser_kinds", "own_kinds")
    @classmethod
    def _activity_lists(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        _activity_filter(value != [], info)
        return _no_repeats(value)

    @field_validator("after_school")
    @classmethod
    def _after_school(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        _activity_filter(value is not None, info)
        return value

    @field_validator("staff_role")
    @classmethod
    def _staff_role(cls, value: StaffRole | None, info: ValidationInfo) -> StaffRole | None:
        kind = info.data.get("kind")
        if kind is MeasureKind.staff_in_role and value is None:
            raise ValueError("a staff_in_role measure names its staff_role")
        if kind is not None and kind is not MeasureKind.staff_in_role and value is not None:
            raise ValueError(f"only a staff_in_role measure has a staff_role, not {kind}")
        return value


def _activity_filter(given: bool, info: ValidationInfo) -> None:
    kind = info.data.get("kind")
    if given and kind is not None and kind not in ACTIVITY_MEASURES:
        raise ValueError(f"activity filters apply to activity measures only, not to {kind}")


class Threshold(PackModel):
    min: Count | None = None
    max: Count | None = Field(default=None, validate_default=True)

    @field_validator("max")
    @classmethod
    def _range(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("min")
        if value is not None and low is not None and value < low:
            raise ValueError(f"max ({value}) is below min ({low})")
        return value


class InForce(PackModel):
    """When the document's rules are in force, where it says so (e.g. 有效期5年)."""

    start: PackDate | None = None
    end: PackDate | None = Field(default=None, validate_default=True)

    @field_validator("end")
    @classmethod
    def _order(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start")
        if value is not None and start is not None and value < start:
            raise ValueError("end comes before start")
        return value


class Rule(PackModel):
    id: str = Field(pattern=RULE_ID, examples=["venue_visit_yearly"])
    description: str = Field(min_length=4, max_length=300)
    source: Source
    subject: Subject
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    period: Period
    measure: Measure
    threshold: Threshold
    enabled: StrictBool = True
    in_force: InForce | None = None

    @field_validator("description")
    @classmethod
    def _chinese(cls, value: str) -> str:
        if not _CJK.search(value):
            raise ValueError("the description is the rule in Chinese, as users read it")
        return value

    @field_validator("measure")
    @classmethod
    def _measure_fits_subject(cls, value: Measure, info: ValidationInfo) -> Measure:
        subject = info.data.get("subject")
        if subject is Subject.region and value.kind in SCHOOL_MEASURES:
            raise ValueError(f"{value.kind} is a school's measure; the subject must be school")
        if subject is Subject.school and value.kind in REGION_MEASURES:
            raise ValueError(f"{value.kind} is a region's measure; the subject must be region")
        return value


class PackOverride(PackModel):
    """A change a pack makes to a rule it inherits: its threshold, or whether it applies."""

    rule: str = Field(pattern=RULE_ID)
    threshold: Threshold | None = None
    enabled: StrictBool | None = Field(default=None, validate_default=True)
    source: Source | None = None

    @field_validator("enabled")
    @classmethod
    def _changes_something(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        if value is None and info.data.get("threshold") is None and "threshold" in info.data:
            raise ValueError("an override changes the threshold, enabled, or both")
        return value


class Pack(PackModel):
    id: str = Field(pattern=PACK_ID)
    name: str = Field(min_length=2, max_length=40)
    region_code: str | None = Field(default=None, pattern=REGION_CODE)
    parent: str | None = Field(default=None, pattern=PACK_ID, validate_default=True)
    dimensions: dict[Dimension, Annotated[str, Field(min_length=2, max_length=20)]] = Field(
        default_factory=dict
    )
    category_dimensions: dict[RecordCategory, Dimension] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    overrides: list[PackOverride] = Field(default_factory=list)

    @field_validator("parent")
    @classmethod
    def _root_or_regional(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "region_code" not in info.data:  # the region code itself is wrong
            return value
        region = info.data["region_code"]
        if value is None and region is not None:
            raise ValueError("a regional pack names its parent pack (national at the top)")
        if value is not None and region is None:
            raise ValueError("only the national pack has no region_code; give this one's")
        return value
