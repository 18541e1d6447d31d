"""The region quota and publication under concurrency, on real connections that commit: the
database decides (conditional updates, unique keys), never a read followed by a write."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.competition.models import (
    Competition,
    Division,
    Edition,
    Entry,
    EntryMember,
    Quota,
    Round,
    RoundEntry,
)
from scipass.competition.results import ResultInput, open_notice, set_result
from scipass.competition.results_errors import RegionQuotaReached
from scipass.competition.results_models import Award, Result, ResultNotice, ResultObjection
from scipass.competition.results_publish import publish_due
from scipass.consent.models import ConsentRecord
from scipass.consent.service import NOTICE_VERSION
from scipass.core.auth import Principal, Role
from scipass.core.config import Settings
from scipass.org.models import Bureau, Region, School
from scipass.record.models import ParticipationRecord, RecordEvent
from scipass.roster.models import Student
from tests.factories import NOW

REGION = "920000"
ENTRIES = 10
QUOTA = 2


@dataclass(frozen=True)
class Ids:
    bureau: int
    school: int
    competition: int
    edition: int
    rounds: list[int]
    entries: list[int]


@pytest.fixture
def committed(engine: Engine) -> Iterator[Ids]:
    """A bureau's two-round contest with ten accepted single-pupil entries of one school,
    committed for real (removed afterwards)."""
    with Session(engine) as s:
        s.add(Region(code=REGION, name="并发竞赛省", level="province"))
        s.flush()
        bureau = Bureau(name="并发竞赛教育局", region_code=REGION, created_at=NOW)
        school = School(
            name="并发竞赛学校", region_code=REGION, stages="primary", area="urban", created_at=NOW
        )
        s.add_all([bureau, school])
        s.flush()
        competition = Competition(
            bureau_id=bureau.id or 0,
            region_code=REGION,
            name="并发机器人竞赛",
            organiser_unit="并发竞赛教育局",
            category="robotics",
            level="province",
            created_by="test",
            created_at=NOW,
            updated_at=NOW,
        )
        s.add(competition)
        s.flush()
        edition = Edition(
            competition_id=competition.id or 0, school_year=2026, title="2026", created_at=NOW
        )
        s.add(edition)
        s.flush()
        rounds = [
            Round(
                edition_id=edition.id or 0,
                position=position,
                name=f"第{position}轮",
                level="province",
                region_code=REGION,
                bureau_id=bureau.id,
                registration_opens_at=NOW - timedelta(days=30),
                registration_closes_at=NOW - timedelta(days=7),
                region_quota=QUOTA if position == 1 else None,
                created_at=NOW,
            )
            for position in (1, 2)
        ]
        division = Division(
            edition_id=edition.id or 0,
            name="小学组",
            stages="primary",
            kind="individual",
            min_members=1,
            max_members=1,
            max_advisors=1,
            created_at=NOW,
        )
        s.add_all([*rounds, division])
        s.flush()
        entry_ids = []
        for n in range(ENTRIES):
            student = Student(
                school_id=school.id or 0,
                student_no=f"CR{n:04d}",
                name=f"并发选手{n}",
                gender="female",
                birth_month=date(2016, 1, 1),
                stage="primary",
                grade=4,
                class_name="1班",
                created_at=NOW,
                updated_at=NOW,
            )
            s.add(student)
            s.flush()
            s.add(  # the guardian's consent, asked when an under-14 pupil registers
                ConsentRecord(
                    student_id=student.id or 0,
                    purpose="participation_record",
                    decision="grant",
                    notice_version=NOTICE_VERSION,
                    channel="paper",
                    guardian_name="王女士",
                    recorded_by="test",
                    recorded_at=NOW,
                )
            )
            entry = Entry(
                number=f"CR-{n:04d}",
                edition_id=edition.id or 0,
                division_id=division.id or 0,
                round_id=rounds[0].id or 0,
                school_id=school.id or 0,
                title=f"作品{n}",
                status="submitted",
                registered_by_kind="school",
                created_by="test",
                created_at=NOW,
                updated_at=NOW,
            )
            s.add(entry)
            s.flush()
            s.add_all(
                [
                    EntryMember(
                        entry_id=entry.id or 0,
                        division_id=division.id or 0,
                        student_id=student.id or 0,
                        role="captain",
                        status="active",
                        joined_by="test",
                        joined_at=NOW,
                    ),
                    RoundEntry(
                        entry_id=entry.id or 0,
                        round_id=rounds[0].id or 0,
                        school_id=school.id or 0,
                        status="accepted",
                        via="registration",
                        created_at=NOW,
                        updated_at=NOW,
                    ),
                ]
            )
            entry_ids.append(entry.id or 0)
        ids = Ids(
            bureau=bureau.id or 0,
            school=school.id or 0,
            competition=competition.id or 0,
            edition=edition.id or 0,
            rounds=[r.id or 0 for r in rounds],
            entries=entry_ids,
        )
        s.commit()
    yield ids
    with Session(engine) as s:
        students = select(Student.id).where(Student.school_id == ids.school)
        records = select(ParticipationRecord.id).where(
            col(ParticipationRecord.student_id).in_(students)
        )
        results = select(Result.id).where(col(Result.round_id).in_(ids.rounds))
        for statement in (
            delete(RecordEvent).where(col(RecordEvent.record_id).in_(records)),
            delete(ParticipationRecord).where(col(ParticipationRecord.student_id).in_(students)),
            delete(ResultObjection).where(col(ResultObjection.result_id).in_(results)),
            delete(Result).where(col(Result.round_id).in_(ids.rounds)),
            delete(ResultNotice).where(col(ResultNotice.round_id).in_(ids.rounds)),
            delete(Quota).where(col(Quota.round_id).in_(ids.rounds)),
            delete(RoundEntry).where(col(RoundEntry.entry_id).in_(ids.entries)),
            delete(EntryMember).where(col(EntryMember.entry_id).in_(ids.entries)),
            delete(Entry).where(col(Entry.id).in_(ids.entries)),
            delete(ConsentRecord).where(col(ConsentRecord.student_id).in_(students)),
            delete(Student).where(Student.school_id == ids.school),
            delete(Round).where(col(Round.id).in_(ids.rounds)),
            delete(Division).where(Division.edition_id == ids.edition),
            delete(Edition).where(Edition.id == ids.edition),
            delete(Competition).where(Competition.id == ids.competition),
            delete(School).where(School.id == ids.school),
            delete(Bureau).where(Bureau.id == ids.bureau),
            delete(AuditLog).where(AuditLog.region_code == REGION),
            delete(Region).where(Region.code == REGION),
        ):
            s.execute(statement)
        s.commit()


def _at_once(count: int, work: Callable[[int], object]) -> tuple[list[object], list[BaseException]]:
    barrier = threading.Barrier(count)
    done: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcome = work(n)
            with lock:
                done.append(outcome)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return done, errors


@pytest.mark.slow
def test_concurrent_advances_take_exactly_the_region_quota_and_publish_once(
    engine: Engine, settings: Settings, committed: Ids
) -> None:
    first = committed.rounds[0]
    entries = committed.entries
    organiser = Principal(
        subject="account:910001",
        role=Role.bureau,
        bureau_id=committed.bureau,
        region_code=REGION,
    )

    def advance(n: int) -> int:
        with Session(engine) as s:
            round_ = s.get(Round, first)
            assert round_ is not None
            result = set_result(
                s,
                actor=organiser,
                round_=round_,
                data=ResultInput(entry_id=entries[n], award=Award.first, advances=True),
                now=NOW,
                has_next=True,
            )
            s.commit()
            return result.id or 0

    done, errors = _at_once(ENTRIES, advance)
    assert len(done) == QUOTA
    assert len(errors) == ENTRIES - QUOTA
    assert all(isinstance(error, RegionQuotaReached) for error in errors)
    with Session(engine) as s:
        quota = s.exec(select(Quota).where(Quota.round_id == first)).one()
        assert quota.used == QUOTA
        holding = s.exec(
            select(func.count()).select_from(Result).where(col(Result.holds_region_quota))
        ).one()
        assert holding == QUOTA
        open_notice(s, actor=organiser, settings=settings, round_id=first, now=NOW)
        s.commit()

    later = NOW + timedelta(days=30)

    def publish(_: int) -> tuple[int, int, int]:
        with Session(engine) as s:
            outcome = publish_due(s, now=later, actor=None, round_id=first)
            s.commit()
            return outcome.published, outcome.records, outcome.advanced

    published, errors = _at_once(8, publish)
    assert errors == []
    totals = [sum(column) for column in zip(*published, strict=True)]
    assert totals == [QUOTA, QUOTA, QUOTA]
    with Session(engine) as s:
        records = s.exec(
            select(ParticipationRecord.student_id).where(
                ParticipationRecord.school_id == committed.school
            )
        ).all()
        assert len(records) == len(set(records)) == QUOTA
        moved_up = s.exec(
            select(RoundEntry).where(RoundEntry.round_id == committed.rounds[1])
        ).all()
        assert sorted(p.entry_id for p in moved_up) == sorted(
            r.entry_id for r in s.exec(select(Result).where(Result.round_id == first)).all()
        )
