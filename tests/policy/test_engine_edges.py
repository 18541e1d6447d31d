"""What the engine does not count or judge too early: activities still ahead, partial weeks
with no school day, weeks before a document took force, deadlines not reached, terms with no
week over yet; and what it reads as the documents mean: ended pairings in past terms, a
museum's day serving two schools once, trainings by the attendees' regions."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from scipass.core.clock import Semester, Term
from scipass.org.measures_models import (
    CounsellorTraining,
    CounsellorTrainingAttendee,
    MobileMuseumTour,
)
from scipass.org.models import School
from scipass.pairing.models import Pairing
from scipass.policy import engine
from scipass.policy.loader import ResolvedRule
from scipass.policy.packs import current
from scipass.policy.results import missing
from scipass.record.models import ParticipationRecord
from tests.factories import NOW, create_activity, create_bureau, create_school, create_venue
from tests.policy.scenes import TERM, TODAY, Maker, at_beijing, regions, school_for


def rule(region: str, rule_id: str) -> ResolvedRule:
    found = current().for_region(region).rule(rule_id)
    assert found is not None
    return found


def judge(
    session: Session, region: str, found: ResolvedRule, school: School, term: Term, today: date
) -> engine.Outcome:
    (outcome,) = engine.evaluate_schools(
        session,
        engine.Scope([school], {region: [found]}, term, today),
    )
    return outcome


def test_an_activity_still_ahead_does_not_count_yet(session: Session) -> None:
    regions(session)
    lesson = rule("140502", "science_first_lesson_semester")
    school = school_for(session, lesson, "140502")
    Maker(session).activity(lesson, school, at_beijing(date(2027, 1, 10)))
    early = judge(session, "140502", lesson, school, TERM, date(2026, 9, 20))
    assert (early.figure, early.met) == (0, False)
    after = judge(session, "140502", lesson, school, TERM, date(2027, 1, 11))
    assert (after.figure, after.met) == (1, True)


def test_weeks_without_a_school_day_and_before_the_document_are_not_asked(
    session: Session,
) -> None:
    regions(session)
    weekly = rule("430381", "after_school_science_weekly")
    school = school_for(session, weekly, "430381")
    maker = Maker(session)
    # the code's spring term of 2025-26 starts on Sunday 1 February 2026: no school day
    spring = Term(2025, Semester.spring)
    monday = date(2026, 2, 2)
    for week in range(3):
        maker.activity(weekly, school, at_beijing(monday + timedelta(days=7 * week + 1), 16))
    outcome = judge(session, "430381", weekly, school, spring, date(2026, 2, 22))
    assert [w.window.start for w in outcome.weeks] == [
        date(2026, 2, 2),
        date(2026, 2, 9),
        date(2026, 2, 16),
    ]
    assert outcome.met is True
    assert outcome.default_calendar is True
    # 003 is in force from 2023-02-09: the spring term of 2022-23 asks from that week on
    before = judge(
        session, "430381", weekly, school, Term(2022, Semester.spring), date(2023, 2, 20)
    )
    assert before.window.start == date(2023, 2, 9)
    assert [w.window.start for w in before.weeks] == [date(2023, 2, 9), date(2023, 2, 13)]


def test_a_term_with_no_week_over_yet_is_not_judged(session: Session) -> None:
    regions(session)
    weekly = rule("430381", "after_school_science_weekly")
    school = school_for(session, weekly, "430381")
    outcome = judge(session, "430381", weekly, school, TERM, date(2026, 9, 2))
    assert (outcome.met, outcome.weeks) == (None, ())
    assert missing(outcome) == "本学期尚无已结束的教学周"


def test_a_deadline_not_reached_is_not_a_miss_and_an_ended_pairing_counts_for_its_terms(
    session: Session,
) -> None:
    regions(session)
    pairing = rule("140502", "venue_pairing_main_urban")  # by 2024-06-30
    school = school_for(session, pairing, "140502")
    before = judge(
        session, "140502", pairing, school, Term(2023, Semester.autumn), date(2024, 1, 5)
    )
    assert before.met is None
    assert missing(before) == "截止日期 2024-06-30 前完成（现为 0，要求 1）"
    session.add(
        Pairing(
            school_id=school.id or 0,
            venue_id=create_venue(session, region_code="140502").id or 0,
            starts_on=date(2024, 3, 1),
            ends_on=date(2026, 3, 1),
            proposed_by="school",
            status="ended",
            created_by="account:1",
            created_at=NOW,
        )
    )
    session.flush()
    autumn_2024 = judge(
        session, "140502", pairing, school, Term(2024, Semester.autumn), date(2026, 6, 1)
    )
    assert (autumn_2024.figure, autumn_2024.met) == (1, True)
    now = judge(session, "140502", pairing, school, TERM, TODAY)
    assert (now.figure, now.met) == (0, False)


def test_a_museum_day_serving_two_schools_counts_once_for_the_region(session: Session) -> None:
    regions(session)
    museum = rule("430000", "mobile_museum_remote_yearly")
    bureau = create_bureau(session, region_code="430300")
    schools = [school_for(session, museum, "430381") for _ in range(2)]
    for school in schools:
        session.add(
            MobileMuseumTour(
                bureau_id=bureau.id,
                visited_school_id=school.id or 0,
                starts_on=date(2026, 10, 1),
                ends_on=date(2026, 10, 30),
                created_by="account:1",
                created_at=NOW,
            )
        )
    session.flush()
    (outcome,) = engine.evaluate_region(
        session, region_code="430000", rules=[museum], schools=schools, term=TERM, today=TODAY
    )
    assert (outcome.figure, outcome.met) == (30, False)


def test_trainings_count_for_the_attendees_regions(session: Session) -> None:
    regions(session)
    county = rule("430381", "counsellor_training_county_yearly")
    city_bureau = create_bureau(session, region_code="430300")
    xiangxiang = create_school(session, region_code="430381")
    training = CounsellorTraining(
        bureau_id=city_bureau.id or 0,
        region_code="430300",
        title="全市科技辅导员培训",
        held_on=date(2026, 11, 1),
        created_by="account:1",
        created_at=NOW,
    )
    session.add(training)
    session.flush()
    session.add_all(
        [
            CounsellorTrainingAttendee(
                training_id=training.id or 0, name="湘乡学员", school_id=xiangxiang.id
            ),
            CounsellorTrainingAttendee(training_id=training.id or 0, name="市区学员"),
        ]
    )
    session.flush()
    (outcome,) = engine.evaluate_region(
        session, region_code="430381", rules=[county], schools=[xiangxiang], term=TERM, today=TODAY
    )
    assert outcome.figure == 1  # the Xiangxiang counsellor trained at the city's session


def test_a_venue_visit_is_the_schools_when_a_group_took_part_or_the_school_led_it(
    session: Session,
) -> None:
    regions(session)
    visit = rule("430381", "venue_visit_yearly")
    assert visit.rule.measure.min_pupils == 10
    maker = Maker(session)
    group, alone, led = (school_for(session, visit, "430381") for _ in range(3))
    maker.activity(visit, group, at_beijing(date(2026, 10, 10)))  # 10 pupils
    one = maker.activity(visit, alone, at_beijing(date(2026, 10, 11)))
    session.exec(  # only one pupil of the second school took part
        delete(ParticipationRecord).where(
            col(ParticipationRecord.activity_id) == one,
            col(ParticipationRecord.id)
            != select(func.min(ParticipationRecord.id))
            .where(col(ParticipationRecord.activity_id) == one)
            .scalar_subquery(),
        )
    )
    create_activity(
        session,
        venue_id=None,
        school_id=led.id,
        kind="venue_visit",
        title="学校组织参观科技馆",
        starts_at=at_beijing(date(2026, 11, 3)),
        ends_at=at_beijing(date(2026, 11, 3), 12),
    )
    create_activity(  # the school's own course in its classroom is no venue visit
        session,
        venue_id=None,
        school_id=alone.id,
        kind="course",
        starts_at=at_beijing(date(2026, 11, 4)),
        ends_at=at_beijing(date(2026, 11, 4), 12),
    )
    outcomes = engine.evaluate_schools(
        session, engine.Scope([group, alone, led], {"430381": [visit]}, TERM, TODAY)
    )
    by_school = {o.school_id: (o.figure, o.met) for o in outcomes}
    assert by_school == {group.id: (1, True), alone.id: (0, False), led.id: (1, True)}
