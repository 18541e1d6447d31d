"""100 identical scans at once give one visit and one record, on either engine; a crowd of
pupils scanning at once each get their own; scans committed in one batch keep their answers.

A real server on loopback, real connections from the pool, committed data (removed after):
a phone on a weak network that fires its retries together, and a finger that taps 100 times.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, delete, insert, text
from sqlmodel import Session, func, select

from scipass.account.models import WeChatUser
from scipass.activity.models import Activity
from scipass.checkin import batch, codes
from scipass.checkin.errors import ScanRefused
from scipass.checkin.models import ActivityCode, CheckIn, ScanEvent
from scipass.checkin.schemas import CheckInCreate
from scipass.checkin.self_scan import SelfScanWork
from scipass.checkin.views import ScanCache
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.core.db import Database
from scipass.core.group_commit import BatchConflict, GroupCommit, Unit
from scipass.core.ratelimit import RateLimitCounter
from scipass.org.models import Region, School, Venue
from scipass.record.models import ParticipationRecord, RecordEvent
from scipass.roster.models import Student
from tests.factories import NOW, school_and_listed_venue, token
from tests.servers import serve

SCANS = 100
PUPILS = 40
REGION = "930000"


@pytest.fixture
def scene(engine: Engine, settings: Settings) -> Iterator[dict[str, object]]:
    with Session(engine) as s:
        school, venue = school_and_listed_venue(s, region_code=REGION, stages="junior")
        users = [
            WeChatUser(
                openid=f"o-scan-crowd-{i}", kind="student", created_at=NOW, last_login_at=NOW
            )
            for i in range(PUPILS)
        ]
        s.add_all([school, venue, *users])
        s.flush()
        students = [
            Student(
                school_id=school.id or 0,
                student_no=f"SCAN{i:04d}",
                name=f"并发学生{i}",
                gender="male",
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
        s.add_all([*students, activity])
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
            "user": users[0].id,
            "student": students[0].id,
            "users": [user.id for user in users],
            "students": [student.id for student in students],
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
        s.execute(delete(Student).where(Student.id.in_(ids["students"])))  # type: ignore[attr-defined]
        s.execute(delete(WeChatUser).where(WeChatUser.id.in_(ids["users"])))  # type: ignore[attr-defined]
        s.execute(delete(Venue).where(Venue.id == ids["venue"]))
        s.execute(delete(School).where(School.id == ids["school"]))
        s.execute(delete(Region).where(Region.code == REGION))
        scanned = [f"student:{i}" for i in ids["students"]] + [  # type: ignore[attr-defined]
            f"wechat:{900_000 + i}" for i in range(2)
        ]
        s.execute(delete(RateLimitCounter).where(RateLimitCounter.key.in_(scanned)))  # type: ignore[attr-defined]
        s.commit()


@pytest.fixture
def server(settings: Settings, make_app: Callable[..., FastAPI]) -> Iterator[str]:
    with serve(make_app(settings, clock=FrozenClock(NOW))) as url:
        yield url


def _fire(server: str, payload: str, scans: list[tuple[str, str]]) -> list[httpx.Response]:
    """Send every ``(bearer token, idempotency key)`` scan of ``payload`` at once."""

    async def all_at_once() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(scans), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server, limits=limits, timeout=120) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/checkins",
                        json={"code": payload, "scan_time": int(NOW.timestamp())},
                        headers={"Authorization": f"Bearer {bearer}", "Idempotency-Key": key},
                    )
                    for bearer, key in scans
                )
            )

    return asyncio.run(all_at_once())


def _pupil(settings: Settings, scene: dict[str, object], i: int) -> Principal:
    return Principal(
        subject=f"wechat:{scene['users'][i]}",  # type: ignore[index]
        role=Role.student,
        school_id=scene["school"],  # type: ignore[arg-type]
        student_id=scene["students"][i],  # type: ignore[index]
    )


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
    bearer = token(settings, _pupil(settings, scene, 0))
    keys = ["same-key-0001"] * SCANS if same_key else [f"tap-{i:08d}" for i in range(SCANS)]
    responses = _fire(server, str(scene["payload"]), [(bearer, key) for key in keys])

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


@pytest.mark.slow
def test_a_crowd_of_pupils_scanning_at_once_each_get_their_own_visit(
    settings: Settings,
    engine: Engine,
    scene: dict[str, object],
    server: str,
    flushes: list[object],
) -> None:
    """Different pupils at once: their scans are committed (on PostgreSQL also written)
    together, and each answer names the pupil's own visit and record. Then every phone sends
    its scan again with the same key, all at once, and gets the same answer."""
    order = list(range(PUPILS))
    random.Random(PUPILS).shuffle(order)  # not in the students' order
    scans = [(token(settings, _pupil(settings, scene, i)), f"crowd-{i:04d}") for i in order]
    responses = _fire(server, str(scene["payload"]), scans)
    retries = _fire(server, str(scene["payload"]), scans)

    assert [r.status_code for r in responses] == [201] * PUPILS, [r.text for r in responses]
    assert [r.json()["student_id"] for r in responses] == [scene["students"][i] for i in order]  # type: ignore[index]
    written_together = sum(n for n in flushes if isinstance(n, int))
    assert written_together == (PUPILS if _postgres(engine) else 0)
    assert [r.status_code for r in retries] == [200] * PUPILS
    assert [(r.json()["id"], r.json()["record_id"]) for r in retries] == [
        (r.json()["id"], r.json()["record_id"]) for r in responses
    ]

    with Session(engine) as s:
        visits = s.exec(select(CheckIn).where(CheckIn.activity_id == scene["activity"])).all()
        records = s.exec(
            select(ParticipationRecord).where(ParticipationRecord.activity_id == scene["activity"])
        ).all()
        history = s.exec(
            select(RecordEvent.record_id).where(
                RecordEvent.record_id.in_([r.id for r in records])  # type: ignore[attr-defined]
            )
        ).all()
        events = s.exec(select(ScanEvent).where(ScanEvent.activity_id == scene["activity"])).all()
    answered = {r.json()["id"]: r.json() for r in responses}
    assert {v.id: (v.student_id, v.record_id) for v in visits} == {
        id_: (a["student_id"], a["record_id"]) for id_, a in answered.items()
    }
    assert {r.id: r.student_id for r in records} == {v.record_id: v.student_id for v in visits}
    assert sorted(history) == sorted(r.id for r in records)
    assert sorted((e.student_id, e.check_in_id, e.result) for e in events) == sorted(
        (v.student_id, v.id, "accepted") for v in visits
    )


# --- one batch of group commit, run by hand ----------------------------------------------------


@pytest.fixture
def flushes(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What each batch's flush wrote: the number of visits written in one statement, or
    ``("conflict", n)`` when it could not write its ``n`` visits as judged."""
    seen: list[object] = []
    flush = batch.SelfScanBatch.flush

    def watched(self: batch.SelfScanBatch, session: Session, shared: batch.ScanBatch) -> None:
        noted = len(shared.entries)
        try:
            flush(self, session, shared)
        except BatchConflict:
            seen.append(("conflict", noted))
            raise
        seen.append(noted)

    monkeypatch.setattr(batch.SelfScanBatch, "flush", watched)
    return seen


def _one_batch(engine: Engine, works: list[SelfScanWork]) -> list[object]:
    """Run ``works`` as one batch of group commit (as scans arriving together do), and give
    each its result or its error."""
    commits = GroupCommit(Database(engine))

    async def run() -> list[object]:
        loop = asyncio.get_running_loop()
        units = [Unit(work, batch.SELF_SCANS, loop, loop.create_future()) for work in works]
        await asyncio.to_thread(commits.run_batch, units)
        return await asyncio.gather(*(unit.future for unit in units), return_exceptions=True)

    return asyncio.run(run())


def _scan(
    settings: Settings, scene: dict[str, object], pupil: int, key: str, **data: object
) -> SelfScanWork:
    return SelfScanWork(
        settings=settings,
        cache=ScanCache(),
        actor=_pupil(settings, scene, pupil),
        student_id=scene["students"][pupil],  # type: ignore[index]
        data=CheckInCreate(code=str(scene["payload"]), **data),  # type: ignore[arg-type]
        nonce=key,
        now=NOW,
        rate_key=f"student:{scene['students'][pupil]}",  # type: ignore[index]
    )


def _postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _visit_of(result: object) -> tuple[int, int | None, bool]:
    assert isinstance(result, tuple), result
    outcome = result[0]
    return outcome.check_in.id, outcome.check_in.record_id, outcome.created


def test_scans_of_one_batch_are_written_together(
    settings: Settings, engine: Engine, scene: dict[str, object], flushes: list[object]
) -> None:
    order = [4, 0, 3, 1, 2]  # not the students' order, which the statement writes in
    results = _one_batch(engine, [_scan(settings, scene, i, f"batch-{i}") for i in order])

    visits = [_visit_of(result) for result in results]
    assert all(created for _, _, created in visits)
    assert flushes == ([5] if _postgres(engine) else [])  # one statement for all five
    with Session(engine) as s:
        for i, (visit_id, record_id, _) in zip(order, visits, strict=True):
            visit = s.get(CheckIn, visit_id)
            assert visit is not None
            assert (visit.student_id, visit.record_id) == (scene["students"][i], record_id)  # type: ignore[index]
            record = s.get(ParticipationRecord, record_id)
            assert record is not None
            assert record.student_id == visit.student_id
            assert record.status == "pending"
            event = s.exec(select(ScanEvent).where(ScanEvent.check_in_id == visit_id)).one()
            assert (event.nonce, event.result) == (f"batch-{i}", "accepted")
            history = s.exec(select(RecordEvent).where(RecordEvent.record_id == record_id)).one()
            assert (history.action, history.actor) == ("created", f"wechat:{scene['users'][i]}")  # type: ignore[index]


def test_a_pupil_scanning_again_in_a_batch_gets_the_visit_made_before(
    settings: Settings, engine: Engine, scene: dict[str, object], flushes: list[object]
) -> None:
    """Pupil 0's visit was made by an earlier batch: their new scan in this batch is judged
    a new visit, the batch's one statement finds the visit there, and the scan is answered
    with it as a duplicate while the others of the batch are written."""
    (first,) = _one_batch(engine, [_scan(settings, scene, 0, "before")])
    results = _one_batch(engine, [_scan(settings, scene, i, f"after-{i}") for i in (0, 1, 2)])

    again, *others = (_visit_of(result) for result in results)
    assert again == (_visit_of(first)[0], _visit_of(first)[1], False)  # the existing visit
    assert all(created for _, _, created in others)
    assert flushes == ([1, 3] if _postgres(engine) else [])  # no batch ran again
    with Session(engine) as s:
        visits = s.exec(select(CheckIn).where(CheckIn.activity_id == scene["activity"])).all()
        events = s.exec(
            select(ScanEvent.nonce, ScanEvent.result).where(
                ScanEvent.activity_id == scene["activity"]
            )
        ).all()
    assert len(visits) == 3
    assert sorted(events) == [
        ("after-0", "duplicate"),
        ("after-1", "accepted"),
        ("after-2", "accepted"),
        ("before", "accepted"),
    ]


def test_two_scans_of_one_pupil_in_a_batch_are_judged_in_turn(
    settings: Settings, engine: Engine, scene: dict[str, object], flushes: list[object]
) -> None:
    works = [
        _scan(settings, scene, 0, "tap-1"),
        _scan(settings, scene, 0, "tap-2"),
        _scan(settings, scene, 1, "tap-3"),
    ]
    results = [_visit_of(result) for result in _one_batch(engine, works)]

    assert [created for _, _, created in results] == [True, False, True]
    assert results[0][:2] == results[1][:2]
    assert flushes == []  # nothing shared: each scan read and wrote on its own


def test_a_refusal_and_a_replay_in_a_batch_keep_their_answers(
    settings: Settings, engine: Engine, scene: dict[str, object], flushes: list[object]
) -> None:
    (first,) = _one_batch(engine, [_scan(settings, scene, 0, "kept-key")])
    results = _one_batch(
        engine,
        [
            _scan(settings, scene, 0, "kept-key"),  # the phone retries: the first answer
            _scan(settings, scene, 1, "exit-key", direction="exit"),  # no visit to leave
            _scan(settings, scene, 2, "new-key"),
        ],
    )

    replay, refusal, new = results
    assert _visit_of(replay) == (_visit_of(first)[0], _visit_of(first)[1], False)
    assert isinstance(refusal, ScanRefused)
    assert refusal.code == "not_checked_in"
    assert _visit_of(new)[2] is True
    assert flushes == ([1, 1] if _postgres(engine) else [])
    with Session(engine) as s:
        events = s.exec(
            select(ScanEvent.nonce, ScanEvent.result, ScanEvent.reason).where(
                ScanEvent.activity_id == scene["activity"]
            )
        ).all()
    assert sorted(events) == [
        ("exit-key", "refused", "not_checked_in"),
        ("kept-key", "accepted", ""),
        ("new-key", "accepted", ""),
    ]


def test_a_batch_that_meets_a_nonce_taken_meanwhile_runs_scan_by_scan(
    settings: Settings, engine: Engine, scene: dict[str, object], flushes: list[object]
) -> None:
    """Another transaction takes pupil 1's nonce while the batch runs, and commits only once
    the batch's statement waits for it: the statement cannot write that scan, the batch is
    rolled back and every scan runs again on its own; pupil 1's key then belongs to another
    scan (409 idempotency_key_reused)."""
    if not _postgres(engine):
        pytest.skip("the scans of a batch share their writes on PostgreSQL only")
    works = [_scan(settings, scene, i, f"meanwhile-{i}") for i in range(3)]
    results: list[object] = []
    with engine.connect() as other, engine.connect() as watcher:
        taking = other.begin()
        other.execute(
            insert(ScanEvent).values(
                activity_id=scene["activity"],
                operator=f"wechat:{scene['users'][1]}",  # type: ignore[index]
                nonce="meanwhile-1",
                fingerprint="another scan",
                direction="entry",
                source="self_scan",
                server_time=NOW,
                result="refused",
                reason="code_invalid",
            )
        )
        batch_thread = threading.Thread(
            target=lambda: results.extend(_one_batch(engine, works)), daemon=True
        )
        batch_thread.start()
        deadline = time.monotonic() + 30
        while not watcher.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        ).scalar_one():
            assert time.monotonic() < deadline, "the batch never waited for the nonce"
            watcher.rollback()
            time.sleep(0.02)
        taking.commit()
        batch_thread.join(timeout=60)

    # the batch conflicts; then each scan runs alone, a batch of one (the second is refused
    # before anything is noted, so it has no flush)
    assert flushes == [("conflict", 3), 1, 1]
    first, replayed, third = results
    assert _visit_of(first)[2] is True
    assert _visit_of(third)[2] is True
    assert isinstance(replayed, ScanRefused)
    assert replayed.code == "idempotency_key_reused"
    with Session(engine) as s:
        visits = s.exec(select(CheckIn.student_id).where(CheckIn.activity_id == scene["activity"]))
        assert sorted(visits.all()) == sorted([scene["students"][0], scene["students"][2]])  # type: ignore[index]


def test_scans_without_a_student_do_not_stop_a_batch_sharing_its_writes(
    settings: Settings, engine: Engine, scene: dict[str, object], flushes: list[object]
) -> None:
    """Two WeChat users not yet bound to a pupil scan with two pupils: they are told to bind,
    and the pupils' visits are still written together."""
    strangers = [
        SelfScanWork(
            settings=settings,
            cache=ScanCache(),
            actor=Principal(subject=f"wechat:{900_000 + i}", role=Role.wechat_user),
            student_id=None,
            data=CheckInCreate(code=str(scene["payload"])),
            nonce=f"stranger-{i}",
            now=NOW,
            rate_key=f"wechat:{900_000 + i}",
        )
        for i in range(2)
    ]
    pupils = [_scan(settings, scene, i, f"beside-{i}") for i in range(2)]

    results = _one_batch(engine, [strangers[0], pupils[0], strangers[1], pupils[1]])

    assert [getattr(r, "code", None) for r in results[::2]] == ["student_unbound"] * 2
    assert [_visit_of(r)[2] for r in results[1::2]] == [True, True]
    assert flushes == ([2] if _postgres(engine) else [])
