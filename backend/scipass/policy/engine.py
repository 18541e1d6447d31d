"""The one engine: a region's rules evaluated for its schools and a term.

The rules are data (:mod:`scipass.policy.loader`, with the bureaus' overrides:
:mod:`scipass.policy.effective`); this module measures them against what SciPass records:

* ``activity_count``: the activities (published or finished, matching the rule's filters) a
  school organised, or in which at least one of its pupils has a record that counts (not
  rejected, withdrawn or voided), started within the window;
* ``distinct_students``: the school's pupils with a counting record of such an activity;
* ``days_covered``: the days mobile science museum tours spent at the school, within the
  window (a day two tours share counts once);
* ``pairing_exists``: the school's active pairings (结对) with venues on the day of the state;
* ``staff_in_role``: the school's science staff of the role in post on that day;
* ``training_person_times``: attendances of the counsellor trainings held in the region.

A school rule is judged per school; a region rule (its subject ``region``) once for the
region, over the schools its ``applies_to`` selects. Each answer carries the figure, the
threshold, the window and the evidence (what counted, with a link). Weekly rules are met when
every term week that has ended (or already reached the number) did.

Figures are counted by a few set-based statements per rule over all the schools at once
(grouped by school), never one statement per school: a bureau's view of 500 schools runs the
same number of statements as one school's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, literal, or_
from sqlmodel import Session, col, select

from scipass.activity.models import Activity, ActivityStatus
from scipass.core.auth import region_prefix
from scipass.core.clock import Term, local_date
from scipass.org.measures_models import (
    CounsellorTraining,
    CounsellorTrainingAttendee,
    MobileMuseumTour,
    SchoolScienceStaff,
)
from scipass.org.models import Bureau, School, Venue, decode_stages
from scipass.org.organiser import OrganiserKind
from scipass.pairing.models import Pairing, PairingStatus
from scipass.policy import periods
from scipass.policy.loader import ResolvedRule
from scipass.policy.pack_schema import AreaScope, MeasureKind, PeriodKind, Subject
from scipass.policy.periods import Window
from scipass.record import measures as record_measures

LIVE_ACTIVITY = (ActivityStatus.published.value, ActivityStatus.finished.value)
EVIDENCE_LIMIT = 200  # evidence items kept per school and rule (the figure counts them all)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One thing that counted: an activity, a pairing, a staff member, a tour, a training."""

    kind: str
    id: int
    label: str
    on: date | None
    link: str


@dataclass(frozen=True, slots=True)
class WeekFigure:
    window: Window
    figure: int
    met: bool
    ended: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """A rule judged for a school (``school_id``) or for a region (``school_id`` None)."""

    rule: ResolvedRule
    region_code: str
    school_id: int | None
    window: Window
    figure: int
    threshold: int | None  # None: the bureau has not set one yet (the rule is not judged)
    met: bool | None
    evidence: tuple[Evidence, ...] = ()
    weeks: tuple[WeekFigure, ...] = ()
    due: date | None = None  # a deadline rule's date
    evidence_total: int = 0

    @property
    def rule_id(self) -> str:
        return self.rule.id


@dataclass
class _Found:
    """What a measure found per school: how many and which (dated, for weekly rules)."""

    figure: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    items: dict[int, list[Evidence]] = field(default_factory=lambda: defaultdict(list))


# --- which schools a rule concerns ---------------------------------------------------------


def applies(rule: ResolvedRule, school: School) -> bool:
    scope = rule.rule.applies_to
    if scope.area is not AreaScope.any and school.area != scope.area.value:
        return False
    if scope.stages and not set(decode_stages(school.stages)) & set(scope.stages):
        return False
    if scope.remote is not None and school.remote != scope.remote:
        return False
    urban = scope.main_urban_district
    return urban is None or school.main_urban_district == urban


def in_force(rule: ResolvedRule, window: Window) -> bool:
    force = rule.rule.in_force
    if force is None:
        return True
    return (force.start is None or force.start <= window.end) and (
        force.end is None or force.end >= window.start
    )


# --- windows -----------------------------------------------------------------------------------


def rule_window(rule: ResolvedRule, term: Term, term_window: Window) -> Window:
    kind = rule.rule.period.kind
    if kind is PeriodKind.school_year:
        return periods.school_year_window(term.school_year)
    return term_window  # semester, week (counted week by week) and deadline (its last day)


def state_day(window: Window, today: date) -> date:
    """The day a state (pairing, staff) is read on: the window's last day, or today."""
    return min(window.end, today)


# --- the measures ----------------------------------------------------------------------------


def _activity_filters(rule: ResolvedRule) -> list[ColumnElement[bool]]:
    measure = rule.rule.measure
    found: list[ColumnElement[bool]] = [col(Activity.status).in_(LIVE_ACTIVITY)]
    if measure.activity_kinds:
        found.append(col(Activity.kind).in_([k.value for k in measure.activity_kinds]))
    if measure.programmes:
        found.append(col(Activity.programme).in_([p.value for p in measure.programmes]))
    if measure.campaigns:
        wrapped = literal(",") + col(Activity.campaigns) + literal(",")
        found.append(or_(*(wrapped.like(f"%,{c.value},%") for c in measure.campaigns)))
    if measure.after_school is not None:
        found.append(col(Activity.after_school).is_(measure.after_school))
    if measure.organiser_kinds:
        keys = {
            OrganiserKind.school: Activity.school_id,
            OrganiserKind.venue: Activity.venue_id,
            OrganiserKind.bureau: Activity.bureau_id,
        }
        found.append(or_(*(col(keys[k]).is_not(None) for k in measure.organiser_kinds)))
    return found


Attendance = Mapping[int, set[int]]  # school id -> activities its pupils have records of
CHUNK = 5_000  # ids in one IN list (SQLite takes 32,766 parameters)


def attendance(session: Session, school_ids: Sequence[int], since: date) -> dict[int, set[int]]:
    """The activities in which each school's pupils have a record that counts, from records
    started on or after ``since``: read once (an index-only scan) for every rule."""
    found: dict[int, set[int]] = defaultdict(set)
    start = periods.bounds(Window(since, since))[0]
    for part in _chunks(school_ids):
        for school_id, activity_id in session.execute(
            record_measures.school_activity_pairs(part, start)
        ).all():
            if activity_id is not None:  # the statement selects none, mypy cannot know
                found[school_id].add(activity_id)
    return found


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _activities(
    session: Session,
    rule: ResolvedRule,
    school_ids: Sequence[int],
    window: Window,
    attended: Attendance,
) -> dict[int, dict[int, Evidence]]:
    """Per school, the matching activities it organised or its pupils took part in."""
    start, end = periods.bounds(window)
    conditions = [col(Activity.starts_at) >= start, col(Activity.starts_at) < end]
    conditions += _activity_filters(rule)
    columns = (
        col(Activity.school_id),
        col(Activity.id),
        col(Activity.title),
        col(Activity.starts_at),
    )
    found: dict[int, dict[int, Evidence]] = defaultdict(dict)
    wanted = sorted(set().union(*(attended.get(i, set()) for i in school_ids)))
    matching: dict[int, Evidence] = {}
    for part in _chunks(wanted):
        for _school, activity_id, title, starts_at in session.execute(
            select(*columns).where(col(Activity.id).in_(part), *conditions)
        ).all():
            assert activity_id is not None  # a stored row's key
            matching[activity_id] = _activity_evidence(activity_id, title, starts_at)
    for school_id in school_ids:
        for activity_id in attended.get(school_id, ()):
            if activity_id in matching:
                found[school_id][activity_id] = matching[activity_id]
    for part in _chunks(school_ids):
        for school_id, activity_id, title, starts_at in session.execute(
            select(*columns).where(col(Activity.school_id).in_(part), *conditions)
        ).all():
            assert school_id is not None  # selected by it
            assert activity_id is not None
            found[school_id][activity_id] = _activity_evidence(activity_id, title, starts_at)
    return found


def _organised_in(
    session: Session, rule: ResolvedRule, region_code: str, window: Window
) -> dict[int, Evidence]:
    """Matching activities a venue or a bureau of the region organised (a school's own
    count through :func:`_activities`)."""
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
                *_activity_filters(rule),
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


def _distinct_students(
    session: Session, rule: ResolvedRule, school_ids: Sequence[int], window: Window
) -> dict[int, int]:
    start, end = periods.bounds(window)
    when = [col(Activity.starts_at) >= start, col(Activity.starts_at) < end]
    rows = session.execute(
        record_measures.pupils_per_school(school_ids, [*when, *_activity_filters(rule)])
    ).all()
    return {school_id: int(count) for school_id, count in rows}


def _tours(session: Session, school_ids: Sequence[int], window: Window) -> _Found:
    found = _Found()
    rows = session.exec(
        select(MobileMuseumTour).where(
            col(MobileMuseumTour.visited_school_id).in_(school_ids),
            col(MobileMuseumTour.starts_on) <= window.end,
            col(MobileMuseumTour.ends_on) >= window.start,
        )
    ).all()
    covered: dict[int, set[date]] = defaultdict(set)
    for tour in rows:
        days = window.overlap(tour.starts_on, tour.ends_on)
        first = max(window.start, tour.starts_on)
        covered[tour.visited_school_id].update(first + timedelta(days=d) for d in range(days))
        found.items[tour.visited_school_id].append(
            Evidence(
                kind="mobile_museum_tour",
                id=tour.id or 0,
                label=f"流动科技馆 {tour.starts_on:%m-%d} 至 {tour.ends_on:%m-%d}（{days} 天）",
                on=tour.starts_on,
                link=f"/api/v1/mobile-museum-tours/{tour.id}",
            )
        )
    for school_id, days_seen in covered.items():  # two tours on one day cover it once
        found.figure[school_id] = len(days_seen)
    return found


def _pairings(session: Session, school_ids: Sequence[int], day: date) -> _Found:
    found = _Found()
    rows = session.exec(
        select(Pairing).where(
            col(Pairing.school_id).in_(school_ids),
            Pairing.status == PairingStatus.active.value,
            col(Pairing.starts_on) <= day,
            or_(col(Pairing.ends_on).is_(None), col(Pairing.ends_on) >= day),
        )
    ).all()
    for pairing in rows:
        found.figure[pairing.school_id] += 1
        found.items[pairing.school_id].append(
            Evidence(
                kind="pairing",
                id=pairing.id or 0,
                label=f"与场馆结对（{pairing.starts_on} 起）",
                on=pairing.starts_on,
                link=f"/api/v1/pairings/{pairing.id}",
            )
        )
    return found


def _staff(session: Session, rule: ResolvedRule, school_ids: Sequence[int], day: date) -> _Found:
    found = _Found()
    role = rule.rule.measure.staff_role
    assert role is not None  # the schema requires it of a staff_in_role measure
    rows = session.exec(
        select(SchoolScienceStaff).where(
            col(SchoolScienceStaff.school_id).in_(school_ids),
            SchoolScienceStaff.role == role.value,
            col(SchoolScienceStaff.started_on) <= day,
            or_(
                col(SchoolScienceStaff.ended_on).is_(None), col(SchoolScienceStaff.ended_on) >= day
            ),
        )
    ).all()
    for person in rows:
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


def _training(session: Session, region_code: str, window: Window) -> tuple[int, list[Evidence]]:
    prefix = region_prefix(region_code)
    rows = session.exec(
        select(CounsellorTraining, func.count(col(CounsellorTrainingAttendee.id)))
        .join(
            CounsellorTrainingAttendee,
            col(CounsellorTrainingAttendee.training_id) == CounsellorTraining.id,
        )
        .where(
            col(CounsellorTraining.region_code).startswith(prefix),
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
            label=f"{training.title}（{count} 人次）",
            on=training.held_on,
            link=f"/api/v1/counsellor-trainings/{training.id}",
        )
        for training, count in rows
    ]
    return sum(int(count) for _t, count in rows), evidence


# --- judging ---------------------------------------------------------------------------------


def _judge(figure: int, threshold: int | None) -> bool | None:
    return None if threshold is None else figure >= threshold


def _weekly(
    found: Mapping[int, Evidence], window: Window, threshold: int | None, today: date
) -> tuple[int, bool | None, tuple[WeekFigure, ...]]:
    """Weeks met (the figure) and whether every week asked for so far was met."""
    weeks = []
    for week in periods.term_weeks(window):
        if week.start > today:
            break
        figure = sum(1 for e in found.values() if e.on and week.start <= e.on <= week.end)
        ended = week.end < today
        met = threshold is not None and figure >= threshold
        if ended or met:
            weeks.append(WeekFigure(week, figure, met, ended))
    if threshold is None:
        return sum(1 for w in weeks if w.figure), None, tuple(weeks)
    return sum(1 for w in weeks if w.met), all(w.met for w in weeks), tuple(weeks)


def _evidence(items: Iterable[Evidence]) -> tuple[tuple[Evidence, ...], int]:
    ordered = sorted(items, key=lambda e: (e.on or date.min, e.id))
    return tuple(ordered[:EVIDENCE_LIMIT]), len(ordered)


@dataclass(frozen=True, slots=True)
class Scope:
    """The schools to judge and what each is judged by."""

    schools: Sequence[School]
    rules: Mapping[str, Sequence[ResolvedRule]]  # by school region code: its effective rules
    term: Term
    today: date


def evaluate_schools(session: Session, scope: Scope) -> list[Outcome]:
    """Every school rule for every school of the scope (rules that apply to it, switched on,
    in force in the window)."""
    term_windows = _term_windows(session, scope)
    # Group the work: one set of statements per (rule as it applies, window).
    groups: dict[tuple[int, Window], tuple[ResolvedRule, list[School]]] = {}
    for school in scope.schools:
        for rule in scope.rules.get(school.region_code, ()):
            if rule.rule.subject is not Subject.school or not rule.enabled:
                continue
            window = rule_window(rule, scope.term, term_windows[school.region_code])
            if not in_force(rule, window) or not applies(rule, school):
                continue
            key = (id(rule), window)
            groups.setdefault(key, (rule, []))[1].append(school)
    since = min((window.start for _key, window in groups), default=scope.today)
    attended = attendance(session, [s.id or 0 for s in scope.schools], since - timedelta(days=1))
    outcomes = []
    for (_key, window), (rule, schools) in groups.items():
        outcomes.extend(_school_outcomes(session, rule, schools, window, scope.today, attended))
    return outcomes


def _term_windows(session: Session, scope: Scope) -> dict[str, Window]:
    codes = {school.region_code for school in scope.schools}
    return {code: periods.region_term_window(session, code, scope.term) for code in codes}


def _school_outcomes(
    session: Session,
    rule: ResolvedRule,
    schools: Sequence[School],
    window: Window,
    today: date,
    attended: Attendance,
) -> list[Outcome]:
    ids = [school.id or 0 for school in schools]
    kind = rule.rule.measure.kind
    threshold = rule.threshold_min
    results = []
    if kind is MeasureKind.activity_count:
        found = _activities(session, rule, ids, window, attended)
        for school in schools:
            mine = found.get(school.id or 0, {})
            evidence, total = _evidence(mine.values())
            if rule.rule.period.kind is PeriodKind.week:
                figure, met, weeks = _weekly(mine, window, threshold, today)
            else:
                figure, met, weeks = len(mine), _judge(len(mine), threshold), ()
            results.append(
                Outcome(rule, school.region_code, school.id, window, figure, threshold, met,
                        evidence, weeks, evidence_total=total)
            )  # fmt: skip
        return results
    if kind is MeasureKind.distinct_students:
        counts = _distinct_students(session, rule, ids, window)
        found = _activities(session, rule, ids, window, attended)
        for school in schools:
            figure = counts.get(school.id or 0, 0)
            evidence, total = _evidence(found.get(school.id or 0, {}).values())
            results.append(
                Outcome(rule, school.region_code, school.id, window, figure, threshold,
                        _judge(figure, threshold), evidence, evidence_total=total)
            )  # fmt: skip
        return results
    day = state_day(window, today)
    if kind is MeasureKind.days_covered:
        figures = _tours(session, ids, window)
    elif kind is MeasureKind.pairing_exists:
        figures = _pairings(session, ids, day)
    elif kind is MeasureKind.staff_in_role:
        figures = _staff(session, rule, ids, day)
    else:  # a region's measure: the schema keeps it off school rules
        raise ValueError(f"{kind} is not a school measure")
    due = rule.rule.period.deadline
    for school in schools:
        figure = figures.figure.get(school.id or 0, 0)
        evidence, total = _evidence(figures.items.get(school.id or 0, []))
        results.append(
            Outcome(rule, school.region_code, school.id, window, figure, threshold,
                    _judge(figure, threshold), evidence, due=due, evidence_total=total)
        )  # fmt: skip
    return results


def evaluate_region(
    session: Session,
    *,
    region_code: str,
    rules: Sequence[ResolvedRule],
    schools: Sequence[School],
    term: Term,
    today: date,
) -> list[Outcome]:
    """The region's own rules (subject ``region``), counted over ``schools`` (the region's)."""
    term_window = periods.region_term_window(session, region_code, term)
    outcomes = []
    for rule in rules:
        if rule.rule.subject is not Subject.region or not rule.enabled:
            continue
        if region_code not in (rule.region_code, rule.min_from.region_code):
            continue  # a region rule is the region's whose pack (or bureau) set it
        window = rule_window(rule, term, term_window)
        if not in_force(rule, window):
            continue
        chosen = [school for school in schools if applies(rule, school)]
        figure, items = _region_figure(session, rule, region_code, chosen, window)
        evidence, total = _evidence(items)
        threshold = rule.threshold_min
        outcomes.append(
            Outcome(rule, region_code, None, window, figure, threshold,
                    _judge(figure, threshold), evidence, due=rule.rule.period.deadline,
                    evidence_total=total)
        )  # fmt: skip
    return outcomes


def _region_figure(
    session: Session,
    rule: ResolvedRule,
    region_code: str,
    schools: Sequence[School],
    window: Window,
) -> tuple[int, list[Evidence]]:
    kind = rule.rule.measure.kind
    ids = [school.id or 0 for school in schools]
    if kind is MeasureKind.training_person_times:
        return _training(session, region_code, window)
    if kind is MeasureKind.days_covered:
        found = _tours(session, ids, window)
        return sum(found.figure.values()), [e for items in found.items.values() for e in items]
    if kind is MeasureKind.activity_count:
        activities = _organised_in(session, rule, region_code, window)
        attended = attendance(session, ids, window.start - timedelta(days=1))
        for mine in _activities(session, rule, ids, window, attended).values():
            activities.update(mine)
        return len(activities), list(activities.values())
    if kind is MeasureKind.distinct_students:
        counts = _distinct_students(session, rule, ids, window)
        return sum(counts.values()), []
    raise ValueError(f"{kind} is not a region measure")


def summary(outcomes: Iterable[Outcome]) -> dict[str, Any]:
    """Met, not met and not judged, counted per rule."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"met": 0, "missed": 0, "open": 0})
    for outcome in outcomes:
        key = "open" if outcome.met is None else ("met" if outcome.met else "missed")
        counts[outcome.rule_id][key] += 1
    return dict(counts)
