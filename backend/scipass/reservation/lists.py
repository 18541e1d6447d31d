"""Reading reservations: a student's, a school's and a slot's lists, and what check-in asks
(whether a pupil holds a place; a group reservation's members)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from scipass.activity.models import Activity
from scipass.core.auth import Principal
from scipass.core.clock import day_bounds
from scipass.core.pagination import PageParams, count_rows
from scipass.reservation.errors import (
    ReservationNotConfirmed,
    ReservationNotFound,
)
from scipass.reservation.models import (
    Reservation,
    ReservationKind,
    ReservationMember,
    ReservationStatus,
    SlotStatus,
    TimeSlot,
)
from scipass.reservation.slots import slot_for_staff
from scipass.roster.models import Student


def list_for_student(
    session: Session, *, actor: Principal, page: PageParams
) -> tuple[list[tuple[Reservation, TimeSlot]], int]:
    query = (
        select(Reservation, TimeSlot)
        .join(TimeSlot, col(TimeSlot.id) == Reservation.slot_id)
        .join(
            ReservationMember, col(ReservationMember.reservation_id) == Reservation.id, isouter=True
        )
        .where(
            (Reservation.student_id == actor.student_id)
            | (ReservationMember.student_id == actor.student_id)
        )
        .distinct()
    )
    return _paged(session, query, page)


def list_for_school(
    session: Session,
    *,
    actor: Principal,
    page: PageParams,
    status: ReservationStatus | None,
    kind: ReservationKind | None = None,
) -> tuple[list[tuple[Reservation, TimeSlot]], int]:
    query = (
        select(Reservation, TimeSlot)
        .join(TimeSlot, col(TimeSlot.id) == Reservation.slot_id)
        .where(Reservation.school_id == actor.school_id)
    )
    if status:
        query = query.where(Reservation.status == status)
    if kind:
        query = query.where(Reservation.kind == kind)
    return _paged(session, query, page)


def list_for_slot(
    session: Session, *, actor: Principal, slot_id: int, page: PageParams
) -> tuple[list[tuple[Reservation, TimeSlot]], int]:
    slot = slot_for_staff(session, actor=actor, slot_id=slot_id)
    query = (
        select(Reservation, TimeSlot)
        .join(TimeSlot, col(TimeSlot.id) == Reservation.slot_id)
        .where(Reservation.slot_id == slot.id)
    )
    return _paged(session, query, page)


def _paged(
    session: Session, query: Any, page: PageParams
) -> tuple[list[tuple[Reservation, TimeSlot]], int]:
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(TimeSlot.starts_at).desc(), col(Reservation.id))
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return [(r, s) for r, s in rows], total


def student_names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.exec(select(Student.id, Student.name).where(col(Student.id).in_(ids))).all()
    return {sid: name for sid, name in rows if sid is not None}


# --- what check-in asks ------------------------------------------------------------------------


def holds_place(session: Session, *, student_id: int, activity: Activity, day: date) -> bool:
    """Whether the student holds a confirmed place (individual or in a group) for ``activity``
    on ``day`` (Beijing): in a slot of the activity, or in a venue-wide slot of the organising
    venue that starts that day."""
    slot_matches = col(TimeSlot.activity_id) == activity.id
    if activity.venue_id is not None:
        start, end = day_bounds(day)
        slot_matches = slot_matches | (
            (col(TimeSlot.activity_id).is_(None))
            & (TimeSlot.venue_id == activity.venue_id)
            & (col(TimeSlot.starts_at) >= start)
            & (col(TimeSlot.starts_at) < end)
        )
    found = session.exec(
        select(ReservationMember.id)
        .join(Reservation, col(Reservation.id) == ReservationMember.reservation_id)
        .join(TimeSlot, col(TimeSlot.id) == ReservationMember.slot_id)
        .where(
            ReservationMember.student_id == student_id,
            Reservation.status == ReservationStatus.confirmed,
            TimeSlot.status == SlotStatus.open,
            slot_matches,
        )
        .limit(1)
    ).first()
    return found is not None


def group_members(
    session: Session, *, actor: Principal, reservation_id: int
) -> tuple[Reservation, TimeSlot, Activity | None, list[Student]]:
    """A group reservation of the caller's school, its slot, the slot's activity and the
    pupils it holds places for (none once cancelled)."""
    reservation = session.get(Reservation, reservation_id)
    if (
        reservation is None
        or reservation.kind != ReservationKind.group
        or reservation.school_id != actor.school_id
    ):
        raise ReservationNotFound()
    slot = session.get(TimeSlot, reservation.slot_id)
    assert slot is not None
    activity = session.get(Activity, slot.activity_id) if slot.activity_id else None
    students = session.exec(
        select(Student)
        .join(ReservationMember, col(ReservationMember.student_id) == Student.id)
        .where(ReservationMember.reservation_id == reservation.id)
        .order_by(col(Student.grade), col(Student.class_name), col(Student.name), col(Student.id))
    ).all()
    return reservation, slot, activity, list(students)


def group_for_checkin(
    session: Session, *, actor: Principal, reservation_id: int
) -> tuple[Reservation, TimeSlot, set[int]]:
    """A confirmed group reservation of the caller's school, its slot and its members."""
    reservation = session.get(Reservation, reservation_id)
    if (
        reservation is None
        or reservation.kind != ReservationKind.group
        or reservation.school_id != actor.school_id
    ):
        raise ReservationNotFound()
    if reservation.status != ReservationStatus.confirmed:
        raise ReservationNotConfirmed()
    slot = session.get(TimeSlot, reservation.slot_id)
    assert slot is not None
    members = session.exec(
        select(ReservationMember.student_id).where(
            ReservationMember.reservation_id == reservation.id
        )
    ).all()
    return reservation, slot, set(members)
