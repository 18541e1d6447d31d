"""200 pupils sign up at once for 50 places, joining the waitlist when full: exactly 50 get a
place, and when 20 of them cancel at once, the first 20 of the waitlist (in sign-up order)
are promoted, each with a notification. On either engine.

A real server on loopback, real connections from the pool, committed data (removed after).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, delete, text
from sqlmodel import Session, col, select

from scipass.account.models import WeChatUser
from scipass.consent.models import ConsentRecord
from scipass.consent.service import NOTICE_VERSION
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.org.models import Region, School, Venue
from scipass.roster.models import Student
from scipass.volunteer import signups as volunteer_signups
from scipass.volunteer.models import (
    NotificationOutbox,
    VolunteerRole,
    VolunteerShift,
    VolunteerSignup,
)
from tests.factories import NOW, token
from tests.servers import serve

PUPILS = int(os.environ.get("VOLUNTEER_CROWD", "200"))
PLACES = PUPILS // 4
CANCELLING = PLACES * 2 // 5
REGION = "930000"


@pytest.fixture
def crowd(engine: Engine) -> Iterator[dict[str, object]]:
    with Session(engine) as s:
        s.add(Region(code=REGION, name="志愿并发测试省", level="province"))
        s.flush()
        school = School(
            name="志愿并发中学", region_code=REGION, stages="junior", area="urban", created_at=NOW
        )
        venue = Venue(
            name="志愿并发科技馆",
            kind="science_museum",
            region_code=REGION,
            longitude=112.9,
            latitude=27.8,
            created_at=NOW,
        )
        s.add_all([school, venue])
        s.flush()
        role = VolunteerRole(
            venue_id=venue.id,
            name="小小志愿者",
            created_by="test",
            created_at=NOW,
            updated_at=NOW,
        )
        s.add(role)
        s.flush()
        shift = VolunteerShift(
            role_id=role.id or 0,
            venue_id=venue.id,
            starts_at=datetime(2026, 10, 17, 1, 0, tzinfo=UTC),
            ends_at=datetime(2026, 10, 17, 4, 0, tzinfo=UTC),
            signup_closes_at=datetime(2026, 10, 16, 1, 0, tzinfo=UTC),
            capacity=PLACES,
            created_by="test",
            created_at=NOW,
        )
        users = [
            WeChatUser(openid=f"o-vcrowd-{i}", kind="student", created_at=NOW, last_login_at=NOW)
            for i in range(PUPILS)
        ]
        s.add_all([shift, *users])
        s.flush()
        students = [
            Student(
                school_id=school.id or 0,
                student_no=f"V{i:05d}",
                name="志愿学生",
                gender="female",
                birth_month=date(2011, 5, 1),  # 15: needs the guardian's volunteering consent
                stage="junior",
                grade=9,
                class_name="1班",
                wechat_user_id=user.id,
                created_at=NOW,
                updated_at=NOW,
            )
            for i, user in enumerate(users)
        ]
        s.add_all(students)
        s.flush()
        s.add_all(
            ConsentRecord(
                student_id=student.id or 0,
                purpose="volunteering",
                decision="grant",
                notice_version=NOTICE_VERSION,
                channel="paper",
                guardian_name="家长",
                recorded_by="test",
                recorded_at=NOW,
            )
            for student in students
        )
        s.commit()
        ids = {
            "school": school.id,
            "venue": venue.id,
            "role": role.id,
            "shift": shift.id,
            "pairs": [(u.id, st.id) for u, st in zip(users, students, strict=True)],
        }
    yield ids
    with Session(engine) as s:
        student_ids = [student_id for _, student_id in ids["pairs"]]  # type: ignore[attr-defined]
        s.execute(
            delete(NotificationOutbox).where(col(NotificationOutbox.student_id).in_(student_ids))
        )
        s.execute(delete(VolunteerSignup).where(VolunteerSignup.shift_id == ids["shift"]))
        s.execute(delete(VolunteerShift).where(VolunteerShift.id == ids["shift"]))
        s.execute(delete(VolunteerRole).where(VolunteerRole.id == ids["role"]))
        s.execute(delete(ConsentRecord).where(col(ConsentRecord.student_id).in_(student_ids)))
        s.execute(text("DELETE FROM audit_log WHERE school_id = :s"), {"s": ids["school"]})
        s.execute(text("DELETE FROM audit_log WHERE object_type = 'volunteer_signup'"))
        s.execute(delete(Student).where(Student.school_id == ids["school"]))
        s.execute(delete(WeChatUser).where(WeChatUser.openid.startswith("o-vcrowd-")))  # type: ignore[attr-defined]
        s.execute(delete(Venue).where(Venue.id == ids["venue"]))
        s.execute(delete(School).where(School.id == ids["school"]))
        s.execute(delete(Region).where(Region.code == REGION))
        s.commit()


@pytest.fixture
def server(settings: Settings, make_app: Callable[..., FastAPI]) -> Iterator[str]:
    with serve(make_app(settings, clock=FrozenClock(NOW))) as url:
        yield url


def _all_at_once(
    server: str, calls: list[tuple[str, str, dict[str, object]]]
) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(calls), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server, limits=limits, timeout=120) as client:
            return await asyncio.gather(
                *(
                    client.post(url, json=body, headers={"Authorization": f"Bearer {bearer}"})
                    for url, bearer, body in calls
                )
            )

    return asyncio.run(run())


def test_200_pupils_race_for_50_places_and_the_waitlist_is_promoted_in_order(
    settings: Settings, engine: Engine, crowd: dict[str, object], server: str
) -> None:
    shift_id = crowd["shift"]
    tokens = {
        student_id: token(
            settings,
            Principal(
                subject=f"wechat:{user_id}",
                role=Role.student,
                school_id=crowd["school"],  # type: ignore[arg-type]
                student_id=student_id,
            ),
        )
        for user_id, student_id in crowd["pairs"]  # type: ignore[attr-defined]
    }
    url = f"/api/v1/volunteer-shifts/{shift_id}/signups"
    responses = _all_at_once(
        server, [(url, bearer, {"join_waitlist": True}) for bearer in tokens.values()]
    )
    statuses = Counter((r.status_code, r.json().get("status")) for r in responses)
    assert statuses == {(201, "signed_up"): PLACES, (201, "waitlisted"): PUPILS - PLACES}, statuses

    with Session(engine) as s:
        shift = s.get(VolunteerShift, shift_id)
        assert shift is not None
        assert shift.taken == PLACES
        signups = s.exec(
            select(VolunteerSignup)
            .where(VolunteerSignup.shift_id == shift_id)
            .order_by(col(VolunteerSignup.id))
        ).all()
        placed = [x for x in signups if x.status == "signed_up"]
        waiting = [x for x in signups if x.status == "waitlisted"]
        assert len(placed) == PLACES
        # once all are in, the waitlist positions are 1..n in sign-up order (a position in
        # an answer counts the sign-ups committed by then, so under a race it may be lower)
        positions = [volunteer_signups.waitlist_position(s, x) for x in waiting]
        assert positions == list(range(1, PUPILS - PLACES + 1))

    # CANCELLING pupils with places cancel at once: the first CANCELLING of the waitlist move up
    cancelling = placed[:CANCELLING]
    results = _all_at_once(
        server,
        [
            (f"/api/v1/volunteer-signups/{x.id}/cancel", tokens[x.student_id], {})
            for x in cancelling
        ],
    )
    assert Counter(r.status_code for r in results) == {200: CANCELLING}
    with Session(engine) as s:
        shift = s.get(VolunteerShift, shift_id)
        assert shift is not None
        assert shift.taken == PLACES
        now_placed = set(
            s.exec(
                select(VolunteerSignup.id).where(
                    VolunteerSignup.shift_id == shift_id, VolunteerSignup.status == "signed_up"
                )
            ).all()
        )
        promoted = {x.id for x in waiting[:CANCELLING]}
        assert now_placed == ({x.id for x in placed[CANCELLING:]} | promoted)
        told = s.exec(
            select(NotificationOutbox.student_id).where(
                NotificationOutbox.kind == "volunteer_promoted",
                col(NotificationOutbox.student_id).in_(tokens),
            )
        ).all()
        assert sorted(told) == sorted(x.student_id for x in waiting[:CANCELLING])
