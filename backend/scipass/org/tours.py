"""Mobile science museum tours (流动科技馆, 003 三.(一): in remote areas at least two months a
year). Each row is one organiser's stay at one school over inclusive dates; its days covered
are the dates from the first to the last.

Who records a tour: the science museum (a venue) that runs it, a bureau or science
association, or a school with a campus science museum visiting another (000 二.6). A bureau
records tours to the schools of its region; a venue or a school to schools of its province.
Services flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, false, true
from sqlmodel import Session, col, or_, select

from scipass.audit import service as audit_service
from scipass.core.auth import (
    SCHOOL_ROLES,
    VENUE_ROLES,
    Principal,
    Role,
    region_contains,
    region_prefix,
)
from scipass.core.pagination import PageParams, count_rows
from scipass.org import service as org_service
from scipass.org.errors import NotATourOrganiser, OutsideRegion, TourInvalid
from scipass.org.measures_models import MobileMuseumTour
from scipass.org.measures_schemas import MAX_TOUR_DAYS, TourCreate
from scipass.org.models import School
from scipass.org.organiser import OrganiserKind, OrganiserRef, organiser_of_principal


def days_covered(tour: MobileMuseumTour) -> int:
    return (tour.ends_on - tour.starts_on).days + 1


def _home_region(session: Session, ref: OrganiserRef) -> str:
    """The region whose schools an organiser may record tours to: a bureau's region, or the
    province of a venue or a school."""
    if ref.kind is OrganiserKind.bureau:
        return org_service.get_bureau(session, ref.id).region_code
    if ref.kind is OrganiserKind.venue:
        code = org_service.get_venue(session, ref.id).region_code
    else:
        code = org_service.get_school(session, ref.id).region_code
    return code[:2] + "0000"


def create(
    session: Session, *, actor: Principal, data: TourCreate, now: datetime
) -> MobileMuseumTour:
    ref = organiser_of_principal(actor)
    if ref is None:
        raise NotATourOrganiser()
    if data.ends_on < data.starts_on:
        raise TourInvalid("结束日期不能早于开始日期", "The end comes before the start")
    if (data.ends_on - data.starts_on).days + 1 > MAX_TOUR_DAYS:
        raise TourInvalid(
            f"一次巡展最长 {MAX_TOUR_DAYS} 天，请分次登记", "A tour lasts at most a year"
        )
    school = org_service.get_school(session, data.visited_school_id)
    if ref == OrganiserRef(OrganiserKind.school, school.id or 0):
        raise TourInvalid("巡展须到其他学校", "A school's tour visits another school")
    if not region_contains(_home_region(session, ref), school.region_code):
        raise OutsideRegion("该学校不在本单位可登记巡展的地区", "The school is out of your reach")
    tour = MobileMuseumTour(
        **ref.columns(),
        visited_school_id=school.id or 0,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        note=data.note.strip(),
        created_by=actor.subject,
        created_at=now,
    )
    session.add(tour)
    session.flush()
    audit_service.record(
        session,
        action=audit_service.Action.mobile_museum_tour_recorded,
        at=now,
        actor=actor,
        object_type="mobile_museum_tour",
        object_id=tour.id,
        school_id=school.id,
        region_code=school.region_code,
        starts_on=tour.starts_on,
        ends_on=tour.ends_on,
    )
    return tour


def _visible(actor: Principal) -> ColumnElement[bool]:
    """The tours a caller reads: the platform all; a bureau its own and those to schools of
    its region; a venue its own; a school its own and those to it."""
    tour = MobileMuseumTour
    if actor.role is Role.platform_admin:
        return true()
    if actor.role is Role.bureau and actor.region_code:
        schools = select(School.id).where(
            col(School.region_code).startswith(region_prefix(actor.region_code))
        )
        return or_(col(tour.bureau_id) == actor.bureau_id, col(tour.visited_school_id).in_(schools))
    if actor.role in VENUE_ROLES:
        return col(tour.venue_id) == actor.venue_id
    if actor.role in SCHOOL_ROLES:
        return or_(
            col(tour.school_id) == actor.school_id,
            col(tour.visited_school_id) == actor.school_id,
        )
    return false()


@dataclass(frozen=True, slots=True)
class TourRows:
    tours: list[MobileMuseumTour]
    total: int
    days: int  # of every tour that matches, not only the page's


def list_tours(
    session: Session, *, actor: Principal, school_year: int | None, page: PageParams
) -> TourRows:
    """Tours the caller may see, newest first; with ``school_year``, those whose dates meet
    it (1 September to 31 August)."""
    conditions = [_visible(actor)]
    if school_year is not None:
        conditions += [
            col(MobileMuseumTour.ends_on) >= date(school_year, 9, 1),
            col(MobileMuseumTour.starts_on) < date(school_year + 1, 9, 1),
        ]
    query = select(MobileMuseumTour).where(*conditions)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(MobileMuseumTour.starts_on).desc(), col(MobileMuseumTour.id).desc())
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    spans = session.exec(
        select(col(MobileMuseumTour.starts_on), col(MobileMuseumTour.ends_on)).where(*conditions)
    ).all()
    days = sum((ends_on - starts_on).days + 1 for starts_on, ends_on in spans)
    return TourRows(list(rows), total, days)
