"""The engine against every shipped rule: a school (or region) that just meets it and one that
just misses it; period boundaries in Asia/Shanghai; weekly rules over term weeks only."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlmodel import Session

from scipass.core.clock import Semester, Term
from scipass.org.measures_models import SchoolCalendar
from scipass.org.models import School
from scipass.policy import engine
from scipass.policy.engine import Outcome
from scipass.policy.loader import ResolvedRule
from scipass.policy.pack_schema import Subject
from scipass.policy.packs import current
from tests.factories import NOW
from tests.policy.scenes import (
    DISTRICT_OF_PACK,
    TERM,
    TODAY,
    Maker,
    at_beijing,
    regions,
    school_for,
)


def shipped_rules() -> list[tuple[str, ResolvedRule]]:
    """Every rule of every shipped pack, once, with the region of the pack defining it."""
    found: dict[str, tuple[str, ResolvedRule]] = {}
    for resolved in current().by_id.values():
        for rule in resolved.rules:
            if rule.region_code is not None and rule.id not in found:
                own = current().for_region(rule.region_code).rule(rule.id)  # as its pack says
                assert own is not None
                found[rule.id] = (rule.region_code, own)
    return sorted(found.values(), key=lambda item: item[1].id)


RULES = shipped_rules()


def judged(rule: ResolvedRule) -> ResolvedRule:
    """The rule with a number: a rule the document leaves to the bureau gets 2 here."""
    return rule if rule.threshold_min is not None else replace(rule, threshold_min=2)


def evaluate_school(
    session: Session,
    rule: ResolvedRule,
    school_region: str,
    *schools: School,
    today: date = TODAY,
) -> list[Outcome]:
    scope = engine.Scope(list(schools), {school_region: [rule]}, TERM, today)
    return engine.evaluate_schools(session, scope)


def test_every_shipped_pack_has_rules_to_test() -> None:
    assert {rule.id for _code, rule in RULES} >= {
        "venue_visit_yearly",
        "after_school_science_weekly",
        "top_scientist_talks_yearly",
        "mobile_museum_remote_yearly",
        "counsellor_training_city_yearly",
        "counsellor_training_county_yearly",
        "scientist_in_school_semester",
        "practice_at_base_semester",
        "science_first_lesson_semester",
        "venue_pairing_main_urban",
        "science_vice_principal",
        "science_counsellor",
        "venue_visit_regular",
    }


@pytest.mark.parametrize(("pack_region", "rule"), RULES, ids=[rule.id for _c, rule in RULES])
def test_a_school_or_region_that_just_meets_a_rule_and_one_that_just_misses_it(
    session: Session, pack_region: str, rule: ResolvedRule
) -> None:
    regions(session)
    rule = judged(rule)
    threshold = rule.threshold_min
    assert threshold is not None
    maker = Maker(session)
    if rule.rule.subject is Subject.region:
        _region_meets_and_misses(session, maker, pack_region, rule, threshold)
        return
    district = DISTRICT_OF_PACK[pack_region]
    meets = school_for(session, rule, district)
    misses = school_for(session, rule, district)
    if rule.rule.period.kind.value == "week":
        maker.make(rule, meets, threshold)
        maker.make(rule, misses, threshold, short_week=True)
    else:
        maker.make(rule, meets, threshold)
        maker.make(rule, misses, threshold - 1)
    by_school = {o.school_id: o for o in evaluate_school(session, rule, district, meets, misses)}
    assert by_school[meets.id].met is True, by_school[meets.id]
    assert by_school[misses.id].met is False, by_school[misses.id]
    assert by_school[misses.id].figure < by_school[meets.id].figure
    if rule.rule.period.kind.value != "week":
        assert by_school[meets.id].figure == threshold
        assert len(by_school[meets.id].evidence) == by_school[meets.id].evidence_total


def _region_meets_and_misses(
    session: Session, maker: Maker, region: str, rule: ResolvedRule, threshold: int
) -> None:
    """A region rule: the figure of the region's schools (or trainings) one short, then met."""
    school = school_for(session, rule, DISTRICT_OF_PACK.get(region, region))
    if rule.rule.measure.kind.value == "training_person_times":
        maker.training(region, threshold - 1)
        maker.training(region, 5, held_on=date(2026, 8, 31))  # the school year before
    else:
        maker.make(rule, school, threshold - 1)

    def outcome() -> Outcome:
        found = engine.evaluate_region(
            session,
            region_code=region,
            rules=[rule],
            schools=[school],
            term=TERM,
            today=TODAY,
        )
        assert len(found) == 1
        return found[0]

    short = outcome()
    assert (short.met, short.figure) == (False, threshold - 1)
    if rule.rule.measure.kind.value == "training_person_times":
        maker.training(region, 1)
    else:
        maker.make(rule, school, 1)
    reached = outcome()
    assert (reached.met, reached.figure) == (True, threshold)


def test_a_rule_left_to_the_bureau_is_not_judged_until_it_sets_a_number(session: Session) -> None:
    regions(session)
    rule = current().for_region("150402").rule("venue_visit_regular")
    assert rule is not None
    assert rule.threshold_min is None
    school = school_for(session, rule, "150402")
    Maker(session).make(rule, school, 3)
    (outcome,) = evaluate_school(session, rule, "150402", school)
    assert (outcome.figure, outcome.threshold, outcome.met) == (3, None, None)


AFTER = date(2027, 2, 10)  # the autumn term of 2026 is over


def _semester_rule() -> ResolvedRule:
    rule = current().for_region("140502").rule("scientist_in_school_semester")
    assert rule is not None
    return rule


def test_an_activity_at_23_30_on_the_last_day_of_a_semester_counts_for_that_semester(
    session: Session,
) -> None:
    regions(session)
    rule = _semester_rule()
    school = school_for(session, rule, "140502")
    maker = Maker(session)
    maker.activity(rule, school, at_beijing(date(2027, 1, 31), 23, 30))  # code rule: autumn ends
    (autumn,) = evaluate_school(session, rule, "140502", school, today=AFTER)
    assert (autumn.figure, autumn.met) == (1, True)
    spring = engine.evaluate_schools(
        session,
        engine.Scope([school], {"140502": [rule]}, Term(2026, Semester.spring), date(2027, 3, 1)),
    )
    assert (spring[0].figure, spring[0].met) == (0, False)
    # With the region's calendar the term ends on 22 January: 23:30 that day still counts
    session.add(
        SchoolCalendar(
            region_code="140500",  # the city's calendar, inherited by the district
            school_year=2026,
            autumn_start=date(2026, 9, 1),
            autumn_end=date(2027, 1, 22),
            spring_start=date(2027, 2, 22),
            spring_end=date(2027, 7, 9),
            updated_by="account:1",
            updated_at=NOW,
        )
    )
    session.flush()
    (autumn,) = evaluate_school(session, rule, "140502", school, today=AFTER)
    assert autumn.figure == 0  # 31 January is in the holiday now
    maker.activity(rule, school, at_beijing(date(2027, 1, 22), 23, 30))
    maker.activity(rule, school, at_beijing(date(2027, 1, 23), 0, 0))  # the holiday's first minute
    (autumn,) = evaluate_school(session, rule, "140502", school, today=AFTER)
    assert (autumn.window.end, autumn.figure) == (date(2027, 1, 22), 1)


def test_a_weekly_rule_asks_for_term_weeks_only_across_the_winter_holiday(session: Session) -> None:
    regions(session)
    rule = current().for_region("430381").rule("after_school_science_weekly")
    assert rule is not None
    school = school_for(session, rule, "430381")
    session.add(
        SchoolCalendar(
            region_code="430300",
            school_year=2026,
            autumn_start=date(2026, 9, 1),
            autumn_end=date(2027, 1, 22),
            spring_start=date(2027, 2, 22),
            spring_end=date(2027, 7, 9),
            updated_by="account:1",
            updated_at=NOW,
        )
    )
    session.flush()
    maker = Maker(session)
    # one after-school activity in each of the spring term's first three weeks; none in the
    # four holiday weeks before them
    for monday in (date(2027, 2, 22), date(2027, 3, 1), date(2027, 3, 8)):
        maker.activity(rule, school, at_beijing(monday + timedelta(days=1), 16))
    spring = Term(2026, Semester.spring)
    today = date(2027, 3, 14)  # the third week's Sunday
    (outcome,) = engine.evaluate_schools(
        session, engine.Scope([school], {"430381": [rule]}, spring, today)
    )
    assert [w.window.start for w in outcome.weeks] == [
        date(2027, 2, 22),
        date(2027, 3, 1),
        date(2027, 3, 8),
    ]
    assert (outcome.figure, outcome.met) == (3, True)
    # a week without one is a miss; the current week does not count until it ends or is met
    later = engine.evaluate_schools(
        session, engine.Scope([school], {"430381": [rule]}, spring, date(2027, 3, 23))
    )[0]
    assert [w.met for w in later.weeks] == [True, True, True, False]
    assert later.met is False


def test_a_rule_out_of_force_or_switched_off_is_not_judged(session: Session) -> None:
    regions(session)
    rule = current().for_region("430381").rule("venue_visit_yearly")
    assert rule is not None
    school = school_for(session, rule, "430381")
    assert evaluate_school(session, replace(rule, enabled=False), "430381", school) == []
    expired = engine.Scope(
        [school], {"430381": [rule]}, Term(2028, Semester.autumn), date(2028, 10, 1)
    )
    assert engine.evaluate_schools(session, expired) == []  # 003 is in force until 2028-02-08
