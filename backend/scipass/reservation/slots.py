"""Time slots of a venue (or of an activity): made by the venue's staff, inside its opening
hours, listed with their waitlists, and called off with every reservation on them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from scipass.activity.models import Activity
from scipass.audit import service as audit_service
from scipass.core.auth import VENUE_ROLES, Principal, Role
from scipass.core.clock import local_date
from scipass.core.pagination import PageParams, count_rows
from scipass.org.models import Venue
from scipass.reservation.errors import (
    OutsideOpeningHours,
    SlotCancelled,
    SlotInPast,
    SlotInvalid,
    SlotNotFound,
)
from scipass.reservation.models import (
    Reservation,
    ReservationMember,
    ReservationStatus,
    SlotStatus,
    TimeSlot,
)
from scipass.reservation.schemas import SlotCreate
from scipass.venue import service as venue_service


def check_open(session: Session, venue: Venue, starts_at: datetime, ends_at: datetime) -> None:
    periods = venue_service.periods_on(session, venue, local_date(starts_at))
    if not venue_service.hours.within(periods, starts_at, ends_at):
        raise OutsideOpeningHours(
            f"当天开放时间：{_periods_text(periods)}",
            f"Open that day: {_periods_text(periods, english=True)}",
        )


def _periods_text(periods: Sequence[tuple[Any, Any]], *, english: bool = False) -> str:
    if not periods:
        return "closed" if english else "闭馆"
    return "、".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in periods)


def create_slot(
    session: Session, *, actor: Principal, venue_id: int, data: SlotCreate, now: datetime
) -> TimeSlot:
    venue = venue_service.venue_for_staff(session, actor=actor, venue_id=venue_id)
    if actor.role not in VENUE_ROLES and actor.role is not Role.platform_admin:
        raise SlotNotFound()
    if data.ends_at <= data.starts_at:
        raise SlotInvalid("结束时间须晚于开始时间", "The end must come after the start")
    if data.starts_at <= now:
        raise SlotInPast()
    capacity = data.capacity
    if data.resource_id is not None:
        resource = venue_service.get_resource(
            session, venue_id=venue_id, resource_id=data.resource_id
        )
        capacity = capacity or resource.capacity
    if data.activity_id is not None:
        activity = session.get(Activity, data.activity_id)
        if activity is None or activity.venue_id != venue_id:
            raise SlotInvalid("只能为本场馆的活动设置时段", "Not an activity of this venue")
    if capacity is None:
        raise SlotInvalid("请填写容量", "Give a capacity")
    if data.school_channel:
        cut_off = data.school_priority_until
        if cut_off is None or cut_off > data.starts_at:
            raise SlotInvalid(
                "学校通道时段须设置不晚于开始时间的学校优先截止时间",
                "A school-channel slot needs a cut-off no later than its start",
            )
    check_open(session, venue, data.starts_at, data.ends_at)
    slot = TimeSlot(
        venue_id=venue_id,
        resource_id=data.resource_id,
        activity_id=data.activity_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        capacity=capacity,
        taken=0,
        school_channel=data.school_channel,
        school_priority_until=data.school_priority_until if data.school_channel else None,
        status=SlotStatus.open.value,
        note=data.note,
        created_at=now,
    )
    session.add(slot)
    session.flush()
    return slot


def waitlist_lengths(session: Session, slot_ids: Sequence[int]) -> dict[int, int]:
    if not slot_ids:
        return {}
    rows = session.execute(
        select(Reservation.slot_id, func.count())
        .where(
            col(Reservation.slot_id).in_(slot_ids),
            Reservation.status == ReservationStatus.waitlisted,
        )
        .group_by(col(Reservation.slot_id))
    ).all()
    return {slot_id: count for slot_id, count in rows}


def list_slots(
    session: Session,
    *,
    venue_id: int,
    page: PageParams,
    since: datetime,
    until: datetime | None,
    resource_id: int | None,
    activity_id: int | None,
) -> tuple[list[TimeSlot], int]:
    venue_service.public_venue(session, venue_id)
    query = select(TimeSlot).where(TimeSlot.venue_id == venue_id, TimeSlot.ends_at > since)
    if until is not None:
        query = query.where(TimeSlot.starts_at < until)
    if resource_id is not None:
        query = query.where(TimeSlot.resource_id == resource_id)
    if activity_id is not None:
        query = query.where(TimeSlot.activity_id == activity_id)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(TimeSlot.starts_at), col(TimeSlot.id))
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return list(rows), total


def slot_for_staff(session: Session, *, actor: Principal, slot_id: int) -> TimeSlot:
    slot = session.get(TimeSlot, slot_id)
    if slot is None:
        raise SlotNotFound()
    allowed = actor.role is Role.platform_admin or (
        actor.role in VENUE_ROLES and actor.venue_id == slot.venue_id
    )
    if not allowed:
        raise SlotNotFound()
    return slot


def cancel_slot(
    session: Session, *, actor: Principal, slot_id: int, reason: str, now: datetime
) -> TimeSlot:
    """The venue calls a slot off: every reservation on it is cancelled with the reason."""
    slot = slot_for_staff(session, actor=actor, slot_id=slot_id)
    if not reason.strip():
        raise SlotInvalid("取消时段须写明原因（会告知已预约的学校和学生）", "Give a reason")
    changed = session.exec(
        update(TimeSlot)
        .where(col(TimeSlot.id) == slot_id, col(TimeSlot.status) == SlotStatus.open)
        .values(status=SlotStatus.cancelled.value, taken=0)
    )
    if changed.rowcount != 1:
        raise SlotCancelled()
    cancelled = session.exec(
        update(Reservation)
        .where(
            col(Reservation.slot_id) == slot_id,
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
    session.execute(delete(ReservationMember).where(col(ReservationMember.slot_id) == slot_id))
    audit_service.record(
        session,
        action=audit_service.Action.slot_cancelled,
        at=now,
        actor=actor,
        object_type="time_slot",
        object_id=slot_id,
        reservations=cancelled.rowcount,
    )
    session.refresh(slot)
    return slot
