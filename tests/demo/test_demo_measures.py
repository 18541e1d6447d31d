"""The demo world holds what the policy rules measure (issue 19), whatever day it is loaded
on: flags, science staff, trainings near their yearly person-times, tours, calendars, and
activities with a programme, a campaign or the after-school flag (one a bureau's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from scipass.activity.models import Activity
from scipass.core.auth import Principal, Role
from scipass.core.clock import local_date, school_year_of
from scipass.core.pagination import PageParams
from scipass.org import calendars, tours, trainings
from scipass.org.models import Bureau, School
from tests.demo.test_demo import NOWS
from tests.demo_world import loaded_on

EVERYTHING = PageParams(limit=100, offset=0)


def bureau(session: Session, name: str) -> Principal:
    row = session.exec(select(Bureau).where(Bureau.name == name)).one()
    return Principal(
        subject="test", role=Role.bureau, bureau_id=row.id, region_code=row.region_code
    )


@loaded_on(NOWS[0], NOWS[-1])  # and 00:01 on 1 September
def test_demo_holds_what_the_rules_measure(
    session: Session, demo: dict[str, Any], now: datetime
) -> None:
    summary = demo
    assert summary["science_staff"] == 10
    assert summary["school_calendars"] == 2
    year = school_year_of(local_date(now))

    remote = session.exec(select(School.name).where(School.remote)).all()
    assert "湘乡市东郊乡中学" in remote
    main = session.exec(select(School).where(School.main_urban_district)).all()
    assert {s.area for s in main} == {"urban"}

    def person_times(name: str) -> int:
        return trainings.list_trainings(
            session,
            actor=bureau(session, name),
            region_code=None,
            school_year=year,
            page=EVERYTHING,
        )[2]

    assert person_times("湘乡市教育局") == 96  # just under 000 二.7's 100
    assert person_times("湘潭市教育局") == 204  # just over 001's 200, with Xiangxiang's

    hunan = tours.list_tours(
        session, actor=bureau(session, "湘潭市教育局"), school_year=year, page=EVERYTHING
    )
    assert (hunan.total, hunan.days) == (2, 56)  # under two months

    terms = calendars.effective_calendar(session, "430381", year)
    assert (terms.source_region_code, terms.spring_end.month) == ("430000", 7)

    activities = session.exec(select(Activity).where(col(Activity.programme).is_not(None))).all()
    assert {a.programme for a in activities} >= {"scientist_in_school", "science_first_lesson"}
    assert any(a.bureau_id is not None for a in activities)
    assert session.exec(select(Activity).where(Activity.after_school)).first() is not None
