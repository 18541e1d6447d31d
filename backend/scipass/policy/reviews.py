"""Reviews and the ledger (工作台账): a bureau names a review of its region for a term, sees
it live while it is open, freezes it once (its rows stored as they were), and exports the
ledger of a review or of any term as XLSX: a summary sheet and one sheet per rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import Principal, Role, region_contains, region_prefix
from scipass.core.clock import Semester, Term
from scipass.core.db import flush_unique
from scipass.core.exports import xlsx_workbook
from scipass.org.models import Region
from scipass.policy import compliance
from scipass.policy.results import (
    ResultRow,
    evidence_from_json,
    rule_tables,
)
from scipass.policy.review_errors import ReviewExists, ReviewFrozen, ReviewNotFound
from scipass.policy.review_models import (
    PolicyReview,
    PolicyReviewResult,
    ReviewKind,
    ReviewStatus,
)

AREA_NAMES = {"urban": "城镇", "rural": "乡村"}
PERIOD_NAMES = {
    "week": "每周（教学周）",
    "semester": "每学期",
    "school_year": "每学年",
    "deadline": "截止日期前",
}
STATE_NAMES = {"met": "达标", "missed": "未达标", "open": "未判定"}


@dataclass(frozen=True, slots=True)
class ReviewRows:
    review: PolicyReview
    region: Region
    schools: int
    rows: list[ResultRow]


def create(
    session: Session,
    *,
    actor: Principal,
    region_code: str | None,
    name: str,
    kind: ReviewKind,
    term: Term,
    now: datetime,
) -> PolicyReview:
    region = compliance.bureau_region(session, actor, region_code)
    review = PolicyReview(
        region_code=region.code,
        bureau_id=actor.bureau_id,
        name=name.strip(),
        kind=kind.value,
        school_year=term.school_year,
        semester=term.semester.value,
        created_by=actor.subject,
        created_at=now,
    )
    session.add(review)
    flush_unique(session, ReviewExists())
    audit_service.record(
        session,
        action=audit_service.Action.policy_review_opened,
        at=now,
        actor=actor,
        object_type="policy_review",
        object_id=review.id,
        region_code=region.code,
        name=review.name,
    )
    return review


def readable(session: Session, *, actor: Principal, review_id: int) -> PolicyReview:
    review = session.get(PolicyReview, review_id)
    if review is None or not (
        actor.role is Role.platform_admin
        or (
            actor.role is Role.bureau
            and region_contains(actor.region_code or "x", review.region_code)
        )
    ):
        raise ReviewNotFound()
    return review


def listed(session: Session, *, actor: Principal) -> list[PolicyReview]:
    query = select(PolicyReview).order_by(col(PolicyReview.id).desc())
    if actor.role is Role.bureau:
        prefix = region_prefix(actor.region_code or "x")
        query = query.where(col(PolicyReview.region_code).startswith(prefix))
    return list(session.exec(query).all())


def term_of_review(review: PolicyReview) -> Term:
    return Term(review.school_year, Semester(review.semester))


def rows_of(session: Session, *, actor: Principal, review_id: int, today: date) -> ReviewRows:
    """A frozen review's stored rows, or an open review's rows evaluated now."""
    review = readable(session, actor=actor, review_id=review_id)
    region = session.get(Region, review.region_code)
    assert region is not None  # a foreign key
    if review.status == ReviewStatus.frozen:
        stored = session.exec(
            select(PolicyReviewResult)
            .where(PolicyReviewResult.review_id == review.id)
            .order_by(col(PolicyReviewResult.id))
        ).all()
        return ReviewRows(review, region, review.schools or 0, [_row(r) for r in stored])
    schools, rows = compliance.evaluate(session, region, term_of_review(review), today)
    return ReviewRows(review, region, schools, rows)


def freeze(
    session: Session, *, actor: Principal, review_id: int, today: date, now: datetime
) -> ReviewRows:
    """Freeze an open review: its rows are evaluated and stored as they are now. Once."""
    review = readable(session, actor=actor, review_id=review_id)
    changed = session.execute(
        update(PolicyReview)
        .where(col(PolicyReview.id) == review.id, col(PolicyReview.status) == ReviewStatus.open)
        .values(status=ReviewStatus.frozen.value, frozen_by=actor.subject, frozen_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's result has a rowcount
        raise ReviewFrozen()
    region = session.get(Region, review.region_code)
    assert region is not None
    schools, rows = compliance.evaluate(session, region, term_of_review(review), today)
    session.add_all(_stored(review.id or 0, row) for row in rows)
    session.execute(
        update(PolicyReview)
        .where(col(PolicyReview.id) == review.id)
        .values(as_of=today, schools=schools)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    session.refresh(review)
    audit_service.record(
        session,
        action=audit_service.Action.policy_review_frozen,
        at=now,
        actor=actor,
        object_type="policy_review",
        object_id=review.id,
        region_code=review.region_code,
        rows=len(rows),
    )
    return ReviewRows(review, region, schools, rows)


STORED = [
    f.name
    for f in fields(ResultRow)
    if f.name not in ("evidence", "description", "source", "missing")
]


def _stored(review_id: int, row: ResultRow) -> PolicyReviewResult:
    return PolicyReviewResult(
        review_id=review_id,
        **{name: getattr(row, name) for name in STORED},
        description=row.description[:300],
        source=row.source[:80],
        missing=row.missing[:300],
        evidence=row.evidence_json(),
    )


def _row(stored: PolicyReviewResult) -> ResultRow:
    return ResultRow(
        **{name: getattr(stored, name) for name in STORED},
        description=stored.description,
        source=stored.source,
        missing=stored.missing,
        evidence=evidence_from_json(stored.evidence),
    )


# --- the ledger ------------------------------------------------------------------------------

SUMMARY_HEADER = (
    "规则编号",
    "工作表",
    "规则",
    "依据（文件 条款）",
    "统计周期",
    "对象",
    "适用学校数",
    "达标学校数",
    "未达标学校数",
    "未判定学校数",
    "地区数值",
    "要求",
    "地区是否达标",
)
RULE_HEADER = (
    "学校",
    "学校编号",
    "区县",
    "城乡",
    "统计起",
    "统计止",
    "数值",
    "要求",
    "应达标周数",
    "是否达标",
    "缺少",
    "佐证数",
)


def _met_text(row: ResultRow) -> str:
    return STATE_NAMES[row.state]


def ledger_sheets(
    rows: Sequence[ResultRow],
) -> list[tuple[str, Sequence[str], Sequence[Sequence[object]]]]:
    """The summary sheet, then one sheet per rule (school rules, then the region's own)."""
    tables = rule_tables(rows)
    region_rows = [row for row in rows if row.school_id is None]
    titles: set[str] = {"汇总"}
    summary: list[Sequence[object]] = []
    sheets: list[tuple[str, Sequence[str], Sequence[Sequence[object]]]] = [
        ("汇总", SUMMARY_HEADER, summary)
    ]
    for t in tables:
        title = sheet_title(t.rule_id, titles)
        summary.append(
            (t.rule_id, title, t.description, t.source, PERIOD_NAMES[t.rows[0].period], "学校",
             len(t.rows), t.total.met, t.total.missed, t.total.open, "", "", "")
        )  # fmt: skip
        sheets.append((title, RULE_HEADER, [_rule_line(r) for r in t.rows]))
    for r in region_rows:
        title = sheet_title(r.rule_id, titles)
        summary.append(
            (r.rule_id, title, r.description, r.source, PERIOD_NAMES[r.period], "本地区",
             "", "", "", "", r.figure, _threshold(r), _met_text(r))
        )  # fmt: skip
        sheets.append((title, RULE_HEADER, [_rule_line(r)]))
    return sheets


def sheet_title(rule_id: str, taken: set[str]) -> str:
    """The rule's sheet name: its id, cut to Excel's 31 characters and made unique (the
    summary sheet names the rule in full)."""
    title = rule_id[:31]
    number = 2
    while title in taken:
        suffix = f"~{number}"
        title = rule_id[: 31 - len(suffix)] + suffix
        number += 1
    taken.add(title)
    return title


def _threshold(row: ResultRow) -> object:
    return "" if row.threshold is None else row.threshold


def _rule_line(row: ResultRow) -> Sequence[object]:
    return (
        row.school_name or row.district_name,
        row.school_id if row.school_id is not None else "",
        row.district_name,
        AREA_NAMES.get(row.area, ""),
        row.window_start.isoformat(),
        row.window_end.isoformat(),
        row.figure,
        _threshold(row),
        row.weeks_asked,
        _met_text(row),
        row.missing,
        row.evidence_total,
    )


def ledger(
    session: Session,
    *,
    actor: Principal,
    region: Region,
    term: Term,
    rows: Sequence[ResultRow],
    review: PolicyReview | None,
    now: datetime,
) -> bytes:
    """The ledger's XLSX; the export is audited (who, which region and term, how many rows)."""
    content = xlsx_workbook(ledger_sheets(rows))
    audit_service.record(
        session,
        action=audit_service.Action.compliance_ledger_exported,
        at=now,
        actor=actor,
        object_type="policy_review" if review else "region",
        object_id=review.id if review else region.code,
        region_code=region.code,
        term=term.label,
        rows=len(rows),
    )
    return content
