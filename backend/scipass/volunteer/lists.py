"""Lists of volunteer sign-ups: a shift's (its organiser's staff), a pupil's own; and what
a list shows of each (shift, role name, pupil's name)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from scipass.core.auth import Principal, Role
from scipass.org.organiser import is_organiser, organiser_of
from scipass.roster.models import Student
from scipass.volunteer.errors import ShiftNotFound
from scipass.volunteer.models import VolunteerRole, VolunteerShift, VolunteerSignup


def _may_read_shift(actor: Principal, shift: VolunteerShift) -> bool:
    return actor.role is Role.platform_admin or is_organiser(actor, organiser_of(shift))


def list_for_shift(
    session: Session, *, actor: Principal, shift_id: int, limit: int, offset: int
) -> tuple[list[VolunteerSignup], int]:
    shift = session.get(VolunteerShift, shift_id)
    if shift is None or not _may_read_shift(actor, shift):
        raise ShiftNotFound()
    query = select(VolunteerSignup).where(VolunteerSignup.shift_id == shift_id)
    total = int(session.exec(select(func.count()).select_from(query.subquery())).one())
    rows = session.exec(query.order_by(col(VolunteerSignup.id)).limit(limit).offset(offset))
    return list(rows.all()), total


def list_for_student(
    session: Session, *, actor: Principal, limit: int, offset: int
) -> tuple[list[VolunteerSignup], int]:
    query = (
        select(VolunteerSignup)
        .join(VolunteerShift, col(VolunteerShift.id) == VolunteerSignup.shift_id)
        .where(VolunteerSignup.student_id == (actor.student_id or 0))
    )
    total = int(session.exec(select(func.count()).select_from(query.subquery())).one())
    rows = session.exec(
        query.order_by(col(VolunteerShift.starts_at).desc(), col(VolunteerSignup.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), total


def details(
    session: Session, signups: Sequence[VolunteerSignup]
) -> tuple[dict[int, VolunteerShift], dict[int, str], dict[int, str]]:
    """The shifts, role names and pupils' names of ``signups``, for showing them."""
    shift_ids = {s.shift_id for s in signups}
    shifts = {
        s.id or 0: s
        for s in session.exec(select(VolunteerShift).where(col(VolunteerShift.id).in_(shift_ids)))
    }
    role_ids = {s.role_id for s in signups}
    roles = {
        role_id or 0: name
        for role_id, name in session.exec(
            select(VolunteerRole.id, VolunteerRole.name).where(col(VolunteerRole.id).in_(role_ids))
        ).all()
    }
    student_ids = {s.student_id for s in signups}
    names = {
        student_id or 0: name
        for student_id, name in session.exec(
            select(Student.id, Student.name).where(col(Student.id).in_(student_ids))
        ).all()
    }
    return shifts, roles, names
