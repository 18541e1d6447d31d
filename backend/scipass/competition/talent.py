"""创新后备人才 tracking (issue 17, point 5; 002 二.(四)): schools and bureaus mark pupils
found through competitions, list them, and end the tracking.

Who: the staff of the pupil's school, a bureau whose region holds the school, the platform
admin; anyone else is told the pupil (or the tracking) is "not found". A pupil is tracked at
most once at a time, decided by the partial unique index (``ON CONFLICT DO NOTHING``), and an
end is a conditional update, so two staff acting at once get one answer each. Every start,
end and view goes to the audit log (a bureau's list too: who looked at which pupils). Names
follow the one visibility policy (:func:`scipass.roster.visibility.shown_name`): a bureau sees
them masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, update
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.competition.talent_errors import (
    TalentAlreadyTracked,
    TalentTrackingEnded,
    TalentTrackingNotFound,
)
from scipass.competition.talent_models import OPEN_TRACKING, TalentTracking
from scipass.core.auth import SCHOOL_ROLES, Principal, Role, region_prefix
from scipass.core.db import insert_ignoring
from scipass.core.pagination import PageParams, count_rows
from scipass.org.models import School
from scipass.roster import service as roster_service
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import Student


@dataclass(frozen=True, slots=True)
class Tracked:
    """A tracking with its pupil and school, as the lists show it."""

    tracking: TalentTracking
    student: Student
    school: School


def _student_in_scope(
    session: Session, actor: Principal, student_id: int
) -> tuple[Student, School]:
    student = session.get(Student, student_id)
    school = session.get(School, student.school_id) if student is not None else None
    if student is None or school is None or not roster_service.can_see_school(actor, school):
        raise StudentNotFound()
    return student, school


def _scope(actor: Principal) -> list[ColumnElement[bool]]:
    if actor.role in SCHOOL_ROLES:
        return [col(TalentTracking.school_id) == (actor.school_id or 0)]
    if actor.role is Role.bureau:
        if not actor.region_code:
            return [false()]
        return [col(School.region_code).startswith(region_prefix(actor.region_code))]
    return []  # the platform admin


def _audit(
    session: Session,
    *,
    action: audit_service.Action,
    actor: Principal,
    now: datetime,
    object_id: object,
    school: School | None,
    **detail: Any,
) -> None:
    audit_service.record(
        session,
        action=action,
        at=now,
        actor=actor,
        object_type="talent_tracking",
        object_id=object_id,
        school_id=school.id if school is not None else actor.school_id,
        region_code=school.region_code if school is not None else actor.region_code,
        **detail,
    )


def start(
    session: Session, *, actor: Principal, student_id: int, reason: str, now: datetime
) -> Tracked:
    """Mark a pupil as a tracked talent (409 ``talent_already_tracked`` if they are)."""
    student, school = _student_in_scope(session, actor, student_id)
    values = {
        "student_id": student.id,
        "school_id": school.id,
        "reason": reason,
        "started_by": actor.subject,
        "started_by_role": actor.role.value,
        "started_at": now,
        "end_reason": "",
    }
    table = TalentTracking.__table__  # type: ignore[attr-defined]  # SQLModel sets it
    statement = insert_ignoring(session, table, ("student_id",), where=OPEN_TRACKING)
    new_id = session.connection().execute(statement, values).scalar_one_or_none()
    if new_id is None:
        raise TalentAlreadyTracked()
    tracking = session.get(TalentTracking, new_id)
    assert tracking is not None
    _audit(
        session,
        action=audit_service.Action.talent_tracking_started,
        actor=actor,
        now=now,
        object_id=new_id,
        school=school,
        student_id=student.id,
        reason=reason,
    )
    return Tracked(tracking, student, school)


def _get(session: Session, actor: Principal, tracking_id: int) -> Tracked:
    found = session.exec(
        select(TalentTracking, Student, School)
        .join(Student, col(Student.id) == col(TalentTracking.student_id))
        .join(School, col(School.id) == col(TalentTracking.school_id))
        .where(col(TalentTracking.id) == tracking_id, *_scope(actor))
    ).first()
    if found is None:
        raise TalentTrackingNotFound()
    return Tracked(*found)


def end(
    session: Session, *, actor: Principal, tracking_id: int, reason: str, now: datetime
) -> Tracked:
    """End a tracking that is open (409 ``talent_tracking_ended`` once it has ended)."""
    tracked = _get(session, actor, tracking_id)
    ended = session.execute(
        update(TalentTracking)
        .where(col(TalentTracking.id) == tracking_id, col(TalentTracking.ended_at).is_(None))
        .values(ended_at=now, ended_by=actor.subject, end_reason=reason)
    )
    if ended.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
        raise TalentTrackingEnded()
    session.refresh(tracked.tracking)
    _audit(
        session,
        action=audit_service.Action.talent_tracking_ended,
        actor=actor,
        now=now,
        object_id=tracking_id,
        school=tracked.school,
        student_id=tracked.student.id,
        reason=reason,
    )
    return tracked


def list_tracked(
    session: Session,
    *,
    actor: Principal,
    page: PageParams,
    active: bool | None,
    school_id: int | None,
    now: datetime,
) -> tuple[list[Tracked], int]:
    """The trackings the caller may see (a bureau: its region's; a school: its own),
    newest first; the view is audited with the pupils it showed."""
    query = (
        select(TalentTracking, Student, School)
        .join(Student, col(Student.id) == col(TalentTracking.student_id))
        .join(School, col(School.id) == col(TalentTracking.school_id))
        .where(*_scope(actor))
    )
    if active is not None:
        ended = col(TalentTracking.ended_at)
        query = query.where(ended.is_(None) if active else ended.is_not(None))
    if school_id is not None:
        query = query.where(col(TalentTracking.school_id) == school_id)
    total = count_rows(session, query)
    rows = [
        Tracked(*row)
        for row in session.exec(
            query.order_by(col(TalentTracking.started_at).desc(), col(TalentTracking.id).desc())
            .limit(page.limit)
            .offset(page.offset)
        ).all()
    ]
    _audit(
        session,
        action=audit_service.Action.talent_tracking_viewed,
        actor=actor,
        now=now,
        object_id=None,
        school=None,
        filter={"active": active, "school_id": school_id},
        student_ids=[t.student.id for t in rows],
    )
    return rows, total


def history(session: Session, *, actor: Principal, student_id: int, now: datetime) -> list[Tracked]:
    """Every tracking of one pupil, newest first (audited)."""
    student, school = _student_in_scope(session, actor, student_id)
    rows = session.exec(
        select(TalentTracking)
        .where(col(TalentTracking.student_id) == student_id)
        .order_by(col(TalentTracking.started_at).desc(), col(TalentTracking.id).desc())
    ).all()
    _audit(
        session,
        action=audit_service.Action.talent_tracking_viewed,
        actor=actor,
        now=now,
        object_id=None,
        school=school,
        student_ids=[student_id],
    )
    return [Tracked(row, student, session.get(School, row.school_id) or school) for row in rows]


def open_tracking(session: Session, student_id: int) -> TalentTracking | None:
    """The pupil's open tracking, if any (for the 科技实践档案)."""
    return session.exec(
        select(TalentTracking).where(
            col(TalentTracking.student_id) == student_id, col(TalentTracking.ended_at).is_(None)
        )
    ).first()
