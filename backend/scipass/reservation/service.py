"""Reserving and cancelling places in time slots (slots: :mod:`.slots`; lists:
:mod:`.lists`). Services flush, never commit.

Capacity is claimed with one conditional update (``taken + n <= capacity``), so concurrent
requests cannot overbook on either engine; a student's second place in a slot is refused by
the ``UNIQUE(slot_id, student_id)`` of reservation members, inserted before any capacity is
claimed. A full slot puts the request on a waitlist (first come, first promoted) unless the
caller asked not to wait; then nothing is written and the answer is ``capacity_full``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from scipass.activity.models import Activity, ActivityStatus
from scipass.audit import service as audit_service
from scipass.consent import service as consent_service
from scipass.consent.models import Purpose
from scipass.core import idempotency as idempotency_service
from scipass.core.auth import SCHOOL_ROLES, VENUE_ROLES, Principal, Role
from scipass.core.clock import local_date
from scipass.core.idempotency import Idempotency
from scipass.org.models import Stage, Venue, decode_stages
from scipass.reservation.errors import (
    AlreadyReserved,
    CancelTooLate,
    CapacityFull,
    GroupEmpty,
    ReservationNotActive,
    ReservationNotFound,
    SchoolChannelReserved,
    SlotCancelled,
    SlotInPast,
    SlotNotFound,
    StageNotServed,
    StudentOtherSchool,
)
from scipass.reservation.models import (
    Reservation,
    ReservationKind,
    ReservationMember,
    ReservationStatus,
    SlotStatus,
    TimeSlot,
)
from scipass.reservation.schemas import GroupReserve
from scipass.reservation.slots import check_open, waitlist_lengths
from scipass.roster import importer
from scipass.roster.models import Student
from scipass.venue import service as venue_service

STAGE_LABELS = venue_service.STAGE_LABELS


# --- reserving ---------------------------------------------------------------------------------


def _open_slot(session: Session, slot_id: int, now: datetime) -> tuple[TimeSlot, Venue]:
    slot = session.get(TimeSlot, slot_id)
    if slot is None:
        raise SlotNotFound()
    venue = session.get(Venue, slot.venue_id)
    if venue is None or not venue.listed:
        raise SlotNotFound()
    if slot.status != SlotStatus.open:
        raise SlotCancelled()
    if slot.starts_at <= now:
        raise SlotInPast()
    check_open(session, venue, slot.starts_at, slot.ends_at)
    if slot.activity_id is not None:
        activity = session.get(Activity, slot.activity_id)
        if activity is None or activity.status != ActivityStatus.published:
            raise SlotCancelled("该时段所属的活动未发布或已取消", "The activity is not open")
    return slot, venue


def _served_stages(session: Session, slot: TimeSlot, venue: Venue) -> set[Stage]:
    stages = set(decode_stages(venue.stages))
    if slot.activity_id is not None:
        activity = session.get(Activity, slot.activity_id)
        if activity is not None:
            stages &= set(decode_stages(activity.stages))
    return stages


def _stage_error(served: set[Stage], **extra: Any) -> StageNotServed:
    labels = "、".join(STAGE_LABELS[s] for s in Stage if s in served) or "无"
    return StageNotServed(
        f"适合学段：{labels}",
        f"Serves: {', '.join(s.value for s in Stage if s in served)}",
        stages=[s.value for s in Stage if s in served],
        **extra,
    )


def _existing(
    session: Session, made_by: str, idempotency: Idempotency | None, now: datetime
) -> Reservation | None:
    """The reservation this request made before (a retry with its key), or None when it is
    to be made now; a key used for another request is refused (:mod:`scipass.core.idempotency`)."""
    if idempotency is None:
        return None
    idempotency_service.claim(session, subject=made_by, idempotency=idempotency, now=now)
    return session.exec(
        select(Reservation).where(
            Reservation.made_by == made_by, Reservation.idempotency_key == idempotency.key
        )
    ).first()


def _claim(session: Session, slot_id: int, places: int) -> bool:
    result = session.exec(
        update(TimeSlot)
        .where(
            col(TimeSlot.id) == slot_id,
            col(TimeSlot.status) == SlotStatus.open,
            col(TimeSlot.taken) + places <= TimeSlot.capacity,
        )
        .values(taken=TimeSlot.taken + places)
    )
    return result.rowcount == 1


def _release(session: Session, slot_id: int, places: int) -> None:
    session.execute(
        update(TimeSlot)
        .where(col(TimeSlot.id) == slot_id, col(TimeSlot.taken) >= places)
        .values(taken=TimeSlot.taken - places)
    )


def waitlist_position(session: Session, reservation: Reservation) -> int | None:
    if reservation.status != ReservationStatus.waitlisted:
        return None
    ahead = session.exec(
        select(func.count()).where(
            Reservation.slot_id == reservation.slot_id,
            Reservation.status == ReservationStatus.waitlisted,
            col(Reservation.id) <= (reservation.id or 0),
        )
    ).one()
    return int(ahead)


def _place(
    session: Session,
    reservation: Reservation,
    student_ids: Sequence[int],
    *,
    join_waitlist: bool,
    now: datetime,
) -> Reservation:
    """Insert the reservation and its members, then claim places or join the waitlist."""
    session.add(reservation)
    try:
        with session.begin_nested():
            session.flush()
            session.add_all(
                ReservationMember(
                    reservation_id=reservation.id or 0,
                    slot_id=reservation.slot_id,
                    student_id=student_id,
                )
                for student_id in student_ids
            )
            session.flush()
    except IntegrityError:
        raise AlreadyReserved() from None
    if _claim(session, reservation.slot_id, reservation.party_size):
        reservation.status = ReservationStatus.confirmed.value
        reservation.confirmed_at = now
    elif join_waitlist:
        reservation.status = ReservationStatus.waitlisted.value
    else:
        # this request's own row is rolled back with the error: do not count it
        waiting = waitlist_lengths(session, [reservation.slot_id]).get(reservation.slot_id, 1) - 1
        raise CapacityFull(
            f"目前有 {waiting} 人（组）在候补",
            f"{waiting} waiting",
            waitlist_length=waiting,
        )
    session.add(reservation)
    session.flush()
    return reservation


def reserve_for_self(
    session: Session,
    *,
    actor: Principal,
    slot_id: int,
    join_waitlist: bool,
    idempotency: Idempotency | None,
    now: datetime,
) -> tuple[Reservation, bool]:
    """A student reserves a place. Returns the reservation and whether it is new."""
    previous = _existing(session, actor.subject, idempotency, now)
    if previous is not None:
        return previous, False
    slot, venue = _open_slot(session, slot_id, now)
    student = session.get(Student, actor.student_id)
    if student is None:
        raise ReservationNotFound()
    consent_service.require_consent(
        session, student=student, purpose=Purpose.participation_record, today=local_date(now)
    )
    served = _served_stages(session, slot, venue)
    if Stage(student.stage) not in served:
        raise _stage_error(served)
    if slot.school_channel and slot.school_priority_until and now < slot.school_priority_until:
        raise SchoolChannelReserved(
            "截止前仅接受学校团体预约，之后个人可预约",
            "Open to individuals after the cut-off",
            open_to_all_at=slot.school_priority_until.isoformat(),
        )
    reservation = Reservation(
        slot_id=slot_id,
        kind=ReservationKind.individual.value,
        student_id=student.id,
        school_id=student.school_id,
        students=1,
        escorts=0,
        party_size=1,
        status=ReservationStatus.waitlisted.value,
        made_by=actor.subject,
        idempotency_key=idempotency.key if idempotency else None,
        created_at=now,
    )
    _place(session, reservation, [student.id or 0], join_waitlist=join_waitlist, now=now)
    audit_service.record(
        session,
        action=audit_service.Action.reservation_made,
        at=now,
        actor=actor,
        object_type="reservation",
        object_id=reservation.id,
        school_id=student.school_id,
        slot_id=slot_id,
        status=reservation.status,
    )
    return reservation, True


def _group_students(session: Session, *, school_id: int, data: GroupReserve) -> list[Student]:
    if data.student_ids is not None:
        wanted = set(data.student_ids)
        found = session.exec(select(Student).where(col(Student.id).in_(wanted))).all()
        own = [s for s in found if s.school_id == school_id]
        foreign = sorted(wanted - {s.id for s in own})
        if foreign:
            raise StudentOtherSchool(
                f"{len(foreign)} 名学生不属于本校",
                f"{len(foreign)} not of your school",
                student_ids=foreign,
            )
        return sorted(own, key=lambda s: s.id or 0)
    students = session.exec(
        select(Student)
        .where(
            Student.school_id == school_id,
            Student.grade == data.grade,
            Student.class_name == data.class_name,
        )
        .order_by(col(Student.id))
    ).all()
    if not students:
        raise GroupEmpty("该班级没有学生", "No students in that class")
    return list(students)


def reserve_for_group(
    session: Session,
    *,
    actor: Principal,
    slot_id: int,
    data: GroupReserve,
    idempotency: Idempotency | None,
    now: datetime,
) -> tuple[Reservation, bool]:
    """A teacher reserves for a class or a list of own students, as one group."""
    previous = _existing(session, actor.subject, idempotency, now)
    if previous is not None:
        return previous, False
    school_id = actor.school_id or 0
    students = _group_students(session, school_id=school_id, data=data)
    slot, venue = _open_slot(session, slot_id, now)
    served = _served_stages(session, slot, venue)
    unserved = [s.id for s in students if Stage(s.stage) not in served]
    if unserved:
        raise _stage_error(served, student_ids=unserved)
    ids = [s.id or 0 for s in students]
    taken = session.exec(
        select(ReservationMember.student_id).where(
            ReservationMember.slot_id == slot_id, col(ReservationMember.student_id).in_(ids)
        )
    ).all()
    if taken:
        raise AlreadyReserved(
            f"{len(taken)} 名学生已预约该时段",
            f"{len(taken)} students already hold a place",
            student_ids=sorted(taken),
        )
    if data.grade is not None:
        label = f"{importer.grade_label(students[0].stage, data.grade)}{data.class_name}"
    else:
        label = f"学生 {len(students)} 人"
    reservation = Reservation(
        slot_id=slot_id,
        kind=ReservationKind.group.value,
        school_id=school_id,
        group_label=label,
        students=len(students),
        escorts=data.escorts,
        party_size=len(students) + data.escorts,
        status=ReservationStatus.waitlisted.value,
        made_by=actor.subject,
        idempotency_key=idempotency.key if idempotency else None,
        note=data.note,
        created_at=now,
    )
    _place(session, reservation, ids, join_waitlist=data.join_waitlist, now=now)
    audit_service.record(
        session,
        action=audit_service.Action.reservation_made,
        at=now,
        actor=actor,
        object_type="reservation",
        object_id=reservation.id,
        school_id=school_id,
        slot_id=slot_id,
        status=reservation.status,
        students=len(students),
    )
    return reservation, True


# --- cancelling and the waitlist -------------------------------------------------------------


def _may_cancel(actor: Principal, reservation: Reservation, slot: TimeSlot) -> bool:
    if actor.role is Role.platform_admin:
        return True
    if actor.role is Role.student:
        return reservation.made_by == actor.subject
    if actor.role is Role.guardian:  # acting for a child (scipass.roster.acting)
        return actor.student_id is not None and reservation.student_id == actor.student_id
    if actor.role in SCHOOL_ROLES:
        return reservation.school_id == actor.school_id
    if actor.role in VENUE_ROLES:
        return slot.venue_id == actor.venue_id
    return False


def promote(session: Session, slot_id: int, now: datetime) -> list[Reservation]:
    """Confirm waitlisted reservations in order while places last; stop at the first that does
    not fit, so a large group first in line is not overtaken by later single students."""
    promoted: list[Reservation] = []
    waiting = session.exec(
        select(Reservation)
        .where(Reservation.slot_id == slot_id, Reservation.status == ReservationStatus.waitlisted)
        .order_by(col(Reservation.id))
    ).all()
    for reservation in waiting:
        if not _claim(session, slot_id, reservation.party_size):
            break
        changed = session.exec(
            update(Reservation)
            .where(
                col(Reservation.id) == reservation.id,
                col(Reservation.status) == ReservationStatus.waitlisted,
            )
            .values(status=ReservationStatus.confirmed.value, confirmed_at=now)
        )
        if changed.rowcount != 1:
            _release(session, slot_id, reservation.party_size)  # cancelled meanwhile
            continue
        promoted.append(reservation)
    for reservation in promoted:
        session.refresh(reservation)
    return promoted


def cancel(
    session: Session, *, actor: Principal, reservation_id: int, reason: str, now: datetime
) -> Reservation:
    reservation = session.get(Reservation, reservation_id)
    slot = session.get(TimeSlot, reservation.slot_id) if reservation else None
    if reservation is None or slot is None or not _may_cancel(actor, reservation, slot):
        raise ReservationNotFound()
    if slot.starts_at <= now:
        raise CancelTooLate()
    was = reservation.status
    changed = session.exec(
        update(Reservation)
        .where(
            col(Reservation.id) == reservation_id,
            col(Reservation.status).in_(
                [ReservationStatus.confirmed.value, ReservationStatus.waitlisted.value]
            ),
        )
        .values(
            status=ReservationStatus.cancelled.value,
            cancelled_at=now,
            cancelled_by=actor.subject,
            cancel_reason=reason.strip(),
        )
    )
    if changed.rowcount != 1:
        raise ReservationNotActive()
    session.execute(
        delete(ReservationMember).where(col(ReservationMember.reservation_id) == reservation_id)
    )
    if was == ReservationStatus.confirmed:
        _release(session, slot.id or 0, reservation.party_size)
        promote(session, slot.id or 0, now)
    audit_service.record(
        session,
        action=audit_service.Action.reservation_cancelled,
        at=now,
        actor=actor,
        object_type="reservation",
        object_id=reservation_id,
        school_id=reservation.school_id,
        slot_id=slot.id,
    )
    session.refresh(reservation)
    return reservation
