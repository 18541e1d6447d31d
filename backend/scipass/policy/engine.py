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

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlmodel import Session

from scipass.core.clock import Term
from scipass.org.models import School, decode_stages
from scipass.policy import measures, periods
from scipass.policy.loader import ResolvedRule
from scipass.policy.measures import Evidence
from scipass.policy.pack_schema import AreaScope, MeasureKind, PeriodKind, Subject
from scipass.policy.periods import Window

EVIDENCE_LIMIT = 200  # evidence items kept per school and rule (the figure counts them all)


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


# --- judging ---------------------------------------------------------------------------------


def _judge(figure: int, threshold: int | None) -> bool | None:
    return None if threshold is None else figure >= threshold


def _weekly(
    found: Mapping[int, Evidence], window: Window, threshold: int | None, today: date
) -> tuple[int, bool | None, tuple[WeekFigure, ...]]:
    """Weeks met (the figure) and whether every week asked for so far was met: a week is
    asked for once it has ended, or earlier when it already reached the number. None while
    no week has been asked for (or without a number)."""
    per_week = Counter(
        periods.week_of_day(window).get(e.on, -1) for e in found.values() if e.on is not None
    )
    weeks = []
    for index, week in enumerate(periods.term_weeks(window)):
        if week.start > today:
            break
        figure = per_week[index]
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
    attended = measures.attendance(
        session, [s.id or 0 for s in scope.schools], since - timedelta(days=1)
    )
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
    attended: measures.Attendance,
) -> list[Outcome]:
    """One outcome per school. What happens is counted up to ``today`` (a published
    activity of next month does not count yet); states are read on the window's last day, or
    today."""
    ids = [school.id or 0 for school in schools]
    kind = rule.rule.measure.kind
    threshold = rule.threshold_min
    happened = window.clipped(today)
    counted = [] if happened.empty else ids  # nothing has happened in the window yet
    results = []
    if kind is MeasureKind.activity_count:
        found = measures.activities(session, rule, counted, happened, attended)
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
        counts = measures.distinct_students(session, rule, counted, happened)
        found = measures.activities(session, rule, counted, happened, attended)
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
        figures = measures.tours(session, counted, happened)
    elif kind is MeasureKind.pairing_exists:
        figures = measures.pairings(session, ids, day)
    elif kind is MeasureKind.staff_in_role:
        figures = measures.staff(session, rule, ids, day)
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
        return measures.training(session, region_code, window)
    if kind is MeasureKind.days_covered:
        return measures.tour_days(session, ids, window)
    if kind is MeasureKind.activity_count:
        activities = measures.organised_in(session, rule, region_code, window)
        attended = measures.attendance(session, ids, window.start - timedelta(days=1))
        for mine in measures.activities(session, rule, ids, window, attended).values():
            activities.update(mine)
        return len(activities), list(activities.values())
    if kind is MeasureKind.distinct_students:
        counts = measures.distinct_students(session, rule, ids, window)
        return sum(counts.values()), []
    raise ValueError(f"{kind} is not a region measure")
