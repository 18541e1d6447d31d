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
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, literal, or_
from sqlmodel import Session, col, select

from scipass.activity.models import Activity, ActivityStatus
from scipass.core.auth import region_prefix
from scipass.core.clock import Term, local_date, school_year_of
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
    # Why ``met`` is None: no number set, no week asked yet, or a deadline still ahead.
    not_judged: str = ""
    default_calendar: bool = False  # weekly rules: counted by the code's terms, no calendar

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


def in_force(window: Window) -> bool:
    """Whether any of the window is left once cut to the rule's time in force."""
    return not window.empty


# --- windows -----------------------------------------------------------------------------------


def rule_window(rule: ResolvedRule, term: Term, term_window: Window) -> Window:
    """The rule's window for the term, cut to the time its document is in force."""
    kind = rule.rule.period.kind
    if kind is PeriodKind.school_year:
        window = periods.school_year_window(term.school_year)
    else:  # semester, week (counted week by week) and deadline (its last day)
        window = term_window
    force = rule.rule.in_force
    return window if force is None else window.within(force.start, force.end)


def state_day(window: Window, today: date) -> date:
    """The day a state (pairing, staff) is read on: the window's last day, or today."""
    return min(window.end, today)


# --- the measures ----------------------------------------------------------------------------


def _activity_filters(rule: ResolvedRule) -> list[ColumnElement[bool]]:
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
    for part in _chunks(school_ids):
        for school_id, activity_id, pupils in session.execute(
            record_measures.school_activity_pupils(part, start)
        ).all():
            if activity_id is not None:  # the statement selects none, mypy cannot know
                found[school_id][activity_id] = int(pupils)
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
    least = rule.rule.measure.min_pupils
    taking_part = {
        school_id: {a for a, pupils in attended.get(school_id, {}).items() if pupils >= least}
        for school_id in school_ids
    }
    wanted = sorted(set().union(*taking_part.values()))
    matching: dict[int, Evidence] = {}
    for part in _chunks(wanted):
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
    for part in _chunks(school_ids):
        for school_id, activity_id, title, starts_at in session.execute(
            select(*columns).where(col(Activity.school_id).in_(part), *own)
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
    found: dict[int, int] = {}
    for part in _chunks(school_ids):
        rows = session.execute(
            record_measures.pupils_per_school(part, [*when, *_activity_filters(rule)])
        ).all()
        found.update((school_id, int(count)) for school_id, count in rows)
    return found


def _tours(session: Session, school_ids: Sequence[int], window: Window) -> _Found:
    """Per school, the days mobile museum tours spent there (a day two tours share counts
    once)."""
    found = _Found()
    covered: dict[int, set[date]] = defaultdict(set)
    for part in _chunks(school_ids):
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


def _pairings(session: Session, school_ids: Sequence[int], day: date) -> _Found:
    found = _Found()
    for part in _chunks(school_ids):
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


def _staff(session: Session, rule: ResolvedRule, school_ids: Sequence[int], day: date) -> _Found:
    found = _Found()
    role = rule.rule.measure.staff_role
    assert role is not None  # the schema requires it of a staff_in_role measure
    for part in _chunks(school_ids):
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


def _training(session: Session, region_code: str, window: Window) -> tuple[int, list[Evidence]]:
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


# --- judging ---------------------------------------------------------------------------------


def _judge(figure: int, threshold: int | None) -> bool | None:
    return None if threshold is None else figure >= threshold


def _weekly(
    found: Mapping[int, Evidence], window: Window, threshold: int | None, today: date
) -> tuple[int, bool | None, tuple[WeekFigure, ...]]:
    """Weeks met (the figure) and whether every week asked for so far was met: a week is
    asked for once it has ended, or earlier when it already reached the number. None while
    no week has been asked for (or without a number)."""
    weeks = []
    for week in periods.term_weeks(window):
        if week.start > today:
            break
        figure = sum(1 for e in found.values() if e.on and week.start <= e.on <= week.end)
        ended = week.end < today
        met = threshold is not None and figure >= threshold
        if ended or met:
            weeks.append(WeekFigure(week, figure, met, ended))
    if threshold is None or not weeks:
        return sum(1 for w in weeks if w.figure), None, tuple(weeks)
    return sum(1 for w in weeks if w.met), all(w.met for w in weeks), tuple(weeks)


def _deadline(
    rule: ResolvedRule, figure: int, threshold: int | None, day: date
) -> tuple[bool | None, str]:
    """A deadline rule: met once reached; before its date a shortfall is not yet a miss."""
    due = rule.rule.period.deadline
    met = _judge(figure, threshold)
    if met is False and due is not None and day < due:
        return None, f"截止日期 {due:%Y-%m-%d} 前完成（现为 {figure}，要求 {threshold}）"
    return met, ""


def _not_judged(threshold: int | None) -> str:
    return "教育局尚未设定该指标的数值" if threshold is None else ""


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
            window = rule_window(rule, scope.term, term_windows[school.region_code][0])
            if not in_force(window) or not applies(rule, school):
                continue
            key = (id(rule), window)
            groups.setdefault(key, (rule, []))[1].append(school)
    since = min((window.start for _key, window in groups), default=scope.today)
    attended = attendance(session, [s.id or 0 for s in scope.schools], since - timedelta(days=1))
    outcomes = []
    for (_key, window), (rule, schools) in groups.items():
        found = _school_outcomes(session, rule, schools, window, scope.today, attended)
        if rule.rule.period.kind is PeriodKind.week:
            found = [replace(o, default_calendar=not term_windows[o.region_code][1]) for o in found]
        outcomes.extend(found)
    return outcomes


def _term_windows(session: Session, scope: Scope) -> dict[str, tuple[Window, bool]]:
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
    """One outcome per school. What happens is counted up to ``today`` (a published
    activity of next month does not count yet); states are read on the window's last day, or
    today."""
    ids = [school.id or 0 for school in schools]
    kind = rule.rule.measure.kind
    threshold = rule.threshold_min
    happened = window.clipped(today)
    results = []
    if kind is MeasureKind.activity_count:
        found = _activities(session, rule, ids, happened, attended) if not happened.empty else {}
        for school in schools:
            mine = found.get(school.id or 0, {})
            evidence, total = _evidence(mine.values())
            weeks: tuple[WeekFigure, ...] = ()
            if rule.rule.period.kind is PeriodKind.week:
                figure, met, weeks = _weekly(mine, window, threshold, today)
                why = "本学期尚无已结束的教学周" if met is None and threshold is not None else ""
            else:
                figure, met, why = len(mine), _judge(len(mine), threshold), ""
            results.append(
                Outcome(rule, school.region_code, school.id, window, figure, threshold, met,
                        evidence, weeks, evidence_total=total,
                        not_judged=why or _not_judged(threshold))
            )  # fmt: skip
        return results
    if kind is MeasureKind.distinct_students:
        counts = _distinct_students(session, rule, ids, happened) if not happened.empty else {}
        found = _activities(session, rule, ids, happened, attended) if not happened.empty else {}
        for school in schools:
            figure = counts.get(school.id or 0, 0)
            evidence, total = _evidence(found.get(school.id or 0, {}).values())
            results.append(
                Outcome(rule, school.region_code, school.id, window, figure, threshold,
                        _judge(figure, threshold), evidence, evidence_total=total,
                        not_judged=_not_judged(threshold))
            )  # fmt: skip
        return results
    day = state_day(window, today)
    if kind is MeasureKind.days_covered:
        figures = _tours(session, ids, happened) if not happened.empty else _Found()
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
        met, why = _deadline(rule, figure, threshold, day)
        results.append(
            Outcome(rule, school.region_code, school.id, window, figure, threshold, met,
                    evidence, due=due, evidence_total=total,
                    not_judged=why or _not_judged(threshold))
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
    term_window, _calendar = periods.region_term_window(session, region_code, term)
    outcomes = []
    for rule in rules:
        if rule.rule.subject is not Subject.region or not rule.enabled:
            continue
        if region_code not in (rule.region_code, rule.min_from.region_code):
            continue  # a region rule is the region's whose pack (or bureau) set it
        window = rule_window(rule, term, term_window)
        if not in_force(window):
            continue
        chosen = [school for school in schools if applies(rule, school)]
        happened = window.clipped(today)
        figure, items = (
            (0, [])
            if happened.empty
            else _region_figure(session, rule, region_code, chosen, happened)
        )
        evidence, total = _evidence(items)
        threshold = rule.threshold_min
        met, why = _deadline(rule, figure, threshold, state_day(window, today))
        outcomes.append(
            Outcome(rule, region_code, None, window, figure, threshold, met, evidence,
                    due=rule.rule.period.deadline, evidence_total=total,
                    not_judged=why or _not_judged(threshold))
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
        return _tour_days(session, ids, window)
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


def _tour_days(
    session: Session, school_ids: Sequence[int], window: Window
) -> tuple[int, list[Evidence]]:
    """A region's mobile museum time: the days each museum (its organiser) spent at the
    region's schools, so one stay serving two schools side by side counts its days once."""
    busy: set[tuple[tuple[int | None, int | None, int | None], date]] = set()
    evidence = []
    for part in _chunks(school_ids):
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
