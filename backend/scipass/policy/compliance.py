"""Compliance views: what a school and a bureau see of the rules (issue 19 point 4).

* A school sees its own rules judged for a term: met or not, the figure, the threshold and
  what is missing (:func:`school_view`).
* A bureau sees every school of its region and sub-regions, per rule: how many schools meet
  it and how many miss it, by district and by urban or rural, with the schools behind each
  figure, and the region's own rules (:func:`region_view`); and any of its schools in detail.

Each school is judged by its own region's rules (a county with a pack of its own, or a bureau's
override there, judges its schools by them), so one region view may hold two thresholds of one
rule; the rule's row says which it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from scipass.core.auth import Principal, Role, region_contains, region_prefix
from scipass.core.clock import Semester, Term
from scipass.org.errors import OrganisationNotFound, OutsideRegion, RegionNotFound
from scipass.org.models import Region, School
from scipass.policy import effective as policy_effective
from scipass.policy import engine
from scipass.policy.results import ResultRow, row_of
from scipass.policy.review_errors import RegionRequired


@dataclass(frozen=True, slots=True)
class SchoolView:
    school: School
    term: Term
    rows: list[ResultRow]


@dataclass(frozen=True, slots=True)
class RegionView:
    region: Region
    term: Term
    schools: int
    rows: list[ResultRow]  # school rules (one per school each applies to), then the region's


def chosen_term(school_year: int | None, semester: Semester | None, today: date) -> Term:
    """The term asked for; the current one by default (the autumn term when only the year
    is given)."""
    current = engine.periods.current_term(today)
    if school_year is None:
        return current if semester is None else Term(current.school_year, semester)
    if semester is None:
        semester = current.semester if school_year == current.school_year else Semester.autumn
    return Term(school_year, semester)


def _readable_school(session: Session, actor: Principal, school_id: int) -> School:
    school = session.get(School, school_id)
    if school is None:
        raise OrganisationNotFound("学校不存在", "School not found")
    if actor.role is Role.platform_admin:
        return school
    if actor.role is Role.bureau and region_contains(actor.region_code or "x", school.region_code):
        return school
    if actor.school_id == school.id and actor.role in (Role.school_admin, Role.school_staff):
        return school
    raise OrganisationNotFound(
        "学校不存在", "School not found"
    )  # another school's or region's: not there, as everywhere


def school_view(
    session: Session, *, actor: Principal, school_id: int, term: Term, today: date
) -> SchoolView:
    school = _readable_school(session, actor, school_id)
    pack = policy_effective.effective(session, school.region_code)
    scope = engine.Scope([school], {school.region_code: pack.rules}, term, today)
    outcomes = engine.evaluate_schools(session, scope)
    region = session.get(Region, school.region_code)
    rows = [
        row_of(
            o,
            school_name=school.name,
            district_name=region.name if region else "",
            area=school.area,
        )
        for o in sorted(outcomes, key=lambda o: o.rule_id)
    ]
    return SchoolView(school, term, rows)


def bureau_region(session: Session, actor: Principal, region_code: str | None) -> Region:
    """The region a bureau (or the platform) asks about: its own by default, or one below."""
    code = region_code or actor.region_code
    if code is None:  # the platform has no region of its own
        raise RegionRequired()
    if actor.role is Role.bureau and not region_contains(actor.region_code or "x", code):
        raise OutsideRegion()
    region = session.get(Region, code)
    if region is None:
        raise RegionNotFound(f"没有代码为 {code} 的行政区划", f"No region with code {code}")
    return region


def schools_of(session: Session, region_code: str) -> list[School]:
    return list(
        session.exec(
            select(School)
            .where(col(School.region_code).startswith(region_prefix(region_code)))
            .order_by(col(School.region_code), col(School.id))
        ).all()
    )


def region_view(
    session: Session, *, actor: Principal, region_code: str | None, term: Term, today: date
) -> RegionView:
    region = bureau_region(session, actor, region_code)
    return RegionView(region, term, *evaluate(session, region, term, today))


def evaluate(
    session: Session, region: Region, term: Term, today: date
) -> tuple[int, list[ResultRow]]:
    """Every school of the region judged by its rules, and the region by its own: how many
    schools, and the rows."""
    schools = schools_of(session, region.code)
    codes = {school.region_code for school in schools} | {region.code}
    packs = policy_effective.effective_many(session, codes)
    scope = engine.Scope(schools, {c: p.rules for c, p in packs.items()}, term, today)
    outcomes = engine.evaluate_schools(session, scope)
    region_outcomes = engine.evaluate_region(
        session,
        region_code=region.code,
        rules=packs[region.code].rules,
        schools=schools,
        term=term,
        today=today,
    )
    names = dict(
        session.exec(
            select(Region.code, Region.name).where(col(Region.code).in_(sorted(codes)))
        ).all()
    )
    by_id = {school.id: school for school in schools}
    rows = []
    for outcome in sorted(outcomes, key=lambda o: (o.rule_id, o.region_code, o.school_id or 0)):
        school = by_id[outcome.school_id]
        rows.append(
            row_of(
                outcome,
                school_name=school.name,
                district_name=names.get(school.region_code, ""),
                area=school.area,
            )
        )
    for outcome in region_outcomes:
        rows.append(row_of(outcome, school_name="", district_name=region.name, area=""))
    return len(schools), rows
