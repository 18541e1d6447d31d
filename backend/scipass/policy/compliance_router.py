"""Compliance with the policy rules: a school's own status, a bureau's region table, reviews
(open, frozen) and the ledger (工作台账) as XLSX."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from scipass.core.callers import BureauCaller, BureauOrPlatform, ComplianceReader
from scipass.core.clock import ClockDep, Semester, Term, local_date
from scipass.core.db import ReportingSessionDep, SessionDep
from scipass.core.errors import problem_responses
from scipass.core.exports import XLSX_MEDIA_TYPE, attachment
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.org.errors import OrganisationNotFound, OutsideRegion, RegionNotFound
from scipass.policy import compliance, reviews
from scipass.policy.compliance_schemas import (
    AreaTally,
    DistrictTally,
    EvidenceRead,
    RegionCompliance,
    ReviewCreate,
    ReviewRead,
    RuleResultRead,
    RuleTableRead,
    SchoolCompliance,
    SchoolFigure,
    Tally,
    TermRead,
)
from scipass.policy.results import ResultRow, rule_tables
from scipass.policy.results import Tally as RowTally
from scipass.policy.review_errors import (
    RegionRequired,
    ReviewExists,
    ReviewFrozen,
    ReviewNotFound,
)
from scipass.policy.review_models import PolicyReview

router = APIRouter(tags=["compliance"])

SchoolYear = Annotated[
    int | None, Query(ge=2000, le=2100, description="学年（开始的年份）；默认为当前学年")
]
SemesterParam = Annotated[
    Semester | None, Query(description="学期；默认为当前学期（只给学年时为第一学期）")
]
RegionParam = Annotated[
    str | None, Query(pattern=r"^\d{6}$", description="行政区划代码；默认为本局辖区")
]
XLSX = {XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}


def _term(term: Term) -> TermRead:
    return TermRead(school_year=term.school_year, semester=term.semester, label=term.label)


def _result(row: ResultRow) -> RuleResultRead:
    return RuleResultRead(
        **{name: getattr(row, name) for name in RuleResultRead.model_fields if name != "evidence"},
        evidence=[EvidenceRead.model_validate(e, from_attributes=True) for e in row.evidence],
    )


def _tally(tally: RowTally) -> Tally:
    return Tally(met=tally.met, missed=tally.missed, open=tally.open)


def _region(
    region_code: str,
    region_name: str,
    term: Term,
    schools: int,
    rows: list[ResultRow],
    review: PolicyReview | None = None,
) -> RegionCompliance:
    names = {row.region_code: row.district_name for row in rows}
    tables = [
        RuleTableRead(
            rule_id=table.rule_id,
            description=table.description,
            source=table.source,
            period=table.rows[0].period,
            total=_tally(table.total),
            by_district=[
                DistrictTally(region_code=code, name=names.get(code, ""), **_tally(t).model_dump())
                for code, t in sorted(table.by_district.items())
            ],
            by_area=[
                AreaTally(area=area, **_tally(t).model_dump())
                for area, t in sorted(table.by_area.items())
            ],
            schools=[
                SchoolFigure(
                    school_id=row.school_id or 0,
                    school_name=row.school_name,
                    region_code=row.region_code,
                    area=row.area,
                    figure=row.figure,
                    threshold=row.threshold,
                    weeks_asked=row.weeks_asked,
                    state=row.state,
                    missing=row.missing,
                    evidence_total=row.evidence_total,
                )
                for row in table.rows
            ],
        )
        for table in rule_tables(rows)
    ]
    return RegionCompliance(
        region_code=region_code,
        region_name=region_name,
        term=_term(term),
        schools=schools,
        rules=tables,
        region_rules=[_result(row) for row in rows if row.school_id is None],
        review=_review(review) if review else None,
    )


def _review(review: PolicyReview) -> ReviewRead:
    return ReviewRead.model_validate(review, from_attributes=True)


@router.get(
    "/schools/{school_id}/compliance",
    name="school-compliance",
    summary="学校对照政策要求的达标情况",
    description="按学校所在地区适用的政策包（含教育局的调整）逐条判断：是否达标、数值、要求、"
    "统计期间、缺少什么和计入的佐证。学校只能看本校，教育局看辖区内学校。",
    responses=problem_responses(OrganisationNotFound),
)
def school_compliance(
    school_id: Id,
    caller: ComplianceReader,
    session: ReportingSessionDep,
    clock: ClockDep,
    school_year: SchoolYear = None,
    semester: SemesterParam = None,
) -> SchoolCompliance:
    today = local_date(clock.now())
    term = compliance.chosen_term(school_year, semester, today)
    view = compliance.school_view(
        session, actor=caller, school_id=school_id, term=term, today=today
    )
    return SchoolCompliance(
        school_id=view.school.id or 0,
        school_name=view.school.name,
        term=_term(term),
        rules=[_result(row) for row in view.rows],
    )


@router.get(
    "/compliance",
    name="region-compliance",
    summary="辖区学校达标情况（按规则汇总）",
    description="每条规则：达标与未达标的学校数，按区县和城乡分列，以及每所学校的数值；"
    "另列以本地区为对象的规则（如辅导员培训人次）。",
    responses=problem_responses(RegionNotFound, OutsideRegion, RegionRequired),
)
def region_compliance(
    caller: BureauOrPlatform,
    session: ReportingSessionDep,
    clock: ClockDep,
    region_code: RegionParam = None,
    school_year: SchoolYear = None,
    semester: SemesterParam = None,
) -> RegionCompliance:
    today = local_date(clock.now())
    term = compliance.chosen_term(school_year, semester, today)
    view = compliance.region_view(
        session, actor=caller, region_code=region_code, term=term, today=today
    )
    return _region(view.region.code, view.region.name, term, view.schools, view.rows)


@router.get(
    "/compliance/ledger.xlsx",
    name="region-compliance-ledger",
    summary="工作台账（XLSX）",
    description="汇总表一张，每条规则一张：学校、区县、城乡、数值、要求、是否达标、缺少什么、"
    "佐证数。导出记入审计日志。",
    response_class=Response,
    responses={
        200: {"content": XLSX},
        **problem_responses(RegionNotFound, OutsideRegion, RegionRequired),
    },
)
def region_ledger(
    caller: BureauOrPlatform,
    session: SessionDep,
    clock: ClockDep,
    region_code: RegionParam = None,
    school_year: SchoolYear = None,
    semester: SemesterParam = None,
) -> Response:
    now = clock.now()
    term = compliance.chosen_term(school_year, semester, local_date(now))
    view = compliance.region_view(
        session, actor=caller, region_code=region_code, term=term, today=local_date(now)
    )
    content = reviews.ledger(
        session, actor=caller, region=view.region, term=term, rows=view.rows, review=None, now=now
    )
    name = f"工作台账-{view.region.name}-{term.label}.xlsx"
    fallback = f"ledger-{view.region.code}-{term.school_year}-{term.semester.value}.xlsx"
    return Response(content, media_type=XLSX_MEDIA_TYPE, headers=attachment(name, fallback))


@router.post(
    "/compliance-reviews",
    name="compliance-review-create",
    summary="开启一次评估（中期、终期、年度）",
    description="评估是命名的统计期间：开启后实时计算，冻结后保存当时的全部数值，此后记录变化不影响它。",
    status_code=201,
    responses=problem_responses(RegionNotFound, OutsideRegion, RegionRequired, ReviewExists),
)
def review_create(
    body: ReviewCreate, caller: BureauCaller, session: SessionDep, clock: ClockDep
) -> ReviewRead:
    review = reviews.create(
        session,
        actor=caller,
        region_code=body.region_code,
        name=body.name,
        kind=body.kind,
        term=Term(body.school_year, body.semester),
        now=clock.now(),
    )
    return _review(review)


@router.get("/compliance-reviews", name="compliance-review-list", summary="辖区的评估")
def review_list(caller: BureauOrPlatform, session: SessionDep, page: PageDep) -> Page[ReviewRead]:
    return Page[ReviewRead].sliced(
        [_review(r) for r in reviews.listed(session, actor=caller)], page
    )


@router.get(
    "/compliance-reviews/{review_id}",
    name="compliance-review-get",
    summary="评估结果（未冻结为实时计算，冻结后为保存的数值）",
    responses=problem_responses(ReviewNotFound),
)
def review_get(
    review_id: Id, caller: BureauOrPlatform, session: SessionDep, clock: ClockDep
) -> RegionCompliance:
    found = reviews.rows_of(
        session, actor=caller, review_id=review_id, today=local_date(clock.now())
    )
    term = reviews.term_of_review(found.review)
    return _region(
        found.region.code, found.region.name, term, found.schools, found.rows, found.review
    )


@router.post(
    "/compliance-reviews/{review_id}/freeze",
    name="compliance-review-freeze",
    summary="冻结评估",
    description="保存此刻的全部数值；只能冻结一次。",
    responses=problem_responses(ReviewNotFound, ReviewFrozen),
)
def review_freeze(
    review_id: Id, caller: BureauCaller, session: SessionDep, clock: ClockDep
) -> RegionCompliance:
    now = clock.now()
    found = reviews.freeze(
        session, actor=caller, review_id=review_id, today=local_date(now), now=now
    )
    term = reviews.term_of_review(found.review)
    return _region(
        found.region.code, found.region.name, term, found.schools, found.rows, found.review
    )


@router.get(
    "/compliance-reviews/{review_id}/ledger.xlsx",
    name="compliance-review-ledger",
    summary="评估的工作台账（XLSX）",
    response_class=Response,
    responses={200: {"content": XLSX}, **problem_responses(ReviewNotFound)},
)
def review_ledger(
    review_id: Id, caller: BureauOrPlatform, session: SessionDep, clock: ClockDep
) -> Response:
    now = clock.now()
    found = reviews.rows_of(session, actor=caller, review_id=review_id, today=local_date(now))
    term = reviews.term_of_review(found.review)
    content = reviews.ledger(
        session,
        actor=caller,
        region=found.region,
        term=term,
        rows=found.rows,
        review=found.review,
        now=now,
    )
    name = f"工作台账-{found.review.name}.xlsx"
    fallback = f"ledger-review-{found.review.id}.xlsx"
    return Response(content, media_type=XLSX_MEDIA_TYPE, headers=attachment(name, fallback))
