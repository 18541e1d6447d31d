"""What the engine tests build: the seed regions, schools that fit a rule, and as much of what
a rule measures as a test asks for (activities with a pupil's record, tours, pairings, staff,
trainings), each dated inside the autumn term of 2026."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session

from scipass.core.clock import SHANGHAI, Semester, Term
from scipass.org.measures_models import (
    CounsellorTraining,
    CounsellorTrainingAttendee,
    MobileMuseumTour,
    SchoolScienceStaff,
)
from scipass.org.models import Bureau, School, Venue, encode_stages
from scipass.org.organiser import OrganiserKind
from scipass.pairing.models import Pairing
from scipass.policy.loader import ResolvedRule
from scipass.policy.pack_schema import MeasureKind, PeriodKind
from scipass.policy.periods import Window, default_term_window, term_weeks
from tests.factories import (
    NOW,
    create_activity,
    create_bureau,
    create_record,
    create_region,
    create_school,
    create_student,
    create_venue,
)

TERM = Term(2026, Semester.autumn)
TODAY = date(2026, 12, 20)  # a Sunday: the term's weeks up to it have ended
IN_TERM = datetime(2026, 10, 20, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Beijing
_serial = itertools.count(1)

# (code, name, level, parent): the seed regions, and a district below each pack's region
# whose nearest pack is that region's.
REGIONS = [
    ("430000", "湖南省", "province", None),
    ("430100", "长沙市", "city", "430000"),
    ("430102", "芙蓉区", "county", "430100"),
    ("430300", "湘潭市", "city", "430000"),
    ("430302", "雨湖区", "county", "430300"),
    ("430381", "湘乡市", "county", "430300"),
    ("140000", "山西省", "province", None),
    ("140500", "晋城市", "city", "140000"),
    ("140502", "城区", "county", "140500"),
    ("150000", "内蒙古自治区", "province", None),
    ("150400", "赤峰市", "city", "150000"),
    ("150402", "红山区", "county", "150400"),
]
# Where a school judged by each pack (by the pack's region code) sits.
DISTRICT_OF_PACK = {
    "430000": "430102",
    "430300": "430302",
    "430381": "430381",
    "140500": "140502",
    "150400": "150402",
}


def regions(session: Session) -> None:
    for code, name, level, parent in REGIONS:
        create_region(session, code, name, level, parent)


def at_beijing(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


def school_for(session: Session, rule: ResolvedRule, region_code: str, **extra: Any) -> School:
    """A school the rule applies to: its stages, and remote or main urban when it asks."""
    scope = rule.rule.applies_to
    values: dict[str, Any] = {
        "stages": encode_stages(["primary", "junior", "senior"]),
        "area": scope.area.value if scope.area.value != "any" else "urban",
        "remote": bool(scope.remote),
        "main_urban_district": bool(scope.main_urban_district),
    }
    values.update(extra)
    return create_school(session, region_code=region_code, **values)


class Maker:
    """Builds ``n`` of what a rule counts for a school (or a region)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._venues: dict[str, Venue] = {}
        self._bureaus: dict[str, Bureau] = {}
        self._free_day: dict[int, date] = {}

    def venue(self, region_code: str) -> Venue:
        if region_code not in self._venues:
            self._venues[region_code] = create_venue(self.session, region_code=region_code)
        return self._venues[region_code]

    def bureau(self, region_code: str) -> Bureau:
        if region_code not in self._bureaus:
            self._bureaus[region_code] = create_bureau(self.session, region_code=region_code)
        return self._bureaus[region_code]

    def activity(self, rule: ResolvedRule, school: School, starts_at: datetime) -> int:
        """One activity the rule's filters admit, with a record of one of the school's pupils
        (or organised by the school itself when the rule names no organiser)."""
        measure = rule.rule.measure
        organiser = measure.organiser_kinds[0] if measure.organiser_kinds else None
        keys: dict[str, Any] = {"venue_id": None, "school_id": None, "bureau_id": None}
        if organiser is OrganiserKind.venue:
            keys["venue_id"] = self.venue(school.region_code).id
        elif organiser is OrganiserKind.bureau:
            keys["bureau_id"] = self.bureau(school.region_code).id
        else:
            keys["school_id"] = school.id
        activity = create_activity(
            self.session,
            **keys,
            kind=measure.activity_kinds[0].value if measure.activity_kinds else "course",
            title=f"活动{next(_serial)}",
            programme=measure.programmes[0].value if measure.programmes else None,
            campaigns=measure.campaigns[0].value if measure.campaigns else "",
            after_school=bool(measure.after_school),
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=1),
        )
        if keys["school_id"] is None:  # the school takes part: as many pupils as it asks
            for _ in range(measure.min_pupils):
                self.record(school, activity.id or 0, starts_at)
        return activity.id or 0

    def record(self, school: School, activity_id: int, at: datetime) -> int:
        pupil = create_student(self.session, school_id=school.id)
        return (
            create_record(
                self.session,
                student=pupil,
                activity_id=activity_id,
                status="confirmed",
                started_at=at,
            ).id
            or 0
        )

    def make(self, rule: ResolvedRule, school: School, n: int, *, short_week: bool = False) -> None:
        """``n`` of what the rule counts for ``school``; for a weekly rule ``n`` in every
        term week up to :data:`TODAY`, one fewer in one week when ``short_week``."""
        kind = rule.rule.measure.kind
        if rule.rule.period.kind is PeriodKind.week:
            weeks = [w for w in term_weeks(default_term_window(TERM)) if w.end <= TODAY]
            for index, week in enumerate(weeks):
                count = n - 1 if short_week and index == len(weeks) // 2 else n
                for _ in range(count):
                    self.activity(rule, school, at_beijing(week.start, 16))
            return
        if kind is MeasureKind.activity_count:
            for _ in range(n):
                self.activity(rule, school, IN_TERM)
        elif kind is MeasureKind.distinct_students:
            activity_id = self.activity(rule, school, IN_TERM) if n else 0
            for _ in range(n - 1):
                self.record(school, activity_id, IN_TERM)
        elif kind is MeasureKind.days_covered:
            if n:  # after the school's earlier tours, so that the days add up
                starts = self._free_day.get(school.id or 0, date(2026, 9, 1))
                self._free_day[school.id or 0] = starts + timedelta(days=n)
                self.session.add(
                    MobileMuseumTour(
                        bureau_id=self.bureau(school.region_code).id,
                        visited_school_id=school.id or 0,
                        starts_on=starts,
                        ends_on=starts + timedelta(days=n - 1),
                        created_by="account:1",
                        created_at=NOW,
                    )
                )
        elif kind is MeasureKind.pairing_exists:
            for _ in range(n):
                self.session.add(
                    Pairing(
                        school_id=school.id or 0,
                        venue_id=create_venue(self.session, region_code=school.region_code).id,
                        starts_on=date(2024, 3, 1),
                        proposed_by="school",
                        status="active",
                        created_by="account:1",
                        created_at=NOW,
                    )
                )
        elif kind is MeasureKind.staff_in_role:
            role = rule.rule.measure.staff_role
            assert role is not None
            for index in range(n):
                self.session.add(
                    SchoolScienceStaff(
                        school_id=school.id or 0,
                        role=role.value,
                        name=f"教师{index}",
                        started_on=date(2024, 3, 1),
                        created_by="account:1",
                        created_at=NOW,
                    )
                )
        else:
            raise AssertionError(f"no maker for {kind}")
        self.session.flush()

    def training(self, region_code: str, n: int, held_on: date = date(2026, 11, 10)) -> None:
        training = CounsellorTraining(
            bureau_id=self.bureau(region_code).id or 0,
            region_code=region_code,
            title=f"科技辅导员培训{next(_serial)}",
            held_on=held_on,
            created_by="account:1",
            created_at=NOW,
        )
        self.session.add(training)
        self.session.flush()
        self.session.add_all(
            CounsellorTrainingAttendee(training_id=training.id or 0, name=f"学员{i}")
            for i in range(n)
        )
        self.session.flush()


def window(start: date, end: date) -> Window:
    return Window(start, end)
