"""School calendars (校历): a region's term dates for a school year, entered by its bureau
(or a bureau above it) and inherited by the regions below that have none of their own.
Without any, the code's semester rule applies (``scipass.core.clock.term_of``: autumn from
1 September to the end of January, spring from 1 February to the end of August). The policy
engine counts term weeks from :func:`effective_calendar`. Services flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import Principal, Role, region_contains
from scipass.org.errors import CalendarInvalid, OutsideRegion, RegionNotFound
from scipass.org.measures_models import SchoolCalendar
from scipass.org.measures_schemas import CalendarWrite
from scipass.org.models import Region

_CALENDARS = SchoolCalendar.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
TERM_FIELDS = ("autumn_start", "autumn_end", "spring_start", "spring_end")


@dataclass(frozen=True, slots=True)
class TermDates:
    """A school year's two terms (inclusive dates), and the region whose calendar gave them
    (None: the default rule)."""

    school_year: int
    autumn_start: date
    autumn_end: date
    spring_start: date
    spring_end: date
    source_region_code: str | None


def default_terms(school_year: int) -> TermDates:
    """The terms :func:`scipass.core.clock.term_of` draws, as dates."""
    return TermDates(
        school_year=school_year,
        autumn_start=date(school_year, 9, 1),
        autumn_end=date(school_year + 1, 1, 31),
        spring_start=date(school_year + 1, 2, 1),
        spring_end=date(school_year + 1, 8, 31),
        source_region_code=None,
    )


def _region_chain(session: Session, region_code: str) -> list[str]:
    """The region and its ancestors, nearest first."""
    region = session.get(Region, region_code)
    if region is None:
        raise RegionNotFound(f"没有代码为 {region_code} 的行政区划", f"No region {region_code}")
    chain = [region.code]
    parent = region.parent_code
    while parent is not None and len(chain) < 5:
        chain.append(parent)
        above = session.get(Region, parent)
        parent = above.parent_code if above else None
    return chain


def effective_calendar(session: Session, region_code: str, school_year: int) -> TermDates:
    """The terms of ``region_code`` in ``school_year``: its own calendar, else its nearest
    ancestor's, else the default rule."""
    chain = _region_chain(session, region_code)
    rows = {
        row.region_code: row
        for row in session.exec(
            select(SchoolCalendar).where(
                col(SchoolCalendar.region_code).in_(chain),
                SchoolCalendar.school_year == school_year,
            )
        ).all()
    }
    for code in chain:
        row = rows.get(code)
        if row is not None:
            return TermDates(
                school_year=school_year,
                autumn_start=row.autumn_start,
                autumn_end=row.autumn_end,
                spring_start=row.spring_start,
                spring_end=row.spring_end,
                source_region_code=code,
            )
    return default_terms(school_year)


def _check(school_year: int, data: CalendarWrite) -> None:
    first, last = date(school_year, 8, 1), date(school_year + 1, 8, 31)
    dates = [getattr(data, name) for name in TERM_FIELDS]
    if any(not first <= day <= last for day in dates):
        raise CalendarInvalid(
            f"{school_year}-{school_year + 1} 学年的日期须在 {first} 至 {last} 之间",
            f"The dates of school year {school_year} lie between {first} and {last}",
        )
    if not (data.autumn_start <= data.autumn_end < data.spring_start <= data.spring_end):
        raise CalendarInvalid(
            "须依次为：第一学期开始、结束，第二学期开始、结束",
            "Autumn start, autumn end, spring start, spring end, in that order",
        )


def set_calendar(
    session: Session,
    *,
    actor: Principal,
    region_code: str,
    school_year: int,
    data: CalendarWrite,
    now: datetime,
) -> SchoolCalendar:
    """Enter or replace a region's calendar for a school year (one row per region and year,
    kept by a unique constraint: two bureaus saving at once leave one row, the later)."""
    region = session.get(Region, region_code)
    if region is None:
        raise RegionNotFound(f"没有代码为 {region_code} 的行政区划", f"No region {region_code}")
    if actor.role is not Role.platform_admin and not (
        actor.role is Role.bureau
        and actor.region_code
        and region_contains(actor.region_code, region_code)
    ):
        raise OutsideRegion()
    _check(school_year, data)
    before = session.exec(
        select(SchoolCalendar).where(
            SchoolCalendar.region_code == region_code, SchoolCalendar.school_year == school_year
        )
    ).first()
    previous = {name: getattr(before, name) for name in TERM_FIELDS} if before else None
    values = {
        "region_code": region_code,
        "school_year": school_year,
        **{name: getattr(data, name) for name in TERM_FIELDS},
        "updated_by": actor.subject,
        "updated_at": now,
    }
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(_CALENDARS).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["region_code", "school_year"],
        set_={k: statement.excluded[k] for k in (*TERM_FIELDS, "updated_by", "updated_at")},
    )
    session.execute(statement)
    if before is not None:
        session.refresh(before)
    calendar = (
        before
        or session.exec(
            select(SchoolCalendar).where(
                SchoolCalendar.region_code == region_code, SchoolCalendar.school_year == school_year
            )
        ).one()
    )
    audit_service.record(
        session,
        action=audit_service.Action.school_calendar_set,
        at=now,
        actor=actor,
        object_type="school_calendar",
        object_id=f"{region_code}/{school_year}",
        region_code=region_code,
        before=previous,
        after={name: getattr(calendar, name) for name in TERM_FIELDS},
    )
    return calendar
