"""Time: instants are stored in UTC; "today" and the school calendar are in Asia/Shanghai.

The school year starts on 1 September. The autumn semester runs September to January, the
spring semester February to July; August (summer camps) is counted in the spring semester of
the school year that is ending, so that a summer activity lands in the year the student did it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Protocol
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Semester(StrEnum):
    autumn = "autumn"
    spring = "spring"


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock for tests and scripts: stands still until moved."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._at += delta


@dataclass(frozen=True, slots=True)
class Term:
    school_year: int  # the calendar year in which the school year starts
    semester: Semester

    @property
    def label(self) -> str:
        name = "第一学期" if self.semester is Semester.autumn else "第二学期"
        return f"{self.school_year}-{self.school_year + 1}学年{name}"


def local_date(at: datetime) -> date:
    """The date in Asia/Shanghai of an aware instant."""
    return at.astimezone(SHANGHAI).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first instant of ``day`` in Asia/Shanghai and of the day after, in UTC."""
    start = datetime.combine(day, time(), tzinfo=SHANGHAI)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def school_year_of(day: date) -> int:
    return day.year if day.month >= 9 else day.year - 1


def term_of(day: date) -> Term:
    semester = Semester.autumn if day.month >= 9 or day.month == 1 else Semester.spring
    return Term(school_year=school_year_of(day), semester=semester)


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock


ClockDep = Annotated[Clock, Depends(get_clock)]
