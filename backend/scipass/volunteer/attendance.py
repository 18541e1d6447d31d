"""Attendance at a volunteer shift (issue 18 point 4), the volunteer side of a shift scan.

A shift is a scan target of its own: its codes are check-in's codes that name the shift
(``activity_code.shift_id``), and its scans are judged and stored by check-in's machinery
(:mod:`scipass.checkin.shifts`: signatures, windows, nonces, rates, refused scans kept).
What a judged scan changes is here: the pupil's sign-up takes the arrival (``arrived_at``,
status ``attended``) or the leaving (``left_at``); each is set once, by a conditional update,
so a repeated or concurrent scan is a duplicate. A shift scan makes no visit and no visit
record: the volunteer record is appended when staff confirm the minutes
(:mod:`scipass.volunteer.minutes`).

A pupil with no place on the shift is refused ``not_registered``, unless the shift lets
walk-ins fill free places (``volunteer_shift.walk_ins``): then the pupil must pass the
sign-up rules (age or stage, consent, training, overlap, daily hours) and a free place is
taken by the same conditional update as a sign-up (``taken < capacity``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from scipass.checkin.errors import (
    CodeRevoked,
    Ineligible,
    NotCheckedIn,
    NotRegistered,
    NotStarted,
    ScanCapacityFull,
    WindowClosed,
)
from scipass.checkin.models import Direction
from scipass.core.db import flush_unique
from scipass.core.errors import Conflict, ProblemError
from scipass.roster.models import Student
from scipass.volunteer import signups as volunteer_signups
from scipass.volunteer.models import (
    ShiftStatus,
    SignupKind,
    SignupStatus,
    VolunteerRole,
    VolunteerShift,
    VolunteerSignup,
)

OPENS_BEFORE = timedelta(minutes=30)  # arrival scans are taken from half an hour before
EXIT_GRACE = timedelta(minutes=30)  # leaving scans are taken until half an hour after
PLACED = (SignupStatus.signed_up.value, SignupStatus.attended.value)


@dataclass(frozen=True, slots=True)
class Attendance:
    signup: VolunteerSignup
    created: bool  # this scan set the arrival (or the leaving)
    walk_in: bool = False


def judge_window(shift: VolunteerShift, direction: Direction, at: datetime) -> None:
    """The shift's scan window: arrival from :data:`OPENS_BEFORE` before its start to its
    end, leaving until :data:`EXIT_GRACE` after its end."""
    if shift.status == ShiftStatus.cancelled:
        raise CodeRevoked("该班次已取消", "The shift was cancelled")
    opens = shift.starts_at - OPENS_BEFORE
    if at < opens:
        raise NotStarted(
            "班次签到将于开始前 30 分钟开放",
            "Shift check-in opens 30 minutes before the start",
            opens_at=opens.isoformat(),
        )
    closes = shift.ends_at + EXIT_GRACE if direction is Direction.exit else shift.ends_at
    if at > closes:
        raise WindowClosed(closes_at=closes.isoformat())


def placed_signup(session: Session, shift_id: int, student_id: int) -> VolunteerSignup | None:
    """The pupil's live sign-up holding a place on the shift (not a waitlisted one)."""
    return session.exec(
        select(VolunteerSignup).where(
            VolunteerSignup.shift_id == shift_id,
            VolunteerSignup.student_id == student_id,
            col(VolunteerSignup.status).in_(PLACED),
        )
    ).first()


def arrived_count(session: Session, shift_id: int) -> int:
    """How many pupils have arrived at the shift (the count its kiosk screen shows)."""
    return int(
        session.exec(
            select(func.count())
            .select_from(VolunteerSignup)
            .where(
                VolunteerSignup.shift_id == shift_id,
                col(VolunteerSignup.arrived_at).is_not(None),
                VolunteerSignup.status != SignupStatus.cancelled.value,
            )
        ).one()
    )


def _walk_in(
    session: Session,
    *,
    shift: VolunteerShift,
    role: VolunteerRole,
    student_id: int,
    operator: str,
    at: datetime,
) -> VolunteerSignup:
    """A walk-in takes a free place: the sign-up rules apply (a refusal is ``ineligible``,
    naming the sign-up's own code), then the conditional update on ``taken``."""
    student = session.get(Student, student_id)
    if student is None:  # pragma: no cover - the scan read the pupil
        raise NotRegistered()
    try:
        volunteer_signups.check_pupil(session, student=student, shift=shift, role=role, now=at)
    except ProblemError as refusal:
        raise Ineligible(
            "不符合该志愿岗位的报名条件",
            "Not eligible for this volunteer role",
            reason=refusal.code,
        ) from None
    taken = session.exec(
        update(VolunteerShift)
        .where(
            col(VolunteerShift.id) == shift.id,
            col(VolunteerShift.taken) < col(VolunteerShift.capacity),
        )
        .values(taken=VolunteerShift.taken + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise ScanCapacityFull(capacity=shift.capacity)
    signup = VolunteerSignup(
        shift_id=shift.id or 0,
        role_id=shift.role_id,
        student_id=student_id,
        school_id=student.school_id,
        kind=SignupKind.individual.value,
        group_label="到场补位",
        status=SignupStatus.signed_up.value,
        made_by=operator,
        created_at=at,
        placed_at=at,
    )
    session.add(signup)
    # a concurrent scan of the same pupil made the sign-up first: this one is undone
    flush_unique(session, Conflict("请重试", "Try again"))
    return signup


def attend(
    session: Session,
    *,
    shift: VolunteerShift,
    student_id: int,
    direction: Direction,
    at: datetime,
    operator: str,
) -> Attendance:
    """Record the arrival or leaving of a pupil at a shift (judged already: code, window,
    pupil). Raises ``not_registered`` (no place, no walk-ins), ``not_checked_in`` (leaving
    before arriving), ``capacity_full`` (a walk-in, no free place)."""
    signup = placed_signup(session, shift.id or 0, student_id)
    walk_in = False
    if signup is None:
        if not shift.walk_ins or direction is Direction.exit:
            raise NotRegistered("你没有报名这个志愿服务班次", "You have no place on this shift")
        role = session.get(VolunteerRole, shift.role_id)
        assert role is not None
        signup = _walk_in(
            session, shift=shift, role=role, student_id=student_id, operator=operator, at=at
        )
        walk_in = True
    if direction is Direction.entry:
        changed = session.exec(
            update(VolunteerSignup)
            .where(col(VolunteerSignup.id) == signup.id, col(VolunteerSignup.arrived_at).is_(None))
            .values(arrived_at=at, status=SignupStatus.attended.value)
            .execution_options(synchronize_session=False)
        )
    else:
        if signup.arrived_at is None:
            raise NotCheckedIn()
        changed = session.exec(
            update(VolunteerSignup)
            .where(col(VolunteerSignup.id) == signup.id, col(VolunteerSignup.left_at).is_(None))
            .values(left_at=max(at, signup.arrived_at))
            .execution_options(synchronize_session=False)
        )
    session.refresh(signup)
    return Attendance(signup, created=changed.rowcount == 1, walk_in=walk_in)
