"""A school's science staff (004 二.5: by 2024-06-30 every school has a 科学副校长, a school
leader or an appointed expert, and in principle at least one 科技辅导员).

The school's admin records who holds a role from when, and ends it; the school's staff, the
bureaus of its region and the platform read them. Every change is audited. Services flush,
never commit.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import SCHOOL_ROLES, Principal, Role, region_contains
from scipass.core.db import flush_unique
from scipass.org import service as org_service
from scipass.org.errors import (
    OrganisationNotFound,
    ScienceStaffExists,
    ScienceStaffInvalid,
    ScienceStaffNotFound,
)
from scipass.org.measures_models import SchoolScienceStaff
from scipass.org.measures_schemas import ScienceStaffCreate
from scipass.org.models import School


def readable_school(session: Session, *, actor: Principal, school_id: int) -> School:
    """A school whose own facts the caller may read: its staff, a bureau of a region above
    it, the platform admin. Any other is "not found"."""
    school = session.get(School, school_id)
    allowed = school is not None and (
        actor.role is Role.platform_admin
        or (actor.role in SCHOOL_ROLES and actor.school_id == school_id)
        or (
            actor.role is Role.bureau
            and actor.region_code is not None
            and region_contains(actor.region_code, school.region_code)
        )
    )
    if school is None or not allowed:
        raise OrganisationNotFound("学校不存在", "School not found")
    return school


def add(
    session: Session, *, actor: Principal, school_id: int, data: ScienceStaffCreate, now: datetime
) -> SchoolScienceStaff:
    school = org_service.own_school(session, actor=actor, school_id=school_id)
    if data.ended_on is not None and data.ended_on < data.started_on:
        raise ScienceStaffInvalid("结束日期不能早于开始日期", "The end comes before the start")
    staff = SchoolScienceStaff(
        school_id=school_id,
        role=data.role.value,
        name=data.name.strip(),
        title=data.title.strip(),
        started_on=data.started_on,
        ended_on=data.ended_on,
        created_by=actor.subject,
        created_at=now,
    )
    session.add(staff)
    flush_unique(session, ScienceStaffExists())
    audit_service.record(
        session,
        action=audit_service.Action.science_staff_changed,
        at=now,
        actor=actor,
        object_type="school_science_staff",
        object_id=staff.id,
        school_id=school_id,
        region_code=school.region_code,
        change="added",
        role=staff.role,
        started_on=staff.started_on,
        ended_on=staff.ended_on,
    )
    return staff


def list_for_school(
    session: Session, *, actor: Principal, school_id: int, on_date: date | None
) -> list[SchoolScienceStaff]:
    """The school's science staff, vice principals first; with ``on_date``, only those in
    their role that day."""
    readable_school(session, actor=actor, school_id=school_id)
    query = select(SchoolScienceStaff).where(SchoolScienceStaff.school_id == school_id)
    if on_date is not None:
        day = on_date
        query = query.where(
            col(SchoolScienceStaff.started_on) <= day,
            col(SchoolScienceStaff.ended_on).is_(None) | (col(SchoolScienceStaff.ended_on) >= day),
        )
    rows = session.exec(
        query.order_by(
            col(SchoolScienceStaff.role).desc(),  # vice principals first
            col(SchoolScienceStaff.started_on),
            col(SchoolScienceStaff.id),
        )
    ).all()
    return list(rows)


def end(
    session: Session, *, actor: Principal, staff_id: int, ended_on: date, now: datetime
) -> SchoolScienceStaff:
    """Set (or correct) the last day in the role; a check constraint keeps it on or after the
    first."""
    staff = session.get(SchoolScienceStaff, staff_id)
    if staff is None or not (
        actor.role is Role.school_admin and actor.school_id == staff.school_id
    ):
        raise ScienceStaffNotFound()
    if ended_on < staff.started_on:
        raise ScienceStaffInvalid("结束日期不能早于开始日期", "The end comes before the start")
    before = staff.ended_on
    if before == ended_on:
        return staff
    staff.ended_on = ended_on
    session.add(staff)
    session.flush()
    school = session.get(School, staff.school_id)
    audit_service.record(
        session,
        action=audit_service.Action.science_staff_changed,
        at=now,
        actor=actor,
        object_type="school_science_staff",
        object_id=staff.id,
        school_id=staff.school_id,
        region_code=school.region_code if school else None,
        change="ended",
        role=staff.role,
        ended_on={"from": before, "to": ended_on},
    )
    return staff
