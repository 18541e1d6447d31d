"""Signing up for volunteer shifts, cancelling, and the waitlist. Services flush, never commit.

Capacity is claimed with one conditional update (``taken + n <= capacity`` on an open shift
whose sign-up has not closed), so concurrent sign-ups cannot overfill a shift on either
engine; a pupil's second live sign-up for a shift is refused by a partial unique index,
inserted before any place is claimed. A full shift puts the pupil on the waitlist only when
they asked for it; the waitlist is promoted first come, first served (by id), each promotion
written to the outbox (:mod:`.outbox`).

Every refusal is its own error and is raised before the request's writes are kept (the
request's transaction is rolled back): closed, too young or wrong stage, no consent, not
trained, already signed up, overlapping, daily hours exceeded, full.

The pupil's row is locked (``FOR NO KEY UPDATE`` on PostgreSQL; SQLite takes the write lock
when a transaction starts) so that two sign-ups of one pupil at once cannot both pass the
overlap and daily-hours checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.consent import service as consent_service
from scipass.consent.errors import ConsentRequired
from scipass.consent.models import Purpose
from scipass.core.auth import SCHOOL_ROLES, Principal, Role
from scipass.core.clock import day_bounds, local_date
from scipass.org.models import Stage, decode_stages
from scipass.org.organiser import is_organiser, organiser_of
from scipass.roster.models import Student
from scipass.volunteer import outbox
from scipass.volunteer.errors import (
    AlreadySignedUp,
    CancelTooLate,
    DailyHoursExceeded,
    NotTrained,
    OwnSchoolOnly,
    ShiftFull,
    ShiftNotFound,
    ShiftOverlap,
    SignupClosed,
    SignupNotActive,
    SignupNotFound,
    TooYoung,
    WrongStage,
)
from scipass.volunteer.models import (
    NotificationKind,
    ShiftStatus,
    SignupKind,
    SignupStatus,
    VolunteerRole,
    VolunteerShift,
    VolunteerSignup,
)

# Sign-ups that hold (or wait for) the pupil's time: checked for overlaps and daily hours.
HOLDING = (
    SignupStatus.signed_up.value,
    SignupStatus.waitlisted.value,
    SignupStatus.attended.value,
)
CANCELLABLE = (SignupStatus.signed_up.value, SignupStatus.waitlisted.value)
STAGE_LABELS = {
    Stage.primary: "小学",
    Stage.junior: "初中",
    Stage.senior: "高中",
    Stage.vocational: "中职",
}


# --- the rules ---------------------------------------------------------------------------------


def open_shift(
    session: Session, shift_id: int, now: datetime
) -> tuple[VolunteerShift, VolunteerRole]:
    """The shift and its role, if sign-up is open; ``volunteer_signup_closed`` otherwise."""
    shift = session.get(VolunteerShift, shift_id)
    role = session.get(VolunteerRole, shift.role_id) if shift else None
    if shift is None or role is None:
        raise ShiftNotFound()
    if shift.status != ShiftStatus.open:
        raise SignupClosed("该班次已取消", "The shift was cancelled", reason="cancelled")
    if now >= shift.signup_closes_at:
        raise SignupClosed(
            "报名已截止",
            "Sign-up has closed",
            reason="cut_off",
            closed_at=shift.signup_closes_at.isoformat(),
        )
    return shift, role


def _minutes(shift: VolunteerShift) -> int:
    return int((shift.ends_at - shift.starts_at).total_seconds() // 60)


def check_pupil(
    session: Session,
    *,
    student: Student,
    shift: VolunteerShift,
    role: VolunteerRole,
    now: datetime,
    **extra: Any,
) -> None:
    """Whether ``student`` may take ``shift``; raises the first refusal (``extra`` goes into
    it, e.g. the pupil's id in a group)."""
    if role.school_id is not None and student.school_id != role.school_id:
        raise OwnSchoolOnly(**extra)
    stages = decode_stages(role.stages)
    if stages and Stage(student.stage) not in stages:
        labels = "、".join(STAGE_LABELS[s] for s in stages)
        raise WrongStage(
            f"适合学段：{labels}", f"Suits: {', '.join(stages)}", stages=stages, **extra
        )
    day = local_date(shift.starts_at)
    if role.min_age is not None and consent_service.is_under(
        student.birth_month, day, role.min_age
    ):
        raise TooYoung(
            f"该岗位要求年满 {role.min_age} 周岁",
            f"At least {role.min_age}",
            min_age=role.min_age,
            **extra,
        )
    _check_consent(session, student, local_date(now), **extra)
    _check_trained(session, student, role, **extra)
    held = session.exec(
        select(VolunteerShift)
        .join(VolunteerSignup, col(VolunteerSignup.shift_id) == VolunteerShift.id)
        .where(
            VolunteerSignup.student_id == student.id,
            col(VolunteerSignup.status).in_(HOLDING),
            VolunteerShift.starts_at < day_bounds(day)[1],
            VolunteerShift.ends_at > day_bounds(day)[0],
        )
    ).all()
    if any(other.id == shift.id for other in held):
        raise AlreadySignedUp(**extra)
    for other in held:
        if other.starts_at < shift.ends_at and other.ends_at > shift.starts_at:
            raise ShiftOverlap(
                f"与 {other.starts_at:%Y-%m-%d %H:%M} 开始的班次重叠",
                f"Overlaps the shift of {other.starts_at.isoformat()}",
                shift_id=other.id,
                **extra,
            )
    total = sum(_minutes(other) for other in held) + _minutes(shift)
    if total > role.max_daily_minutes:
        raise DailyHoursExceeded(
            f"当天合计 {total / 60:g} 小时，"
            f"超过该岗位每日上限 {role.max_daily_minutes / 60:g} 小时",
            f"{total} minutes that day; the role allows {role.max_daily_minutes}",
            max_daily_minutes=role.max_daily_minutes,
            day_minutes=total,
            **extra,
        )


def consent_purpose(student: Student, today: Any) -> Purpose | None:
    """The consent volunteering needs: under 14, ``participation_record`` (the child's records
    at all); from 14 to 18, ``volunteering``; none from 18."""
    if consent_service.is_under_14(student.birth_month, today):
        return Purpose.participation_record
    if consent_service.needs_consent(student.birth_month, Purpose.volunteering, today):
        return Purpose.volunteering
    return None


def _check_consent(session: Session, student: Student, today: Any, **extra: Any) -> None:
    purpose = consent_purpose(student, today)
    if purpose is None:
        return
    if not consent_service.in_force(
        session, student_id=student.id or 0, purpose=purpose, today=today
    ):
        age = consent_service.asked_under(purpose)
        raise ConsentRequired(
            f"未满 {age} 周岁报名志愿服务须监护人同意：请监护人在小程序中同意，"
            "或向学校提交纸质同意书",
            f"Under {age}, a guardian must agree first (mini-program or a paper form)",
            purpose=purpose.value,
            **extra,
        )


def _check_trained(session: Session, student: Student, role: VolunteerRole, **extra: Any) -> None:
    """A role that needs another role served first: the pupil attended one of its shifts."""
    if role.prerequisite_role_id is None:
        return
    served = session.exec(
        select(VolunteerSignup.id)
        .where(
            VolunteerSignup.student_id == student.id,
            VolunteerSignup.role_id == role.prerequisite_role_id,
            VolunteerSignup.status == SignupStatus.attended,
        )
        .limit(1)
    ).first()
    if served is None:
        prerequisite = session.get(VolunteerRole, role.prerequisite_role_id)
        name = prerequisite.name if prerequisite else ""
        raise NotTrained(
            f"须先担任过“{name}”",
            f"Serve as {name} first",
            prerequisite_role_id=role.prerequisite_role_id,
            **extra,
        )


def _locked_students(session: Session, student_ids: Sequence[int]) -> list[Student]:
    rows = session.exec(
        select(Student)
        .where(col(Student.id).in_(student_ids))
        .order_by(col(Student.id))
        .with_for_update(key_share=True)
    ).all()
    return list(rows)


# --- places --------------------------------------------------------------------------------------


def _claim(session: Session, shift_id: int, places: int, *, now: datetime, closing: bool) -> bool:
    """Take ``places`` if they are free on the open shift (and, for a sign-up, before its
    cut-off; a promotion may happen until the start)."""
    deadline = VolunteerShift.signup_closes_at if closing else VolunteerShift.starts_at
    result = session.exec(
        update(VolunteerShift)
        .where(
            col(VolunteerShift.id) == shift_id,
            col(VolunteerShift.status) == ShiftStatus.open,
            col(VolunteerShift.taken) + places <= VolunteerShift.capacity,
            col(deadline) > now,
        )
        .values(taken=VolunteerShift.taken + places)
    )
    return result.rowcount == 1


def _release(session: Session, shift_id: int, places: int) -> None:
    session.execute(
        update(VolunteerShift)
        .where(col(VolunteerShift.id) == shift_id, col(VolunteerShift.taken) >= places)
        .values(taken=VolunteerShift.taken - places)
    )


def _insert(session: Session, signups: Sequence[VolunteerSignup]) -> None:
    try:
        with session.begin_nested():
            session.add_all(signups)
            session.flush()
    except IntegrityError:
        raise AlreadySignedUp() from None


def waitlist_length(session: Session, shift_id: int) -> int:
    return int(
        session.exec(
            select(func.count()).where(
                VolunteerSignup.shift_id == shift_id,
                VolunteerSignup.status == SignupStatus.waitlisted,
            )
        ).one()
    )


def waitlist_position(session: Session, signup: VolunteerSignup) -> int | None:
    if signup.status != SignupStatus.waitlisted:
        return None
    ahead = session.exec(
        select(func.count()).where(
            VolunteerSignup.shift_id == signup.shift_id,
            VolunteerSignup.status == SignupStatus.waitlisted,
            col(VolunteerSignup.id) <= (signup.id or 0),
        )
    ).one()
    return int(ahead)


# --- signing up ----------------------------------------------------------------------------------


def sign_up(
    session: Session, *, actor: Principal, shift_id: int, join_waitlist: bool, now: datetime
) -> VolunteerSignup:
    """A pupil (or a guardian for the child, :mod:`scipass.roster.acting`) signs up."""
    shift, role = open_shift(session, shift_id, now)
    students = _locked_students(session, [actor.student_id or 0])
    if not students:
        raise ShiftNotFound()
    student = students[0]
    check_pupil(session, student=student, shift=shift, role=role, now=now)
    signup = VolunteerSignup(
        shift_id=shift_id,
        role_id=role.id or 0,
        student_id=student.id or 0,
        school_id=student.school_id,
        kind=SignupKind.individual.value,
        status=SignupStatus.waitlisted.value,
        made_by=actor.subject,
        created_at=now,
    )
    _insert(session, [signup])
    if _claim(session, shift_id, 1, now=now, closing=True):
        signup.status = SignupStatus.signed_up.value
        signup.placed_at = now
    elif not join_waitlist:
        waiting = waitlist_length(session, shift_id) - 1  # this request's row is rolled back
        raise ShiftFull(
            f"目前有 {waiting} 人在候补，可选择排队候补",
            f"{waiting} waiting; you may join the waitlist",
            waitlist_length=waiting,
        )
    session.add(signup)
    session.flush()
    _audit(session, actor, signup, now, shift_id=shift_id, status=signup.status)
    return signup


def sign_up_group(
    session: Session,
    *,
    actor: Principal,
    shift_id: int,
    student_ids: Sequence[int],
    group_label: str,
    now: datetime,
) -> list[VolunteerSignup]:
    """A school signs up a group of its pupils: every pupil gets a place, or none does (no
    waitlist for a group); each refusal names the pupil (``student_id``)."""
    school_id = actor.school_id or 0
    shift, role = open_shift(session, shift_id, now)
    if role.school_id is not None and role.school_id != school_id:
        raise OwnSchoolOnly()
    wanted = sorted(set(student_ids))
    students = _locked_students(session, wanted)
    foreign = sorted(set(wanted) - {s.id for s in students if s.school_id == school_id})
    if foreign:
        raise OwnSchoolOnly(
            f"{len(foreign)} 名学生不属于本校",
            f"{len(foreign)} not of your school",
            student_ids=foreign,
        )
    for student in students:
        check_pupil(
            session, student=student, shift=shift, role=role, now=now, student_id=student.id
        )
    signups = [
        VolunteerSignup(
            shift_id=shift_id,
            role_id=role.id or 0,
            student_id=student.id or 0,
            school_id=school_id,
            kind=SignupKind.group.value,
            group_label=group_label,
            status=SignupStatus.signed_up.value,
            made_by=actor.subject,
            created_at=now,
            placed_at=now,
        )
        for student in students
    ]
    _insert(session, signups)
    if not _claim(session, shift_id, len(signups), now=now, closing=True):
        session.refresh(shift)
        free = max(0, shift.capacity - shift.taken)
        raise ShiftFull(
            f"剩余 {free} 个名额，不足 {len(signups)} 人", f"{free} places left", available=free
        )
    audit_service.record(
        session,
        action=audit_service.Action.volunteer_signed_up,
        at=now,
        actor=actor,
        object_type="volunteer_shift",
        object_id=shift_id,
        school_id=school_id,
        students=len(signups),
        kind=SignupKind.group.value,
    )
    return signups


# --- cancelling and the waitlist -----------------------------------------------------------------


def promote(session: Session, shift_id: int, now: datetime) -> list[VolunteerSignup]:
    """Give free places to the waitlist strictly in order (by id), each pupil told through
    the outbox."""
    promoted: list[VolunteerSignup] = []
    waiting = session.exec(
        select(VolunteerSignup)
        .where(
            VolunteerSignup.shift_id == shift_id,
            VolunteerSignup.status == SignupStatus.waitlisted,
        )
        .order_by(col(VolunteerSignup.id))
    ).all()
    for signup in waiting:
        if not _claim(session, shift_id, 1, now=now, closing=False):
            break
        changed = session.exec(
            update(VolunteerSignup)
            .where(
                col(VolunteerSignup.id) == signup.id,
                col(VolunteerSignup.status) == SignupStatus.waitlisted,
            )
            .values(status=SignupStatus.signed_up.value, placed_at=now, promoted_at=now)
        )
        if changed.rowcount != 1:
            _release(session, shift_id, 1)  # cancelled meanwhile
            continue
        promoted.append(signup)
    shift = session.get(VolunteerShift, shift_id)
    for signup in promoted:
        session.refresh(signup)
        if shift is not None:
            outbox.add(
                session,
                kind=NotificationKind.volunteer_promoted,
                student_id=signup.student_id,
                now=now,
                payload=outbox.shift_payload(shift, signup_id=signup.id),
            )
    return promoted


def _cancel_deadline(
    actor: Principal, signup: VolunteerSignup, shift: VolunteerShift
) -> datetime | None:
    """Until when ``actor`` may cancel ``signup``, or None if they may not: the pupil (or a
    guardian, or the pupil's school) until the sign-up cut-off; the shift's organiser and
    the platform admin until the start."""
    if actor.role is Role.platform_admin or is_organiser(actor, organiser_of(shift)):
        return shift.starts_at
    if actor.role in (Role.student, Role.guardian):
        mine = actor.student_id is not None and actor.student_id == signup.student_id
        return shift.signup_closes_at if mine else None
    if actor.role in SCHOOL_ROLES and actor.school_id == signup.school_id:
        return shift.signup_closes_at
    return None


def cancel(
    session: Session, *, actor: Principal, signup_id: int, reason: str, now: datetime
) -> VolunteerSignup:
    signup = session.get(VolunteerSignup, signup_id)
    shift = session.get(VolunteerShift, signup.shift_id) if signup else None
    deadline = _cancel_deadline(actor, signup, shift) if signup and shift else None
    if signup is None or shift is None or deadline is None:
        raise SignupNotFound()
    if signup.status not in CANCELLABLE:
        raise SignupNotActive()
    if now >= deadline:
        raise CancelTooLate(f"截止时间：{deadline.isoformat()}", deadline=deadline.isoformat())
    was = signup.status
    changed = session.exec(
        update(VolunteerSignup)
        .where(col(VolunteerSignup.id) == signup_id, col(VolunteerSignup.status).in_(CANCELLABLE))
        .values(
            status=SignupStatus.cancelled.value,
            cancelled_at=now,
            cancelled_by=actor.subject,
            cancel_reason=reason.strip(),
        )
    )
    if changed.rowcount != 1:
        raise SignupNotActive()
    if was == SignupStatus.signed_up:
        _release(session, shift.id or 0, 1)
        promote(session, shift.id or 0, now)
    session.refresh(signup)
    audit_service.record(
        session,
        action=audit_service.Action.volunteer_signup_cancelled,
        at=now,
        actor=actor,
        object_type="volunteer_signup",
        object_id=signup_id,
        school_id=signup.school_id,
        shift_id=shift.id,
    )
    return signup


def _audit(
    session: Session, actor: Principal, signup: VolunteerSignup, now: datetime, **detail: Any
) -> None:
    audit_service.record(
        session,
        action=audit_service.Action.volunteer_signed_up,
        at=now,
        actor=actor,
        object_type="volunteer_signup",
        object_id=signup.id,
        school_id=signup.school_id,
        **detail,
    )
