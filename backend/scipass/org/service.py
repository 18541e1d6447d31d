"""Use cases on organisations. Services flush, never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import Principal, Role, region_contains, region_prefix
from scipass.core.db import flush_unique
from scipass.core.pagination import PageParams, count_rows
from scipass.org import repository
from scipass.org.errors import (
    OrganisationExists,
    OrganisationNotFound,
    OutsideRegion,
    ParentRegionInvalid,
    RegionExists,
    RegionNotFound,
    SchoolFlagsInvalid,
)
from scipass.org.models import (
    Bureau,
    Region,
    RegionLevel,
    School,
    SchoolArea,
    Venue,
    encode_stages,
)
from scipass.org.schemas import (
    BureauCreate,
    RegionCreate,
    SchoolCreate,
    SchoolFlagsUpdate,
    SchoolSettingsUpdate,
    VenueCreate,
)

# Counties usually sit under a city, but some (直辖县级行政区, e.g. 仙桃 429004) sit directly
# under their province.
_PARENT_LEVELS = {
    RegionLevel.city: {RegionLevel.province},
    RegionLevel.county: {RegionLevel.city, RegionLevel.province},
}


def list_regions(
    session: Session, *, page: PageParams, parent_code: str | None = None, level: str | None = None
) -> tuple[list[Region], int]:
    query = repository.regions_query(parent_code=parent_code, level=level)
    total = count_rows(session, query)
    rows = session.exec(query.order_by(Region.code).limit(page.limit).offset(page.offset)).all()
    return list(rows), total


def get_region(session: Session, *, code: str) -> tuple[Region, list[Region], list[Region]]:
    """A region, its ancestors (top first) and its direct children."""
    region = session.get(Region, code)
    if region is None:
        raise RegionNotFound(f"没有代码为 {code} 的行政区划", f"No region with code {code}")
    ancestors: list[Region] = []
    parent_code = region.parent_code
    while parent_code is not None and len(ancestors) < 5:
        parent = session.get(Region, parent_code)
        if parent is None:
            break
        ancestors.insert(0, parent)
        parent_code = parent.parent_code
    children = session.exec(
        select(Region).where(Region.parent_code == code).order_by(Region.code)
    ).all()
    return region, ancestors, list(children)


def create_region(
    session: Session, *, data: RegionCreate, actor: Principal, now: datetime
) -> Region:
    if session.get(Region, data.code) is not None:
        raise RegionExists(f"代码 {data.code} 已存在", f"Code {data.code} exists")
    allowed_parents = _PARENT_LEVELS.get(data.level)
    if allowed_parents is None:
        if data.parent_code is not None:
            raise ParentRegionInvalid("省级区划没有上级", "A province has no parent")
    else:
        parent = session.get(Region, data.parent_code) if data.parent_code else None
        if parent is None or parent.level not in allowed_parents:
            raise ParentRegionInvalid()
        if not data.code.startswith(region_prefix(parent.code)):
            raise ParentRegionInvalid(
                "代码与上级区划不符", "The code does not belong under the parent"
            )
    region = Region(**data.model_dump())
    session.add(region)
    flush_unique(session, RegionExists())
    audit_service.record(
        session,
        action=audit_service.Action.org_created,
        at=now,
        actor=actor,
        object_type="region",
        object_id=region.code,
    )
    return region


def _require_region(session: Session, code: str) -> Region:
    region = session.get(Region, code)
    if region is None:
        raise RegionNotFound(f"没有代码为 {code} 的行政区划", f"No region with code {code}")
    return region


def _check_scope(actor: Principal, region_code: str) -> None:
    """A bureau acts only inside its region; the platform admin everywhere."""
    if actor.role is Role.platform_admin:
        return
    if (
        actor.role is Role.bureau
        and actor.region_code
        and region_contains(actor.region_code, region_code)
    ):
        return
    raise OutsideRegion()


def create_bureau(
    session: Session, *, data: BureauCreate, actor: Principal, now: datetime
) -> Bureau:
    _require_region(session, data.region_code)
    bureau = Bureau(name=data.name, region_code=data.region_code, created_at=now)
    session.add(bureau)
    flush_unique(session, OrganisationExists())
    audit_service.record(
        session,
        action=audit_service.Action.org_created,
        at=now,
        actor=actor,
        object_type="bureau",
        object_id=bureau.id,
        region_code=bureau.region_code,
    )
    return bureau


def list_bureaus(session: Session, *, actor: Principal) -> list[Bureau]:
    query = select(Bureau).order_by(Bureau.region_code, col(Bureau.id))
    if actor.role is Role.bureau:
        query = query.where(Bureau.id == actor.bureau_id)
    return list(session.exec(query).all())


def create_school(
    session: Session, *, data: SchoolCreate, actor: Principal, now: datetime
) -> School:
    _require_region(session, data.region_code)
    _check_scope(actor, data.region_code)
    _check_flags(area=data.area, main_urban_district=data.main_urban_district)
    school = School(
        name=data.name,
        region_code=data.region_code,
        stages=encode_stages(data.stages),
        area=data.area,
        remote=data.remote,
        main_urban_district=data.main_urban_district,
        address=data.address,
        created_at=now,
    )
    session.add(school)
    flush_unique(session, OrganisationExists())
    audit_service.record(
        session,
        action=audit_service.Action.org_created,
        at=now,
        actor=actor,
        object_type="school",
        object_id=school.id,
        school_id=school.id,
        region_code=school.region_code,
    )
    return school


def _check_flags(*, area: str, main_urban_district: bool) -> None:
    if main_urban_district and area != SchoolArea.urban:
        raise SchoolFlagsInvalid(
            "城市主城区的学校须为城市学校", "A school of the main urban district is urban"
        )


def update_school_flags(
    session: Session, *, actor: Principal, school_id: int, data: SchoolFlagsUpdate, now: datetime
) -> School:
    """A bureau of the school's region (or the platform admin) sets the flags the policy rules
    read: urban or rural, remote, main urban district. Each change is audited with the value
    before and after."""
    school = get_school(session, school_id)
    _check_scope(actor, school.region_code)
    wanted = data.model_dump(exclude_unset=True, exclude_none=True)
    _check_flags(
        area=wanted.get("area", school.area),
        main_urban_district=wanted.get("main_urban_district", school.main_urban_district),
    )
    return _change_school(
        session,
        school,
        wanted,
        action=audit_service.Action.school_flags_changed,
        actor=actor,
        now=now,
    )


def _change_school(
    session: Session,
    school: School,
    wanted: dict[str, Any],
    *,
    action: audit_service.Action,
    actor: Principal,
    now: datetime,
) -> School:
    """Set the school's fields that change and audit them with the values before and after
    (nothing when nothing changes)."""
    changes = {
        name: {"from": getattr(school, name), "to": value}
        for name, value in wanted.items()
        if getattr(school, name) != value
    }
    if not changes:
        return school
    for name, change in changes.items():
        setattr(school, name, change["to"])
    session.add(school)
    session.flush()
    audit_service.record(
        session,
        action=action,
        at=now,
        actor=actor,
        object_type="school",
        object_id=school.id,
        school_id=school.id,
        region_code=school.region_code,
        changes=changes,
    )
    return school


def create_venue(session: Session, *, data: VenueCreate, actor: Principal, now: datetime) -> Venue:
    _require_region(session, data.region_code)
    _check_scope(actor, data.region_code)
    venue = Venue(**data.model_dump(), created_at=now)
    session.add(venue)
    flush_unique(session, OrganisationExists())
    audit_service.record(
        session,
        action=audit_service.Action.org_created,
        at=now,
        actor=actor,
        object_type="venue",
        object_id=venue.id,
        region_code=venue.region_code,
    )
    return venue


def list_schools(
    session: Session, *, page: PageParams, region_code: str | None, q: str | None
) -> tuple[list[School], int]:
    """Schools by region (and every region below it) and name; public information."""
    query = select(School)
    if region_code:
        query = query.where(col(School.region_code).startswith(region_prefix(region_code)))
    if q:
        query = query.where(col(School.name).contains(q))
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(School.region_code, School.name).limit(page.limit).offset(page.offset)
    ).all()
    return list(rows), total


def get_school(session: Session, school_id: int) -> School:
    school = session.get(School, school_id)
    if school is None:
        raise OrganisationNotFound("学校不存在", "School not found")
    return school


def own_school(session: Session, *, actor: Principal, school_id: int) -> School:
    """The caller's own school; any other is "not found" (staff act for their school only)."""
    school = session.get(School, school_id) if actor.school_id == school_id else None
    if school is None:
        raise OrganisationNotFound("学校不存在", "School not found")
    return school


def update_school_settings(
    session: Session, *, actor: Principal, school_id: int, data: SchoolSettingsUpdate, now: datetime
) -> School:
    """A school admin changes their school's settings (teacher attestation on or off); each
    change is audited with the value before and after."""
    school = own_school(session, actor=actor, school_id=school_id)
    wanted = data.model_dump(exclude_unset=True, exclude_none=True)
    action = audit_service.Action.school_settings_changed
    return _change_school(session, school, wanted, action=action, actor=actor, now=now)


def get_bureau(session: Session, bureau_id: int) -> Bureau:
    bureau = session.get(Bureau, bureau_id)
    if bureau is None:
        raise OrganisationNotFound("教育局不存在", "Bureau not found")
    return bureau


def get_venue(session: Session, venue_id: int) -> Venue:
    venue = session.get(Venue, venue_id)
    if venue is None:
        raise OrganisationNotFound("场馆不存在", "Venue not found")
    return venue
