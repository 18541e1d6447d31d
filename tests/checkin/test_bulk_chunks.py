"""Offline uploads and class check-ins are written a few items per transaction
(``scipass.checkin.door``): each item keeps its own answer, a re-upload changes nothing and
answers the same, a failure half-way keeps what was committed and a retry completes the rest,
and a pupil's own scan sent meanwhile is written between two of the upload's transactions.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, insert, update
from sqlmodel import Session, col, func, select

from scipass.account.models import WeChatUser
from scipass.activity.models import Activity
from scipass.checkin import cards, codes, door
from scipass.checkin.errors import CodeExpired, CodeInvalid, NotRegistered
from scipass.checkin.models import ActivityCode, CheckIn, ScanEvent
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.core.db import READ_ONLY_OPTION
from scipass.core.ratelimit import RateLimitCounter
from scipass.main import create_app
from scipass.org.models import Region, School, Venue
from scipass.record.models import ParticipationRecord, RecordEvent
from scipass.reservation.models import Reservation, ReservationMember
from scipass.roster.models import Student
from tests.checkin.test_checkin import END, START, count
from tests.factories import (
    NOW,
    Side,
    auth,
    create_activity,
    create_slot,
    create_student,
    token,
)
from tests.servers import serve

TEEN = date(2009, 5, 1)  # 17: no guardian consent needed
SCANNED_AT = START + timedelta(minutes=10)
EARLY = START - timedelta(hours=2)  # before the window opens: recorded only with force


@pytest.fixture
def activity(session: Session, side_a: Side) -> Activity:
    return create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        title="科学实验课",
        starts_at=START,
        ends_at=END,
        admission="open",
    )


def _code(settings: Settings, student: Student, *, at: datetime) -> str:
    return cards.personal_code(
        settings, student_id=student.id or 0, expires_at=at + timedelta(minutes=5)
    )


@dataclass(frozen=True)
class Expected:
    """What one item of an upload answers (``same_visit_as``: the item whose visit a
    duplicate names)."""

    result: str
    code: str | None = None
    warnings: tuple[str, ...] = ()
    same_visit_as: int | None = None


def _upload_of_200(
    session: Session, settings: Settings, side: Side
) -> tuple[list[dict[str, Any]], list[Expected]]:
    """200 offline scans of one tablet, of every kind an upload holds: new visits, forced
    scans from before the window, pupils scanned twice (in the same few items and far
    apart), forged codes and codes expired when scanned."""
    items: list[dict[str, Any]] = []
    expected: list[Expected] = []
    pupils: list[Student | None] = []

    def pupil() -> Student:
        return create_student(session, school_id=side.school.id or 0, birth_month=TEEN)

    for i in range(200):
        nonce = f"tablet-{i:04d}"
        kind = i % 20
        if kind == 13 or kind == 19:  # the pupil of item i-1 (nearby) or i-15 (far) again
            first = i - 1 if kind == 13 else i - 15
            student = pupils[first]
            assert student is not None
            code = _code(settings, student, at=SCANNED_AT)
            items.append({"nonce": nonce, "code": code, "scan_time": SCANNED_AT.isoformat()})
            expected.append(Expected("duplicate", same_visit_as=first))
            pupils.append(None)
            continue
        student = pupil()
        pupils.append(student)
        if kind == 3:  # a forged code: the signature does not verify
            code = _code(settings, student, at=SCANNED_AT)[:-4] + "AAAA"
            items.append({"nonce": nonce, "code": code, "scan_time": SCANNED_AT.isoformat()})
            expected.append(Expected("refused", CodeInvalid.code))
        elif kind == 17:  # the code had expired when it was scanned
            code = _code(settings, student, at=SCANNED_AT - timedelta(minutes=10))
            items.append({"nonce": nonce, "code": code, "scan_time": SCANNED_AT.isoformat()})
            expected.append(Expected("refused", CodeExpired.code))
        elif kind == 7:  # scanned before the window opened, recorded with force
            code = _code(settings, student, at=EARLY)
            items.append(
                {"nonce": nonce, "code": code, "scan_time": EARLY.isoformat(), "force": True}
            )
            expected.append(Expected("accepted", warnings=("not_started",)))
        else:
            code = _code(settings, student, at=SCANNED_AT)
            items.append({"nonce": nonce, "code": code, "scan_time": SCANNED_AT.isoformat()})
            expected.append(Expected("accepted"))
    return items, expected


def _upload(
    client: TestClient, settings: Settings, side: Side, activity: Activity, items: Any
) -> Any:
    return client.post(
        f"/api/v1/activities/{activity.id}/offline-scans",
        json={"device": "tablet-1", "items": items},
        headers=auth(settings, side.principal(Role.venue_staff), now=client.app.state.clock.now()),  # type: ignore[attr-defined]
    )


def _check(answer: list[dict[str, Any]], keys: list[str], expected: list[Expected]) -> None:
    """Each item answers its own result, in the order sent: accepted items each a visit of
    their own, duplicates the visit of the item named, refusals their code and title."""
    titles = {CodeInvalid.code: CodeInvalid.title_zh, CodeExpired.code: CodeExpired.title_zh}
    titles[NotRegistered.code] = NotRegistered.title_zh
    assert [item["key"] for item in answer] == keys
    for n, (item, wanted) in enumerate(zip(answer, expected, strict=True)):
        assert (item["result"], item["code"]) == (wanted.result, wanted.code), n
        assert item["message"] == (titles[wanted.code] if wanted.code else None), n
        assert item["warnings"] == list(wanted.warnings), n
        if wanted.result == "refused":
            assert item["check_in_id"] is None, n
        elif wanted.same_visit_as is not None:
            assert item["check_in_id"] == answer[wanted.same_visit_as]["check_in_id"], n
    visits = [i["check_in_id"] for i in answer if i["result"] == "accepted"]
    assert len(set(visits)) == len(visits)
    assert None not in visits


def _without_warnings(answer: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k != "warnings"} for item in answer]


def _rows(session: Session, activity: Activity) -> tuple[int, int, int]:
    return (
        count(session, ScanEvent, activity_id=activity.id),
        count(session, CheckIn, activity_id=activity.id),
        count(session, ParticipationRecord, activity_id=activity.id),
    )


def test_an_upload_of_200_answers_each_item_and_a_reupload_changes_nothing(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    clock: FrozenClock,
) -> None:
    items, expected = _upload_of_200(session, settings, side_a)
    clock.set(START + timedelta(hours=1))

    first = _upload(client, settings, side_a, activity, items)

    assert first.status_code == 200, first.text
    body = first.json()
    _check(body["items"], [i["nonce"] for i in items], expected)
    results = [e.result for e in expected]
    assert (body["accepted"], body["duplicate"], body["refused"]) == (
        results.count("accepted"),
        results.count("duplicate"),
        results.count("refused"),
    )
    assert _rows(session, activity) == (200, results.count("accepted"), results.count("accepted"))

    again = _upload(client, settings, side_a, activity, items)

    assert again.status_code == 200, again.text
    # Every item answers as the first time; the warnings of a forced scan are the first
    # upload's only (door.py: a replay answers what its scan event holds).
    assert _without_warnings(again.json()["items"]) == _without_warnings(body["items"])
    assert {k: again.json()[k] for k in ("accepted", "duplicate", "refused")} == {
        k: body[k] for k in ("accepted", "duplicate", "refused")
    }
    assert _rows(session, activity) == (200, results.count("accepted"), results.count("accepted"))


def test_a_failure_half_way_keeps_what_was_committed_and_a_retry_completes_the_rest(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items, expected = _upload_of_200(session, settings, side_a)
    clock.set(START + timedelta(hours=1))
    failing_at = 95  # a new pupil's scan
    failing_pupil = codes.parse_personal_code(
        codes.personal_keys(settings.personal_code_keys.get_secret_value()),
        items[failing_at]["code"],
    ).student_id
    read_pupil = door.read_pupil

    def crashing(session: Session, student_id: int | None) -> Any:
        if student_id == failing_pupil:
            raise RuntimeError("the server went away")
        return read_pupil(session, student_id)

    monkeypatch.setattr(door, "read_pupil", crashing)
    crashed = _upload(client, settings, side_a, activity, items)
    monkeypatch.undo()

    assert crashed.status_code == 500
    committed = failing_at // door.CHUNK * door.CHUNK  # the chunks before the failing one
    assert committed > 0
    assert count(session, ScanEvent, activity_id=activity.id) == committed
    nonces = session.exec(select(ScanEvent.nonce).where(ScanEvent.activity_id == activity.id))
    assert sorted(nonces.all()) == [i["nonce"] for i in items[:committed]]

    retry = _upload(client, settings, side_a, activity, items)

    assert retry.status_code == 200, retry.text
    answer = retry.json()["items"]
    # The committed items answer as they did (a replay: without the warnings of a forced
    # scan), the rest as a first upload.
    replayed = [
        Expected(e.result, e.code, (), e.same_visit_as) if n < committed else e
        for n, e in enumerate(expected)
    ]
    _check(answer, [i["nonce"] for i in items], replayed)
    accepted = [e.result for e in expected].count("accepted")
    assert _rows(session, activity) == (200, accepted, accepted)
    again = _upload(client, settings, side_a, activity, items)
    assert _without_warnings(again.json()["items"]) == _without_warnings(answer)
    assert _rows(session, activity) == (200, accepted, accepted)


# --- class check-in --------------------------------------------------------------------------


def _class_of(
    session: Session, side: Side, activity: Activity, size: int
) -> tuple[Reservation, list[Student]]:
    pupils = [
        create_student(session, school_id=side.school.id or 0, birth_month=TEEN)
        for _ in range(size)
    ]
    slot = create_slot(
        session,
        venue_id=activity.venue_id or 0,
        activity_id=activity.id,
        starts_at=START,
        capacity=size + 5,
    )
    reservation = Reservation(
        slot_id=slot.id or 0,
        kind="group",
        school_id=side.school.id or 0,
        group_label="七年级2班",
        students=size,
        escorts=2,
        party_size=size + 2,
        status="confirmed",
        made_by="account:900001",
        created_at=NOW,
    )
    session.add(reservation)
    session.flush()
    for pupil in pupils:
        session.add(
            ReservationMember(
                reservation_id=reservation.id or 0, slot_id=slot.id or 0, student_id=pupil.id or 0
            )
        )
    session.flush()
    return reservation, pupils


def test_a_class_of_40_is_checked_in_pupil_by_pupil_and_a_resubmission_changes_nothing(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    activity: Activity,
) -> None:
    reservation, pupils = _class_of(session, side_a, activity, 40)
    not_in_class = create_student(session, school_id=side_a.school.id or 0, birth_month=TEEN)
    ids = [p.id for p in pupils]
    # a pupil named twice counts once; a classmate not in the group and another school's
    # pupil are refused where they stand
    sent = [*ids[:17], not_in_class.id, *ids[17:], side_b.student.id, ids[3]]
    keys = [str(i) for i in dict.fromkeys(sent)]
    expected = [
        Expected("refused", NotRegistered.code)
        if key in (str(not_in_class.id), str(side_b.student.id))
        else Expected("accepted")
        for key in keys
    ]
    url = f"/api/v1/reservations/{reservation.id}/checkins"
    headers = auth(settings, side_a.principal(Role.school_staff))
    body = {"student_ids": sent, "nonce": "class-7-2-today"}

    first = client.post(url, json=body, headers=headers)

    assert first.status_code == 200, first.text
    _check(first.json()["items"], keys, expected)
    assert (first.json()["accepted"], first.json()["refused"]) == (40, 2)
    assert _rows(session, activity) == (42, 40, 40)

    again = client.post(url, json=body, headers=headers)

    assert again.json() == first.json()
    assert _rows(session, activity) == (42, 40, 40)


def test_a_class_check_in_that_fails_half_way_is_completed_by_its_retry(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reservation, pupils = _class_of(session, side_a, activity, 40)
    ids = [p.id or 0 for p in pupils]
    failing_at = 25
    read_pupil = door.read_pupil

    def crashing(session: Session, student_id: int | None) -> Any:
        if student_id == ids[failing_at]:
            raise RuntimeError("the server went away")
        return read_pupil(session, student_id)

    url = f"/api/v1/reservations/{reservation.id}/checkins"
    headers = auth(settings, side_a.principal(Role.school_staff))
    body = {"student_ids": ids, "nonce": "class-7-2-retry"}
    monkeypatch.setattr(door, "read_pupil", crashing)
    crashed = client.post(url, json=body, headers=headers)
    monkeypatch.undo()

    assert crashed.status_code == 500
    committed = failing_at // door.CHUNK * door.CHUNK
    assert committed > 0
    checked_in = session.exec(select(CheckIn.student_id).where(CheckIn.activity_id == activity.id))
    assert sorted(checked_in.all()) == sorted(ids[:committed])

    retry = client.post(url, json=body, headers=headers)

    assert retry.status_code == 200, retry.text
    _check(retry.json()["items"], [str(i) for i in ids], [Expected("accepted")] * 40)
    assert _rows(session, activity) == (40, 40, 40)
    assert client.post(url, json=body, headers=headers).json() == retry.json()


# --- a pupil's own scan during a large upload, on a real server ------------------------------

REGION = "940000"
LARGE = 1000  # the most an upload may hold


@pytest.fixture
def scene(engine: Engine, settings: Settings) -> Iterator[dict[str, Any]]:
    """Committed data: a venue's open activity with its poster code, a pupil bound to WeChat
    who scans it, and LARGE pupils a venue tablet scanned offline."""
    with Session(engine) as s:
        s.add(Region(code=REGION, name="分批写入省", level="province"))
        s.flush()
        school = School(
            name="分批中学", region_code=REGION, stages="junior", area="urban", created_at=NOW
        )
        venue = Venue(
            name="分批科技馆",
            kind="science_museum",
            region_code=REGION,
            longitude=112.9,
            latitude=27.8,
            created_at=NOW,
        )
        user = WeChatUser(openid="o-bulk-chunks", kind="student", created_at=NOW, last_login_at=NOW)
        s.add_all([school, venue, user])
        s.flush()
        activity = Activity(
            venue_id=venue.id,
            kind="venue_visit",
            title="科技节",
            starts_at=NOW - timedelta(minutes=10),
            ends_at=NOW + timedelta(hours=4),
            place_name="分批科技馆",
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
        s.add(activity)
        s.flush()
        code = ActivityCode(
            activity_id=activity.id or 0,
            kind="static",
            short_id=codes.new_short_id(),
            created_by="test",
            created_at=NOW,
        )
        s.add(code)
        s.execute(
            insert(Student),
            [
                {
                    "school_id": school.id,
                    "student_no": f"CHUNK{i:05d}",
                    "name": f"分批学生{i}",
                    "gender": "female",
                    "birth_month": date(2011, 5, 1),
                    "stage": "junior",
                    "grade": 9,
                    "class_name": "2班",
                    "wechat_user_id": user.id if i == LARGE else None,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(LARGE + 1)
            ],
        )
        students = s.exec(
            select(Student.id).where(Student.school_id == school.id).order_by(Student.student_no)  # type: ignore[arg-type]
        ).all()
        s.commit()
        ids: dict[str, Any] = {
            "region": REGION,
            "school": school.id,
            "venue": venue.id,
            "user": user.id,
            "activity": activity.id,
            "students": list(students),
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
        s.execute(delete(Student).where(Student.school_id == ids["school"]))
        # the pupil's scan was committed, and with it their scan rate counter
        rate_keys = [f"student:{i}" for i in ids["students"]]
        s.execute(delete(RateLimitCounter).where(col(RateLimitCounter.key).in_(rate_keys)))
        s.execute(delete(WeChatUser).where(WeChatUser.id == ids["user"]))
        s.execute(delete(Venue).where(Venue.id == ids["venue"]))
        s.execute(delete(School).where(School.id == ids["school"]))
        s.execute(delete(Region).where(Region.code == REGION))
        s.commit()


@pytest.mark.slow
@pytest.mark.parametrize("capped", [False, True], ids=["open", "capped"])
def test_a_pupils_scan_sent_during_a_large_upload_is_written_between_its_chunks(
    settings: Settings, engine: Engine, scene: dict[str, Any], capped: bool
) -> None:
    """A venue tablet uploads LARGE offline scans; once the first of them are committed, a
    pupil scans the poster. The pupil's scan is committed while the upload still runs: when
    it is answered, part of the upload is not yet written, and on SQLite (one writer) its scan
    event comes between the upload's in the order of writing. No clock is read: the
    database's order decides. On PostgreSQL the capped activity is the case that waited: a
    place is taken under a lock held to the end of the transaction (activity/places.py)."""
    if capped:
        with Session(engine) as s:
            s.execute(
                update(Activity)
                .where(Activity.id == scene["activity"])  # type: ignore[arg-type]
                .values(capacity=LARGE + 10)
            )
            s.commit()
    staff = Principal(subject="account:900777", role=Role.venue_staff, venue_id=scene["venue"])
    pupil = Principal(
        subject=f"wechat:{scene['user']}",
        role=Role.student,
        school_id=scene["school"],
        student_id=scene["students"][LARGE],
    )
    scanned_at = NOW - timedelta(minutes=1)
    items = [
        {
            "nonce": f"large-{n:05d}",
            "code": cards.personal_code(
                settings, student_id=student_id, expires_at=scanned_at + timedelta(minutes=5)
            ),
            "scan_time": scanned_at.isoformat(),
        }
        for n, student_id in enumerate(scene["students"][:LARGE])
    ]

    def written() -> int:
        """The upload's scans committed so far, read without waiting for the writer."""
        with engine.connect().execution_options(**{READ_ONLY_OPTION: True}) as connection:
            query = select(func.count()).where(ScanEvent.operator == staff.subject)
            return int(connection.execute(query).scalar_one())

    async def scenario(server: str) -> tuple[httpx.Response, int, httpx.Response]:
        async with httpx.AsyncClient(base_url=server, timeout=120) as client:
            upload = asyncio.create_task(
                client.post(
                    f"/api/v1/activities/{scene['activity']}/offline-scans",
                    json={"device": "tablet-9", "items": items},
                    headers={"Authorization": f"Bearer {token(settings, staff)}"},
                )
            )
            while not await asyncio.to_thread(written):  # the upload has begun committing
                assert not upload.done(), upload.result().text
                await asyncio.sleep(0.005)
            scan = await client.post(
                "/api/v1/checkins",
                json={"code": scene["payload"]},
                headers={
                    "Authorization": f"Bearer {token(settings, pupil)}",
                    "Idempotency-Key": uuid.uuid4().hex,
                },
            )
            upload_written_then = await asyncio.to_thread(written)
            return scan, upload_written_then, await upload

    with serve(create_app(settings, clock=FrozenClock(NOW))) as server:
        scan, upload_written_then, upload = asyncio.run(scenario(server))

    assert scan.status_code == 201, scan.text
    assert upload.status_code == 200, upload.text
    assert upload.json()["accepted"] == LARGE
    if capped:
        with Session(engine) as s:
            taken = s.get(Activity, scene["activity"])
            assert taken is not None
            assert taken.checked_in == LARGE + 1
    assert 0 < upload_written_then < LARGE  # answered while the upload was still running
    with Session(engine) as s:
        mine = s.exec(select(ScanEvent.id).where(ScanEvent.operator == pupil.subject)).one()
        theirs = s.exec(select(ScanEvent.id).where(ScanEvent.operator == staff.subject)).all()
    if engine.dialect.name == "sqlite":  # one writer: ids follow the order of writing
        assert min(theirs) < mine < max(theirs)
