"""Volunteer roles and their shifts: defined and published by the organiser (a venue, or a
school for its own science festival), listed for everyone, called off with every sign-up.

Services flush, never commit. Who may change a role or a shift is its organiser's staff
(:func:`scipass.org.organiser.is_organiser`); anyone else gets 404, as for an object they
cannot see.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import Principal, Role
from scipass.core.clock import SHANGHAI, local_date
from scipass.core.pagination import PageParams, count_rows
from scipass.org.models import encode_stages
from scipass.org.organiser import (
    OrganiserKind,
    OrganiserRef,
    is_organiser,
    organiser_of,
    organiser_of_principal,
)
from scipass.volunteer import outbox
from scipass.volunteer.errors import (
    RoleInvalid,
    RoleNotFound,
    ShiftCancelled,
    ShiftInvalid,
    ShiftNotFound,
    ShiftStarted,
)
from scipass.volunteer.models import (
    MAX_DAILY_MINUTES_CAP,
    NotificationKind,
    ShiftStatus,
    SignupStatus,
    VolunteerRole,
    VolunteerShift,
    VolunteerSignup,
)
from scipass.volunteer.presets import PRESETS
from scipass.volunteer.schemas import RoleCreate, RoleUpdate, ShiftCreate, ShiftSeriesCreate

MAX_SERIES = 200  # shifts one series may publish
LIVE = (SignupStatus.signed_up.value, SignupStatus.waitlisted.value)


def _minutes(hours: float) -> int:
    minutes = round(hours * 60)
    if not 0 < minutes <= MAX_DAILY_MINUTES_CAP:
        raise RoleInvalid("每日上限须在 0.5 至 8 小时之间", "Between 0.5 and 8 hours a day")
    return minutes


def _own_organiser(actor: Principal) -> OrganiserRef:
    ref = organiser_of_principal(actor)
    if ref is None or ref.kind is OrganiserKind.bureau:
        raise RoleInvalid("只有场馆或学校可以设置志愿岗位", "Only a venue or a school")
    return ref


def _check_prerequisite(session: Session, ref: OrganiserRef, role_id: int | None) -> None:
    if role_id is None:
        return
    prerequisite = session.get(VolunteerRole, role_id)
    if prerequisite is None or organiser_of(prerequisite) != ref:
        raise RoleInvalid("前置岗位须为本组织的岗位", "The prerequisite must be a role of yours")


# --- roles -------------------------------------------------------------------------------------


def create_role(
    session: Session, *, actor: Principal, data: RoleCreate, now: datetime
) -> VolunteerRole:
    ref = _own_organiser(actor)
    preset = PRESETS[data.preset] if data.preset is not None else None
    name = data.name or (preset.name if preset else None)
    if not name:
        raise RoleInvalid("请填写岗位名称，或选择预设岗位", "Give a name or choose a preset")
    _check_prerequisite(session, ref, data.prerequisite_role_id)

    def pick(value: Any, default: Any) -> Any:
        return value if value is not None else default

    stages = pick(data.stages, list(preset.stages) if preset else [])
    role = VolunteerRole(
        **ref.columns(),
        preset=data.preset.value if data.preset else None,
        name=name,
        description=pick(data.description, preset.description if preset else ""),
        duties=pick(data.duties, preset.duties if preset else ""),
        stages=encode_stages(stages),
        min_age=pick(data.min_age, preset.min_age if preset else None),
        training=pick(data.training, preset.training if preset else ""),
        prerequisite_role_id=data.prerequisite_role_id,
        max_daily_minutes=_minutes(data.max_daily_hours)
        if data.max_daily_hours is not None
        else (preset.max_daily_minutes if preset else 240),
        active=True,
        created_by=actor.subject,
        created_at=now,
        updated_at=now,
    )
    session.add(role)
    session.flush()
    _audit(session, actor, audit_service.Action.volunteer_role_saved, role, now, created=True)
    return role


def role_for_organiser(session: Session, *, actor: Principal, role_id: int) -> VolunteerRole:
    role = session.get(VolunteerRole, role_id)
    if role is None or not is_organiser(actor, organiser_of(role)):
        raise RoleNotFound()
    return role


def update_role(
    session: Session, *, actor: Principal, role_id: int, data: RoleUpdate, now: datetime
) -> VolunteerRole:
    role = role_for_organiser(session, actor=actor, role_id=role_id)
    if data.prerequisite_role_id is not None:
        if data.prerequisite_role_id == role.id:
            raise RoleInvalid("前置岗位不能是岗位本身", "A role cannot require itself")
        _check_prerequisite(session, organiser_of(role), data.prerequisite_role_id)
        role.prerequisite_role_id = data.prerequisite_role_id
    if data.clear_prerequisite:
        role.prerequisite_role_id = None
    for field in ("name", "description", "duties", "training", "min_age", "active"):
        value = getattr(data, field)
        if value is not None:
            setattr(role, field, value)
    if data.clear_min_age:
        role.min_age = None
    if data.stages is not None:
        role.stages = encode_stages(data.stages)
    if data.max_daily_hours is not None:
        role.max_daily_minutes = _minutes(data.max_daily_hours)
    role.updated_at = now
    session.add(role)
    session.flush()
    _audit(session, actor, audit_service.Action.volunteer_role_saved, role, now, created=False)
    return role


def public_role(session: Session, role_id: int) -> VolunteerRole:
    role = session.get(VolunteerRole, role_id)
    if role is None:
        raise RoleNotFound()
    return role


def list_roles(
    session: Session,
    *,
    page: PageParams,
    venue_id: int | None,
    school_id: int | None,
    include_inactive: bool,
) -> tuple[list[VolunteerRole], int]:
    query = select(VolunteerRole)
    if venue_id is not None:
        query = query.where(VolunteerRole.venue_id == venue_id)
    if school_id is not None:
        query = query.where(VolunteerRole.school_id == school_id)
    if not include_inactive:
        query = query.where(col(VolunteerRole.active).is_(True))
    total = count_rows(session, query)
    rows = session.exec(query.order_by(col(VolunteerRole.id)).limit(page.limit).offset(page.offset))
    return list(rows.all()), total


# --- shifts ------------------------------------------------------------------------------------


def _new_shift(
    role: VolunteerRole,
    *,
    actor: Principal,
    starts_at: datetime,
    ends_at: datetime,
    closes_at: datetime,
    place: str,
    capacity: int,
    walk_ins: bool,
    note: str,
    series_key: str | None,
    now: datetime,
) -> VolunteerShift:
    if ends_at <= starts_at:
        raise ShiftInvalid("结束时间须晚于开始时间", "The end must come after the start")
    if starts_at <= now:
        raise ShiftInvalid("开始时间须在将来", "The shift must start in the future")
    if local_date(starts_at) != local_date(ends_at - timedelta(microseconds=1)):
        raise ShiftInvalid("班次须在同一天内", "A shift lies within one day (Beijing time)")
    if (ends_at - starts_at) > timedelta(minutes=role.max_daily_minutes):
        raise ShiftInvalid(
            f"班次时长超过岗位每日上限（{role.max_daily_minutes / 60:g} 小时）",
            f"Longer than the role's daily maximum ({role.max_daily_minutes} minutes)",
        )
    if closes_at > starts_at:
        raise ShiftInvalid("报名截止时间不能晚于开始时间", "Sign-up closes no later than the start")
    return VolunteerShift(
        role_id=role.id or 0,
        school_id=role.school_id,
        venue_id=role.venue_id,
        bureau_id=role.bureau_id,
        series_key=series_key,
        starts_at=starts_at.astimezone(UTC),
        ends_at=ends_at.astimezone(UTC),
        place=place,
        capacity=capacity,
        taken=0,
        signup_closes_at=closes_at.astimezone(UTC),
        walk_ins=walk_ins,
        status=ShiftStatus.open.value,
        note=note,
        created_by=actor.subject,
        created_at=now,
    )


def _active_role(session: Session, actor: Principal, role_id: int) -> VolunteerRole:
    role = role_for_organiser(session, actor=actor, role_id=role_id)
    if not role.active:
        raise ShiftInvalid("岗位已停用", "The role is inactive")
    return role


def create_shift(
    session: Session, *, actor: Principal, role_id: int, data: ShiftCreate, now: datetime
) -> VolunteerShift:
    role = _active_role(session, actor, role_id)
    shift = _new_shift(
        role,
        actor=actor,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        closes_at=data.signup_closes_at or data.starts_at,
        place=data.place,
        capacity=data.capacity,
        walk_ins=data.walk_ins,
        note=data.note,
        series_key=None,
        now=now,
    )
    session.add(shift)
    session.flush()
    _audit_shifts(session, actor, role, [shift], now)
    return shift


def series_days(data: ShiftSeriesCreate) -> list[date]:
    """The dates of a series: its weekdays between the two dates, less the dates left out."""
    if data.to_date < data.from_date:
        raise ShiftInvalid("结束日期不能早于开始日期", "to_date is before from_date")
    if (data.to_date - data.from_date).days > 366:
        raise ShiftInvalid("一次最多发布一年的班次", "At most a year at a time")
    weekdays = set(data.weekdays)
    skipped = set(data.except_dates)
    days = []
    day = data.from_date
    while day <= data.to_date:
        if day.isoweekday() in weekdays and day not in skipped:
            days.append(day)
        day += timedelta(days=1)
    if not days:
        raise ShiftInvalid("所选日期范围内没有符合条件的日期", "No date matches")
    if len(days) > MAX_SERIES:
        raise ShiftInvalid(f"一次最多发布 {MAX_SERIES} 个班次", f"At most {MAX_SERIES} shifts")
    return days


def create_series(
    session: Session, *, actor: Principal, role_id: int, data: ShiftSeriesCreate, now: datetime
) -> list[VolunteerShift]:
    """Shifts on the given weekdays between two dates (for example every Saturday 09:00–12:00
    of a term), sharing one ``series_key``; all or none."""
    role = _active_role(session, actor, role_id)
    key = "S" + secrets.token_hex(8)
    shifts = []
    for day in series_days(data):
        starts_at = datetime.combine(day, data.start_time, SHANGHAI)
        shifts.append(
            _new_shift(
                role,
                actor=actor,
                starts_at=starts_at,
                ends_at=datetime.combine(day, data.end_time, SHANGHAI),
                closes_at=starts_at - timedelta(hours=data.close_hours_before),
                place=data.place,
                capacity=data.capacity,
                walk_ins=data.walk_ins,
                note=data.note,
                series_key=key,
                now=now,
            )
        )
    session.add_all(shifts)
    session.flush()
    _audit_shifts(session, actor, role, shifts, now)
    return shifts


def list_shifts(
    session: Session, *, role_id: int, page: PageParams, since: datetime, until: datetime | None
) -> tuple[list[VolunteerShift], int]:
    public_role(session, role_id)
    query = select(VolunteerShift).where(
        VolunteerShift.role_id == role_id, VolunteerShift.ends_at > since
    )
    if until is not None:
        query = query.where(VolunteerShift.starts_at < until)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(VolunteerShift.starts_at), col(VolunteerShift.id))
        .limit(page.limit)
        .offset(page.offset)
    )
    return list(rows.all()), total


def waitlist_lengths(session: Session, shift_ids: Sequence[int]) -> dict[int, int]:
    if not shift_ids:
        return {}
    rows = session.execute(
        select(VolunteerSignup.shift_id, func.count())
        .where(
            col(VolunteerSignup.shift_id).in_(shift_ids),
            VolunteerSignup.status == SignupStatus.waitlisted,
        )
        .group_by(col(VolunteerSignup.shift_id))
    ).all()
    return {shift_id: count for shift_id, count in rows}


def shift_for_staff(session: Session, *, actor: Principal, shift_id: int) -> VolunteerShift:
    """The shift, for its organiser's staff (and the platform admin); else 404."""
    shift = session.get(VolunteerShift, shift_id)
    if shift is None:
        raise ShiftNotFound()
    if actor.role is not Role.platform_admin and not is_organiser(actor, organiser_of(shift)):
        raise ShiftNotFound()
    return shift


def shift_title(session: Session, shift: VolunteerShift) -> str:
    """How a shift's codes name it on a poster or a screen, in Beijing time:
    志愿服务：小小志愿者（10月17日 09:00–12:00）."""
    role = session.get(VolunteerRole, shift.role_id)
    start, end = shift.starts_at.astimezone(SHANGHAI), shift.ends_at.astimezone(SHANGHAI)
    when = f"{start.month}月{start.day}日 {start:%H:%M}–{end:%H:%M}"
    return f"志愿服务：{role.name if role else ''}（{when}）"


def cancel_shift(
    session: Session, *, actor: Principal, shift_id: int, reason: str, now: datetime
) -> VolunteerShift:
    """The organiser calls a shift off before it starts: every live sign-up is cancelled with
    the reason, and each pupil is told through the outbox. A shift under way is not cancelled
    (pupils may be serving): who did not come is marked a no-show when minutes are confirmed."""
    shift = shift_for_staff(session, actor=actor, shift_id=shift_id)
    changed = session.exec(
        update(VolunteerShift)
        .where(
            col(VolunteerShift.id) == shift_id,
            col(VolunteerShift.status) == ShiftStatus.open,
            col(VolunteerShift.starts_at) > now,
        )
        .values(
            status=ShiftStatus.cancelled.value,
            taken=0,
            cancelled_at=now,
            cancelled_by=actor.subject,
            cancel_reason=reason.strip(),
        )
    )
    if changed.rowcount != 1:
        session.refresh(shift)
        raise ShiftStarted() if shift.status == ShiftStatus.open else ShiftCancelled()
    live = session.exec(
        select(VolunteerSignup.id, VolunteerSignup.student_id)
        .where(VolunteerSignup.shift_id == shift_id, col(VolunteerSignup.status).in_(LIVE))
        .order_by(col(VolunteerSignup.id))
    ).all()
    session.execute(
        update(VolunteerSignup)
        .where(col(VolunteerSignup.shift_id) == shift_id, col(VolunteerSignup.status).in_(LIVE))
        .values(
            status=SignupStatus.cancelled.value,
            cancelled_at=now,
            cancelled_by=actor.subject,
            cancel_reason=reason.strip(),
        )
    )
    session.refresh(shift)
    for signup_id, student_id in live:
        outbox.add(
            session,
            kind=NotificationKind.volunteer_shift_cancelled,
            student_id=student_id,
            now=now,
            payload=outbox.shift_payload(shift, signup_id=signup_id, reason=reason.strip()),
        )
    audit_service.record(
        session,
        action=audit_service.Action.volunteer_shift_cancelled,
        at=now,
        actor=actor,
        object_type="volunteer_shift",
        object_id=shift_id,
        school_id=shift.school_id,
        signups=len(live),
    )
    return shift


# --- audit -------------------------------------------------------------------------------------


def _audit(
    session: Session,
    actor: Principal,
    action: audit_service.Action,
    role: VolunteerRole,
    now: datetime,
    **detail: Any,
) -> None:
    audit_service.record(
        session,
        action=action,
        at=now,
        actor=actor,
        object_type="volunteer_role",
        object_id=role.id,
        school_id=role.school_id,
        **detail,
    )


def _audit_shifts(
    session: Session,
    actor: Principal,
    role: VolunteerRole,
    shifts: list[VolunteerShift],
    now: datetime,
) -> None:
    audit_service.record(
        session,
        action=audit_service.Action.volunteer_shifts_published,
        at=now,
        actor=actor,
        object_type="volunteer_role",
        object_id=role.id,
        school_id=role.school_id,
        shifts=len(shifts),
        series_key=shifts[0].series_key,
    )
