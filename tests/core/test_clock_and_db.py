"""Time and storage basics: the school calendar, UTC round trips, SQLite pragmas."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Connection, text
from sqlmodel import Session

from scipass.core.clock import FrozenClock, Semester, local_date, term_of
from scipass.org.models import Region, School
from tests.databases import ENGINE_NAME


@pytest.mark.parametrize(
    ("day", "year", "semester"),
    [
        (date(2026, 9, 1), 2026, Semester.autumn),
        (date(2027, 1, 20), 2026, Semester.autumn),
        (date(2027, 2, 1), 2026, Semester.spring),
        (date(2027, 7, 10), 2026, Semester.spring),
        (date(2027, 8, 15), 2026, Semester.spring),  # summer camp: the year that is ending
        (date(2026, 8, 31), 2025, Semester.spring),
    ],
)
def test_term_of(day: date, year: int, semester: Semester) -> None:
    term = term_of(day)
    assert (term.school_year, term.semester) == (year, semester)


def test_term_label() -> None:
    assert term_of(date(2026, 10, 1)).label == "2026-2027学年第一学期"


def test_local_date_is_beijing() -> None:
    # 17:00 UTC on 31 August is already 1 September in Beijing: a new school year.
    instant = datetime(2026, 8, 31, 17, 0, tzinfo=UTC)
    assert local_date(instant) == date(2026, 9, 1)


def test_frozen_clock() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))))
    assert clock.now() == datetime(2026, 1, 1, 0, tzinfo=UTC)
    clock.advance(timedelta(minutes=5))
    assert clock.now().minute == 5
    with pytest.raises(ValueError, match="aware"):
        FrozenClock(datetime(2026, 1, 1))  # noqa: DTZ001


def test_instants_come_back_as_aware_utc(session: Session) -> None:
    session.add(Region(code="990000", name="测试省", level="province"))
    beijing = datetime(2026, 10, 14, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    school = School(
        name="测试学校", region_code="990000", stages="primary", area="urban", created_at=beijing
    )
    session.add(school)
    session.flush()
    session.expire_all()
    stored = session.get(School, school.id)
    assert stored is not None
    assert stored.created_at == datetime(2026, 10, 14, 2, 0, tzinfo=UTC)
    assert stored.created_at.tzinfo is not None


def test_naive_instants_are_refused(session: Session) -> None:
    session.add(Region(code="990000", name="测试省", level="province"))
    session.add(
        School(
            name="测试学校",
            region_code="990000",
            stages="primary",
            area="urban",
            created_at=datetime(2026, 10, 14, 10, 0),  # noqa: DTZ001
        )
    )
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


@pytest.mark.skipif(ENGINE_NAME != "sqlite", reason="SQLite pragmas")
def test_sqlite_pragmas_on_every_connection(connection: Connection) -> None:
    assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000


def test_foreign_keys_are_enforced(session: Session) -> None:
    session.add(
        School(
            name="无主学校",
            region_code="000001",
            stages="primary",
            area="urban",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        session.flush()
