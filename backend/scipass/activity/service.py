"""Activities: create, change, publish, cancel, finish, list. Services flush, never commit."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from scipass.activity import places
from scipass.activity.access import managed_activity
from scipass.activity.errors import (
    ActivityInvalid,
    ActivityNotEditable,
    ActivityNotFound,
    ActivityTransitionInvalid,
    NotAnOrganiser,
)
from scipass.activity.models import (
    DEFAULT_CATEGORY,
    TRANSITIONS,
    Activity,
    ActivityKind,
    ActivityStatus,
)
from scipass.activity.schemas import ActivityWrite
from scipass.checkin import visits as checkin_visits
from scipass.checkin.views import ACTIVITY
from scipass.core import notify
from scipass.core.auth import Principal
from scipass.core.clock import SHANGHAI
from scipass.core.pagination import PageParams, count_rows
from scipass.org import service as org_service
from scipass.org.models import STAGE_ORDER, Stage, encode_stages
from scipass.org.organiser import OrganiserKind, OrganiserRef, organiser_of, organiser_of_principal
from scipass.policy.vocab import encode_campaigns
from scipass.record.models import DEFAULT_DIMENSION

MAX_LENGTH = timedelta(days=31)


def _organiser(actor: Principal) -> OrganiserRef:
    """The venue, school or bureau an activity created by ``actor`` belongs to."""
    ref = organiser_of_principal(actor)
    if ref is None:
        raise NotAnOrganiser()
    return ref


def _defaults(
    session: Session, ref: OrganiserRef
) -> tuple[str, str, tuple[float | None, float | None], str]:
    """The organiser's place, address, point and stages, an activity's defaults."""
    if ref.kind is OrganiserKind.venue:
        venue = org_service.get_venue(session, ref.id)
        return venue.name, venue.address, (venue.longitude, venue.latitude), venue.stages
    if ref.kind is OrganiserKind.school:
        school = org_service.get_school(session, ref.id)
        return school.name, school.address, (None, None), school.stages
    bureau = org_service.get_bureau(session, ref.id)
    return bureau.name, "", (None, None), encode_stages(list(STAGE_ORDER))


def _apply(session: Session, activity: Activity, data: ActivityWrite) -> None:
    if data.ends_at <= data.starts_at:
        raise ActivityInvalid("结束时间须晚于开始时间", "The end must come after the start")
    if data.ends_at - data.starts_at > MAX_LENGTH:
        raise ActivityInvalid("一次活动最长 31 天", "An activity lasts at most 31 days")
    if data.geofence_radius_m is not None and data.longitude is None and activity.venue_id is None:
        raise ActivityInvalid("设置地理围栏须给出活动地点坐标", "A geofence needs coordinates")
    ref = organiser_of(activity)
    default_place, default_address, default_point, default_stages = _defaults(session, ref)
    activity.kind = data.kind.value
    activity.title = data.title.strip()
    activity.description = data.description
    activity.starts_at = data.starts_at
    activity.ends_at = data.ends_at
    activity.place_name = data.place_name or default_place
    activity.address = data.address if data.address is not None else default_address
    if data.longitude is not None and data.latitude is not None:
        activity.longitude, activity.latitude = data.longitude, data.latitude
    else:
        activity.longitude, activity.latitude = default_point
    activity.geofence_radius_m = data.geofence_radius_m
    activity.capacity = data.capacity
    activity.admission = data.admission.value
    activity.open_to_other_schools = data.open_to_other_schools
    activity.stages = encode_stages(data.stages) if data.stages else default_stages
    scheduled = int((data.ends_at - data.starts_at).total_seconds() // 60)
    activity.credited_minutes = (
        data.credited_minutes if data.credited_minutes is not None else min(scheduled, 8 * 60)
    )
    category = data.record_category or DEFAULT_CATEGORY[ActivityKind(data.kind)]
    activity.record_category = category.value
    activity.dimension = (data.dimension or DEFAULT_DIMENSION[category]).value
    # Records are confirmed by their venue or school (谁组织谁记录); a bureau has no one who
    # confirms records one by one, so its activities' records are confirmed in advance.
    activity.auto_confirm_records = data.auto_confirm_records or ref.kind is OrganiserKind.bureau
    activity.checkin_opens_minutes = data.checkin_opens_minutes
    activity.checkin_closes_minutes = data.checkin_closes_minutes
    activity.minutes_unit = data.minutes_unit
    activity.daily_cap_minutes = data.daily_cap_minutes
    activity.auto_close_credit = data.auto_close_credit.value
    activity.geofence_max_accuracy_m = data.geofence_max_accuracy_m
    activity.after_school = data.after_school
    activity.programme = data.programme.value if data.programme else None
    activity.campaigns = encode_campaigns(data.campaigns)


def create(session: Session, *, actor: Principal, data: ActivityWrite, now: datetime) -> Activity:
    organiser = _organiser(actor).columns()
    activity = Activity(
        venue_id=organiser["venue_id"],
        school_id=organiser["school_id"],
        bureau_id=organiser["bureau_id"],
        status=ActivityStatus.draft.value,
        created_by=actor.subject,
        created_at=now,
        updated_at=now,
    )  # type: ignore[call-arg]  # _apply sets the other required fields
    _apply(session, activity, data)
    session.add(activity)
    session.flush()
    return activity


def update_activity(
    session: Session, *, actor: Principal, activity_id: int, data: ActivityWrite, now: datetime
) -> Activity:
    activity = managed_activity(session, actor=actor, activity_id=activity_id)
    if activity.status not in (ActivityStatus.draft, ActivityStatus.published):
        raise ActivityNotEditable()
    _apply(session, activity, data)
    if activity.capacity is not None:
        # The counter of check-ins is kept only while a capacity is set: recount it under the
        # row lock that check-ins of a capped activity take first, so that a capacity set or
        # lowered later holds against the visits made.
        places.lock(session, activity.id or 0)
        visits = checkin_visits.count_visits(session, activity.id or 0)
        if activity.capacity < visits:
            raise ActivityInvalid(
                f"已有 {visits} 人签到，人数上限不能低于 {visits}",
                f"{visits} students have checked in; the capacity cannot be lower",
                checked_in=visits,
            )
        places.recount(session, activity, visits)
    activity.updated_at = now
    session.add(activity)
    session.flush()
    notify.send(session, ACTIVITY, activity.id)  # cached copies (checkin/views.py)
    return activity


def transition(
    session: Session,
    *,
    actor: Principal,
    activity_id: int,
    to: ActivityStatus,
    reason: str,
    now: datetime,
) -> Activity:
    """Move the activity to ``to`` in one conditional update, so two staff members clicking
    at once cannot both succeed from the same state."""
    activity = managed_activity(session, actor=actor, activity_id=activity_id)
    if to is ActivityStatus.cancelled and not reason.strip():
        raise ActivityInvalid("取消活动须写明原因", "Give a reason to cancel")
    if to is ActivityStatus.finished and now < activity.starts_at:
        raise ActivityTransitionInvalid("活动尚未开始", "The activity has not started")
    result = session.exec(
        update(Activity)
        .where(
            col(Activity.id) == activity_id,
            col(Activity.status).in_([s.value for s in TRANSITIONS[to]]),
        )
        .values(status=to.value, status_reason=reason.strip(), updated_at=now)
    )
    if result.rowcount != 1:
        raise ActivityTransitionInvalid(
            f"当前状态为 {activity.status}", f"The activity is {activity.status}"
        )
    # Every serving process drops its cached copy once this commits (checkin/views.py).
    notify.send(session, ACTIVITY, activity_id)
    session.refresh(activity)
    return activity


def get_published(session: Session, activity_id: int) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None or activity.status == ActivityStatus.draft:
        raise ActivityNotFound()
    return activity


def list_public(
    session: Session,
    *,
    page: PageParams,
    venue_id: int | None,
    kind: ActivityKind | None,
    stage: Stage | None,
    from_date: date | None,
) -> tuple[list[Activity], int]:
    query = select(Activity).where(Activity.status == ActivityStatus.published)
    if venue_id:
        query = query.where(Activity.venue_id == venue_id)
    if kind:
        query = query.where(Activity.kind == kind)
    if stage:
        query = query.where(col(Activity.stages).contains(stage.value))
    if from_date:
        start = datetime.combine(from_date, time(0), SHANGHAI)
        query = query.where(Activity.ends_at >= start)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(Activity.starts_at), col(Activity.id))
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return list(rows), total


def list_managed(
    session: Session,
    *,
    actor: Principal,
    page: PageParams,
    status: ActivityStatus | None,
    from_date: date | None = None,
    to_date: date | None = None,
) -> tuple[list[Activity], int]:
    """The organiser's activities, newest first; with dates, those under way on some day
    (Beijing time) from ``from_date`` to ``to_date``."""
    ref = _organiser(actor)
    query = select(Activity).where(getattr(Activity, f"{ref.kind.value}_id") == ref.id)
    if status:
        query = query.where(Activity.status == status)
    if from_date:
        query = query.where(Activity.ends_at >= datetime.combine(from_date, time(0), SHANGHAI))
    if to_date:
        until = datetime.combine(to_date + timedelta(days=1), time(0), SHANGHAI)
        query = query.where(Activity.starts_at < until)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(Activity.starts_at).desc(), col(Activity.id))
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return list(rows), total
