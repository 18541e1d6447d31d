"""The yearly audit report of minors' personal information (《未成年人网络保护条例》 art. 37:
a yearly compliance audit, reported to the authority by the end of January; children's and
minors' figures separately, DOMAIN-NOTES §4). One read, :func:`build`, returns the
:class:`~scipass.privacy.schemas.AuditReport` that the JSON, XLSX and PDF render.

The period is ``[start, end)`` in Beijing dates (default: the previous calendar year). Ages are
taken on the period's last day, by the consent rule's own helper (only the birth month is
known: a pupil counts as younger until the end of the birthday month). The consent state at the
period's end is judged by the consent service's own clause, as it stood then (decisions
recorded before the end, guardians' links not yet revoked).

Scope: the platform admin sees everything; a bureau its region (schools whose region code
starts with its prefix; audit entries that carry its region, or no region and one of its
schools; incidents of its region). The retention purge runs for the whole platform: a bureau's
report lists its runs without the platform-wide counts. Figures only: no pupil's name.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, true
from sqlalchemy import select as sa_select  # typed for more columns than sqlmodel's select
from sqlmodel import Session, col, select

from scipass.account.models import Account
from scipass.audit import service as audit_service
from scipass.audit.models import AuditLog
from scipass.audit.service import ACTION_KINDS, Action, ActionKind
from scipass.consent import service as consent_service
from scipass.consent.models import ConsentRecord, Decision, Purpose
from scipass.consent.rules import PURPOSES
from scipass.core.auth import Principal, Role, region_prefix
from scipass.core.clock import day_bounds, local_date
from scipass.deletion.models import DeletionRequest
from scipass.org.errors import RegionNotFound
from scipass.org.models import Bureau, Region, School, Venue
from scipass.privacy import inventory as privacy_inventory
from scipass.privacy.errors import ReportPeriodInvalid
from scipass.privacy.models import PrivacyIncident
from scipass.privacy.schemas import (
    AccessFigure,
    AgeSplit,
    AuditReport,
    ConsentPurposeFigures,
    DecisionCounts,
    DeletionFigures,
    DeletionRequestFigure,
    ErasureFigure,
    IncidentFigure,
    IncidentTotals,
    InventoryItem,
    PurgeRunFigure,
    ReportPeriod,
    ReportScope,
)
from scipass.roster.models import Student

TITLE = "未成年人个人信息保护合规审计报告"
MAX_PERIOD = timedelta(days=731)  # two years, a leap day included
EARLIEST = date(2000, 1, 1)  # long before any data; an earlier date overflows in UTC
CHILD, MINOR = consent_service.CHILD_AGE, 18
GROUPS = ("under_14", "from_14_to_17", "adults")


def default_period(today: date) -> tuple[date, date]:
    """The previous calendar year (the report is due by the end of January)."""
    return date(today.year - 1, 1, 1), date(today.year, 1, 1)


def check_period(start: date, end: date, today: date) -> None:
    if (
        start < EARLIEST
        or end <= start
        or end - start > MAX_PERIOD
        or end > today + timedelta(days=1)
    ):
        raise ReportPeriodInvalid(start=start.isoformat(), end=end.isoformat())


@dataclass(frozen=True, slots=True)
class Scope:
    """What the caller's report covers: everything, or a region's prefix."""

    prefix: str | None
    region: Region | None

    def schools(self) -> ColumnElement[bool]:
        return true() if self.prefix is None else col(School.region_code).startswith(self.prefix)

    def audit_rows(self) -> ColumnElement[bool]:
        if self.prefix is None:
            return true()
        in_schools = select(School.id).where(self.schools())
        return or_(
            col(AuditLog.region_code).startswith(self.prefix),
            and_(col(AuditLog.region_code).is_(None), col(AuditLog.school_id).in_(in_schools)),
        )

    def incidents(self) -> ColumnElement[bool]:
        if self.prefix is None:
            return true()
        return col(PrivacyIncident.region_code).startswith(self.prefix)


def scope_of(session: Session, principal: Principal) -> Scope:
    if principal.role is Role.platform_admin:
        return Scope(None, None)
    code = principal.region_code or ""
    region = session.get(Region, code)
    if region is None:
        raise RegionNotFound()
    return Scope(region_prefix(code), region)


@dataclass(frozen=True, slots=True)
class Window:
    start: date
    end: date
    as_of: date  # the period's last day: ages and consent states are taken on it
    start_at: datetime
    end_at: datetime

    @classmethod
    def of(cls, start: date, end: date) -> Window:
        return cls(start, end, end - timedelta(days=1), day_bounds(start)[0], day_bounds(end)[0])

    def holds(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.start_at, column < self.end_at)


def age_group(birth_month: Any, as_of: date) -> Any:
    """The age group on ``as_of`` as an SQL expression (the consent rule's own clause)."""
    return case(
        (consent_service.under_clause(birth_month, CHILD, as_of), GROUPS[0]),
        (consent_service.under_clause(birth_month, MINOR, as_of), GROUPS[1]),
        else_=GROUPS[2],
    )


def _split(counts: dict[str, int]) -> AgeSplit:
    return AgeSplit.of(**{group: counts.get(group, 0) for group in GROUPS})


def build(
    session: Session, *, principal: Principal, start: date, end: date, now: datetime
) -> AuditReport:
    """The report of ``[start, end)`` as the caller may see it; a pure read."""
    check_period(start, end, local_date(now))
    scope = scope_of(session, principal)
    window = Window.of(start, end)
    deletions = _deletions(session, scope, window)
    incidents = _incidents(session, scope, window)
    access = _access(session, scope, window)
    return AuditReport(
        title=TITLE,
        generated_at=now,
        period=ReportPeriod(start=start, end=end, as_of=window.as_of),
        scope=ReportScope(
            kind="platform" if scope.region is None else "region",
            region_code=scope.region.code if scope.region else None,
            region_name=scope.region.name if scope.region else None,
        ),
        notes=_notes(scope, window),
        inventory=_inventory(),
        pupils_at_end=_pupils(session, scope, window),
        consents=[_consent(session, scope, window, purpose) for purpose in Purpose],
        access=access,
        access_totals={
            kind.value: sum(a.entries for a in access if a.kind == kind.value)
            for kind in (ActionKind.access, ActionKind.export)
        },
        deletions=deletions,
        erasures=_erasures(session, scope, window),
        purge_runs=_purge_runs(session, scope, window),
        incidents=incidents,
        incident_totals=IncidentTotals(
            incidents=len(incidents),
            affected_children=sum(i.affected_children for i in incidents),
            affected_minors=sum(i.affected_minors for i in incidents),
            reported=sum(1 for i in incidents if i.reported_to_authority_at is not None),
            closed=sum(1 for i in incidents if i.closed_at is not None),
        ),
    )


def record_generated(
    session: Session, *, principal: Principal, report: AuditReport, file_format: str, now: datetime
) -> None:
    audit_service.record(
        session,
        action=Action.privacy_report_generated,
        at=now,
        actor=principal,
        object_type="privacy_report",
        region_code=report.scope.region_code,
        start=report.period.start.isoformat(),
        end=report.period.end.isoformat(),
        format=file_format,
    )


def _notes(scope: Scope, window: Window) -> list[str]:
    notes = [
        f"统计期间：{window.start.isoformat()} 至 {window.end.isoformat()}"
        "（不含结束日），北京时间。",
        f"年龄按期末最后一天（{window.as_of.isoformat()}）计算；只登记出生年月，生日所在月份结束前"
        "按未满计算。儿童指未满 14 周岁，未成年人指未满 18 周岁（含儿童）。",
        "同意：除志愿服务外，各目的对未满 14 周岁学生须监护人同意；志愿服务对未满 18 周岁学生"
        "须监护人同意，其缺失人数含 14 至 17 周岁学生。",
        "查看与导出按审计日志条数统计；一次导出记一条。",
        "删除申请：天数为申请至办结；期末仍未办结的不计天数。",
    ]
    if scope.prefix is not None:
        notes.append(
            "本报告仅含本辖区学校的学生与记录；场馆或平台人员不涉及具体学校的操作、"
            "以及全平台统一执行的保留期清理数量，只列入平台的报告。"
        )
    return notes


def _inventory() -> list[InventoryItem]:
    return [
        InventoryItem(
            key=entry.category.key.value,
            name=entry.category.name,
            purposes=list(entry.category.purposes),
            purpose_names=[PURPOSES[p] for p in entry.category.purposes],
            bases=list(entry.category.bases),
            stored_in=list(entry.columns),
            files=list(entry.category.files),
        )
        for entry in privacy_inventory.inventory()
    ]


def _pupils(session: Session, scope: Scope, window: Window) -> AgeSplit:
    group = age_group(col(Student.birth_month), window.as_of)
    rows = session.exec(
        select(group, func.count())
        .select_from(Student)
        .join(School, col(School.id) == Student.school_id)
        .where(scope.schools(), col(Student.created_at) < window.end_at)
        .group_by(group)
    ).all()
    return _split({g: int(n) for g, n in rows})


def _consent(
    session: Session, scope: Scope, window: Window, purpose: Purpose
) -> ConsentPurposeFigures:
    group = age_group(col(Student.birth_month), window.as_of)
    decided = session.exec(
        select(
            ConsentRecord.decision,
            group,
            func.count(),
            func.count(func.distinct(ConsentRecord.student_id)),
        )
        .join(Student, col(Student.id) == ConsentRecord.student_id)
        .join(School, col(School.id) == Student.school_id)
        .where(
            ConsentRecord.purpose == purpose.value,
            window.holds(col(ConsentRecord.recorded_at)),
            scope.schools(),
        )
        .group_by(ConsentRecord.decision, group)
    ).all()
    records: dict[str, dict[str, int]] = defaultdict(dict)
    pupils: dict[str, dict[str, int]] = defaultdict(dict)
    for decision, g, count, distinct in decided:
        records[decision][g] = int(count)
        pupils[decision][g] = int(distinct)

    def counts(decision: Decision) -> DecisionCounts:
        return DecisionCounts(
            records=_split(records[decision.value]), pupils=_split(pupils[decision.value])
        )

    in_force = consent_service.in_force_clause(
        col(Student.id), purpose.value, window.as_of, before=window.end_at
    )
    latest = consent_service.latest_decision_clause(col(Student.id), purpose, before=window.end_at)
    state = case(
        (in_force, "in_force"),
        (latest.in_([Decision.refuse.value, Decision.withdraw.value]), "refused"),
        else_="missing",
    )
    states: dict[str, dict[str, int]] = defaultdict(dict)
    for s, g, count in session.exec(
        select(state, group, func.count())
        .select_from(Student)
        .join(School, col(School.id) == Student.school_id)
        .where(
            scope.schools(),
            col(Student.created_at) < window.end_at,
            consent_service.needs_consent_clause(col(Student.birth_month), purpose, window.as_of),
        )
        .group_by(state, group)
    ).all():
        states[s][g] = int(count)
    return ConsentPurposeFigures(
        purpose=purpose,
        name=PURPOSES[purpose],
        asked_under=consent_service.asked_under(purpose),
        given=counts(Decision.grant),
        refused=counts(Decision.refuse),
        withdrawn=counts(Decision.withdraw),
        in_force_at_end=_split(states["in_force"]),
        refused_or_withdrawn_at_end=_split(states["refused"]),
        missing_at_end=_split(states["missing"]),
    )


# What an access or export entry is counted by: the action, who, and where.
_WHO = (
    col(AuditLog.action),
    col(AuditLog.actor_role),
    col(AuditLog.actor),
    col(AuditLog.school_id),
    col(AuditLog.region_code),
)


def _access(session: Session, scope: Scope, window: Window) -> list[AccessFigure]:
    counted = {a.value: k for a, k in ACTION_KINDS.items() if k is not ActionKind.other}
    rows = session.execute(
        sa_select(*_WHO, func.count())
        .where(
            col(AuditLog.action).in_(sorted(counted)),
            window.holds(col(AuditLog.at)),
            scope.audit_rows(),
        )
        .group_by(*_WHO)
    ).all()
    orgs = _Organisations(session)
    totals: Counter[tuple[str, str, str]] = Counter()
    for action, role, actor, school_id, region_code, count in rows:
        org = orgs.of(actor, school_id, region_code)
        totals[(counted[action].value, role or "system", org)] += int(count)
    return [
        AccessFigure(
            kind=kind,
            actor_role=role,
            organisation=org,
            organisation_name=orgs.name(org),
            entries=entries,
        )
        for (kind, role, org), entries in sorted(totals.items())
    ]


class _Organisations:
    """The organisation an audit entry stands for: its school, else the acting account's
    venue or bureau, else its region; and their names."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.accounts: dict[int, str] = {}

    def of(self, actor: str | None, school_id: int | None, region_code: str | None) -> str:
        if school_id is not None:
            return f"school:{school_id}"
        kind, _, value = (actor or "").partition(":")
        if kind == "account" and value.isdigit():
            org = self._account_org(int(value))
            if org:
                return org
        return f"region:{region_code}" if region_code else "none"

    def _account_org(self, account_id: int) -> str:
        if account_id not in self.accounts:
            account = self.session.get(Account, account_id)
            org = ""
            if account is not None:
                if account.venue_id is not None:
                    org = f"venue:{account.venue_id}"
                elif account.bureau_id is not None:
                    org = f"bureau:{account.bureau_id}"
                elif account.school_id is not None:
                    org = f"school:{account.school_id}"
            self.accounts[account_id] = org
        return self.accounts[account_id]

    def name(self, org: str) -> str:
        kind, _, value = org.partition(":")
        model: Any = {"school": School, "venue": Venue, "bureau": Bureau, "region": Region}.get(
            kind
        )
        if model is None:
            return "平台" if org == "none" else org
        found = self.session.get(model, value if kind == "region" else int(value))
        return str(found.name) if found is not None else org


def _deletions(session: Session, scope: Scope, window: Window) -> DeletionFigures:
    group = age_group(col(Student.birth_month), window.as_of)
    rows = session.exec(
        select(DeletionRequest, School.name, group)
        .join(Student, col(Student.id) == DeletionRequest.student_id)
        .join(School, col(School.id) == DeletionRequest.school_id)
        .where(window.holds(col(DeletionRequest.requested_at)), scope.schools())
        .order_by(col(DeletionRequest.requested_at), col(DeletionRequest.id))
    ).all()
    figures = []
    for request, school_name, g in rows:
        # carried out after the period's end: still open at its end
        done = request.carried_out_at
        if done is not None and done >= window.end_at:
            done = None
        days = None if done is None else (done - request.requested_at).total_seconds() / 86400
        overdue = done > request.due_at if done is not None else request.due_at < window.end_at
        figures.append(
            DeletionRequestFigure(
                id=request.id or 0,
                school_id=request.school_id,
                school_name=school_name,
                age_group=g,
                requested_by_role=request.requested_by_role,
                requested_at=request.requested_at,
                due_at=request.due_at,
                carried_out_at=done,
                days=None if days is None else round(days, 2),
                overdue=overdue,
            )
        )
    durations = [f.days for f in figures if f.days is not None]
    return DeletionFigures(
        requests=figures,
        total=_split(Counter(f.age_group for f in figures)),
        carried_out=len(durations),
        open_at_end=sum(1 for f in figures if f.carried_out_at is None),
        overdue=sum(1 for f in figures if f.overdue),
        median_days=round(statistics.median(durations), 2) if durations else None,
        max_days=max(durations) if durations else None,
    )


def _erasures(session: Session, scope: Scope, window: Window) -> list[ErasureFigure]:
    rows = session.exec(
        select(AuditLog.action, AuditLog.detail).where(
            col(AuditLog.action).in_([Action.data_deleted.value, Action.data_purged.value]),
            window.holds(col(AuditLog.at)),
            scope.audit_rows(),
        )
    ).all()
    runs: Counter[tuple[str, str, str]] = Counter()
    counts: Counter[tuple[str, str, str]] = Counter()
    for action, detail in rows:
        data: dict[str, Any] = json.loads(detail)
        reason = str(data.get("reason", "")).partition(":")[0] or "unknown"
        kinds = data.get("counts") if action == Action.data_purged.value else None
        if not isinstance(kinds, dict):
            kinds = {str(data.get("kind", "unknown")): data.get("count", 0)}
        for kind, count in kinds.items():
            runs[(action, reason, kind)] += 1
            counts[(action, reason, kind)] += int(count or 0)
    return [
        ErasureFigure(
            action=action,
            reason=reason,
            kind=kind,
            runs=runs[(action, reason, kind)],
            count=counts[(action, reason, kind)],
        )
        for action, reason, kind in sorted(runs)
    ]


def _purge_runs(session: Session, scope: Scope, window: Window) -> list[PurgeRunFigure]:
    rows = session.exec(
        select(AuditLog.at, AuditLog.detail)
        .where(AuditLog.action == Action.data_purged.value, window.holds(col(AuditLog.at)))
        .order_by(col(AuditLog.at), col(AuditLog.id))
    ).all()
    shown = scope.prefix is None
    return [
        PurgeRunFigure(
            at=at,
            counts={k: int(v) for k, v in json.loads(detail).get("counts", {}).items()}
            if shown
            else None,
        )
        for at, detail in rows
    ]


def _incidents(session: Session, scope: Scope, window: Window) -> list[IncidentFigure]:
    rows = session.exec(
        select(PrivacyIncident)
        .where(
            or_(
                window.holds(col(PrivacyIncident.occurred_at)),
                window.holds(col(PrivacyIncident.discovered_at)),
            ),
            scope.incidents(),
        )
        .order_by(col(PrivacyIncident.occurred_at), col(PrivacyIncident.id))
    ).all()
    return [IncidentFigure.model_validate(incident, from_attributes=True) for incident in rows]
