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
* the student confirms, and may add a reflection and evidence; only the student (or a
  guardian for the pupil, marked 家长代填) writes the reflection, and only sources and school
  staff create records; where the school allows it, a teacher confirms for a pupil with no
  binding and no bound guardian (``scipass.record.attestation``), and is then neither the
  record's organiser confirmer nor its reviewer;
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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select  # typed for more columns than sqlmodel's select
from sqlmodel import Session, col, select

from scipass.account.models import Account
from scipass.audit import service as audit_service
from scipass.core.auth import SCHOOL_ROLES, VENUE_ROLES, Principal, Role, region_contains
from scipass.core.errors import ProblemError
from scipass.core.pagination import PageParams, count_rows
from scipass.org.models import School
from scipass.record.attestation import attested_by, not_attested_by
from scipass.record.errors import (
    AttesterCannotConfirm,
    AttesterCannotReview,
    NotTheOrganiser,
    RecordNotFound,
    RecordStateInvalid,
    StudentConfirmationRequired,
)
from scipass.record.models import (
    COUNTED,
    ORGANISER_OPEN,
    STUDENT_OPEN,
    ConfirmedAs,
    ParticipationRecord,
    RecordEvent,
    RecordEvidence,
    RecordStatus,
    ReflectionBy,
)
from scipass.record.repository import RecordFilter, visible
from scipass.record.transitions import move, reason_given
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import GuardianLink, Student

# --- append (every source calls this) --------------------------------------------------------


# --- events and transitions -------------------------------------------------------------------


# --- reading ----------------------------------------------------------------------------------


def get_visible(session: Session, *, actor: Principal, record_id: int) -> ParticipationRecord:
    record = session.exec(
        select(ParticipationRecord).where(ParticipationRecord.id == record_id, visible(actor))
    ).first()
    if record is None:
        raise RecordNotFound()
    return record


def status_of(session: Session, record_id: int) -> str | None:
    """A record's status (a source showing what became of the record it appended)."""
    return session.exec(
        select(ParticipationRecord.status).where(ParticipationRecord.id == record_id)
    ).first()


def statuses_of(session: Session, record_ids: Sequence[int]) -> dict[int, str]:
    """The statuses of many records, by id (a source checking what became of its records)."""
    if not record_ids:
        return {}
    rows = session.exec(
        select(ParticipationRecord.id, ParticipationRecord.status).where(
            col(ParticipationRecord.id).in_(list(record_ids))
        )
    ).all()
    return {record_id or 0: status for record_id, status in rows}


@dataclass(frozen=True, slots=True)
class InForce:
    """The version of a record now in force, as a source needs it."""

    id: int
    minutes: int
    status: str


def in_force(session: Session, record_ids: Sequence[int]) -> dict[int, InForce]:
    """For each record, the version of it now in force: itself, or the correction that
    replaced it when it was voided (followed to the newest); records that no longer count
    (rejected, withdrawn, or voided without a correction) are left out."""
    found: dict[int, InForce] = {}
    for record_id in record_ids:
        record = session.get(ParticipationRecord, record_id)
        while record is not None and record.status == RecordStatus.voided:
            record = session.exec(
                select(ParticipationRecord).where(ParticipationRecord.replaces_id == record.id)
            ).first()
        if record is not None and record.status not in (
            RecordStatus.rejected,
            RecordStatus.withdrawn,
        ):
            found[record_id] = InForce(record.id or 0, record.minutes, record.status)
    return found


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
        sa_select(
            col(record.school_year),
            col(record.semester),
            col(record.category),
            col(record.dimension),
            col(record.status),
            func.count(),
            func.coalesce(func.sum(record.minutes), 0),
        )
        .where(
            col(record.student_id) == student_id,
            col(record.status).in_([s.value for s in COUNTED]),
        )
        .group_by(
            col(record.school_year),
            record.semester,
            record.category,
            record.dimension,
            record.status,
        )
        .order_by(col(record.school_year), record.semester, record.category, record.dimension)
    )
    if school_year is not None:
        query = query.where(col(record.school_year) == school_year)
    return [
        Total(int(y), str(s), str(c), str(d), str(st), int(n), int(m))
        for y, s, c, d, st, n, m in session.execute(query).all()
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


def display_name(session: Session, actor: Principal) -> str:
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
        return move(
            session,
            record,
            to=RecordStatus.rejected,
            allowed=ORGANISER_OPEN,
            actor=actor,
            action="organiser_rejected",
            now=now,
            note=reason_given(reason),
            status_reason=reason_given(reason),
        )
    if attested_by(record, actor):
        raise AttesterCannotConfirm(record_id=record.id)
    attester = display_name(session, actor) or record.attester_name
    try:
        return move(
            session,
            record,
            to=RecordStatus.confirmed,
            allowed=ORGANISER_OPEN,
            actor=actor,
            action="confirmed",
            now=now,
            extra=(not_attested_by(actor),),
            confirmed_at=now,
            attester_name=attester[:50],
        )
    except RecordStateInvalid:
        if attested_by(record, actor):  # attested meanwhile (move read the record again)
            raise AttesterCannotConfirm(record_id=record.id) from None
        raise


# --- the student: confirm, reflect, withdraw --------------------------------------------------


def acts_for_pupil(session: Session, actor: Principal) -> Student | None:
    """The pupil ``actor`` acts for: a student while still bound to the roster entry, or a
    guardian acting for a linked child (``scipass.roster.acting`` checked the link in this
    request: a guardian principal names a student only when it came through there)."""
    student = session.get(Student, actor.student_id) if actor.student_id else None
    if student is None or actor.wechat_user_id is None:
        return None
    if actor.role is Role.student and student.wechat_user_id == actor.wechat_user_id:
        return student
    if actor.role is Role.guardian:
        return student
    return None


def own_record(session: Session, *, actor: Principal, record_id: int) -> ParticipationRecord:
    """A record of the pupil ``actor`` acts for (:func:`acts_for_pupil`)."""
    student = acts_for_pupil(session, actor)
    if student is None:
        raise RecordNotFound()
    record = session.get(ParticipationRecord, record_id)
    if record is None or record.student_id != student.id:
        raise RecordNotFound()
    return record


def student_confirm(
    session: Session, *, actor: Principal, record_id: int, reflection: str | None, now: datetime
) -> ParticipationRecord:
    """The pupil (or a guardian for the pupil) confirms the record, again to change the
    reflection, before review. Who confirmed, and who wrote the reflection, is kept: a
    guardian's reflection is marked 家长代填 wherever the record is shown."""
    record = own_record(session, actor=actor, record_id=record_id)
    by = ConfirmedAs.guardian if actor.role is Role.guardian else ConfirmedAs.student
    values: dict[str, Any] = {
        "student_confirmed_at": now,
        "student_confirmed_as": by.value,
        "student_confirmed_by": actor.subject,
    }
    if reflection is not None:
        values["reflection"] = reflection.strip()
        values["reflection_by"] = ReflectionBy(by.value).value if values["reflection"] else None
    status = RecordStatus(record.status)
    if status not in STUDENT_OPEN:
        raise RecordStateInvalid(current=record.status, allowed=[s.value for s in STUDENT_OPEN])
    return move(
        session,
        record,
        to=status,
        allowed=(status,),
        actor=actor,
        action="guardian_confirmed" if by is ConfirmedAs.guardian else "student_confirmed",
        now=now,
        **values,
    )


def withdraw(
    session: Session, *, actor: Principal, record_id: int, reason: str | None, now: datetime
) -> ParticipationRecord:
    record = own_record(session, actor=actor, record_id=record_id)
    note = (reason or "").strip()[:200]
    return move(
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


def school_record(session: Session, *, actor: Principal, record_id: int) -> ParticipationRecord:
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
    """Approve a record the organiser and the student confirmed, or reject it with a reason.
    The teacher who attested the record for the pupil does neither."""
    record = school_record(session, actor=actor, record_id=record_id)
    if attested_by(record, actor):
        raise AttesterCannotReview(record_id=record.id)
    try:
        return _review(session, record, actor=actor, approve=approve, reason=reason, now=now)
    except RecordStateInvalid:
        if attested_by(record, actor):  # attested meanwhile (move read the record again)
            raise AttesterCannotReview(record_id=record.id) from None
        raise


def _review(
    session: Session,
    record: ParticipationRecord,
    *,
    actor: Principal,
    approve: bool,
    reason: str | None,
    now: datetime,
) -> ParticipationRecord:
    if not approve:
        text = reason_given(reason)
        return move(
            session,
            record,
            to=RecordStatus.rejected,
            allowed=(RecordStatus.pending, RecordStatus.confirmed),
            actor=actor,
            action="review_rejected",
            now=now,
            extra=(not_attested_by(actor),),
            note=text,
            status_reason=text,
            reviewed_at=now,
            reviewed_by=actor.subject,
        )
    if record.status == RecordStatus.confirmed and record.student_confirmed_at is None:
        raise StudentConfirmationRequired(record_id=record.id)
    return move(
        session,
        record,
        to=RecordStatus.reviewed,
        allowed=(RecordStatus.confirmed,),
        actor=actor,
        action="reviewed",
        now=now,
        extra=(
            col(ParticipationRecord.student_confirmed_at).is_not(None),
            not_attested_by(actor),
        ),
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


def school_ids_of(session: Session, actor: Principal) -> set[int]:
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


# --- archive ----------------------------------------------------------------------------------


# --- corrections and manual records -----------------------------------------------------------


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
            allowed = student.school_id in school_ids_of(session, actor) and bool(
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
