"""500 students ask at once for 100 places: exactly 100 are confirmed, on either engine.

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
from sqlalchemy import Engine, delete, func, text
from sqlmodel import Session, select

from scipass.account.models import WeChatUser
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.org.models import Region, School, Venue
from scipass.reservation.models import Reservation, ReservationMember, TimeSlot
from scipass.roster.models import Student
from tests.factories import NOW, school_and_listed_venue, token
from tests.servers import serve

STUDENTS = int(os.environ.get("CROWD", "500"))
PLACES = STUDENTS // 5
REGION = "940000"


@pytest.fixture
def crowd(engine: Engine) -> Iterator[dict[str, object]]:
    with Session(engine) as s:
        school, venue = school_and_listed_venue(s, region_code=REGION, stages="junior")
        s.add_all([school, venue])
        s.flush()
        slot = TimeSlot(
            venue_id=venue.id or 0,
            starts_at=datetime(2026, 10, 20, 2, 0, tzinfo=UTC),
            ends_at=datetime(2026, 10, 20, 3, 0, tzinfo=UTC),
            capacity=PLACES,
            taken=0,
            status="open",
            created_at=NOW,
        )
        s.add(slot)
        users = [
            WeChatUser(openid=f"o-crowd-{i}", kind="student", created_at=NOW, last_login_at=NOW)
            for i in range(STUDENTS)
        ]
        s.add_all(users)
        s.flush()
        students = [
            Student(
                school_id=school.id or 0,
                student_no=f"C{i:05d}",
                name="并发学生",
                gender="female",
                birth_month=date(2011, 5, 1),  # 15: no guardian consent needed
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
        s.commit()
        ids = {
            "school": school.id,
            "venue": venue.id,
            "slot": slot.id,
            "pairs": [(u.id, st.id) for u, st in zip(users, students, strict=True)],
        }
    yield ids
    with Session(engine) as s:
        slot_id = ids["slot"]
        s.execute(delete(ReservationMember).where(ReservationMember.slot_id == slot_id))
        s.execute(delete(Reservation).where(Reservation.slot_id == slot_id))
        s.execute(text("DELETE FROM audit_log WHERE school_id = :s"), {"s": ids["school"]})
        s.execute(delete(TimeSlot).where(TimeSlot.id == slot_id))
        s.execute(delete(Student).where(Student.school_id == ids["school"]))
        s.execute(delete(WeChatUser).where(WeChatUser.openid.startswith("o-crowd-")))  # type: ignore[attr-defined]
        s.execute(delete(Venue).where(Venue.id == ids["venue"]))
        s.execute(delete(School).where(School.id == ids["school"]))
        s.execute(delete(Region).where(Region.code == REGION))
        s.commit()


@pytest.fixture
def server(settings: Settings, make_app: Callable[..., FastAPI]) -> Iterator[str]:
    with serve(make_app(settings, clock=FrozenClock(NOW))) as url:
        yield url


def test_500_students_race_for_100_places(
    settings: Settings, engine: Engine, crowd: dict[str, object], server: str
) -> None:
    slot_id = crowd["slot"]
    tokens = [
        token(
            settings,
            Principal(
                subject=f"wechat:{user_id}",
                role=Role.student,
                school_id=crowd["school"],  # type: ignore[arg-type]
                student_id=student_id,
            ),
        )
        for user_id, student_id in crowd["pairs"]  # type: ignore[attr-defined]
    ]

    async def all_at_once() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=STUDENTS, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server, limits=limits, timeout=120) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        f"/api/v1/slots/{slot_id}/reservations",
                        json={"join_waitlist": False},
                        headers={"Authorization": f"Bearer {t}"},
                    )
                    for t in tokens
                )
            )

    responses = asyncio.run(all_at_once())
    statuses = Counter(r.status_code for r in responses)
    codes = Counter(r.json().get("code") for r in responses if r.status_code != 201)
    assert statuses == {201: PLACES, 409: STUDENTS - PLACES}, (statuses, codes)
    assert codes == {"capacity_full": STUDENTS - PLACES}

    with Session(engine) as s:
        slot = s.get(TimeSlot, slot_id)
        assert slot is not None
        assert slot.taken == PLACES
        confirmed = s.exec(
            select(func.count()).where(
                Reservation.slot_id == slot_id, Reservation.status == "confirmed"
            )
        ).one()
        assert confirmed == PLACES
        assert s.exec(select(func.count()).where(Reservation.slot_id == slot_id)).one() == PLACES
        members = s.exec(select(func.count()).where(ReservationMember.slot_id == slot_id)).one()
        assert members == PLACES
