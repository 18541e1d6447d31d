"""The rules a scan is judged by, in the order DESIGN.md lists them (each refusal a problem of
its own, see :mod:`scipass.checkin.errors`): the window, the pupil (binding, school,
consent, stage, registration), the capacity and the location; and how long a visit counts."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from scipass.activity import places as activity_places
from scipass.activity.models import Activity, ActivityStatus, Admission
from scipass.checkin.errors import (
    CodeRevoked,
    Ineligible,
    LocationInaccurate,
    LocationRequired,
    NotRegistered,
    NotStarted,
    OtherSchool,
    OutOfGeofence,
    ScanCapacityFull,
    ScanConsentRequired,
    StudentUnbound,
    WindowClosed,
)
from scipass.checkin.models import (
    CheckIn,
    Direction,
)
from scipass.checkin.views import (
    ActivityView,
    Pupil,
    Scan,
    consents,
)
from scipass.consent.models import Purpose
from scipass.core.auth import Principal, Role
from scipass.core.clock import day_bounds
from scipass.reservation import lists as reservation_lists

EXIT_GRACE = timedelta(minutes=30)  # exit scans are taken this long after the end


FUTURE_TOLERANCE = timedelta(minutes=2)  # device clocks run ahead a little


EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine); GCJ-02 points are compared as they come."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def credited_minutes(activity: ActivityView, entered_at: datetime, exited_at: datetime) -> int:
    """The overlap of the visit with the activity, rounded down to the unit, capped per day."""
    start, end = max(entered_at, activity.starts_at), min(exited_at, activity.ends_at)
    minutes = max(0, int((end - start).total_seconds() // 60))
    minutes -= minutes % activity.minutes_unit
    return min(minutes, activity.daily_cap_minutes)


def visit_close_at(activity: ActivityView, day: date) -> datetime:
    """When a visit left open is closed: the activity's end, or the end of the visit's day."""
    return min(activity.ends_at, day_bounds(day)[1])


def judge_window(activity: ActivityView, direction: Direction, at: datetime) -> None:
    if activity.status == ActivityStatus.cancelled:
        raise CodeRevoked("活动已取消", "The activity was cancelled")
    if activity.status == ActivityStatus.draft or at < activity.opens_at:
        raise NotStarted(
            f"签到将于开始前 {int((activity.starts_at - activity.opens_at).total_seconds() // 60)}"
            " 分钟开放",
            "Check-in opens shortly before the start",
            opens_at=activity.opens_at.isoformat(),
        )
    closes = activity.ends_at + EXIT_GRACE if direction is Direction.exit else activity.closes_at
    if activity.status == ActivityStatus.finished or at > closes:
        raise WindowClosed(closes_at=closes.isoformat())


def judge_student(
    session: Session,
    activity: ActivityView,
    student: Pupil | None,
    *,
    today: date,
    day: date,
    skip_registration: bool = False,
) -> Pupil:
    if student is None:
        raise StudentUnbound()
    if activity.own_school_only is not None and student.school_id != activity.own_school_only:
        raise OtherSchool()
    if not consents(session, student, Purpose.participation_record, today):
        raise ScanConsentRequired(purpose=Purpose.participation_record.value)
    if activity.stages and student.stage not in activity.stages:
        raise Ineligible(stages=sorted(activity.stages))
    if not skip_registration and activity.admission != Admission.open:
        raise_unless_registered(session, activity, student, day)
    return student


def raise_unless_registered(
    session: Session, activity: ActivityView, student: Pupil, day: date
) -> None:
    target = session.get(Activity, activity.id)
    assert target is not None
    if not reservation_lists.holds_place(session, student_id=student.id, activity=target, day=day):
        raise NotRegistered(admission=activity.admission)


def judge_capacity(activity: ActivityView, session: Session, student: Pupil, day: date) -> None:
    """Refuse a newcomer once the places are taken (the conditional update in :func:`_enter`
    decides under concurrency); a student already in is a duplicate, not a newcomer."""
    if activity.capacity is None:
        return
    taken = activity_places.places_taken(session, activity.id)
    if taken < activity.capacity:
        return
    inside = session.exec(
        select(CheckIn.id).where(
            CheckIn.activity_id == activity.id,
            CheckIn.student_id == student.id,
            CheckIn.day == day,
        )
    ).first()
    if inside is None:
        raise ScanCapacityFull(capacity=activity.capacity)


def judge_location(
    session: Session,
    activity: ActivityView,
    student: Pupil,
    location: Any,
    today: date,
    scan: Scan,
) -> None:
    """Check a geofenced activity's location, on entry and on exit (an exit from home would
    otherwise credit the whole day). The location is kept on the scan event only where the
    activity has a geofence and the guardian allowed it (under 14)."""
    if activity.radius_m is None or activity.latitude is None or activity.longitude is None:
        return
    allowed = consents(session, student, Purpose.location, today)
    if location is None or not allowed:
        raise LocationRequired(consent=allowed)
    scan.location = location
    if location.accuracy > activity.max_accuracy_m:
        raise LocationInaccurate(
            accuracy_m=location.accuracy, max_accuracy_m=activity.max_accuracy_m
        )
    distance = distance_m(
        location.latitude, location.longitude, activity.latitude, activity.longitude
    )
    scan.distance = round(distance)
    if distance > activity.radius_m:
        raise OutOfGeofence(
            f"你距离活动地点约 {round(distance)} 米，签到范围为 {activity.radius_m} 米",
            f"You are about {round(distance)} m away; the radius is {activity.radius_m} m",
            distance_m=round(distance),
            radius_m=activity.radius_m,
        )


def still_bound(actor: Principal, student: Pupil | None) -> bool:
    """Whether the binding in the caller's token still holds."""
    return (
        actor.role is Role.student
        and student is not None
        and student.wechat_user_id == actor.wechat_user_id
    )
