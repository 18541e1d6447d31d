"""The periods the rules count over, in Asia/Shanghai.

A view chooses a term (a school year and a semester); each rule's own window follows from it:

* ``school_year``: 1 September to 31 August of the term's school year;
* ``semester``: the term itself, from the region's school calendar when its bureau entered one
  (:func:`scipass.org.calendars.effective_calendar`, inherited by sub-regions), else the
  code's semester rule (:func:`scipass.core.clock.term_of`: autumn September to January,
  spring February to August);
* ``week``: the term's weeks, Monday to Sunday; only term weeks count, so the weeks between
  two terms of a calendar (the winter holiday) are not asked for. A week counts once it has
  ended, or earlier when it already reached the number;
* ``deadline``: the state on the term's last day (or today, when the term is still running),
  with the deadline shown beside it.

Every window is a pair of dates, both included; :func:`bounds` turns it into the instants a
query compares timestamps with, so an activity at 23:30 on a term's last day is in that term.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from sqlmodel import Session

from scipass.core.clock import Semester, Term, day_bounds, term_of
from scipass.org.calendars import TermDates, default_terms, effective_calendar


@dataclass(frozen=True, slots=True)
class Window:
    """Dates from ``start`` to ``end``, both included."""

    start: date
    end: date

    def clipped(self, today: date) -> Window:
        """The part that has happened by ``today`` (an empty window before it starts)."""
        return Window(self.start, min(self.end, today))

    def within(self, start: date | None, end: date | None) -> Window:
        """The part between ``start`` and ``end`` (either open)."""
        return Window(max(self.start, start or self.start), min(self.end, end or self.end))

    @property
    def empty(self) -> bool:
        return self.end < self.start

    def days(self) -> int:
        return max(0, (self.end - self.start).days + 1)

    def overlap(self, start: date, end: date) -> int:
        """How many of the days from ``start`` to ``end`` (included) fall in the window."""
        return max(0, (min(self.end, end) - max(self.start, start)).days + 1)


def bounds(window: Window) -> tuple[datetime, datetime]:
    """The first instant of the window's first day and of the day after its last, in UTC."""
    return day_bounds(window.start)[0], day_bounds(window.end)[1]


def school_year_window(school_year: int) -> Window:
    return Window(date(school_year, 9, 1), date(school_year + 1, 8, 31))


def term_window(dates: TermDates, semester: Semester) -> Window:
    """One term of a school year's calendar (:mod:`scipass.org.calendars`)."""
    if semester is Semester.autumn:
        return Window(dates.autumn_start, dates.autumn_end)
    return Window(dates.spring_start, dates.spring_end)


def default_term_window(term: Term) -> Window:
    """A term by the code's semester rule (no calendar entered)."""
    return term_window(default_terms(term.school_year), term.semester)


def region_term_window(session: Session, region_code: str, term: Term) -> tuple[Window, bool]:
    """A term of the calendar a region follows (its own, an ancestor's, or the code's), and
    whether a bureau entered that calendar (False: the code's rule)."""
    dates = effective_calendar(session, region_code, term.school_year)
    return term_window(dates, term.semester), dates.source_region_code is not None


@lru_cache(maxsize=512)
def term_weeks(term: Window) -> tuple[Window, ...]:
    """The Monday-to-Sunday weeks of the term (the first and last may be partial), leaving out
    a partial week with no school day (Monday to Friday) in the term, such as a term that
    starts on a Sunday. Cached: every school of a region shares its term."""
    monday = term.start - timedelta(days=term.start.weekday())
    weeks = []
    while monday <= term.end:
        week = Window(max(monday, term.start), min(monday + timedelta(days=6), term.end))
        if week.start <= min(week.end, monday + timedelta(days=4)):
            weeks.append(week)
        monday += timedelta(days=7)
    return tuple(weeks)


@lru_cache(maxsize=512)
def week_of_day(term: Window) -> dict[date, int]:
    """Each day of the term's weeks, and the index of its week in :func:`term_weeks`."""
    return {
        week.start + timedelta(days=offset): index
        for index, week in enumerate(term_weeks(term))
        for offset in range(week.days())
    }


def current_term(today: date) -> Term:
    return term_of(today)
