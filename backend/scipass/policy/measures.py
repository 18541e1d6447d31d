"""What the policy rules measure, read from the database for many schools at once (the
engine, :mod:`scipass.policy.engine`, judges the figures). Each reader runs a few set-based
statements for all the schools it is given (IN lists in chunks), never one per school.

* activities: the rule's filters, the school's own (``own_kinds``), and the activities in
  which at least ``min_pupils`` of its pupils have a record that counts, read once per
  evaluation from the records' index (:func:`attendance`);
* mobile museum tours (distinct days per school; per museum for a region), pairings and
  science staff in force on a day, counsellor trainings by the attendees' regions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, literal, or_
from sqlmodel import Session, col, select

from scipass.activity.models import Activity, ActivityStatus
from scipass.core.auth import region_prefix
from scipass.core.clock import local_date, school_year_of
from scipass.org.measures_models import (
    CounsellorTraining,
    CounsellorTrainingAttendee,
    MobileMuseumTour,
    SchoolScienceStaff,
)
from scipass.org.models import Bureau, School, Venue
from scipass.org.organiser import OrganiserKind
from scipass.pairing.models import Pairing, PairingStatus
from scipass.policy import periods
from scipass.policy.loader import ResolvedRule
from scipass.policy.periods import Window
from scipass.record import measures as record_measures

LIVE_ACTIVITY = (ActivityStatus.published.value, ActivityStatus.finished.value)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One thing that counted: an activity, a pairing, a staff member, a tour, a training."""

    kind: str
    id: int
    label: str
    on: date | None
    link: str


@dataclass
class Found:
    """What a measure found per school: how many and which (dated, for weekly rules)."""

    figure: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    items: dict[int, list[Evidence]] = field(default_factory=lambda: defaultdict(list))


def activity_filters(rule: ResolvedRule) -> list[ColumnElement[bool]]:
    """Every filter of the rule's measure."""
    return [*_common_filters(rule), *_kind_filters(rule)]


def _common_filters(rule: ResolvedRule) -> list[ColumnElement[bool]]:
    """What an activity must be whoever held it: live, its programme, campaigns, after-school."""
    measure = rule.rule.measure
    found: list[ColumnElement[bool]] = [col(Activity.status).in_(LIVE_ACTIVITY)]
    if measure.programmes:
        found.append(col(Activity.programme).in_([p.value for p in measure.programmes]))
    if measure.campaigns:
        wrapped = literal(",") + col(Activity.campaigns) + literal(",")
        found.append(or_(*(wrapped.like(f"%,{c.value},%") for c in measure.campaigns)))
    if measure.after_school is not None:
        found.append(col(Activity.after_school).is_(measure.after_school))
    return found


def _kind_filters(rule: ResolvedRule) -> list[ColumnElement[bool]]:
    """Its kinds and who organised it (``own_kinds`` widens these for a school's own)."""
    measure = rule.rule.measure
    found: list[ColumnElement[bool]] = []
    if measure.activity_kinds:
        found.append(col(Activity.kind).in_([k.value for k in measure.activity_kinds]))
    if measure.organiser_kinds:
        keys = {
            OrganiserKind.school: Activity.school_id,
            OrganiserKind.venue: Activity.venue_id,
            OrganiserKind.bureau: Activity.bureau_id,
        }
        found.append(or_(*(col(keys[k]).is_not(None) for k in measure.organiser_kinds)))
    return found


def _own_filters(rule: ResolvedRule) -> list[ColumnElement[bool]]:
    """A school's own activity: the rule's filters, or one of ``own_kinds``."""
    kinds = _kind_filters(rule)
    own = rule.rule.measure.own_kinds
    if not own or not kinds:
        return [*_common_filters(rule), *kinds]
    either = or_(and_(*kinds), col(Activity.kind).in_([k.value for k in own]))
    return [*_common_filters(rule), either]


Attendance = Mapping[int, Mapping[int, int]]  # school -> activity -> pupils with a record
CHUNK = 5_000  # ids in one IN list (SQLite takes 32,766 parameters)


def attendance(
    session: Session, school_ids: Sequence[int], since: date
) -> dict[int, dict[int, int]]:
    """How many of each school's pupils have a record that counts of each activity, from
    records started on or after ``since``: read once (an index-only scan) for every rule."""
    found: dict[int, dict[int, int]] = defaultdict(dict)
    start = periods.bounds(Window(since, since))[0]
    for part in chunks(school_ids):
        for school_id, activity_id, pupils in session.execute(
            record_measures.school_activity_pupils(part, start)
        ).all():
            if activity_id is not None:  # the statement selects none, mypy cannot know
                found[school_id][activity_id] = int(pupils)
    return found


def chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def activities(
    session: Session,
    rule: ResolvedRule,
    school_ids: Sequence[int],
    window: Window,
    attended: Attendance,
) -> dict[int, dict[int, Evidence]]:
    """Per school, the matching activities it organised or its pupils took part in."""
    start, end = periods.bounds(window)
    conditions = [col(Activity.starts_at) >= start, col(Activity.starts_at) < end]
    conditions += activity_filters(rule)
    columns = (
        col(Activity.school_id),
        col(Activity.id),
        col(Activity.title),
        col(Activity.starts_at),
    )
    found: dict[int, dict[int, Evidence]] = defaultdict(dict)
    least = rule.rule.measure.min_pupils
    taking_part = {
        school_id: {a for a, pupils in attended.get(school_id, {}).items() if pupils >= least}
        for school_id in school_ids
    }
    wanted = sorted(set().union(*taking_part.values()))
    matching: dict[int, Evidence] = {}
    for part in chunks(wanted):
        for _school, activity_id, title, starts_at in session.execute(
            select(*columns).where(col(Activity.id).in_(part), *conditions)
        ).all():
            assert activity_id is not None  # a stored row's key
            matching[activity_id] = _activity_evidence(activity_id, title, starts_at)
    for school_id in school_ids:
        for activity_id in taking_part[school_id]:
            if activity_id in matching:
                found[school_id][activity_id] = matching[activity_id]
    own = [col(Activity.starts_at) >= start, col(Activity.starts_at) < end, *_own_filters(rule)]
    for part in chunks(school_ids):
        for school_id, activity_id, title, starts_at in session.execute(
            select(*columns).where(col(Activity.school_id).in_(part), *own)
        ).all():
            assert school_id is not None  # selected by it
            assert activity_id is not None
            found[school_id][activity_id] = _activity_evidence(activity_id, title, starts_at)
    return found


def organised_in(
    session: Session, rule: ResolvedRule, region_code: str, window: Window
) -> dict[int, Evidence]:
    """Matching activities a venue or a bureau of the region organised (a school's own
    count through :func:`activities`)."""
    start, end = periods.bounds(window)
    prefix = region_prefix(region_code)
    found: dict[int, Evidence] = {}
    for organiser, key in ((Venue, Activity.venue_id), (Bureau, Activity.bureau_id)):
        rows = session.exec(
            select(col(Activity.id), col(Activity.title), col(Activity.starts_at))
            .join(organiser, col(organiser.id) == key)
            .where(
                col(organiser.region_code).startswith(prefix),
                col(Activity.starts_at) >= start,
                col(Activity.starts_at) < end,
                *activity_filters(rule),
            )
        ).all()
        for activity_id, title, starts_at in rows:
            assert activity_id is not None  # a stored row's key
            found[activity_id] = _activity_evidence(activity_id, title, starts_at)
    return found


def _activity_evidence(activity_id: int, title: str, starts_at: datetime) -> Evidence:
    return Evidence(
        kind="activity",
        id=activity_id,
        label=title,
        on=local_date(starts_at),
        link=f"/api/v1/activities/{activity_id}",
    )


def distinct_students(
    session: Session, rule: ResolvedRule, school_ids: Sequence[int], window: Window
) -> dict[int, int]:
    start, end = periods.bounds(window)
    when = [col(Activity.starts_at) >= start, col(Activity.starts_at) < end]
    found: dict[int, int] = {}
    for part in chunks(school_ids):
        rows = session.execute(
            record_measures.pupils_per_school(part, [*when, *activity_filters(rule)])
        ).all()
        found.update((school_id, int(count)) for school_id, count in rows)
    return found


def tours(session: Session, school_ids: Sequence[int], window: Window) -> Found:
    """Per school, the days mobile museum tours spent there (a day two tours share counts
    once)."""
    found = Found()
    covered: dict[int, set[date]] = defaultdict(set)
    for part in chunks(school_ids):
        for tour in session.exec(
            select(MobileMuseumTour).where(
                col(MobileMuseumTour.visited_school_id).in_(part),
                col(MobileMuseumTour.starts_on) <= window.end,
                col(MobileMuseumTour.ends_on) >= window.start,
            )
        ).all():
            days = window.overlap(tour.starts_on, tour.ends_on)
            first = max(window.start, tour.starts_on)
            covered[tour.visited_school_id].update(first + timedelta(days=d) for d in range(days))
            found.items[tour.visited_school_id].append(_tour_evidence(tour, days))
    for school_id, days_seen in covered.items():
        found.figure[school_id] = len(days_seen)
    return found


def _tour_evidence(tour: MobileMuseumTour, days: int) -> Evidence:
    return Evidence(
        kind="mobile_museum_tour",
        id=tour.id or 0,
        label=f"流动科技馆 {tour.starts_on:%m-%d} 至 {tour.ends_on:%m-%d}（计 {days} 天）",
        on=tour.starts_on,
        link=f"/api/v1/mobile-museum-tours?school_year={school_year_of(tour.starts_on)}",
    )


def pairings(session: Session, school_ids: Sequence[int], day: date) -> Found:
    found = Found()
    for part in chunks(school_ids):
        for pairing in session.exec(
            select(Pairing).where(
                col(Pairing.school_id).in_(part),
                # in force that day: an ended pairing keeps its dates, so past terms see it
                col(Pairing.status).in_([PairingStatus.active.value, PairingStatus.ended.value]),
                col(Pairing.starts_on) <= day,
                or_(col(Pairing.ends_on).is_(None), col(Pairing.ends_on) >= day),
            )
        ).all():
            found.figure[pairing.school_id] += 1
            found.items[pairing.school_id].append(
                Evidence(
                    kind="pairing",
                    id=pairing.id or 0,
                    label=f"与场馆结对（{pairing.starts_on} 起）",
                    on=pairing.starts_on,
                    link="/api/v1/pairings",
                )
            )
    return found


def staff(session: Session, rule: ResolvedRule, school_ids: Sequence[int], day: date) -> Found:
    found = Found()
    role = rule.rule.measure.staff_role
    assert role is not None  # the schema requires it of a staff_in_role measure
    for part in chunks(school_ids):
        for person in session.exec(
            select(SchoolScienceStaff).where(
                col(SchoolScienceStaff.school_id).in_(part),
                SchoolScienceStaff.role == role.value,
                col(SchoolScienceStaff.started_on) <= day,
                or_(
                    col(SchoolScienceStaff.ended_on).is_(None),
                    col(SchoolScienceStaff.ended_on) >= day,
                ),
            )
        ).all():
            found.figure[person.school_id] += 1
            found.items[person.school_id].append(
                Evidence(
                    kind="science_staff",
                    id=person.id or 0,
                    label=person.name,
                    on=person.started_on,
                    link=f"/api/v1/schools/{person.school_id}/science-staff",
                )
            )
    return found


def training(session: Session, region_code: str, window: Window) -> tuple[int, list[Evidence]]:
    """Attendances of counsellor trainings held in the window by counsellors of the region:
    an attendee from a school counts for the school's region (wherever the training was held),
    one named without a school for the region of the bureau that held it."""
    prefix = region_prefix(region_code)
    home = func.coalesce(col(School.region_code), col(CounsellorTraining.region_code))
    rows = session.exec(
        select(CounsellorTraining, func.count(col(CounsellorTrainingAttendee.id)))
        .join(
            CounsellorTrainingAttendee,
            col(CounsellorTrainingAttendee.training_id) == CounsellorTraining.id,
        )
        .join(School, col(School.id) == CounsellorTrainingAttendee.school_id, isouter=True)
        .where(
            home.startswith(prefix),
            col(CounsellorTraining.held_on) >= window.start,
            col(CounsellorTraining.held_on) <= window.end,
        )
        .group_by(col(CounsellorTraining.id))
        .order_by(col(CounsellorTraining.held_on))
    ).all()
    evidence = [
        Evidence(
            kind="counsellor_training",
            id=training.id or 0,
            label=f"{training.title}（本地区 {count} 人次）",
            on=training.held_on,
            link=(
                f"/api/v1/counsellor-trainings?region_code={training.region_code}"
                f"&school_year={school_year_of(training.held_on)}"
            ),
        )
        for training, count in rows
    ]
    return sum(int(count) for _t, count in rows), evidence


def tour_days(
    session: Session, school_ids: Sequence[int], window: Window
) -> tuple[int, list[Evidence]]:
    """A region's mobile museum time: the days each museum (its organiser) spent at the
    region's schools, so one stay serving two schools side by side counts its days once."""
    busy: set[tuple[tuple[int | None, int | None, int | None], date]] = set()
    evidence = []
    for part in chunks(school_ids):
        for tour in session.exec(
            select(MobileMuseumTour).where(
                col(MobileMuseumTour.visited_school_id).in_(part),
                col(MobileMuseumTour.starts_on) <= window.end,
                col(MobileMuseumTour.ends_on) >= window.start,
            )
        ).all():
            museum = (tour.school_id, tour.venue_id, tour.bureau_id)
            first = max(window.start, tour.starts_on)
            days = window.overlap(tour.starts_on, tour.ends_on)
            busy.update((museum, first + timedelta(days=d)) for d in range(days))
            evidence.append(_tour_evidence(tour, days))
    return len(busy), evidence
