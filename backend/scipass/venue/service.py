"""Venue profiles and their review, the public directory, exception dates, resources and the
yearly directory editions. Services flush, never commit."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, exists, func, literal, or_
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import Principal, Role, region_contains, region_prefix
from scipass.core.db import flush_unique
from scipass.core.errors import Forbidden
from scipass.core.pagination import PageParams, count_rows
from scipass.org.errors import OrganisationExists, OutsideRegion, RegionNotFound
from scipass.org.models import Region, Stage, Venue, decode_stages, encode_stages
from scipass.venue import hours
from scipass.venue.errors import (
    EditionExists,
    EditionNotFound,
    HoursInvalid,
    NoDraft,
    NotPendingReview,
    ResourceExists,
    ResourceNotFound,
    ReviewNoteRequired,
    VenueNotFound,
)
from scipass.venue.models import (
    MAJOR_INSTRUMENT_YUAN,
    DirectoryEdition,
    VenueHoursException,
    VenueResource,
)
from scipass.venue.schemas import (
    HoursExceptionWrite,
    ResourceWrite,
    ReviewDecision,
    VenueProfile,
)

EARTH_RADIUS_M = 6_371_000
PROFILE_FIELDS = tuple(VenueProfile.model_fields)


# --- who may see and change a venue ---------------------------------------------------------


def _may_manage(actor: Principal, venue: Venue, *, admin: bool) -> bool:
    if actor.role is Role.platform_admin:
        return True
    if actor.role in (Role.venue_admin, Role.venue_staff) and actor.venue_id == venue.id:
        return actor.role is Role.venue_admin or not admin
    return False


def _may_review(actor: Principal, venue: Venue) -> bool:
    return _may_review_region(actor, venue.region_code)


def _may_review_region(actor: Principal, region_code: str) -> bool:
    if actor.role is Role.platform_admin:
        return True
    return (
        actor.role is Role.bureau
        and actor.region_code is not None
        and region_contains(actor.region_code, region_code)
    )


def venue_for_staff(
    session: Session, *, actor: Principal, venue_id: int, admin: bool = False
) -> Venue:
    """The venue, if the caller works there (or reviews it); else 404 (existence is private)."""
    venue = session.get(Venue, venue_id)
    if venue is None or not (_may_manage(actor, venue, admin=admin) or _may_review(actor, venue)):
        raise VenueNotFound()
    if admin and not _may_manage(actor, venue, admin=True):
        raise Forbidden("只有场馆管理员可以修改场馆信息", "Only the venue's admin may change it")
    return venue


# --- profile, draft and review ---------------------------------------------------------------


def live_profile(venue: Venue) -> VenueProfile | None:
    """The approved profile, or None for a venue whose profile was never approved (created
    by the bureau with a name and a place only)."""
    if venue.approved_at is None:
        return None
    values = {name: getattr(venue, name) for name in PROFILE_FIELDS}
    values["stages"] = decode_stages(venue.stages)
    try:
        return VenueProfile.model_validate(values)
    except ValidationError:
        return None


def _check_hours(week: dict[str, Any]) -> dict[str, list[list[str]]]:
    try:
        return hours.normalise_week(week)
    except hours.HoursInvalid as error:
        raise HoursInvalid(str(error), str(error)) from None


def save_draft(
    session: Session, *, actor: Principal, venue_id: int, data: VenueProfile, now: datetime
) -> Venue:
    venue = venue_for_staff(session, actor=actor, venue_id=venue_id, admin=True)
    if session.get(Region, data.region_code) is None:
        raise RegionNotFound()
    draft = data.model_dump(mode="json")
    draft["weekly_hours"] = _check_hours(data.weekly_hours)
    draft["stages"] = decode_stages(encode_stages(data.stages))
    venue.draft = draft
    venue.review_status = "draft"
    venue.review_note = ""
    session.add(venue)
    session.flush()
    return venue


def submit_draft(session: Session, *, actor: Principal, venue_id: int, now: datetime) -> Venue:
    venue = venue_for_staff(session, actor=actor, venue_id=venue_id, admin=True)
    if venue.draft is None or venue.review_status == "pending":
        raise NoDraft()
    venue.review_status = "pending"
    venue.submitted_at = now
    session.add(venue)
    session.flush()
    return venue


def list_pending(session: Session, *, actor: Principal) -> list[Venue]:
    query = select(Venue).where(Venue.review_status == "pending")
    if actor.role is Role.bureau:
        query = query.where(
            col(Venue.region_code).startswith(region_prefix(actor.region_code or "x"))
        )
    return list(session.exec(query.order_by(col(Venue.submitted_at), col(Venue.id))).all())


def review(
    session: Session, *, actor: Principal, venue_id: int, decision: ReviewDecision, now: datetime
) -> Venue:
    venue = session.get(Venue, venue_id)
    if venue is None or not _may_review(actor, venue):
        raise VenueNotFound()
    if venue.review_status != "pending" or venue.draft is None:
        raise NotPendingReview()
    if decision.decision == "reject":
        if not decision.note.strip():
            raise ReviewNoteRequired()
        venue.review_status = "rejected"
        venue.review_note = decision.note.strip()
    else:
        draft = VenueProfile.model_validate(venue.draft)
        if not _may_review_region(actor, draft.region_code):
            raise OutsideRegion("新的所在地区不在本局辖区内", "The new region is outside yours")
        for name in PROFILE_FIELDS:
            setattr(venue, name, getattr(draft, name))
        venue.stages = encode_stages(draft.stages)
        venue.weekly_hours = venue.draft["weekly_hours"]
        venue.open_weekdays = hours.open_weekdays(venue.weekly_hours)
        venue.photos = [str(url) for url in draft.photos]
        venue.listed = True
        venue.approved_at = now
        venue.draft = None
        venue.review_status = None
        venue.review_note = decision.note.strip()
    venue.reviewed_at = now
    session.add(venue)
    flush_unique(session, OrganisationExists())
    audit_service.record(
        session,
        action=audit_service.Action.venue_reviewed,
        at=now,
        actor=actor,
        object_type="venue",
        object_id=venue.id,
        region_code=venue.region_code,
        decision=decision.decision,
    )
    return venue


# --- the public directory --------------------------------------------------------------------


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> int:
    """Great-circle distance (haversine); GCJ-02's offset is the same for both nearby points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(math.sqrt(a)))


def _open_on(day: date) -> Any:
    """SQL: the venue is open at some time on ``day`` (its week, or an exception date)."""
    exception_on_day = and_(
        col(VenueHoursException.venue_id) == Venue.id, col(VenueHoursException.on_date) == day
    )
    weekly_open = func.substr(Venue.open_weekdays, day.isoweekday(), 1) == "1"
    return or_(
        and_(weekly_open, ~exists().where(exception_on_day)),
        exists().where(exception_on_day, col(VenueHoursException.closed) == False),  # noqa: E712
    )


def directory(
    session: Session,
    *,
    page: PageParams,
    region_code: str | None = None,
    kind: str | None = None,
    stage: Stage | None = None,
    open_on: date | None = None,
    q: str | None = None,
    near: tuple[float, float] | None = None,
) -> tuple[list[tuple[Venue, int | None]], int]:
    """Listed venues by filter, nearest first when a point is given, else by region and name."""
    query = select(Venue).where(Venue.listed == True)  # noqa: E712
    if region_code:
        query = query.where(col(Venue.region_code).startswith(region_prefix(region_code)))
    if kind:
        query = query.where(Venue.kind == kind)
    if stage:
        query = query.where(col(Venue.stages).contains(stage.value))
    if open_on:
        query = query.where(_open_on(open_on))
    if q:
        literal_text = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{literal_text}%"
        query = query.where(
            or_(
                col(Venue.name).ilike(pattern, escape="\\"),
                col(Venue.address).ilike(pattern, escape="\\"),
                col(Venue.services).ilike(pattern, escape="\\"),
            )
        )
    total = count_rows(session, query)
    if near is not None:
        lon, lat = near
        # equirectangular distance: orders correctly at city scale, needs no SQL trigonometry
        scale = literal(math.cos(math.radians(lat)))
        dx = (Venue.longitude - lon) * scale
        dy = Venue.latitude - lat
        query = query.order_by(dx * dx + dy * dy, col(Venue.id))
    else:
        query = query.order_by(col(Venue.region_code), col(Venue.name))
    rows = session.exec(query.limit(page.limit).offset(page.offset)).all()
    return [
        (v, distance_m(near[0], near[1], v.longitude, v.latitude) if near else None) for v in rows
    ], total


def public_venue(session: Session, venue_id: int) -> Venue:
    venue = session.get(Venue, venue_id)
    if venue is None or not venue.listed:
        raise VenueNotFound()
    return venue


# --- exception dates -------------------------------------------------------------------------


def exceptions_from(session: Session, *, venue_id: int, since: date) -> list[VenueHoursException]:
    query = (
        select(VenueHoursException)
        .where(VenueHoursException.venue_id == venue_id, VenueHoursException.on_date >= since)
        .order_by(col(VenueHoursException.on_date))
    )
    return list(session.exec(query).all())


def exception_on(session: Session, *, venue_id: int, day: date) -> VenueHoursException | None:
    return session.exec(
        select(VenueHoursException).where(
            VenueHoursException.venue_id == venue_id, VenueHoursException.on_date == day
        )
    ).first()


def set_exception(
    session: Session,
    *,
    actor: Principal,
    venue_id: int,
    day: date,
    data: HoursExceptionWrite,
) -> VenueHoursException:
    """Exception dates are operational (a closure for repairs cannot wait for a review)."""
    venue_for_staff(session, actor=actor, venue_id=venue_id, admin=True)
    try:
        periods = hours.parse_periods(data.periods)
    except hours.HoursInvalid as error:
        raise HoursInvalid(str(error), str(error)) from None
    row = exception_on(session, venue_id=venue_id, day=day) or VenueHoursException(
        venue_id=venue_id, on_date=day, closed=True
    )
    row.periods = [[s.strftime("%H:%M"), e.strftime("%H:%M")] for s, e in periods]
    row.closed = not periods
    row.note = data.note
    session.add(row)
    session.flush()
    return row


def delete_exception(session: Session, *, actor: Principal, venue_id: int, day: date) -> None:
    venue_for_staff(session, actor=actor, venue_id=venue_id, admin=True)
    row = exception_on(session, venue_id=venue_id, day=day)
    if row is not None:
        session.delete(row)
        session.flush()


def periods_on(session: Session, venue: Venue, day: date) -> list[hours.Period]:
    exception = exception_on(session, venue_id=venue.id or 0, day=day)
    return hours.periods_on(venue.weekly_hours, day, exception.periods if exception else None)


# --- resources -------------------------------------------------------------------------------


def is_major(resource: VenueResource) -> bool:
    return resource.kind == "instrument" and (resource.value_yuan or 0) >= MAJOR_INSTRUMENT_YUAN


def list_resources(
    session: Session, *, venue_id: int, active_only: bool = True
) -> list[VenueResource]:
    query = select(VenueResource).where(VenueResource.venue_id == venue_id)
    if active_only:
        query = query.where(VenueResource.active == True)  # noqa: E712
    return list(session.exec(query.order_by(col(VenueResource.id))).all())


def _flush_resource(session: Session, resource: VenueResource) -> VenueResource:
    session.add(resource)
    flush_unique(session, ResourceExists())
    return resource


def create_resource(
    session: Session, *, actor: Principal, venue_id: int, data: ResourceWrite, now: datetime
) -> VenueResource:
    venue_for_staff(session, actor=actor, venue_id=venue_id, admin=True)
    return _flush_resource(
        session, VenueResource(venue_id=venue_id, created_at=now, **data.model_dump())
    )


def get_resource(session: Session, *, venue_id: int, resource_id: int) -> VenueResource:
    resource = session.get(VenueResource, resource_id)
    if resource is None or resource.venue_id != venue_id:
        raise ResourceNotFound()
    return resource


def update_resource(
    session: Session, *, actor: Principal, venue_id: int, resource_id: int, data: ResourceWrite
) -> VenueResource:
    venue_for_staff(session, actor=actor, venue_id=venue_id, admin=True)
    resource = get_resource(session, venue_id=venue_id, resource_id=resource_id)
    for name, value in data.model_dump().items():
        setattr(resource, name, value)
    return _flush_resource(session, resource)


# --- yearly editions -------------------------------------------------------------------------

EXPORT_COLUMNS: Sequence[tuple[str, str]] = (
    ("name", "场馆名称"),
    ("kind_label", "类型"),
    ("region_name", "所在地区"),
    ("address", "地址"),
    ("phone", "联系电话"),
    ("services", "服务内容"),
    ("facilities", "设施条件"),
    ("hours", "开放时间"),
    ("fee", "收费"),
    ("stages_label", "适合学段"),
    ("reservation", "预约"),
    ("resources", "可预约资源"),
    ("longitude", "经度(GCJ-02)"),
    ("latitude", "纬度(GCJ-02)"),
)
KIND_LABELS = {
    "science_museum": "科技馆",
    "museum": "博物馆",
    "science_base": "科普教育基地",
    "youth_centre": "青少年活动中心",
    "university_lab": "高校实验室",
    "research_institute": "科研院所",
    "enterprise": "企业",
    "nature_school": "自然教育学校",
    "other": "其他",
}
STAGE_LABELS = {"primary": "小学", "junior": "初中", "senior": "高中", "vocational": "中职"}


def _entry(venue: Venue, region_names: dict[str, str], resources: list[str]) -> dict[str, Any]:
    return {
        "id": venue.id,
        "name": venue.name,
        "kind": venue.kind,
        "kind_label": KIND_LABELS.get(venue.kind, venue.kind),
        "region_code": venue.region_code,
        "region_name": region_names.get(venue.region_code, ""),
        "address": venue.address,
        "phone": venue.phone,
        "longitude": venue.longitude,
        "latitude": venue.latitude,
        "services": venue.services,
        "facilities": venue.facilities,
        "weekly_hours": venue.weekly_hours,
        "hours": hours.summary(venue.weekly_hours),
        "is_free": venue.is_free,
        "fee": "免费" if venue.is_free else (venue.fee_note or "收费"),
        "stages": decode_stages(venue.stages),
        "stages_label": "、".join(STAGE_LABELS[s] for s in decode_stages(venue.stages)),
        "reservation_required": venue.reservation_required,
        "reservation": "需预约" if venue.reservation_required else "无需预约",
        "resources": "；".join(resources),
    }


def publish_edition(
    session: Session, *, actor: Principal, year: int, title: str | None, now: datetime
) -> DirectoryEdition:
    """Freeze the listed venues of the bureau's region into the edition of ``year``."""
    region_code = actor.region_code or ""
    region = session.get(Region, region_code)
    if region is None or actor.bureau_id is None:
        raise RegionNotFound()
    venues = session.exec(
        select(Venue)
        .where(Venue.listed == True, col(Venue.region_code).startswith(region_prefix(region_code)))  # noqa: E712
        .order_by(col(Venue.region_code), col(Venue.name))
    ).all()
    names = {r.code: r.name for r in session.exec(select(Region)).all()}
    resources: dict[int, list[str]] = {}
    for resource in session.exec(
        select(VenueResource)
        .where(
            col(VenueResource.venue_id).in_([v.id for v in venues]),
            VenueResource.active == True,  # noqa: E712
        )
        .order_by(col(VenueResource.id))
    ).all():
        resources.setdefault(resource.venue_id, []).append(resource.name)
    edition = DirectoryEdition(
        region_code=region_code,
        year=year,
        title=title or f"{region.name}{year}年科普地图",
        bureau_id=actor.bureau_id,
        published_by=actor.subject,
        published_at=now,
        venue_count=len(venues),
        entries=[_entry(v, names, resources.get(v.id or 0, [])) for v in venues],
    )
    session.add(edition)
    flush_unique(session, EditionExists())
    audit_service.record(
        session,
        action=audit_service.Action.directory_published,
        at=now,
        actor=actor,
        object_type="directory_edition",
        object_id=edition.id,
        region_code=region_code,
        year=year,
        venues=len(venues),
    )
    return edition


def list_editions(
    session: Session, *, page: PageParams, region_code: str | None, year: int | None
) -> tuple[list[DirectoryEdition], int]:
    query = select(DirectoryEdition)
    if region_code:
        query = query.where(DirectoryEdition.region_code == region_code)
    if year:
        query = query.where(DirectoryEdition.year == year)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(DirectoryEdition.year).desc(), col(DirectoryEdition.region_code))
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return list(rows), total


def get_edition(session: Session, edition_id: int) -> DirectoryEdition:
    edition = session.get(DirectoryEdition, edition_id)
    if edition is None:
        raise EditionNotFound()
    return edition


def edition_rows(edition: DirectoryEdition) -> Iterator[list[object]]:
    for entry in edition.entries:
        yield [entry.get(key, "") for key, _ in EXPORT_COLUMNS]
