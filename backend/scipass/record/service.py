"""Participation records (写实记录): append, confirm, review, public notice, archive, correct.

Every source (check-in, competition, volunteer shift, manual entry) calls
:func:`append_record`; it is idempotent on ``(student, source, source_ref)`` by an
``INSERT … ON CONFLICT DO NOTHING`` and a read of the winner, so a retried or concurrent call
returns the first record. Each step is a conditional update on the record's status (the
database decides races) followed by a :class:`RecordEvent` naming the actor. Services flush,
never commit.

Who does what (DESIGN.md, "Participation record"):

* the organiser confirms or rejects a pending record (谁组织谁记录，谁记录谁证明): staff of
  the organising venue, or of the organising school; an activity may confirm automatically;
* the student confirms, and may add a reflection and evidence; only the student writes the
  reflection, and only sources and school staff create records;
* the student may withdraw a record before the school has reviewed it;
* school staff review (approve, or reject with a reason), one by one or in bulk, once the
  student has confirmed;
* a school admin opens a public notice (公示) for reviewed records; the window lasts the
  region's number of working days (5 where no region up the line sets one); students,
  guardians and staff of the school object while it is open; an open objection holds the
  record until a school admin upholds it (the record is rejected) or dismisses it;
* :func:`archive_due` archives the records whose window closed clean, extending each
  student's hash chain; an archived record never changes: a school admin voids it with a
  reason and a new record (``source=correction``) takes its place and goes through review and
  notice again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, insert, update
from sqlmodel import Session, col, select

from scipass.account.models import Account
from scipass.activity.models import Activity
from scipass.audit import service as audit_service
from scipass.consent import service as consent_service
from scipass.consent.errors import ConsentRequired
from scipass.consent.models import Purpose
from scipass.core import idempotency as idempotency_service
from scipass.core.auth import SCHOOL_ROLES, VENUE_ROLES, Principal, Role, region_contains
from scipass.core.clock import local_date, term_of
from scipass.core.config import Settings
from scipass.core.db import flush_unique, insert_ignoring
from scipass.core.errors import ProblemError
from scipass.core.idempotency import Idempotency
from scipass.core.pagination import PageParams, count_rows
from scipass.core.workdays import window_end
from scipass.org.errors import RegionNotFound
from scipass.org.models import Region, School, Venue
from scipass.record import chain
from scipass.record.errors import (
    NothingToPublicise,
    NoticeClosed,
    NoticeNotFound,
    NotTheOrganiser,
    ObjectionDuplicate,
    ObjectionNotFound,
    ObjectionResolved,
    ReasonRequired,
    RecordInvalid,
    RecordNotFound,
    RecordStateInvalid,
    StudentConfirmationRequired,
)
from scipass.record.models import (
    COUNTED,
    DEFAULT_DIMENSION,
    ORGANISER_OPEN,
    STUDENT_OPEN,
    Dimension,
    ObjectionStatus,
    ParticipationRecord,
    RecordCategory,
    RecordEvent,
    RecordEvidence,
    RecordNotice,
    RecordObjection,
    RecordRole,
    RecordSource,
    RecordStatus,
)
from scipass.record.repository import RecordFilter, visible
from scipass.record.schemas import CorrectionWrite, ManualRecordCreate
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import GuardianLink, Student

DEFAULT_NOTICE_WORKING_DAYS = 5
MAX_DAILY_MINUTES = 24 * 60
SYSTEM = "system"


# --- append (every source calls this) --------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordFacts:
    """What a source knows about a participation."""

    title: str
    category: RecordCategory
    dimension: Dimension
    organiser_name: str
    place: str
    started_at: datetime
    ended_at: datetime
    minutes: int
    role: RecordRole = RecordRole.participant
    outcome: str = ""
    activity_id: int | None = None
    organiser_venue_id: int | None = None
    organiser_school_id: int | None = None
    attester_name: str = ""
    attester_unit: str = ""
    attester_phone: str = ""
    confirmed: bool = False  # the organiser attests in advance


def facts_for_activity(
    session: Session,
    activity: Activity,
    *,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    minutes: int | None = None,
    role: RecordRole = RecordRole.participant,
    outcome: str = "",
) -> RecordFacts:
    """Facts of a participation in ``activity``: its title, category, dimension, place and
    organiser, who attests it (the venue or school, with its phone) and its confirmation rule."""
    if activity.venue_id is not None:
        venue = session.get(Venue, activity.venue_id)
        organiser_name = venue.name if venue else ""
        phone = venue.phone if venue else ""
    else:
        school = session.get(School, activity.school_id)
        organiser_name = school.name if school else ""
        phone = ""
    return RecordFacts(
        title=activity.title,
        category=RecordCategory(activity.record_category),
        dimension=Dimension(activity.dimension),
        organiser_name=organiser_name,
        place=activity.place_name,
        started_at=started_at or activity.starts_at,
        ended_at=ended_at or activity.ends_at,
        minutes=activity.credited_minutes if minutes is None else minutes,
        role=role,
        outcome=outcome,
        activity_id=activity.id,
        organiser_venue_id=activity.venue_id,
        organiser_school_id=activity.school_id,
        attester_unit=organiser_name,
        attester_phone=phone,
        confirmed=activity.auto_confirm_records,
    )


_RECORDS = ParticipationRecord.__table__  # type: ignore[attr-defined]
_INSERT_EVENT = insert(RecordEvent.__table__)  # type: ignore[attr-defined]  # built once


def _insert_ignoring_duplicate(session: Session, values: dict[str, Any]) -> int | None:
    """Insert a record; None when its source key is already taken (by this or another
    transaction: PostgreSQL waits for the other to finish)."""
    statement = insert_ignoring(session, _RECORDS, ("student_id", "source", "source_ref"))
    return session.connection().execute(statement, values).scalar_one_or_none()


def record_values(
    *,
    student_id: int,
    school_id: int,
    source: RecordSource,
    source_ref: str,
    facts: RecordFacts,
    actor: Principal | None,
    now: datetime,
) -> dict[str, Any]:
    """The row of a new record, checked; :func:`append_record_id` inserts it."""
    if facts.ended_at < facts.started_at:
        raise RecordInvalid("结束时间不能早于开始时间", "The end cannot come before the start")
    if not 0 <= facts.minutes <= MAX_DAILY_MINUTES:
        raise RecordInvalid("时长须在 0 到 1440 分钟之间", "Minutes must be 0 to 1440")
    term = term_of(local_date(facts.started_at))
    status = RecordStatus.confirmed if facts.confirmed else RecordStatus.pending
    values = {
        "student_id": student_id,
        "school_id": school_id,
        "source": source.value,
        "source_ref": source_ref,
        "activity_id": facts.activity_id,
        "organiser_venue_id": facts.organiser_venue_id,
        "organiser_school_id": facts.organiser_school_id,
        "organiser_name": facts.organiser_name[:100],
        "title": facts.title[:100],
        "category": facts.category.value,
        "dimension": facts.dimension.value,
        "place": facts.place[:100],
        "started_at": facts.started_at,
        "ended_at": facts.ended_at,
        "school_year": term.school_year,
        "semester": term.semester.value,
        "minutes": facts.minutes,
        "role": facts.role.value,
        "outcome": facts.outcome[:100],
        "reflection": "",
        "attester_name": facts.attester_name[:50],
        "attester_unit": facts.attester_unit[:100],
        "attester_phone": facts.attester_phone[:30],
        "status": status.value,
        "status_reason": "",
        "created_at": now,
        "created_by": actor.subject if actor else SYSTEM,
        "confirmed_at": now if facts.confirmed else None,
        "updated_at": now,
    }
    return values


def append_record_id(
    session: Session,
    *,
    student_id: int,
    school_id: int,
    source: RecordSource,
    source_ref: str,
    facts: RecordFacts,
    actor: Principal | None,
    now: datetime,
) -> int | None:
    """Append the record of one source event for one student: its id, or None when the event
    already has its record (this call or a concurrent one came second). The lean form that the
    check-in path uses; it reads nothing back."""
    values = record_values(
        student_id=student_id,
        school_id=school_id,
        source=source,
        source_ref=source_ref,
        facts=facts,
        actor=actor,
        now=now,
    )
    new_id = _insert_ignoring_duplicate(session, values)
    if new_id is None:
        return None
    status = RecordStatus(values["status"])
    add_event(session, new_id, actor, "created", None, RecordStatus.pending, now)
    if facts.confirmed:
        add_event(
            session, new_id, actor, "confirmed", RecordStatus.pending, status, now, "组织方预先确认"
        )
    return new_id


def append_record(
    session: Session,
    *,
    student: Student,
    source: RecordSource,
    source_ref: str,
    facts: RecordFacts,
    actor: Principal | None,
    now: datetime,
) -> tuple[ParticipationRecord, bool]:
    """The record of one source event for one student, and whether this call created it."""
    new_id = append_record_id(
        session,
        student_id=student.id or 0,
        school_id=student.school_id,
        source=source,
        source_ref=source_ref,
        facts=facts,
        actor=actor,
        now=now,
    )
    if new_id is None:
        existing = session.exec(
            select(ParticipationRecord).where(
                ParticipationRecord.student_id == student.id,
                ParticipationRecord.source == source.value,
                ParticipationRecord.source_ref == source_ref,
            )
        ).one()
        return existing, False
    record = session.get(ParticipationRecord, new_id)
    assert record is not None
    return record, True


def set_visit_time(
    session: Session,
    *,
    record_id: int,
    started_at: datetime,
    ended_at: datetime,
    minutes: int,
    actor: Principal | None,
    now: datetime,
    note: str,
) -> bool:
    """Carry a visit's times and minutes onto its record while the record is still pending or
    confirmed (a conditional update); a reviewed record keeps what the school saw."""
    if not 0 <= minutes <= MAX_DAILY_MINUTES:
        raise RecordInvalid("时长须在 0 到 1440 分钟之间", "Minutes must be 0 to 1440")
    table = ParticipationRecord.__table__  # type: ignore[attr-defined]
    status = session.execute(
        update(table)
        .where(
            table.c.id == record_id,
            table.c.status.in_([s.value for s in STUDENT_OPEN]),
        )
        .values(started_at=started_at, ended_at=ended_at, minutes=minutes, updated_at=now)
        .returning(table.c.status)
    ).scalar_one_or_none()
    if status is None:
        return False
    add_event(session, record_id, actor, "duration", status, status, now, f"{note}：{minutes} 分钟")
    return True


# --- events and transitions -------------------------------------------------------------------


def add_event(
    session: Session,
    record_id: int,
    actor: Principal | None,
    action: str,
    from_status: RecordStatus | str | None,
    to_status: RecordStatus | str,
    now: datetime,
    note: str = "",
) -> None:
    session.connection().execute(
        _INSERT_EVENT,
        {
            "record_id": record_id,
            "at": now,
            "action": action,
            "actor": actor.subject if actor else SYSTEM,
            "actor_role": actor.role.value if actor else SYSTEM,
            "from_status": None if from_status is None else str(from_status),
            "to_status": str(to_status),
            "note": note[:200],
        },
    )


def _move(
    session: Session,
    record: ParticipationRecord,
    *,
    to: RecordStatus,
    allowed: Sequence[RecordStatus],
    actor: Principal | None,
    action: str,
    now: datetime,
    note: str = "",
    extra: Sequence[ColumnElement[bool]] = (),
    **values: Any,
) -> ParticipationRecord:
    """Move ``record`` to ``to`` if (in the database, now) it is still in ``allowed``."""
    table = ParticipationRecord
    result = session.execute(
        update(table)
        .where(
            col(table.id) == record.id,
            col(table.status).in_([s.value for s in allowed]),
            *extra,
        )
        .values(status=to.value, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(record)
        raise RecordStateInvalid(
            current=record.status, allowed=[s.value for s in allowed], record_id=record.id
        )
    from_status = record.status
    add_event(session, record.id or 0, actor, action, from_status, to, now, note)
    session.flush()
    session.refresh(record)
    return record


def _reason(reason: str | None, limit: int = 200) -> str:
    text = (reason or "").strip()
    if not text:
        raise ReasonRequired()
    return text[:limit]


# --- reading ----------------------------------------------------------------------------------


def get_visible(session: Session, *, actor: Principal, record_id: int) -> ParticipationRecord:
    record = session.exec(
        select(ParticipationRecord).where(ParticipationRecord.id == record_id, visible(actor))
    ).first()
    if record is None:
        raise RecordNotFound()
    return record


def list_records(
    session: Session, *, actor: Principal, filters: RecordFilter, page: PageParams, now: datetime
) -> tuple[list[tuple[ParticipationRecord, Student]], int]:
    query = (
        select(ParticipationRecord, Student)
        .join(Student, col(Student.id) == ParticipationRecord.student_id)
        .where(visible(actor), *filters.conditions())
    )
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(
            col(ParticipationRecord.started_at).desc(), col(ParticipationRecord.id).desc()
        )
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    if actor.role not in (Role.student, Role.guardian):
        audit_service.record(
            session,
            action=audit_service.Action.records_viewed,
            at=now,
            actor=actor,
            object_type="participation_record",
            school_id=actor.school_id,
            region_code=actor.region_code,
            filter=filters.describe(),
            row_count=len(rows),
        )
    return [(record, student) for record, student in rows], total


def history(session: Session, record_id: int) -> list[RecordEvent]:
    return list(
        session.exec(
            select(RecordEvent)
            .where(RecordEvent.record_id == record_id)
            .order_by(col(RecordEvent.id))
        ).all()
    )


def evidence_counts(session: Session, record_ids: list[int]) -> dict[int, int]:
    if not record_ids:
        return {}
    rows = session.exec(
        select(RecordEvidence.record_id, func.count())
        .where(col(RecordEvidence.record_id).in_(record_ids))
        .group_by(col(RecordEvidence.record_id))
    ).all()
    return {record_id: int(count) for record_id, count in rows}


@dataclass(frozen=True, slots=True)
class Total:
    school_year: int
    semester: str
    category: str
    dimension: str
    status: str
    records: int
    minutes: int


def totals(session: Session, *, student_id: int, school_year: int | None = None) -> list[Total]:
    """A student's records that count (not rejected, withdrawn or voided), per semester,
    category and dimension."""
    record = ParticipationRecord
    query = (
        select(
            record.school_year,
            record.semester,
            record.category,
            record.dimension,
            record.status,
            func.count(),
            func.coalesce(func.sum(record.minutes), 0),
        )
        .where(
            record.student_id == student_id,
            col(record.status).in_([s.value for s in COUNTED]),
        )
        .group_by(
            record.school_year, record.semester, record.category, record.dimension, record.status
        )
        .order_by(record.school_year, record.semester, record.category, record.dimension)
    )
    if school_year is not None:
        query = query.where(record.school_year == school_year)
    return [
        Total(int(y), str(s), str(c), str(d), str(st), int(n), int(m))
        for y, s, c, d, st, n, m in session.exec(query).all()
    ]


# --- the organiser: confirm or reject ---------------------------------------------------------


def _is_organiser(actor: Principal, record: ParticipationRecord) -> bool:
    if actor.role is Role.platform_admin:
        return True
    if record.organiser_venue_id is not None:
        return actor.role in VENUE_ROLES and actor.venue_id == record.organiser_venue_id
    if record.organiser_school_id is not None:
        return actor.role in SCHOOL_ROLES and actor.school_id == record.organiser_school_id
    return False


def _display_name(session: Session, actor: Principal) -> str:
    account = session.get(Account, actor.account_id) if actor.account_id else None
    return account.display_name if account else ""


def organiser_decide(
    session: Session,
    *,
    actor: Principal,
    record_id: int,
    confirm: bool,
    reason: str | None,
    now: datetime,
) -> ParticipationRecord:
    """The organiser attests a pending record (and becomes its 证明人) or rejects it."""
    record = session.get(ParticipationRecord, record_id)
    if record is None:
        raise RecordNotFound()
    if not _is_organiser(actor, record):
        # Staff who can see the record (its school) learn why they may not; others see nothing.
        if record.school_id == actor.school_id:
            raise NotTheOrganiser()
        raise RecordNotFound()
    if not confirm:
        return _move(
            session,
            record,
            to=RecordStatus.rejected,
            allowed=ORGANISER_OPEN,
            actor=actor,
            action="organiser_rejected",
            now=now,
            note=_reason(reason),
            status_reason=_reason(reason),
        )
    attester = _display_name(session, actor) or record.attester_name
    return _move(
        session,
        record,
        to=RecordStatus.confirmed,
        allowed=ORGANISER_OPEN,
        actor=actor,
        action="confirmed",
        now=now,
        confirmed_at=now,
        attester_name=attester[:50],
    )


# --- the student: confirm, reflect, withdraw --------------------------------------------------


def own_record(session: Session, *, actor: Principal, record_id: int) -> ParticipationRecord:
    """A student's own record, while the student is still bound to the roster entry."""
    student = session.get(Student, actor.student_id) if actor.student_id else None
    if (
        student is None
        or actor.wechat_user_id is None
        or student.wechat_user_id != actor.wechat_user_id
    ):
        raise RecordNotFound()
    record = session.get(ParticipationRecord, record_id)
    if record is None or record.student_id != student.id:
        raise RecordNotFound()
    return record


def student_confirm(
    session: Session, *, actor: Principal, record_id: int, reflection: str | None, now: datetime
) -> ParticipationRecord:
    """The student confirms the record (again, to change the reflection) before review."""
    record = own_record(session, actor=actor, record_id=record_id)
    values: dict[str, Any] = {"student_confirmed_at": now}
    if reflection is not None:
        values["reflection"] = reflection.strip()
    status = RecordStatus(record.status)
    if status not in STUDENT_OPEN:
        raise RecordStateInvalid(current=record.status, allowed=[s.value for s in STUDENT_OPEN])
    return _move(
        session,
        record,
        to=status,
        allowed=(status,),
        actor=actor,
        action="student_confirmed",
        now=now,
        **values,
    )


def withdraw(
    session: Session, *, actor: Principal, record_id: int, reason: str | None, now: datetime
) -> ParticipationRecord:
    record = own_record(session, actor=actor, record_id=record_id)
    note = (reason or "").strip()[:200]
    return _move(
        session,
        record,
        to=RecordStatus.withdrawn,
        allowed=STUDENT_OPEN,
        actor=actor,
        action="withdrawn",
        now=now,
        note=note,
        status_reason=note,
    )


# --- the school: review ----------------------------------------------------------------------


def _school_record(session: Session, *, actor: Principal, record_id: int) -> ParticipationRecord:
    record = session.get(ParticipationRecord, record_id)
    if record is None or (
        actor.role is not Role.platform_admin and record.school_id != actor.school_id
    ):
        raise RecordNotFound()
    return record


def review(
    session: Session,
    *,
    actor: Principal,
    record_id: int,
    approve: bool,
    reason: str | None,
    now: datetime,
) -> ParticipationRecord:
    """Approve a record the organiser and the student confirmed, or reject it with a reason."""
    record = _school_record(session, actor=actor, record_id=record_id)
    if not approve:
        text = _reason(reason)
        return _move(
            session,
            record,
            to=RecordStatus.rejected,
            allowed=(RecordStatus.pending, RecordStatus.confirmed),
            actor=actor,
            action="review_rejected",
            now=now,
            note=text,
            status_reason=text,
            reviewed_at=now,
            reviewed_by=actor.subject,
        )
    if record.status == RecordStatus.confirmed and record.student_confirmed_at is None:
        raise StudentConfirmationRequired(record_id=record.id)
    return _move(
        session,
        record,
        to=RecordStatus.reviewed,
        allowed=(RecordStatus.confirmed,),
        actor=actor,
        action="reviewed",
        now=now,
        extra=(col(ParticipationRecord.student_confirmed_at).is_not(None),),
        reviewed_at=now,
        reviewed_by=actor.subject,
    )


@dataclass(frozen=True, slots=True)
class ItemResult:
    record_id: int
    ok: bool
    status: str | None = None
    code: str | None = None


def in_bulk(record_ids: Sequence[int], step: Any) -> list[ItemResult]:
    """Run ``step(record_id)`` for each id; each item succeeds or fails on its own (a failed
    step writes nothing, so the others stand)."""
    results: list[ItemResult] = []
    for record_id in dict.fromkeys(record_ids):
        try:
            record = step(record_id)
        except ProblemError as exc:
            results.append(ItemResult(record_id, False, code=exc.code))
        else:
            results.append(ItemResult(record_id, True, status=record.status))
    return results


# --- public notice (公示) and objections -------------------------------------------------------


def notice_working_days(session: Session, region_code: str) -> tuple[int, str | None]:
    """The notice length of a region: its own setting, else the nearest ancestor's, else 5.
    Also which region it comes from (None for the default)."""
    code: str | None = region_code
    seen: set[str] = set()
    while code and code not in seen:
        seen.add(code)
        region = session.get(Region, code)
        if region is None:
            break
        if region.notice_working_days is not None:
            return region.notice_working_days, region.code
        code = region.parent_code
    return DEFAULT_NOTICE_WORKING_DAYS, None


def set_notice_working_days(session: Session, *, region_code: str, days: int | None) -> Region:
    region = session.get(Region, region_code)
    if region is None:
        raise RegionNotFound()
    region.notice_working_days = days
    session.add(region)
    session.flush()
    return region


def open_notice(
    session: Session,
    *,
    actor: Principal,
    settings: Settings,
    title: str,
    filters: RecordFilter,
    record_ids: list[int] | None,
    now: datetime,
) -> RecordNotice:
    """Put the school's reviewed records (all, or those matching) into a new notice."""
    school = session.get(School, actor.school_id)
    if school is None:
        raise RecordNotFound()
    days, _ = notice_working_days(session, school.region_code)
    notice = RecordNotice(
        school_id=school.id or 0,
        title=title.strip()[:100],
        working_days=days,
        starts_at=now,
        ends_at=window_end(now, days, holidays=settings.holidays, makeup=settings.makeup_workdays),
        record_count=0,
        opened_by=actor.subject,
    )
    session.add(notice)
    session.flush()
    table = ParticipationRecord
    where = [
        col(table.school_id) == school.id,
        col(table.status) == RecordStatus.reviewed.value,
        *filters.conditions(),
    ]
    if record_ids is not None:
        where.append(col(table.id).in_(record_ids))
    moved = (
        session.execute(
            update(table)
            .where(*where)
            .values(status=RecordStatus.publicised.value, notice_id=notice.id, updated_at=now)
            .returning(table.__table__.c.id)  # type: ignore[attr-defined]
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    if not moved:
        raise NothingToPublicise()
    stale = set(moved)
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, ParticipationRecord) and loaded.id in stale:
            session.expire(loaded)  # the bulk update bypassed the session
    session.execute(
        insert(RecordEvent),
        [
            {
                "record_id": record_id,
                "at": now,
                "action": "publicised",
                "actor": actor.subject,
                "actor_role": actor.role.value,
                "from_status": RecordStatus.reviewed.value,
                "to_status": RecordStatus.publicised.value,
                "note": f"公示 {notice.id}",
            }
            for record_id in moved
        ],
    )
    notice.record_count = len(moved)
    session.add(notice)
    audit_service.record(
        session,
        action=audit_service.Action.notice_opened,
        at=now,
        actor=actor,
        object_type="record_notice",
        object_id=notice.id,
        school_id=school.id,
        region_code=school.region_code,
        records=len(moved),
        ends_at=notice.ends_at.isoformat(),
    )
    session.flush()
    return notice


def _school_ids_of(session: Session, actor: Principal) -> set[int]:
    """The schools whose notices ``actor`` may read and object to."""
    if actor.role in SCHOOL_ROLES and actor.school_id is not None:
        return {actor.school_id}
    if actor.role is Role.student and actor.student_id is not None:
        student = session.get(Student, actor.student_id)
        if student is not None and student.wechat_user_id == actor.wechat_user_id:
            return {student.school_id}
        return set()
    if actor.role is Role.guardian and actor.wechat_user_id is not None:
        rows = session.exec(
            select(Student.school_id)
            .join(GuardianLink, col(GuardianLink.student_id) == Student.id)
            .where(
                GuardianLink.guardian_id == actor.wechat_user_id,
                col(GuardianLink.revoked_at).is_(None),
            )
        ).all()
        return set(rows)
    return set()


def list_notices(
    session: Session, *, actor: Principal, page: PageParams, now: datetime, open_only: bool
) -> tuple[list[RecordNotice], int]:
    query = select(RecordNotice).where(
        col(RecordNotice.school_id).in_(_school_ids_of(session, actor))
    )
    if open_only or actor.role not in SCHOOL_ROLES:
        query = query.where(RecordNotice.starts_at <= now, RecordNotice.ends_at > now)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(RecordNotice.starts_at).desc()).limit(page.limit).offset(page.offset)
    ).all()
    return list(rows), total


def get_notice(
    session: Session, *, actor: Principal, notice_id: int, now: datetime
) -> RecordNotice:
    notice = session.get(RecordNotice, notice_id)
    if notice is None or notice.school_id not in _school_ids_of(session, actor):
        raise NoticeNotFound()
    if actor.role not in SCHOOL_ROLES and not notice.starts_at <= now < notice.ends_at:
        raise NoticeNotFound()  # families see a notice while it is up
    return notice


def notice_entries(
    session: Session, *, notice: RecordNotice, page: PageParams
) -> tuple[list[tuple[ParticipationRecord, Student]], int]:
    query = (
        select(ParticipationRecord, Student)
        .join(Student, col(Student.id) == ParticipationRecord.student_id)
        .where(
            ParticipationRecord.notice_id == notice.id,
            # an upheld objection takes the record off the notice
            ParticipationRecord.status != RecordStatus.rejected.value,
        )
    )
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(
            col(Student.grade),
            col(Student.class_name),
            col(Student.student_no),
            col(ParticipationRecord.started_at),
        )
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return [(r, s) for r, s in rows], total


def object_to(
    session: Session, *, actor: Principal, record_id: int, reason: str, now: datetime
) -> RecordObjection:
    """An objection to a record in an open notice, by a student, guardian or staff member of
    its school."""
    record = session.get(ParticipationRecord, record_id)
    if record is None or record.school_id not in _school_ids_of(session, actor):
        raise RecordNotFound()
    notice = session.get(RecordNotice, record.notice_id) if record.notice_id else None
    if record.status != RecordStatus.publicised or notice is None:
        raise RecordStateInvalid(current=record.status, allowed=[RecordStatus.publicised.value])
    if not notice.starts_at <= now < notice.ends_at:
        raise NoticeClosed(ends_at=notice.ends_at.isoformat())
    objection = RecordObjection(
        record_id=record.id or 0,
        notice_id=notice.id or 0,
        raised_by=actor.subject,
        raised_role=actor.role.value,
        reason=_reason(reason, limit=1000),
        raised_at=now,
        status=ObjectionStatus.open.value,
        resolution="",
    )
    session.add(objection)
    flush_unique(session, ObjectionDuplicate())
    add_event(
        session,
        record.id or 0,
        actor,
        "objection",
        record.status,
        record.status,
        now,
        f"异议 {objection.id}",
    )
    session.flush()
    return objection


def list_objections(
    session: Session, *, actor: Principal, page: PageParams, status: ObjectionStatus | None
) -> tuple[list[RecordObjection], int]:
    query = (
        select(RecordObjection)
        .join(ParticipationRecord, col(ParticipationRecord.id) == RecordObjection.record_id)
        .where(ParticipationRecord.school_id == actor.school_id)
    )
    if status is not None:
        query = query.where(RecordObjection.status == status.value)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(RecordObjection.id).desc()).limit(page.limit).offset(page.offset)
    ).all()
    return list(rows), total


def resolve_objection(
    session: Session,
    *,
    actor: Principal,
    objection_id: int,
    uphold: bool,
    resolution: str,
    now: datetime,
) -> RecordObjection:
    """A school admin settles an objection: upheld, the record is rejected; dismissed, it
    stands (and is archived once its window has closed and nothing else is open)."""
    objection = session.get(RecordObjection, objection_id)
    record = session.get(ParticipationRecord, objection.record_id) if objection else None
    if objection is None or record is None or record.school_id != actor.school_id:
        raise ObjectionNotFound()
    text = _reason(resolution)
    status = ObjectionStatus.upheld if uphold else ObjectionStatus.dismissed
    result = session.execute(
        update(RecordObjection)
        .where(
            col(RecordObjection.id) == objection.id,
            col(RecordObjection.status) == ObjectionStatus.open.value,
        )
        .values(status=status.value, resolution=text, resolved_by=actor.subject, resolved_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ObjectionResolved()
    if uphold and record.status != RecordStatus.rejected:
        _move(
            session,
            record,
            to=RecordStatus.rejected,
            allowed=(RecordStatus.publicised,),
            actor=actor,
            action="objection_upheld",
            now=now,
            note=text,
            status_reason=text,
        )
    else:  # dismissed, or upheld when another upheld objection already rejected the record
        add_event(
            session,
            record.id or 0,
            actor,
            "objection_upheld" if uphold else "objection_dismissed",
            record.status,
            record.status,
            now,
            text,
        )
    session.flush()
    session.refresh(objection)
    return objection


# --- archive ----------------------------------------------------------------------------------


def archive_due(session: Session, *, now: datetime, limit: int | None = None) -> int:
    """Archive every publicised record whose notice window has closed with no open objection,
    extending each student's hash chain. Returns how many were archived."""
    table = ParticipationRecord
    open_objection = exists().where(
        RecordObjection.record_id == table.id,
        RecordObjection.status == ObjectionStatus.open.value,
    )
    query = (
        select(table)
        .join(RecordNotice, col(RecordNotice.id) == table.notice_id)
        .where(
            table.status == RecordStatus.publicised.value,
            RecordNotice.ends_at <= now,
            ~open_objection,
        )
        .order_by(col(table.student_id), col(table.started_at), col(table.id))
    )
    if limit is not None:
        query = query.limit(limit)
    due = list(session.exec(query).all())
    evidence = chain.evidence_hashes(session, [r.id or 0 for r in due])
    archived_at = now.replace(microsecond=0)
    heads: dict[int, tuple[int, str]] = {}
    for record in due:
        seq, previous = heads.get(record.student_id) or chain.head(session, record.student_id)
        digest = chain.content_hash(
            record,
            evidence.get(record.id or 0, []),
            previous,
            archive_seq=seq + 1,
            archived_at=archived_at,
        )
        _move(
            session,
            record,
            to=RecordStatus.archived,
            allowed=(RecordStatus.publicised,),
            actor=None,
            action="archived",
            now=now,
            extra=(~open_objection,),
            archive_seq=seq + 1,
            prev_hash=previous,
            archived_at=archived_at,
            content_hash=digest,
        )
        heads[record.student_id] = (seq + 1, digest)
    return len(due)


# --- corrections and manual records -----------------------------------------------------------


def void_and_correct(
    session: Session,
    *,
    actor: Principal,
    record_id: int,
    reason: str,
    correction: CorrectionWrite,
    now: datetime,
) -> ParticipationRecord:
    """Void an archived record (it stays in the chain, marked) and issue its correction, which
    the school has reviewed by issuing it and which goes to the next notice."""
    record = _school_record(session, actor=actor, record_id=record_id)
    text = _reason(reason)
    _move(
        session,
        record,
        to=RecordStatus.voided,
        allowed=(RecordStatus.archived,),
        actor=actor,
        action="voided",
        now=now,
        note=text,
        status_reason=text,
    )
    student = session.get(Student, record.student_id)
    assert student is not None
    started = correction.started_at or record.started_at
    ended = correction.ended_at or record.ended_at
    category = correction.category or RecordCategory(record.category)
    facts = RecordFacts(
        title=correction.title or record.title,
        category=category,
        dimension=correction.dimension
        or (
            Dimension(record.dimension)
            if correction.category is None
            else DEFAULT_DIMENSION[category]
        ),
        organiser_name=record.organiser_name,
        place=correction.place or record.place,
        started_at=started,
        ended_at=ended,
        minutes=record.minutes if correction.minutes is None else correction.minutes,
        role=correction.role or RecordRole(record.role),
        outcome=record.outcome if correction.outcome is None else correction.outcome,
        activity_id=record.activity_id,
        organiser_venue_id=record.organiser_venue_id,
        organiser_school_id=record.organiser_school_id,
        attester_name=record.attester_name,
        attester_unit=record.attester_unit,
        attester_phone=record.attester_phone,
        confirmed=True,
    )
    new, created = append_record(
        session,
        student=student,
        source=RecordSource.correction,
        source_ref=str(record.id),
        facts=facts,
        actor=actor,
        now=now,
    )
    if not created:  # pragma: no cover - the void above admits one correction per record
        raise RecordStateInvalid()
    session.execute(
        update(ParticipationRecord)
        .where(col(ParticipationRecord.id) == new.id)
        .values(
            replaces_id=record.id,
            reflection=record.reflection,
            student_confirmed_at=record.student_confirmed_at,
            status=RecordStatus.reviewed.value,
            reviewed_at=now,
            reviewed_by=actor.subject,
        )
        .execution_options(synchronize_session=False)
    )
    add_event(
        session,
        new.id or 0,
        actor,
        "reviewed",
        RecordStatus.confirmed,
        RecordStatus.reviewed,
        now,
        f"更正记录 {record.id}：{text}",
    )
    for item in session.exec(
        select(RecordEvidence).where(RecordEvidence.record_id == record.id)
    ).all():
        session.add(
            RecordEvidence(
                record_id=new.id or 0,
                sha256=item.sha256,
                media_type=item.media_type,
                size=item.size,
                filename=item.filename,
                uploaded_by=item.uploaded_by,
                uploaded_at=item.uploaded_at,
                cleaned_at=item.cleaned_at,
                original_sha256=item.original_sha256,
                quarantined_at=item.quarantined_at,
                quarantine_reason=item.quarantine_reason,
            )
        )
    school = session.get(School, record.school_id)
    audit_service.record(
        session,
        action=audit_service.Action.record_voided,
        at=now,
        actor=actor,
        object_type="participation_record",
        object_id=record.id,
        school_id=record.school_id,
        region_code=school.region_code if school else None,
        reason=text,
        correction_id=new.id,
    )
    session.flush()
    session.refresh(new)
    return new


def create_manual(
    session: Session,
    *,
    actor: Principal,
    entry: ManualRecordCreate,
    idempotency: Idempotency | None,
    now: datetime,
) -> list[ParticipationRecord]:
    """Records a school enters itself (a science club term, a school science festival), for
    students of the school, confirmed by the school as their organiser. With the same
    idempotency key a retry returns the same records."""
    school = session.get(School, actor.school_id)
    if school is None:
        raise RecordNotFound()
    # A retry with the key appends the same records again, which returns the first ones.
    idempotency_service.claim(session, subject=actor.subject, idempotency=idempotency, now=now)
    wanted = list(dict.fromkeys(entry.student_ids))
    students = session.exec(
        select(Student).where(col(Student.id).in_(wanted), Student.school_id == school.id)
    ).all()
    found = {s.id: s for s in students}
    missing = [sid for sid in wanted if sid not in found]
    if missing:
        raise StudentNotFound(student_ids=missing)
    today = local_date(now)
    without_consent = [
        sid
        for sid in wanted
        if not consent_service.has_consent(
            session, student=found[sid], purpose=Purpose.participation_record, today=today
        )
    ]
    if without_consent:
        raise ConsentRequired(
            "以下学生未满 14 周岁且监护人尚未同意记录活动，请先取得同意或从名单中移除",
            "These students are under 14 and have no guardian consent for records",
            student_ids=without_consent,
        )
    facts = RecordFacts(
        title=entry.title.strip(),
        category=entry.category,
        dimension=entry.dimension or DEFAULT_DIMENSION[entry.category],
        organiser_name=(entry.organiser_name or school.name).strip(),
        place=entry.place.strip() or school.name,
        started_at=entry.started_at,
        ended_at=entry.ended_at,
        minutes=entry.minutes,
        role=entry.role,
        outcome=entry.outcome.strip(),
        organiser_school_id=school.id,
        attester_name=(entry.attester_name or _display_name(session, actor)).strip(),
        attester_unit=school.name,
        attester_phone=entry.attester_phone.strip(),
        confirmed=True,
    )
    batch = idempotency.key if idempotency is not None else uuid.uuid4().hex
    return [
        append_record(
            session,
            student=found[sid],
            source=RecordSource.manual,
            source_ref=f"manual:{batch}"[:64],
            facts=facts,
            actor=actor,
            now=now,
        )[0]
        for sid in wanted
    ]


def student_in_scope(session: Session, *, actor: Principal, student_id: int) -> Student:
    """A student whose records ``actor`` may read as a whole (summary, chain, tracking file)."""
    student = session.get(Student, student_id)
    allowed = False
    if student is not None:
        if actor.role is Role.platform_admin:
            allowed = True
        elif actor.role is Role.student:
            allowed = actor.student_id == student.id and student.wechat_user_id == (
                actor.wechat_user_id
            )
        elif actor.role is Role.guardian:
            allowed = student.school_id in _school_ids_of(session, actor) and bool(
                session.exec(
                    select(GuardianLink.id).where(
                        GuardianLink.guardian_id == actor.wechat_user_id,
                        GuardianLink.student_id == student.id,
                        col(GuardianLink.revoked_at).is_(None),
                    )
                ).first()
            )
        elif actor.role in SCHOOL_ROLES:
            allowed = actor.school_id == student.school_id
        elif actor.role is Role.bureau and actor.region_code:
            school = session.get(School, student.school_id)
            allowed = school is not None and region_contains(actor.region_code, school.region_code)
    if not allowed or student is None:
        raise StudentNotFound()
    return student
