"""100 identical scans at once give one visit and one record, on either engine.

A real server on loopback, real connections from the pool, committed data (removed after):
a phone on a weak network that fires its retries together, and a finger that taps 100 times.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import Engine, delete
from sqlmodel import Session, func, select

from scipass.account.models import WeChatUser
from scipass.activity.models import Activity
from scipass.checkin import codes
from scipass.checkin.models import ActivityCode, CheckIn, ScanEvent
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.main import create_app
from scipass.org.models import Region, School, Venue
from scipass.record.models import ParticipationRecord, RecordEvent
from scipass.roster.models import Student
from tests.factories import NOW, WEEK, token
from tests.servers import serve

SCANS = 100
REGION = "930000"


@pytest.fixture
def scene(engine: Engine, settings: Settings) -> Iterator[dict[str, object]]:
    with Session(engine) as s:
        s.add(Region(code=REGION, name="扫码并发省", level="province"))
        s.flush()
        school = School(
            name="扫码中学", region_code=REGION, stages="junior", area="urban", created_at=NOW
        )
        venue = Venue(
            name="扫码科技馆",
            kind="science_museum",
            region_code=REGION,
            longitude=112.9,
            latitude=27.8,
            created_at=NOW,
            weekly_hours=WEEK,
            open_weekdays="0111111",
            stages="junior",
            listed=True,
        )
        user = WeChatUser(openid="o-scan-crowd", kind="student", created_at=NOW, last_login_at=NOW)
        s.add_all([school, venue, user])
        s.flush()
        student = Student(
            school_id=school.id or 0,
            student_no="SCAN0001",
            name="并发学生",
            gender="male",
            birth_month=date(2011, 5, 1),  # 15: no guardian consent needed
            stage="junior",
            grade=9,
            class_name="1班",
            wechat_user_id=user.id,
            created_at=NOW,
            updated_at=NOW,
        )
        activity = Activity(
            venue_id=venue.id,
            kind="venue_visit",
            title="科技节",
            starts_at=NOW - timedelta(minutes=10),
            ends_at=NOW + timedelta(hours=4),
            place_name="扫码科技馆",
            admission="open",
            stages="junior",
            credited_minutes=120,
            record_category="science_visit",
            dimension="social_practice",
            status="published",
            created_by="test",
            created_at=NOW,
            updated_at=NOW,
        )
        s.add_all([student, activity])
        s.flush()
        code = ActivityCode(
            activity_id=activity.id or 0,
            kind="static",
            short_id=codes.new_short_id(),
            created_by="test",
            created_at=NOW,
        )
        s.add(code)
        s.commit()
        ids: dict[str, object] = {
            "school": school.id,
            "venue": venue.id,
            "user": user.id,
            "student": student.id,
            "activity": activity.id,
            "code": code.id,
            "payload": codes.static_payload(settings.code_keyring, code.short_id),
        }
    yield ids
    with Session(engine) as s:
        activity_id = ids["activity"]
        records = select(ParticipationRecord.id).where(
            ParticipationRecord.activity_id == activity_id
        )
        s.execute(delete(ScanEvent).where(ScanEvent.activity_id == activity_id))
        s.execute(delete(CheckIn).where(CheckIn.activity_id == activity_id))
        s.execute(delete(RecordEvent).where(RecordEvent.record_id.in_(records)))  # type: ignore[attr-defined]
        s.execute(delete(ParticipationRecord).where(ParticipationRecord.activity_id == activity_id))
        s.execute(delete(ActivityCode).where(ActivityCode.activity_id == activity_id))
        s.execute(delete(Activity).where(Activity.id == activity_id))
        s.execute(delete(Student).where(Student.id == ids["student"]))
        s.execute(delete(WeChatUser).where(WeChatUser.id == ids["user"]))
        s.execute(delete(Venue).where(Venue.id == ids["venue"]))
        s.execute(delete(School).where(School.id == ids["school"]))
        s.execute(delete(Region).where(Region.code == REGION))
        s.commit()


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with serve(create_app(settings, clock=FrozenClock(NOW))) as url:
        yield url


def _fire(server: str, bearer: str, payload: str, keys: list[str]) -> list[httpx.Response]:
    async def all_at_once() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(keys), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server, limits=limits, timeout=120) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/checkins",
                        json={"code": payload, "scan_time": int(NOW.timestamp())},
                        headers={"Authorization": f"Bearer {bearer}", "Idempotency-Key": key},
                    )
                    for key in keys
                )
            )

    return asyncio.run(all_at_once())


@pytest.mark.slow
@pytest.mark.parametrize("same_key", [True, False], ids=["retries", "taps"])
def test_100_identical_scans_make_one_visit_and_one_record(
    settings: Settings,
    engine: Engine,
    scene: dict[str, object],
    server: str,
    same_key: bool,
) -> None:
    settings.scan_rate_per_minute = SCANS * 2  # this test is about the race, not the rate
    bearer = token(
        settings,
        Principal(
            subject=f"wechat:{scene['user']}",
            role=Role.student,
            school_id=scene["school"],  # type: ignore[arg-type]
            student_id=scene["student"],  # type: ignore[arg-type]
        ),
    )
    keys = ["same-key-0001"] * SCANS if same_key else [f"tap-{i:08d}" for i in range(SCANS)]
    responses = _fire(server, bearer, str(scene["payload"]), keys)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 200: SCANS - 1}, [
        r.text for r in responses if r.status_code >= 400
    ][:3]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({r.json()["record_id"] for r in responses}) == 1

    activity_id = scene["activity"]
    with Session(engine) as s:
        visits = s.exec(select(func.count()).where(CheckIn.activity_id == activity_id)).one()
        records = s.exec(
            select(ParticipationRecord.id).where(ParticipationRecord.activity_id == activity_id)
        ).all()
        history = s.exec(select(func.count()).where(RecordEvent.record_id == records[0])).one()
        events = Counter(
            s.exec(select(ScanEvent.result).where(ScanEvent.activity_id == activity_id)).all()
        )
    assert visits == 1
    assert len(records) == 1
    assert history == 1
    if same_key:
        assert events == {"accepted": 1}
    else:
        assert events == {"accepted": 1, "duplicate": SCANS - 1}
