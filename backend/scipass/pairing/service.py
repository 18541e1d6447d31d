"""Pairing use cases. Services flush, never commit; status changes are conditional updates."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import SCHOOL_ROLES, VENUE_ROLES, Principal, Role, region_prefix
from scipass.core.db import flush_unique
from scipass.core.pagination import PageParams, count_rows
from scipass.org.models import School, Venue
from scipass.pairing.errors import (
    PairingExists,
    PairingInvalid,
    PairingNotFound,
    PairingTransitionInvalid,
)
from scipass.pairing.models import Pairing, PairingStatus
from scipass.pairing.schemas import PairingCreate


def side_of(actor: Principal) -> str | None:
    if actor.role in SCHOOL_ROLES:
        return "school"
    if actor.role in VENUE_ROLES:
        return "venue"
    return None


def propose(session: Session, *, actor: Principal, data: PairingCreate, now: datetime) -> Pairing:
    side = side_of(actor)
    if side == "school":
        school_id, venue_id = actor.school_id, data.venue_id
    else:
        school_id, venue_id = data.school_id, actor.venue_id
    school = session.get(School, school_id) if school_id else None
    venue = session.get(Venue, venue_id) if venue_id else None
    if school is None or venue is None:
        raise PairingInvalid("请选择结对的学校或场馆", "Name the school or venue to pair with")
    if data.ends_on is not None and data.ends_on < data.starts_on:
        raise PairingInvalid("结束日期不能早于开始日期", "The end cannot precede the start")
    pairing = Pairing(
        school_id=school.id or 0,
        venue_id=venue.id or 0,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        note=data.note,
        proposed_by=side or "",
        status=PairingStatus.proposed.value,
        school_confirmed_at=now if side == "school" else None,
        venue_confirmed_at=now if side == "venue" else None,
        created_by=actor.subject,
        created_at=now,
    )
    session.add(pairing)
    flush_unique(session, PairingExists())
    _audit(session, actor, pairing, "proposed", now)
    return pairing


def _audit(
    session: Session, actor: Principal, pairing: Pairing, change: str, now: datetime
) -> None:
    audit_service.record(
        session,
        action=audit_service.Action.pairing_changed,
        at=now,
        actor=actor,
        object_type="pairing",
        object_id=pairing.id,
        school_id=pairing.school_id,
        change=change,
    )


def _own(session: Session, actor: Principal, pairing_id: int) -> Pairing:
    pairing = session.get(Pairing, pairing_id)
    if pairing is None:
        raise PairingNotFound()
    side = side_of(actor)
    if (side == "school" and pairing.school_id == actor.school_id) or (
        side == "venue" and pairing.venue_id == actor.venue_id
    ):
        return pairing
    raise PairingNotFound()


def _move(
    session: Session,
    pairing: Pairing,
    *,
    expected: PairingStatus,
    values: dict[str, object],
) -> None:
    result = session.exec(
        update(Pairing)
        .where(col(Pairing.id) == pairing.id, col(Pairing.status) == expected)
        .values(**values)
    )
    if result.rowcount != 1:
        raise PairingTransitionInvalid(
            f"当前状态为 {pairing.status}", f"The pairing is {pairing.status}"
        )
    session.refresh(pairing)


def confirm(session: Session, *, actor: Principal, pairing_id: int, now: datetime) -> Pairing:
    """The side that did not propose confirms; the pairing becomes active."""
    pairing = _own(session, actor, pairing_id)
    side = side_of(actor)
    if side == pairing.proposed_by:
        raise PairingTransitionInvalid("须由对方确认", "The other side confirms")
    stamp = "school_confirmed_at" if side == "school" else "venue_confirmed_at"
    _move(
        session,
        pairing,
        expected=PairingStatus.proposed,
        values={"status": PairingStatus.active.value, stamp: now},
    )
    _audit(session, actor, pairing, "confirmed", now)
    return pairing


def decline(
    session: Session, *, actor: Principal, pairing_id: int, reason: str, now: datetime
) -> Pairing:
    """Either side closes a proposal: the other side declines, the proposer withdraws."""
    pairing = _own(session, actor, pairing_id)
    _move(
        session,
        pairing,
        expected=PairingStatus.proposed,
        values={
            "status": PairingStatus.declined.value,
            "closed_at": now,
            "close_reason": reason.strip(),
        },
    )
    _audit(session, actor, pairing, "declined", now)
    return pairing


def end(
    session: Session, *, actor: Principal, pairing_id: int, reason: str, now: datetime, today: date
) -> Pairing:
    pairing = _own(session, actor, pairing_id)
    values: dict[str, object] = {
        "status": PairingStatus.ended.value,
        "closed_at": now,
        "close_reason": reason.strip(),
    }
    if pairing.ends_on is None or pairing.ends_on > today:
        values["ends_on"] = max(today, pairing.starts_on)
    _move(session, pairing, expected=PairingStatus.active, values=values)
    _audit(session, actor, pairing, "ended", now)
    return pairing


def _scoped(actor: Principal) -> ColumnElement[bool] | bool:
    if actor.role is Role.platform_admin:
        return True
    side = side_of(actor)
    if side == "school":
        return col(Pairing.school_id) == actor.school_id
    if side == "venue":
        return col(Pairing.venue_id) == actor.venue_id
    # a bureau: pairings of the schools in its region
    return col(School.region_code).startswith(region_prefix(actor.region_code or "x"))


def list_pairings(
    session: Session, *, actor: Principal, page: PageParams, status: PairingStatus | None
) -> tuple[list[tuple[Pairing, School, Venue]], int]:
    query = (
        select(Pairing, School, Venue)
        .join(School, col(School.id) == Pairing.school_id)
        .join(Venue, col(Venue.id) == Pairing.venue_id)
        .where(_scoped(actor))
    )
    if status:
        query = query.where(Pairing.status == status)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(Pairing.id).desc()).limit(page.limit).offset(page.offset)
    ).all()
    return [(p, s, v) for p, s, v in rows], total


def coverage(
    session: Session, *, actor: Principal, today: date, area: str | None
) -> list[tuple[School, int]]:
    """Each school of the bureau's region with its count of pairings in force today."""
    in_force = and_(
        col(Pairing.school_id) == School.id,
        col(Pairing.status) == PairingStatus.active,
        col(Pairing.starts_on) <= today,
        or_(col(Pairing.ends_on).is_(None), col(Pairing.ends_on) >= today),
    )
    count = select(func.count(col(Pairing.id))).where(in_force).correlate(School).scalar_subquery()
    query = select(School, count)
    if actor.role is Role.bureau:
        query = query.where(
            col(School.region_code).startswith(region_prefix(actor.region_code or "x"))
        )
    if area:
        query = query.where(School.area == area)
    rows = session.exec(query.order_by(col(School.region_code), col(School.name))).all()
    return [(school, int(n)) for school, n in rows]
