"""Confirmed minutes (issue 18 point 5): after a shift its organiser's staff confirm each
pupil's service time, and the confirmation appends the volunteer record.

* The default is the attended time clipped to the shift (arrival to leaving), in whole
  30-minute units (only actual service time counts, travel never: DOMAIN-NOTES §1.5). A pupil
  who arrived but never scanned out has no default, since nobody knows when they left: they
  stay unconfirmed (``needs_minutes``) until staff enter the minutes with a reason.
* A pupil's minutes in one (Beijing) day are capped across every role served that day by the
  lowest daily maximum among those roles.
* Staff may set other minutes with a reason; the change is audited
  (``volunteer_minutes_changed``, before and after).
* A pupil who held a place and never arrived is marked ``no_show`` (no record).
* Confirming appends the participation record through :mod:`scipass.record.append`: source
  ``volunteer`` (one per pupil and shift), category volunteer service, its dimension from the
  pupil's school's region (its policy pack; nationally 思想品德), role volunteer, the
  minutes, and as 证明人 the confirming staff member and the venue (谁记录谁证明), confirmed at
  once (not while a guardian has withdrawn ``participation_record``: the minutes are
  confirmed on the sign-up, the record waits for a new consent). Confirming again changes
  nothing unless the minutes change; a changed minute count is
  carried onto the record while the school has not reviewed it yet, and refused
  (``volunteer_minutes_reviewed``) once it has: the record the school approved stays the
  pupil's, and the sign-up never says otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.consent.models import Purpose
from scipass.consent.service import has_consent
from scipass.core.auth import Principal
from scipass.core.clock import day_bounds, local_date
from scipass.core.errors import Conflict
from scipass.org.models import School, Venue
from scipass.record import append as record_append
from scipass.record import service as record_service
from scipass.record.models import RecordCategory, RecordRole, RecordSource
from scipass.roster.models import Student
from scipass.volunteer import roles as volunteer_roles
from scipass.volunteer.errors import MinutesInvalid, MinutesReviewed, ShiftNotOver
from scipass.volunteer.models import (
    SignupStatus,
    VolunteerRole,
    VolunteerShift,
    VolunteerSignup,
)
from scipass.volunteer.schemas import MinutesItem

UNIT = 30
CONFIRMABLE = (
    SignupStatus.signed_up.value,
    SignupStatus.attended.value,
    SignupStatus.no_show.value,
)


def source_ref(shift_id: int) -> str:
    """The record's source key: one volunteer record per pupil and shift."""
    return f"shift:{shift_id}"


def attended_minutes(shift: VolunteerShift, signup: VolunteerSignup) -> int | None:
    """Arrival to leaving, clipped to the shift, in whole units; None without both scans."""
    if signup.arrived_at is None or signup.left_at is None:
        return None
    start = max(signup.arrived_at, shift.starts_at)
    end = min(signup.left_at, shift.ends_at)
    minutes = max(0, int((end - start).total_seconds() // 60))
    return minutes - minutes % UNIT


def day_room(
    session: Session, *, signup: VolunteerSignup, shift: VolunteerShift, role: VolunteerRole
) -> int:
    """How many minutes the pupil may still be credited on the shift's day: the lowest daily
    maximum of the roles served that day, less what the other shifts of that day have."""
    start, end = day_bounds(local_date(shift.starts_at))
    rows = session.exec(
        select(VolunteerSignup, VolunteerRole)
        .join(VolunteerShift, col(VolunteerShift.id) == VolunteerSignup.shift_id)
        .join(VolunteerRole, col(VolunteerRole.id) == VolunteerSignup.role_id)
        .where(
            VolunteerSignup.student_id == signup.student_id,
            col(VolunteerSignup.id) != signup.id,
            VolunteerSignup.status == SignupStatus.attended.value,
            col(VolunteerShift.starts_at) >= start,
            col(VolunteerShift.starts_at) < end,
        )
    ).all()
    cap = min([role.max_daily_minutes, *(r.max_daily_minutes for _s, r in rows)])
    used = sum(s.confirmed_minutes or 0 for s, _r in rows)
    return max(0, cap - used)


def _facts(
    session: Session,
    *,
    shift: VolunteerShift,
    role: VolunteerRole,
    signup: VolunteerSignup,
    minutes: int,
    attester: str,
) -> record_append.RecordFacts:
    if shift.venue_id is not None:
        venue = session.get(Venue, shift.venue_id)
        unit, phone = (venue.name, venue.phone) if venue else ("", "")
    else:
        school = session.get(School, shift.school_id)
        unit, phone = (school.name if school else ""), ""
    started = max(signup.arrived_at or shift.starts_at, shift.starts_at)
    left = signup.left_at or started + timedelta(minutes=minutes)  # no exit scan: as entered
    ended = max(started, min(left, shift.ends_at))
    return record_append.RecordFacts(
        title=f"志愿服务：{role.name}",
        category=RecordCategory.volunteer,
        organiser_name=unit,
        place=shift.place,
        started_at=started,
        ended_at=ended,
        minutes=minutes,
        role=RecordRole.volunteer,
        outcome=role.duties[:100],
        organiser_venue_id=shift.venue_id,
        organiser_school_id=shift.school_id,
        attester_name=attester,
        attester_unit=unit,
        attester_phone=phone,
        confirmed=True,
    )


def _may_record(session: Session, signup: VolunteerSignup, now: datetime) -> bool:
    """Whether the pupil may get a record now: a guardian who withdrew
    ``participation_record`` since the sign-up stops new records (the minutes are still
    confirmed on the sign-up; confirming again after a new consent appends the record)."""
    student = session.get(Student, signup.student_id)
    return student is not None and has_consent(
        session, student=student, purpose=Purpose.participation_record, today=local_date(now)
    )


def confirm_shift(
    session: Session,
    *,
    actor: Principal,
    shift_id: int,
    items: Sequence[MinutesItem],
    now: datetime,
) -> list[VolunteerSignup]:
    """Confirm every placed pupil of a shift that has ended (``items`` override the default
    for some: other minutes with a reason, or a no-show). Answers the sign-ups, confirmed."""
    shift = volunteer_roles.shift_for_staff(session, actor=actor, shift_id=shift_id)
    if now < shift.ends_at:
        raise ShiftNotOver(ends_at=shift.ends_at.isoformat())
    role = session.get(VolunteerRole, shift.role_id)
    assert role is not None
    signups = session.exec(
        select(VolunteerSignup)
        .where(
            VolunteerSignup.shift_id == shift.id,
            col(VolunteerSignup.status).in_(CONFIRMABLE),
        )
        .order_by(col(VolunteerSignup.id))
    ).all()
    by_id = {s.id: s for s in signups}
    overrides = {item.signup_id: item for item in items}
    unknown = [key for key in overrides if key not in by_id]
    if unknown:
        raise MinutesInvalid("报名不属于该班次", "Not a sign-up of this shift", signup_ids=unknown)
    attester = record_service.display_name(session, actor)
    for signup in signups:
        _confirm_one(
            session,
            actor=actor,
            shift=shift,
            role=role,
            signup=signup,
            item=overrides.get(signup.id or 0),
            attester=attester,
            now=now,
        )
    return list(signups)


def _confirm_one(
    session: Session,
    *,
    actor: Principal,
    shift: VolunteerShift,
    role: VolunteerRole,
    signup: VolunteerSignup,
    item: MinutesItem | None,
    attester: str,
    now: datetime,
) -> None:
    no_show = (item is not None and item.no_show) or (
        signup.arrived_at is None and (item is None or item.minutes is None)
    )
    if no_show:
        if signup.record_id is not None:
            raise MinutesInvalid(
                "已生成写实记录，不能改为缺席；请联系学校作废记录",
                "The record exists already; ask the school to void it",
                signup_id=signup.id,
            )
        if signup.status != SignupStatus.no_show or signup.confirmed_at is None:
            signup.status = SignupStatus.no_show.value
            signup.confirmed_minutes = 0
            signup.confirmed_by = actor.subject
            signup.confirmed_at = now
            session.add(signup)
        return
    room = day_room(session, signup=signup, shift=shift, role=role)
    attended = attended_minutes(shift, signup)
    default = None if attended is None else min(attended, room)
    previous = signup.confirmed_minutes if signup.confirmed_at is not None else None
    if item is not None and item.minutes is not None:
        minutes = item.minutes
    elif previous is not None:  # confirming again changes nothing
        minutes = previous
    elif default is not None:
        minutes = default
    else:  # arrived, never scanned out: waits for staff to enter the minutes (needs_minutes)
        return
    reason = (item.reason if item else "").strip()
    shift_minutes = int((shift.ends_at - shift.starts_at).total_seconds() // 60)
    if minutes > min(room, shift_minutes):
        raise MinutesInvalid(
            f"超过当天可计时长 {min(room, shift_minutes)} 分钟",
            f"More than the {min(room, shift_minutes)} minutes the day allows",
            signup_id=signup.id,
            max_minutes=min(room, shift_minutes),
        )
    if previous == minutes and signup.record_id is not None:
        return  # confirmed already, unchanged: idempotent
    changed = minutes != (default if previous is None else previous)
    if changed and not reason:
        raise MinutesInvalid(
            "修改时长须填写原因", "A changed minute count needs a reason", signup_id=signup.id
        )
    signup.status = SignupStatus.attended.value
    signup.confirmed_minutes = minutes
    signup.minutes_reason = reason[:200] if changed else signup.minutes_reason
    signup.confirmed_by = actor.subject
    signup.confirmed_at = now
    if signup.record_id is None and _may_record(session, signup, now):
        signup.record_id = record_append.append_record_id(
            session,
            student_id=signup.student_id,
            school_id=signup.school_id,
            source=RecordSource.volunteer,
            source_ref=source_ref(shift.id or 0),
            facts=_facts(
                session, shift=shift, role=role, signup=signup, minutes=minutes, attester=attester
            ),
            actor=actor,
            now=now,
        )
        if signup.record_id is None:  # another confirmation of this shift came first
            raise Conflict(
                "该班次正在被确认，请刷新后重试", "Confirmed meanwhile; reload and retry"
            )
    elif signup.record_id is not None:
        facts = _facts(
            session, shift=shift, role=role, signup=signup, minutes=minutes, attester=attester
        )
        carried = record_append.set_visit_time(
            session,
            record_id=signup.record_id,
            started_at=facts.started_at,
            ended_at=facts.ended_at,
            minutes=minutes,
            actor=actor,
            now=now,
            note="志愿服务时长更正：" + reason,
        )
        if not carried:  # reviewed (or voided) by the school: its minutes stand
            raise MinutesReviewed(signup_id=signup.id, record_id=signup.record_id)
    session.add(signup)
    session.flush()
    if changed:
        audit_service.record(
            session,
            action=audit_service.Action.volunteer_minutes_changed,
            at=now,
            actor=actor,
            object_type="volunteer_signup",
            object_id=signup.id,
            school_id=signup.school_id,
            reason=reason,
            before=default if previous is None else previous,
            after=minutes,
            shift_id=shift.id,
        )
