"""Personal codes scanned by staff, class check-in by a teacher, offline batches, closing
visits, lists and corrections."""

from __future__ import annotations

import base64
import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.activity.models import Activity
from scipass.audit.models import AuditLog
from scipass.checkin import cards as checkin_cards
from scipass.checkin import codes
from scipass.checkin.jobs import close_visits
from scipass.checkin.models import CheckIn, ScanEvent
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.record.models import ParticipationRecord
from scipass.reservation.models import Reservation, ReservationMember
from scipass.roster.models import Student
from tests.checkin.test_checkin import END, START, count, refused
from tests.factories import (
    NOW,
    Side,
    auth,
    create_activity,
    create_slot,
    create_student,
    grant_consent,
)

TEEN = date(2009, 5, 1)  # 17: no guardian consent needed


@pytest.fixture
def activity(session: Session, side_a: Side) -> Activity:
    grant_consent(
        session,
        student=side_a.student,
        link=side_a.guardian_link,
        purposes=["participation_record"],
    )
    return create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        title="科学实验课",
        starts_at=START,
        ends_at=END,
        admission="open",
    )


def personal(settings: Settings, student: Student, *, expires: datetime | None = None) -> str:
    return checkin_cards.personal_code(
        settings, student_id=student.id or 0, expires_at=expires or NOW + timedelta(minutes=5)
    )


def staff_scan(
    client: TestClient, settings: Settings, side: Side, activity: Activity, code: str, **body: Any
) -> Any:
    return client.post(
        f"/api/v1/activities/{activity.id}/staff-scans",
        json={"code": code, "nonce": body.pop("nonce", f"n-{code[-10:]}"), **body},
        headers=auth(settings, side.principal(Role.venue_staff), now=client.app.state.clock.now()),
    )


# --- personal codes ----------------------------------------------------------------------------


def test_a_student_gets_a_personal_code_that_the_published_key_verifies(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    response = client.post(
        "/api/v1/me/personal-code", headers=auth(settings, side_a.principal(Role.student))
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["payload"].startswith("P.DEV.")
    assert body["expires_at"].startswith("2026-10-14T02:05")

    keys = client.get("/api/v1/personal-code-keys").json()
    assert keys["keys"][0]["algorithm"] == "Ed25519"
    assert keys["keys"][0]["active"] is True
    # A venue device with nothing but the public key verifies the code offline.
    raw = base64.urlsafe_b64decode(keys["keys"][0]["public_key"] + "==")
    blob = codes.unb32(body["payload"].split(".")[2])
    Ed25519PublicKey.from_public_bytes(raw).verify(blob[15:], blob[:15])
    assert int.from_bytes(blob[1:5], "big") == side_a.student.id


def test_staff_scan_checks_a_student_in_and_out(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    clock: FrozenClock,
) -> None:
    response = staff_scan(client, settings, side_a, activity, personal(settings, side_a.student))
    assert response.status_code == 201, response.text
    assert response.json()["source"] == "staff_scan"
    record = session.get(ParticipationRecord, response.json()["record_id"])
    assert record is not None
    assert record.status == "pending"

    clock.advance(timedelta(hours=2))
    code = personal(settings, side_a.student, expires=clock.now() + timedelta(minutes=5))
    out = staff_scan(
        client, settings, side_a, activity, code, direction="exit", nonce="exit-scan-1"
    )
    assert out.status_code == 201
    assert out.json()["minutes"] == 120


def test_a_personal_code_with_a_bad_signature_is_invalid(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    payload = personal(settings, side_a.student)
    blob = bytearray(codes.unb32(payload.split(".")[2]))
    blob[4] ^= 0x01  # another student id under the same signature
    forged = f"P.DEV.{codes.b32(bytes(blob))}"
    response = staff_scan(client, settings, side_a, activity, forged)
    assert response.status_code == 400
    assert response.json()["code"] == "code_invalid"
    other_key = Settings(  # type: ignore[call-arg]
        personal_code_keys="dev:" + base64.b64encode(b"x" * 32).decode(), _env_file=None
    )
    response = staff_scan(client, settings, side_a, activity, personal(other_key, side_a.student))
    assert response.json()["code"] == "code_invalid"
    assert count(session, ScanEvent, reason="code_invalid") == 2
    assert count(session, CheckIn) == 0


def test_an_expired_personal_code_is_refused(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity
) -> None:
    code = personal(settings, side_a.student, expires=NOW - timedelta(seconds=1))
    response = staff_scan(client, settings, side_a, activity, code)
    assert response.status_code == 400
    assert response.json()["code"] == "code_expired"


def test_staff_of_another_venue_cannot_scan_for_the_activity(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, activity: Activity
) -> None:
    response = staff_scan(client, settings, side_b, activity, personal(settings, side_a.student))
    assert response.status_code == 404


def test_a_school_prints_a_card_only_for_its_own_pupils(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    url = f"/api/v1/students/{side_a.student.id}/personal-card"
    mine = client.post(
        url, json={"valid_days": 120}, headers=auth(settings, side_a.principal(Role.school_staff))
    )
    assert mine.status_code == 200
    assert mine.json()["expires_at"].startswith("2027-02-11")
    theirs = client.post(url, json={}, headers=auth(settings, side_b.principal(Role.school_staff)))
    assert theirs.status_code == 404
    assert count(session, AuditLog, action="personal_card_issued") == 1


def test_a_lost_card_is_revoked_and_its_scans_refused_from_then_on(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    activity: Activity,
    clock: FrozenClock,
) -> None:
    def school(side: Side) -> dict[str, str]:
        return auth(settings, side.principal(Role.school_staff), now=clock.now())

    issued = client.post(
        f"/api/v1/students/{side_a.student.id}/personal-card", json={}, headers=school(side_a)
    )
    assert issued.status_code == 200, issued.text
    card, card_id = issued.json()["payload"], issued.json()["card_id"]
    assert (
        staff_scan(client, settings, side_a, activity, card, nonce="card-in-01").status_code == 201
    )
    before = clock.now()
    clock.advance(timedelta(minutes=20))

    other = client.post(
        f"/api/v1/personal-cards/{card_id}/revoke",
        json={"reason": "挂失"},
        headers=school(side_b),
    )
    assert other.status_code == 404  # not their pupil's card
    lost = client.post(
        f"/api/v1/personal-cards/{card_id}/revoke",
        json={"reason": "卡片丢失"},
        headers=school(side_a),
    )
    assert lost.status_code == 200, lost.text
    assert lost.json()["revoked_at"] is not None
    again = client.post(
        f"/api/v1/personal-cards/{card_id}/revoke",
        json={"reason": "再次挂失"},
        headers=school(side_a),
    )
    assert again.json()["revoked_at"] == lost.json()["revoked_at"]
    assert again.json()["revoke_reason"] == "卡片丢失"
    assert count(session, AuditLog, action="personal_card_revoked") == 1

    refused(
        staff_scan(client, settings, side_a, activity, card, nonce="card-out-01", direction="exit"),
        "code_revoked",
        400,
    )
    # offline scans uploaded later: the one taken before the card was lost still counts
    uploaded = _offline(
        client,
        settings,
        side_a,
        activity,
        [
            {"nonce": "card-offline-1", "code": card, "scan_time": before.isoformat()},
            {"nonce": "card-offline-2", "code": card, "scan_time": clock.now().isoformat()},
        ],
    )
    assert [(i["result"], i.get("code")) for i in uploaded.json()["items"]] == [
        ("duplicate", None),
        ("refused", "code_revoked"),
    ]
    # the pupil's phone code still works
    phone = personal(settings, side_a.student, expires=clock.now() + timedelta(minutes=5))
    assert (
        staff_scan(client, settings, side_a, activity, phone, nonce="phone-0001").status_code == 200
    )

    listed = client.get(
        f"/api/v1/students/{side_a.student.id}/personal-cards", headers=school(side_a)
    )
    assert [(c["id"], c["revoke_reason"]) for c in listed.json()["items"]] == [
        (card_id, "卡片丢失")
    ]
    hidden = client.get(
        f"/api/v1/students/{side_a.student.id}/personal-cards",
        headers=school(side_b),
    )
    assert hidden.status_code == 404
    revocations = client.get("/api/v1/personal-code-revocations")  # for venue devices, no login
    assert revocations.status_code == 200
    nonce = codes.parse_personal_code(
        codes.personal_keys(settings.personal_code_keys.get_secret_value()), card
    ).nonce
    assert revocations.json()["nonces"] == [nonce]
    clock.advance(timedelta(days=91))  # the card has expired: nothing left to list
    assert client.get("/api/v1/personal-code-revocations").json()["nonces"] == []


# --- group check-in ------------------------------------------------------------------------------


def _group(session: Session, side: Side, activity: Activity, pupils: list[Student]) -> Reservation:
    slot = create_slot(
        session, venue_id=activity.venue_id or 0, activity_id=activity.id, starts_at=START
    )
    reservation = Reservation(
        slot_id=slot.id or 0,
        kind="group",
        school_id=side.school.id or 0,
        group_label="四年级1班",
        students=len(pupils),
        escorts=1,
        party_size=len(pupils) + 1,
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
    return reservation


def test_a_teacher_checks_in_the_pupils_present_and_not_a_stranger(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    activity: Activity,
) -> None:
    pupils = [
        create_student(session, school_id=side_a.school.id or 0, birth_month=TEEN) for _ in range(3)
    ]
    reservation = _group(session, side_a, activity, pupils)
    stranger = side_b.student  # a student of another school
    body = {"student_ids": [pupils[0].id, pupils[1].id, stranger.id], "nonce": "class-4-1-a"}
    url = f"/api/v1/reservations/{reservation.id}/checkins"
    headers = auth(settings, side_a.principal(Role.school_staff))
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["accepted"], result["duplicate"], result["refused"]) == (2, 0, 1)
    by_key = {item["key"]: item for item in result["items"]}
    assert by_key[str(stranger.id)]["code"] == "not_registered"
    assert count(session, CheckIn, activity_id=activity.id, source="group") == 2
    assert count(session, CheckIn, student_id=stranger.id) == 0
    refusal = session.exec(select(ScanEvent).where(ScanEvent.result == "refused")).one()
    assert refusal.student_id is None  # nothing of another school's pupil is kept

    again = client.post(url, json=body, headers=headers).json()
    assert [i["result"] for i in again["items"]] == [i["result"] for i in result["items"]]
    assert count(session, CheckIn, activity_id=activity.id) == 2
    assert count(session, ScanEvent, activity_id=activity.id) == 3

    other_school = client.post(
        url, json=body, headers=auth(settings, side_b.principal(Role.school_staff))
    )
    assert other_school.status_code == 404


# --- offline batches ---------------------------------------------------------------------------


def _offline(
    client: TestClient,
    settings: Settings,
    side: Side,
    activity: Activity,
    items: list[dict[str, Any]],
) -> Any:
    return client.post(
        f"/api/v1/activities/{activity.id}/offline-scans",
        json={"device": "tablet-1", "items": items},
        headers=auth(settings, side.principal(Role.venue_staff), now=client.app.state.clock.now()),
    )


def test_an_offline_batch_gives_each_scan_its_result_and_a_reupload_changes_nothing(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    clock: FrozenClock,
) -> None:
    pupils = [
        create_student(session, school_id=side_a.school.id or 0, birth_month=TEEN) for _ in range(3)
    ]
    at = START + timedelta(minutes=10)
    items = [
        {
            "nonce": f"offline-{i:04d}",
            "code": personal(settings, p, expires=at + timedelta(minutes=5)),
            "scan_time": at.isoformat(),
        }
        for i, p in enumerate(pupils)
    ]
    forged = personal(settings, pupils[0], expires=at + timedelta(minutes=5))[:-4] + "AAAA"
    items.append({"nonce": "offline-0009", "code": forged, "scan_time": at.isoformat()})
    items.append({"nonce": "offline-0010", "code": items[0]["code"], "scan_time": at.isoformat()})
    clock.set(START + timedelta(hours=1))
    first = _offline(client, settings, side_a, activity, items)
    assert first.status_code == 200, first.text
    result = first.json()
    assert [i["result"] for i in result["items"]] == [
        "accepted",
        "accepted",
        "accepted",
        "refused",
        "duplicate",
    ]
    assert result["items"][3]["code"] == "code_invalid"
    visits = session.exec(select(CheckIn).where(CheckIn.activity_id == activity.id)).all()
    assert {v.entered_at for v in visits} == {at}  # the time of the scan, not of the upload
    assert {v.source for v in visits} == {"offline"}
    events = count(session, ScanEvent, activity_id=activity.id)

    again = _offline(client, settings, side_a, activity, items).json()
    assert again["items"] == result["items"]
    assert count(session, ScanEvent, activity_id=activity.id) == events
    assert count(session, CheckIn, activity_id=activity.id) == 3
    assert count(session, ParticipationRecord, activity_id=activity.id) == 3


def test_a_nonce_replayed_with_another_payload_is_refused(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    first, second = (
        create_student(session, school_id=side_a.school.id or 0, birth_month=TEEN) for _ in range(2)
    )
    at = START.isoformat()
    _offline(
        client,
        settings,
        side_a,
        activity,
        [{"nonce": "nonce-shared", "code": personal(settings, first), "scan_time": at}],
    )
    replay = _offline(
        client,
        settings,
        side_a,
        activity,
        [{"nonce": "nonce-shared", "code": personal(settings, second), "scan_time": at}],
    )
    assert replay.json()["items"][0]["code"] == "replayed_nonce"
    assert count(session, CheckIn, student_id=second.id) == 0


def test_force_records_a_scan_outside_the_window_and_reports_what_it_skipped(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    clock: FrozenClock,
) -> None:
    pupil = create_student(session, school_id=side_a.school.id or 0, birth_month=TEEN)
    early = START - timedelta(hours=2)
    code = personal(settings, pupil, expires=early + timedelta(minutes=5))
    clock.set(START + timedelta(hours=1))
    plain = {"nonce": "early-0001", "code": code, "scan_time": early.isoformat()}
    assert (
        _offline(client, settings, side_a, activity, [plain]).json()["items"][0]["code"]
        == "not_started"
    )
    forced = {**plain, "nonce": "early-0002", "force": True}
    item = _offline(client, settings, side_a, activity, [forced]).json()["items"][0]
    assert item["result"] == "accepted"
    assert item["warnings"] == ["not_started"]
    event = session.exec(select(ScanEvent).where(ScanEvent.nonce == "early-0002")).one()
    assert event.forced is True
    # force never excuses a forged or expired code, or a scan from the future
    late = {
        "nonce": "late-0001",
        "code": code,
        "scan_time": (early + timedelta(minutes=6)).isoformat(),
        "force": True,
    }
    assert (
        _offline(client, settings, side_a, activity, [late]).json()["items"][0]["code"]
        == "code_expired"
    )
    future = {
        "nonce": "future-001",
        "code": code,
        "scan_time": (clock.now() + timedelta(hours=1)).isoformat(),
        "force": True,
    }
    assert (
        _offline(client, settings, side_a, activity, [future]).json()["items"][0]["code"]
        == "scan_time_invalid"
    )


def test_a_batch_holds_at_most_1000_scans(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity
) -> None:
    item = {"nonce": "n-00000000", "code": "P.DEV.AAAAAAAAAAAAAAAA", "scan_time": START.isoformat()}
    response = _offline(client, settings, side_a, activity, [item] * 1001)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.items"


# --- closing visits ---------------------------------------------------------------------------


def test_close_visits_closes_what_was_left_open_with_the_activitys_credit(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    clock: FrozenClock,
) -> None:
    zero = create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        starts_at=START,
        ends_at=START + timedelta(hours=2),
        admission="open",
        auto_close_credit="zero",
    )
    for target in (activity, zero):
        assert (
            staff_scan(
                client,
                settings,
                side_a,
                target,
                personal(settings, side_a.student),
                nonce=f"in-visit-{target.id}",
            ).status_code
            == 201
        )

    assert close_visits(session, START + timedelta(hours=1), settings) == 0
    # The short one, once exit scans are no longer taken (30 minutes after its end).
    assert close_visits(session, START + timedelta(hours=2, minutes=29), settings) == 0
    assert close_visits(session, START + timedelta(hours=2, minutes=30), settings) == 1
    assert close_visits(session, END + timedelta(minutes=30), settings) == 1
    assert close_visits(session, END + timedelta(hours=1), settings) == 0  # nothing left
    visits = {v.activity_id: v for v in session.exec(select(CheckIn)).all()}
    for visit in visits.values():
        session.refresh(visit)
    assert visits[activity.id].closed_by == "auto_closed"
    assert visits[activity.id].exited_at == END
    assert visits[activity.id].minutes == 120  # the activity's credited minutes, no more
    assert visits[zero.id].minutes == 0
    record = session.get(ParticipationRecord, visits[activity.id].record_id)
    assert record is not None
    session.refresh(record)
    assert record.minutes == 120


def test_a_visit_of_a_long_activity_closes_at_the_end_of_its_day(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    long_one = create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        starts_at=START,
        ends_at=START + timedelta(days=10),
        admission="open",
    )
    grant_consent(
        session,
        student=side_a.student,
        link=side_a.guardian_link,
        purposes=["participation_record"],
    )
    assert (
        staff_scan(
            client, settings, side_a, long_one, personal(settings, side_a.student)
        ).status_code
        == 201
    )
    midnight = datetime(2026, 10, 14, 16, 0, tzinfo=UTC)  # 00:00 on the 15th in Beijing
    assert close_visits(session, midnight + timedelta(minutes=29), settings) == 0
    assert close_visits(session, midnight + timedelta(minutes=30), settings) == 1
    visit = session.exec(select(CheckIn)).one()
    session.refresh(visit)
    assert visit.exited_at == midnight


# --- lists, export, corrections ---------------------------------------------------------------


def test_the_venue_lists_attendees_masked_with_counts_and_exports_them(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    activity: Activity,
    clock: FrozenClock,
) -> None:
    pupil = create_student(
        session, school_id=side_b.school.id or 0, name="李四光", birth_month=TEEN
    )
    for student, nonce in ((side_a.student, "list-00001"), (pupil, "list-00002")):
        staff_scan(client, settings, side_a, activity, personal(settings, student), nonce=nonce)
    clock.advance(timedelta(hours=1))
    staff_scan(
        client,
        settings,
        side_a,
        activity,
        personal(settings, pupil, expires=clock.now() + timedelta(minutes=1)),
        direction="exit",
        nonce="list-00003",
    )
    headers = auth(settings, side_a.principal(Role.venue_staff), now=clock.now())
    page = client.get(f"/api/v1/activities/{activity.id}/checkins", headers=headers).json()
    assert page["counts"] == {"total": 2, "open": 1, "closed": 1, "auto_closed": 0}
    assert {i["student_name"] for i in page["items"]} == {"张*明", "李*光"}
    open_only = client.get(
        f"/api/v1/activities/{activity.id}/checkins?status=open", headers=headers
    ).json()
    assert [i["student_id"] for i in open_only["items"]] == [side_a.student.id]

    export = client.get(f"/api/v1/activities/{activity.id}/checkins.csv", headers=headers)
    assert export.status_code == 200
    assert export.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][:7] == ["日期", "学校", "年级", "班级", "姓名", "签到方式", "签到时间"]
    closed = next(r for r in rows[1:] if r[4] == "李*光")
    assert closed[6:10] == ["2026-10-14 10:00", "2026-10-14 11:00", "签退", "60"]
    assert export.headers["X-Row-Count"] == "2"
    audit = session.exec(select(AuditLog).where(AuditLog.action == "checkins_exported")).one()
    assert '"row_count": 2' in (audit.detail or "")

    other = client.get(
        f"/api/v1/activities/{activity.id}/checkins",
        headers=auth(settings, side_b.principal(Role.venue_staff), now=clock.now()),
    )
    assert other.status_code == 404


def test_refused_scans_are_listed_with_their_reasons(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity
) -> None:
    staff_scan(client, settings, side_a, activity, "P.DEV.NOTASIGNATURE", nonce="bad-00001")
    staff_scan(
        client, settings, side_a, activity, personal(settings, side_a.student), nonce="ok-000001"
    )
    response = client.get(
        f"/api/v1/activities/{activity.id}/scan-events?result=refused",
        headers=auth(settings, side_a.principal(Role.venue_staff)),
    )
    body = response.json()
    assert body["total"] == 1
    assert body["items"][0]["reason"] == "code_invalid"
    assert body["items"][0]["source"] == "staff_scan"


def test_a_correction_needs_a_reason_and_is_audited(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    activity: Activity,
) -> None:
    visit = staff_scan(
        client, settings, side_a, activity, personal(settings, side_a.student)
    ).json()
    url = f"/api/v1/checkins/{visit['id']}"
    headers = auth(settings, side_a.principal(Role.venue_staff))
    missing = client.patch(url, json={"minutes": 60}, headers=headers)
    assert missing.status_code == 422
    fixed = client.patch(
        url,
        json={
            "exited_at": (START + timedelta(minutes=95)).isoformat(),
            "reason": "学生忘记签退，带队老师确认",
        },
        headers=headers,
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["minutes"] == 90
    assert fixed.json()["closed_by"] == "staff"
    assert (fixed.json()["record_updated"], fixed.json()["record_status"]) == (True, "pending")
    record = session.get(ParticipationRecord, visit["record_id"])
    assert record is not None
    session.refresh(record)
    assert record.minutes == 90
    entry = session.exec(select(AuditLog).where(AuditLog.action == "checkin_corrected")).one()
    assert "带队老师确认" in (entry.detail or "")
    other = client.patch(
        url,
        json={"minutes": 30, "reason": "改时长"},
        headers=auth(settings, side_b.principal(Role.venue_staff)),
    )
    assert other.status_code == 404


def test_principal_helper_is_the_student(side_a: Side) -> None:
    principal: Principal = side_a.principal(Role.student)
    assert principal.student_id == side_a.student.id


def test_a_correction_after_the_schools_review_leaves_the_record_and_says_so(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
) -> None:
    visit = staff_scan(
        client, settings, side_a, activity, personal(settings, side_a.student)
    ).json()
    record = session.get(ParticipationRecord, visit["record_id"])
    assert record is not None
    record.status = "reviewed"  # the school has reviewed what it saw
    record.minutes = 60
    session.add(record)
    session.flush()

    late = client.patch(
        f"/api/v1/checkins/{visit['id']}",
        json={"exited_at": (START + timedelta(minutes=185)).isoformat(), "reason": "补录签退"},
        headers=auth(settings, side_a.principal(Role.venue_staff)),
    )

    assert late.status_code == 200, late.text
    assert late.json()["minutes"] == 180  # the visit is corrected
    assert (late.json()["record_updated"], late.json()["record_status"]) == (False, "reviewed")
    session.refresh(record)
    assert record.minutes == 60  # the record keeps what the school reviewed
    entry = session.exec(select(AuditLog).where(AuditLog.action == "checkin_corrected")).one()
    assert '"record_updated": false' in (entry.detail or "")


def test_a_waitlisted_or_cancelled_group_is_not_checked_in(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
) -> None:
    pupils = [create_student(session, school_id=side_a.school.id or 0, birth_month=TEEN)]
    reservation = _group(session, side_a, activity, pupils)
    url = f"/api/v1/reservations/{reservation.id}/checkins"
    headers = auth(settings, side_a.principal(Role.school_staff))
    for status in ("waitlisted", "cancelled"):
        reservation.status = status
        session.add(reservation)
        session.flush()
        body = {"student_ids": [pupils[0].id], "nonce": f"class-{status}"}
        answer = client.post(url, json=body, headers=headers)
        assert answer.status_code == 409
        assert answer.json()["code"] == "reservation_not_confirmed"
    assert count(session, CheckIn, activity_id=activity.id) == 0
    assert count(session, ScanEvent, activity_id=activity.id) == 0
