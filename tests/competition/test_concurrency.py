"""Races decided by the database, on either engine: 200 recommendations at once against a
quota of 7 recommend exactly 7; one pupil put into two entries of a division at once ends up
in exactly one.

A real server on loopback, real connections, committed data (removed afterwards).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, func, select

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
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.org.models import Bureau, Region, School
from scipass.roster.models import Student
from tests.factories import NOW, token
from tests.servers import serve

REGION = "920000"
ENTRIES = 200
QUOTA = 7


@pytest.fixture
def scene(engine: Engine) -> Iterator[dict[str, int]]:
    with Session(engine) as s:
        s.add(Region(code=REGION, name="竞赛并发省", level="province"))
        s.flush()
        school = School(
            name="竞赛并发小学", region_code=REGION, stages="primary", area="urban", created_at=NOW
        )
        bureau = Bureau(name="竞赛并发科协", region_code=REGION, created_at=NOW)
        s.add_all([school, bureau])
        s.flush()
        competition = Competition(
            bureau_id=bureau.id or 0,
            region_code=REGION,
            name="并发机器人竞赛",
            organiser_unit="竞赛并发科协",
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
        round_ = Round(
            edition_id=edition.id or 0,
            position=1,
            name="省级",
            level="province",
            region_code=REGION,
            bureau_id=bureau.id,
            registration_opens_at=NOW - timedelta(days=1),
            registration_closes_at=NOW + timedelta(days=7),
            school_quota=QUOTA,
            created_at=NOW,
        )
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
        s.add_all([round_, division])
        s.flush()
        students = [
            Student(
                school_id=school.id or 0,
                student_no=f"COMP{i:04d}",
                name=f"竞赛学生{i}",
                gender="female",
                birth_month=date(2011, 5, 1),  # 15: no guardian consent needed
                stage="primary",
                grade=6,
                class_name="1班",
                created_at=NOW,
                updated_at=NOW,
            )
            for i in range(ENTRIES)
        ]
        s.add_all(students)
        s.flush()
        entries = [
            Entry(
                edition_id=edition.id or 0,
                division_id=division.id or 0,
                round_id=round_.id or 0,
                school_id=school.id or 0,
                title=f"作品{i}",
                status="submitted",
                registered_by_kind="school",
                created_by="test",
                created_at=NOW,
                submitted_at=NOW,
                updated_at=NOW,
            )
            for i in range(ENTRIES)
        ]
        s.add_all(entries)
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
                )
                for entry, student in zip(entries, students, strict=True)
            ]
            + [
                RoundEntry(
                    entry_id=entry.id or 0,
                    round_id=round_.id or 0,
                    school_id=school.id or 0,
                    status="submitted",
                    via="registration",
                    created_at=NOW,
                    updated_at=NOW,
                )
                for entry in entries
            ]
        )
        s.commit()
        ids = {
            "school": school.id or 0,
            "bureau": bureau.id or 0,
            "competition": competition.id or 0,
            "edition": edition.id or 0,
            "round": round_.id or 0,
            "division": division.id or 0,
            "first_entry": entries[0].id or 0,
            "last_entry": entries[-1].id or 0,
        }
    yield ids
    with Session(engine) as s:
        entry_ids = select(Entry.id).where(Entry.edition_id == ids["edition"])
        s.execute(delete(AuditLog).where(col(AuditLog.school_id) == ids["school"]))
        s.execute(delete(Quota).where(col(Quota.round_id) == ids["round"]))
        s.execute(delete(RoundEntry).where(col(RoundEntry.entry_id).in_(entry_ids)))
        s.execute(delete(EntryMember).where(col(EntryMember.entry_id).in_(entry_ids)))
        s.execute(delete(Entry).where(col(Entry.edition_id) == ids["edition"]))
        s.execute(delete(Division).where(col(Division.id) == ids["division"]))
        s.execute(delete(Round).where(col(Round.id) == ids["round"]))
        s.execute(delete(Edition).where(col(Edition.id) == ids["edition"]))
        s.execute(delete(Competition).where(col(Competition.id) == ids["competition"]))
        s.execute(delete(Student).where(col(Student.school_id) == ids["school"]))
        s.execute(delete(School).where(col(School.id) == ids["school"]))
        s.execute(delete(Bureau).where(col(Bureau.id) == ids["bureau"]))
        s.execute(delete(Region).where(col(Region.code) == REGION))
        s.commit()


@pytest.fixture
def server(settings: Settings, make_app: Callable[..., FastAPI]) -> Iterator[str]:
    with serve(make_app(settings, clock=FrozenClock(NOW))) as url:
        yield url


def _fire(
    server: str, requests: list[tuple[str, str, dict[str, object] | None]]
) -> list[httpx.Response]:
    """Send every ``(bearer token, path, json body)`` POST at once."""

    async def all_at_once() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server, limits=limits, timeout=180) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/api/v1" + path, json=body, headers={"Authorization": f"Bearer {bearer}"}
                    )
                    for bearer, path, body in requests
                )
            )

    return asyncio.run(all_at_once())


def _teacher(settings: Settings, scene: dict[str, int]) -> str:
    return token(
        settings,
        Principal(subject="account:910001", role=Role.school_staff, school_id=scene["school"]),
    )


@pytest.mark.slow
def test_200_recommendations_at_once_fill_exactly_the_quota(
    settings: Settings, engine: Engine, scene: dict[str, int], server: str
) -> None:
    bearer = _teacher(settings, scene)
    entry_ids = range(scene["first_entry"], scene["last_entry"] + 1)
    responses = _fire(
        server, [(bearer, f"/competition-entries/{i}/recommend", None) for i in entry_ids]
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: QUOTA, 409: ENTRIES - QUOTA}, [
        r.text for r in responses if r.status_code not in (200, 409)
    ][:3]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "competition_school_quota_reached"
    }
    with Session(engine) as s:
        recommended = s.exec(
            select(func.count()).where(
                RoundEntry.round_id == scene["round"], RoundEntry.status == "recommended"
            )
        ).one()
        used = s.exec(select(Quota.used).where(Quota.round_id == scene["round"])).one()
    assert recommended == QUOTA
    assert used == QUOTA


@pytest.mark.slow
def test_one_pupil_in_two_entries_of_a_division_at_once_ends_in_one(
    settings: Settings, engine: Engine, scene: dict[str, int], server: str
) -> None:
    with Session(engine) as s:
        school_id = scene["school"]
        pupil = Student(
            school_id=school_id,
            student_no="COMPRACE",
            name="抢报名",
            gender="male",
            birth_month=date(2011, 5, 1),
            stage="primary",
            grade=6,
            class_name="2班",
            created_at=NOW,
            updated_at=NOW,
        )
        s.add(pupil)
        s.commit()
        pupil_id = pupil.id
    bearer = _teacher(settings, scene)
    body = {"division_id": scene["division"], "student_ids": [pupil_id], "title": "同一作品"}
    responses = _fire(
        server, [(bearer, f"/competition-rounds/{scene['round']}/entries", body)] * 20
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 19}, [r.text for r in responses if r.status_code >= 500][:3]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "competition_already_entered"
    }
    with Session(engine) as s:
        live = s.exec(
            select(func.count()).where(
                EntryMember.student_id == pupil_id, EntryMember.status == "active"
            )
        ).one()
        made = s.exec(
            select(func.count())
            .select_from(Entry)
            .join(EntryMember, col(EntryMember.entry_id) == Entry.id)
            .where(EntryMember.student_id == pupil_id)
        ).one()
    assert live == 1
    assert made == 1
