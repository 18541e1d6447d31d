"""Teacher attestation (教师代为确认): school staff give the pupil's side of a record for a
pupil who cannot give it.

Teachers guide pupils and do not record for them (DOMAIN-NOTES §1.3), so this is off unless
the school admin switches it on (``School.teacher_attestation``, off by default). Once it is
on, staff of the pupil's school may confirm a record (``pending`` or ``confirmed``, not yet
confirmed by the pupil's side) for a pupil with no WeChat binding and no live guardian link,
giving a reason. The pupil's or a guardian's own confirmation stays the default: a pupil who
can confirm is refused attestation (``pupil_can_confirm``), and should the pupil or a guardian
confirm later, theirs replaces the teacher's. The teacher writes no reflection. The record is
marked 教师代为确认 wherever it is shown, the history event carries the reason, an audit entry
is written, and review and the public notice (公示) apply unchanged.

Separation of duties, for one record: the attesting teacher is not its organiser's confirmer
(whoever confirmed it as organiser, by ``organiser-decision`` or by entering a manual record,
cannot attest it, and the attester cannot then confirm it as organiser), nor its reviewer
(:func:`scipass.record.service.review` refuses the attester, approving or rejecting).

Races are decided by the database: the record row is locked (PostgreSQL; SQLite has one
writer at a time) and the update applies only while the same conditions hold (status, no
confirmation yet, the school's switch, no binding, no live link, no organiser confirmation by
the caller). When it does not apply, the conditions are read again to say which failed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_
from sqlalchemy import select as sa_select  # typed for more columns than sqlmodel's select
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import Principal, Role
from scipass.org.models import School
from scipass.record.errors import (
    AttestationDisabled,
    OrganiserCannotAttest,
    PupilCanConfirm,
    RecordNotFound,
    RecordStateInvalid,
    StudentAlreadyConfirmed,
)
from scipass.record.models import (
    STUDENT_OPEN,
    ConfirmedAs,
    ParticipationRecord,
    RecordEvent,
    RecordStatus,
)
from scipass.record.transitions import move, reason_given
from scipass.roster.models import GuardianLink, Student

ACTION = "teacher_attested"
# The history action of an organiser's confirmation (organiser-decision, or a record entered
# already confirmed by its organiser: scipass.record.append.first_events).
ORGANISER_CONFIRMED = "confirmed"


# --- the attester, as the other steps see it -------------------------------------------------


def attested_by(record: ParticipationRecord, actor: Principal) -> bool:
    """Whether ``actor`` gave the pupil's side of ``record`` as a teacher."""
    return (
        record.student_confirmed_as == ConfirmedAs.teacher.value
        and record.student_confirmed_by == actor.subject
    )


def not_attested_by(actor: Principal) -> ColumnElement[bool]:
    """:func:`attested_by` negated, as a condition on the record row (for a conditional
    update: a concurrent attestation is seen by the database)."""
    record = ParticipationRecord
    return or_(
        func.coalesce(col(record.student_confirmed_as), "") != ConfirmedAs.teacher.value,
        func.coalesce(col(record.student_confirmed_by), "") != actor.subject,
    )


# --- the conditions, each a query on the record row ------------------------------------------


def _switched_on() -> ColumnElement[bool]:
    return exists().where(
        col(School.id) == col(ParticipationRecord.school_id),
        col(School.teacher_attestation).is_(True),
    )


def _pupil_can_confirm() -> ColumnElement[bool]:
    """The pupil has a WeChat binding, or a guardian with a live link."""
    record = ParticipationRecord
    bound = exists().where(
        col(Student.id) == col(record.student_id), col(Student.wechat_user_id).is_not(None)
    )
    guardian = exists().where(
        col(GuardianLink.student_id) == col(record.student_id),
        col(GuardianLink.revoked_at).is_(None),
    )
    return or_(bound, guardian)


def _confirmed_as_organiser_by(actor: Principal) -> ColumnElement[bool]:
    return exists().where(
        col(RecordEvent.record_id) == col(ParticipationRecord.id),
        col(RecordEvent.action) == ORGANISER_CONFIRMED,
        col(RecordEvent.actor) == actor.subject,
    )


def _refuse_if_not_allowed(session: Session, *, actor: Principal, record_id: int) -> None:
    """Raise the first refusal that applies to ``actor`` attesting the record now."""
    record = ParticipationRecord
    row = session.execute(
        sa_select(
            col(record.status),
            col(record.student_confirmed_at),
            _switched_on(),
            _pupil_can_confirm(),
            _confirmed_as_organiser_by(actor),
        ).where(col(record.id) == record_id)
    ).one()
    status, confirmed_at, switched_on, can_confirm, confirmed_as_organiser = row
    if not switched_on:
        raise AttestationDisabled()
    if status not in {s.value for s in STUDENT_OPEN}:
        raise RecordStateInvalid(
            current=status, allowed=[s.value for s in STUDENT_OPEN], record_id=record_id
        )
    if confirmed_at is not None:
        raise StudentAlreadyConfirmed(record_id=record_id)
    if can_confirm:
        raise PupilCanConfirm(record_id=record_id)
    if confirmed_as_organiser:
        raise OrganiserCannotAttest(record_id=record_id)


# --- the use case ----------------------------------------------------------------------------


def attest(
    session: Session, *, actor: Principal, record_id: int, reason: str, now: datetime
) -> ParticipationRecord:
    """A teacher of the pupil's school confirms the record for a pupil who cannot (see the
    module's docstring); 404 for a record of another school."""
    text = reason_given(reason)
    record = session.exec(
        select(ParticipationRecord)
        .where(ParticipationRecord.id == record_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if record is None or (
        actor.role is not Role.platform_admin and record.school_id != actor.school_id
    ):
        raise RecordNotFound()
    _refuse_if_not_allowed(session, actor=actor, record_id=record_id)
    status = RecordStatus(record.status)
    try:
        move(
            session,
            record,
            to=status,
            allowed=(status,),
            actor=actor,
            action=ACTION,
            now=now,
            note=text,
            extra=(
                col(ParticipationRecord.student_confirmed_at).is_(None),
                _switched_on(),
                ~_pupil_can_confirm(),
                ~_confirmed_as_organiser_by(actor),
            ),
            student_confirmed_at=now,
            student_confirmed_as=ConfirmedAs.teacher.value,
            student_confirmed_by=actor.subject,
        )
    except RecordStateInvalid:
        _refuse_if_not_allowed(session, actor=actor, record_id=record_id)
        raise
    school = session.get(School, record.school_id)
    audit_service.record(
        session,
        action=audit_service.Action.record_attested,
        at=now,
        actor=actor,
        object_type="participation_record",
        object_id=record.id,
        school_id=record.school_id,
        region_code=school.region_code if school is not None else None,
        student_id=record.student_id,
        reason=text,
    )
    session.flush()
    return record
