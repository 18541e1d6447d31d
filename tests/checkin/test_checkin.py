"""Students scan venue codes: every refusal in DESIGN.md's order, duplicates, exits, durations.

The clock stands at Wednesday 2026-10-14 10:00 Beijing; the activity runs 10:00-16:00 there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, func, select

from scipass.activity.models import Activity
from scipass.audit.models import AuditLog
from scipass.checkin import codes, render
from scipass.checkin.models import ActivityCode, CheckIn, ScanEvent
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.record.models import ParticipationRecord, RecordEvent
from scipass.reservation.models import Reservation, ReservationMember
from tests.factories import (
    NOW,
    Side,
    auth,
    bound_student,
    create_activity,
    create_slot,
    grant_consent,
    list_venue,
)

START = datetime(2026, 10, 14, 2, 0, tzinfo=UTC)
END = START + timedelta(hours=6)
CENTRE = (28.1941, 112.9765)  # (latitude, longitude), GCJ-02


@pytest.fixture
def activity(session: Session, side_a: Side) -> Activity:
    grant_consent(
        session,
        student=side_a.student,
        link=side_a.guardian_link,
        purposes=["participation_record", "location"],
    )
    return create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        title="走进科技馆：力与运动",
        starts_at=START,
        ends_at=END,
        admission="open",
        latitude=CENTRE[0],
        longitude=CENTRE[1],
    )


def new_code(
    client: TestClient, settings: Settings, side: Side, activity: Activity, **body: Any
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/activities/{activity.id}/codes",
        json={"kind": "static", **body},
        headers=auth(settings, side.principal(Role.venue_staff)),
    )
    assert response.status_code == 201, response.text
    return response.json()


def scan(
    client: TestClient,
    settings: Settings,
    principal: Principal,
    code: str,
    *,
    key: str | None = None,
    **body: Any,
) -> Any:
    headers = auth(settings, principal, now=client.app.state.clock.now())
    headers["Idempotency-Key"] = key or f"key-{code[-12:]}-{len(body)}-{id(body)}"
    return client.post("/api/v1/checkins", json={"code": code, **body}, headers=headers)


def student(side: Side) -> Principal:
    return side.principal(Role.student)


def refused(response: Any, code: str, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code
    return body


def count(session: Session, model: Any, **where: Any) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return session.exec(query).one()


# --- the happy path --------------------------------------------------------------------------


def test_a_scan_makes_a_visit_a_scan_event_and_a_pending_record(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    assert code["link"] == settings.code_link_base + code["payload"]
    assert code["scene"] == "c=" + code["short_id"]

    response = scan(client, settings, student(side_a), code["link"], scan_time=1_760_407_200)
    assert response.status_code == 201, response.text
    visit = response.json()
    assert visit["activity_title"] == "走进科技馆：力与运动"
    assert visit["day"] == "2026-10-14"
    assert visit["source"] == "self_scan"
    assert visit["duplicate"] is False
    assert visit["exited_at"] is None

    record = session.get(ParticipationRecord, visit["record_id"])
    assert record is not None
    assert (record.status, record.source, record.source_ref) == (
        "pending",
        "checkin",
        f"{activity.id}:2026-10-14",
    )
    assert record.student_id == side_a.student.id
    assert record.activity_id == activity.id
    assert record.minutes == 0
    event = session.exec(select(ScanEvent).where(ScanEvent.check_in_id == visit["id"])).one()
    assert (event.result, event.reason, event.source) == ("accepted", "", "self_scan")
    assert event.scan_time == datetime.fromtimestamp(1_760_407_200, tz=UTC)
    assert event.operator == student(side_a).subject


def test_a_second_scan_returns_the_visit_with_200_and_counts_nothing(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    first = scan(client, settings, student(side_a), code["payload"], key="first-scan-1")
    again = scan(client, settings, student(side_a), code["payload"], key="second-scan-2")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["duplicate"] is True
    assert count(session, CheckIn, activity_id=activity.id) == 1
    assert count(session, ParticipationRecord, activity_id=activity.id) == 1
    results = session.exec(select(ScanEvent.result).where(ScanEvent.activity_id == activity.id))
    assert sorted(results) == ["accepted", "duplicate"]


def test_a_retry_with_the_same_key_answers_the_first_result_even_after_the_code_turned(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    clock: FrozenClock,
) -> None:
    code = new_code(client, settings, side_a, activity, kind="rotating")
    first = scan(client, settings, student(side_a), code["link"], key="weak-network-1")
    clock.advance(timedelta(minutes=5))  # the phone retries much later: the code has turned
    again = scan(client, settings, student(side_a), code["link"], key="weak-network-1")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert count(session, ScanEvent, activity_id=activity.id) == 1


def test_the_mini_program_scene_resolves_to_its_static_code(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    response = scan(client, settings, student(side_a), code["scene"])
    assert response.status_code == 201, response.text


def test_the_link_as_wechat_passes_it_url_encoded_is_accepted(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    encoded = code["link"].replace(":", "%3A").replace("/", "%2F")
    assert scan(client, settings, student(side_a), encoded).status_code == 201


# --- code checks ------------------------------------------------------------------------------


def test_a_forged_mac_is_refused_and_the_refusal_is_stored(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    payload = new_code(client, settings, side_a, activity)["payload"]
    forged = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    refused(scan(client, settings, student(side_a), forged), "code_invalid", 400)
    event = session.exec(select(ScanEvent).where(ScanEvent.result == "refused")).one()
    assert event.reason == "code_invalid"
    assert event.student_id == side_a.student.id
    assert count(session, CheckIn) == 0
    assert count(session, ParticipationRecord, source="checkin") == 0


@pytest.mark.parametrize("text", ["S.AAAAAAAA.DEV", "hello", "c=ABC", "R.X.Y.Z", "c=ZZZZZZZZ"])
def test_garbage_and_unknown_codes_are_invalid(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity, text: str
) -> None:
    refused(scan(client, settings, student(side_a), text), "code_invalid", 400)


def test_a_code_signed_by_an_unknown_key_id_is_invalid_and_an_old_key_works_until_removed(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    other = Settings(code_signing_keys="k9:" + "z" * 40, _env_file=None)  # type: ignore[call-arg]
    unknown = codes.static_payload(other.code_keyring, code["short_id"])
    assert unknown.split(".")[2] == "K9"
    refused(
        scan(client, settings, student(side_a), unknown, key="unknown-kid"), "code_invalid", 400
    )

    # Rotation: a new key signs, the old one still verifies until it is removed.
    old_payload = code["payload"]
    rotated = f"k2:{'n' * 40},{settings.code_signing_keys.get_secret_value()}"
    settings.code_signing_keys = SecretStr(rotated)
    assert settings.code_keyring.active_kid == "k2"
    assert scan(client, settings, student(side_a), old_payload, key="old-key-ok").status_code == 201
    settings.code_signing_keys = SecretStr(f"k2:{'n' * 40}")
    refused(
        scan(client, settings, student(side_a), old_payload, key="old-key-gone"),
        "code_invalid",
        400,
    )


def test_a_code_with_another_codes_short_id_is_invalid(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    other = create_activity(
        session, venue_id=side_a.venue.id or 0, starts_at=START, ends_at=END, admission="open"
    )
    mine = new_code(client, settings, side_a, activity)
    theirs = new_code(client, settings, side_a, other)
    spliced = mine["payload"].replace(mine["short_id"], theirs["short_id"])
    refused(scan(client, settings, student(side_a), spliced), "code_invalid", 400)


def test_an_exit_with_another_activitys_code_finds_no_visit(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    other = create_activity(
        session, venue_id=side_a.venue.id or 0, starts_at=START, ends_at=END, admission="open"
    )
    mine = new_code(client, settings, side_a, activity)
    theirs = new_code(client, settings, side_a, other)
    assert scan(client, settings, student(side_a), mine["payload"]).status_code == 201
    response = scan(client, settings, student(side_a), theirs["payload"], direction="exit")
    refused(response, "not_checked_in", 409)


def test_a_static_code_past_its_validity_is_expired(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity, clock: FrozenClock
) -> None:
    code = new_code(
        client, settings, side_a, activity, valid_until=(START + timedelta(hours=1)).isoformat()
    )
    clock.advance(timedelta(hours=1, seconds=1))
    refused(scan(client, settings, student(side_a), code["payload"]), "code_expired", 400)


def test_a_revoked_code_is_refused(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    assert (
        scan(client, settings, student(side_a), code["payload"], key="before-revoke").status_code
        == 201
    )
    revoked = client.post(
        f"/api/v1/codes/{code['id']}/revoke",
        json={"reason": "海报被拍照转发"},
        headers=auth(settings, side_a.principal(Role.venue_staff)),
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoke_reason"] == "海报被拍照转发"
    entry = session.exec(select(AuditLog).where(AuditLog.action == "code_revoked")).one()
    assert "海报被拍照转发" in (entry.detail or "")
    response = scan(client, settings, student(side_a), code["payload"], key="after-revoke")
    refused(response, "code_revoked", 400)
    refusal = session.exec(select(ScanEvent).where(ScanEvent.reason == "code_revoked")).one()
    assert refusal.activity_id == activity.id  # listed among the activity's refused scans


def test_a_rotating_code_lives_its_step_and_one_step_of_margin(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    clock: FrozenClock,
) -> None:
    code = new_code(client, settings, side_a, activity, kind="rotating", step_seconds=20)
    assert code["step_seconds"] == 20
    assert code["kiosk_url"].startswith(f"/kiosk/{activity.id}?token=K.")
    shown = code["link"]
    clock.advance(timedelta(seconds=20))  # next step: still inside the margin
    assert scan(client, settings, student(side_a), shown, key="in-margin").status_code == 201

    _, friend = bound_student(
        session, school_id=side_a.school.id or 0, birth_month=date(2008, 1, 1)
    )
    clock.advance(timedelta(seconds=20))  # two steps later: a photo sent to a friend has expired
    refused(scan(client, settings, friend, shown, key="replayed-late"), "code_expired", 400)


def test_a_static_payload_on_a_rotating_code_is_invalid(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity, kind="rotating")
    static = codes.static_payload(settings.code_keyring, code["short_id"])
    refused(scan(client, settings, student(side_a), static), "code_invalid", 400)


def test_the_qr_of_a_rotating_link_stays_small(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity, kind="rotating")
    assert len(code["link"]) <= 70
    assert render.qr_version(code["link"]) <= 4
    assert code["link"] == code["link"].upper()  # alphanumeric mode


# --- the window -------------------------------------------------------------------------------


def test_not_started_and_window_closed(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    clock: FrozenClock,
) -> None:
    code = new_code(client, settings, side_a, activity)
    activity.checkin_closes_minutes = 60
    session.add(activity)
    session.flush()
    clock.set(START - timedelta(minutes=31))
    body = refused(
        scan(client, settings, student(side_a), code["payload"], key="too-early-1"),
        "not_started",
        409,
    )
    assert "30" in body["detail"]
    clock.set(START - timedelta(minutes=30))  # opens 30 minutes before the start
    assert (
        scan(client, settings, student(side_a), code["payload"], key="just-open-1").status_code
        == 201
    )

    clock.set(START + timedelta(minutes=60, seconds=1))
    _, latecomer = bound_student(
        session, school_id=side_a.school.id or 0, birth_month=date(2008, 1, 1)
    )
    refused(
        scan(client, settings, latecomer, code["payload"], key="too-late-1"), "window_closed", 409
    )
    # An exit is still taken after check-in closed, until half an hour after the end.
    response = scan(
        client, settings, student(side_a), code["payload"], key="exit-after-close", direction="exit"
    )
    assert response.status_code == 201


def test_a_cancelled_activity_refuses_its_codes(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    activity.status = "cancelled"
    session.add(activity)
    session.flush()
    refused(scan(client, settings, student(side_a), code["payload"]), "code_revoked", 400)


# --- the student ------------------------------------------------------------------------------


def test_an_unbound_wechat_user_is_told_to_bind(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    refused(
        scan(client, settings, side_a.principal(Role.wechat_user), code["payload"]),
        "student_unbound",
        403,
    )


def test_a_token_of_a_student_who_unbound_since_is_unbound(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    side_a.student.wechat_user_id = None
    session.add(side_a.student)
    session.flush()
    refused(scan(client, settings, student(side_a), code["payload"]), "student_unbound", 403)


def test_an_under_14_without_consent_is_refused(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    _, principal = bound_student(session, school_id=side_a.school.id or 0)  # 10 years old
    body = refused(scan(client, settings, principal, code["payload"]), "consent_required", 403)
    assert body["purpose"] == "participation_record"


def test_a_student_of_another_stage_is_ineligible(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    activity.stages = "senior"
    session.add(activity)
    session.flush()
    code = new_code(client, settings, side_a, activity)
    refused(scan(client, settings, student(side_a), code["payload"]), "ineligible", 403)


def test_a_reservation_activity_needs_a_place(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    activity.admission = "reservation"
    session.add(activity)
    session.flush()
    code = new_code(client, settings, side_a, activity)
    refused(
        scan(client, settings, student(side_a), code["payload"], key="no-place-1"),
        "not_registered",
        403,
    )

    slot = create_slot(
        session,
        venue_id=side_a.venue.id or 0,
        activity_id=activity.id,
        starts_at=START,
        ends_at=START + timedelta(hours=2),
    )
    reservation = Reservation(
        slot_id=slot.id or 0,
        kind="individual",
        student_id=side_a.student.id,
        school_id=side_a.school.id or 0,
        students=1,
        party_size=1,
        status="confirmed",
        made_by=student(side_a).subject,
        created_at=NOW,
    )
    session.add(reservation)
    session.flush()
    session.add(
        ReservationMember(
            reservation_id=reservation.id or 0,
            slot_id=slot.id or 0,
            student_id=side_a.student.id or 0,
        )
    )
    session.flush()
    assert (
        scan(client, settings, student(side_a), code["payload"], key="with-place-1").status_code
        == 201
    )


def test_capacity_full_once_the_places_are_taken(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    activity.capacity = 1
    session.add(activity)
    session.flush()
    code = new_code(client, settings, side_a, activity)
    assert (
        scan(client, settings, student(side_a), code["payload"], key="first-in-1").status_code
        == 201
    )
    _, second = bound_student(
        session, school_id=side_a.school.id or 0, birth_month=date(2008, 1, 1)
    )
    refused(
        scan(client, settings, second, code["payload"], key="second-in-1"), "capacity_full", 409
    )
    # The first student's second scan is a duplicate, not a second place.
    again = scan(client, settings, student(side_a), code["payload"], key="first-again-1")
    assert again.status_code == 200
    session.refresh(activity)
    assert activity.checked_in == 1


# --- location ---------------------------------------------------------------------------------


def _geofenced(session: Session, activity: Activity, radius: int = 200) -> None:
    activity.geofence_radius_m = radius
    activity.geofence_max_accuracy_m = 50
    session.add(activity)
    session.flush()


def _north(metres: float) -> dict[str, float]:
    """A point ``metres`` north of the centre (one degree of latitude is about 111.2 km)."""
    return {"latitude": CENTRE[0] + metres / 111_194.9, "longitude": CENTRE[1], "accuracy": 20}


def test_geofence_either_side_of_the_radius(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    _geofenced(session, activity)
    code = new_code(client, settings, side_a, activity)
    outside = scan(
        client, settings, student(side_a), code["payload"], key="outside-1", location=_north(205)
    )
    body = refused(outside, "out_of_geofence", 403)
    assert 204 <= body["distance_m"] <= 206
    assert body["radius_m"] == 200
    inside = scan(
        client, settings, student(side_a), code["payload"], key="inside-1", location=_north(195)
    )
    assert inside.status_code == 201, inside.text
    events = session.exec(
        select(ScanEvent).where(ScanEvent.activity_id == activity.id).order_by(ScanEvent.id)
    ).all()
    assert [e.result for e in events] == ["refused", "accepted"]
    assert 204 <= (events[0].distance_m or 0) <= 206  # the venue sees how far off it was
    assert 194 <= (events[1].distance_m or 0) <= 196


def test_geofence_needs_a_location_and_an_accurate_one(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    _geofenced(session, activity)
    code = new_code(client, settings, side_a, activity)
    refused(
        scan(client, settings, student(side_a), code["payload"], key="no-loc-1"),
        "location_required",
        422,
    )
    blurry = {**_north(10), "accuracy": 80}
    refused(
        scan(client, settings, student(side_a), code["payload"], key="blurry-1", location=blurry),
        "location_inaccurate",
        422,
    )


def test_without_location_consent_the_location_is_not_used(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    _geofenced(session, activity)
    child, principal = bound_student(session, school_id=side_a.school.id or 0)
    grant_consent(
        session, student=child, link=side_a.guardian_link, purposes=["participation_record"]
    )
    code = new_code(client, settings, side_a, activity)
    body = refused(
        scan(client, settings, principal, code["payload"], location=_north(5)),
        "location_required",
        422,
    )
    assert body["consent"] is False
    event = session.exec(select(ScanEvent).where(ScanEvent.student_id == child.id)).one()
    assert event.latitude is None  # not kept without consent
    assert event.longitude is None


# --- nonces and rate ------------------------------------------------------------------------------


def test_a_key_reused_for_another_scan_is_refused(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    first = new_code(client, settings, side_a, activity)
    other = create_activity(
        session, venue_id=side_a.venue.id or 0, starts_at=START, ends_at=END, admission="open"
    )
    second = new_code(client, settings, side_a, other)
    assert (
        scan(client, settings, student(side_a), first["payload"], key="same-nonce-1").status_code
        == 201
    )
    refused(
        scan(client, settings, student(side_a), second["payload"], key="same-nonce-1"),
        "idempotency_key_reused",
        409,
    )
    assert count(session, CheckIn, activity_id=other.id) == 0
    assert count(session, ScanEvent, activity_id=other.id, reason="idempotency_key_reused") == 1


def test_a_key_is_one_requests_across_scans_and_other_writes(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    """A scan's key sent with a reservation, or a reservation's key with a scan, is refused
    (409 idempotency_key_reused) and writes nothing: check-in keeps its keys on its scan
    events, the other writes in the shared table, and each looks in the other."""
    code = new_code(client, settings, side_a, activity)
    headers = auth(settings, student(side_a), now=client.app.state.clock.now())  # type: ignore[attr-defined]
    slot = create_slot(session, venue_id=list_venue(session, side_a.venue).id or 0)
    assert (
        scan(client, settings, student(side_a), code["payload"], key="scan-key-0001").status_code
        == 201
    )
    reserve = client.post(
        f"/api/v1/slots/{slot.id}/reservations",
        json={},
        headers={**headers, "Idempotency-Key": "scan-key-0001"},
    )
    assert reserve.status_code == 409, reserve.text
    assert reserve.json()["code"] == "idempotency_key_reused"
    assert count(session, Reservation, slot_id=slot.id) == 0

    reserved = client.post(
        f"/api/v1/slots/{slot.id}/reservations",
        json={},
        headers={**headers, "Idempotency-Key": "reserve-key-01"},
    )
    assert reserved.status_code == 201, reserved.text
    other = create_activity(
        session, venue_id=side_a.venue.id or 0, starts_at=START, ends_at=END, admission="open"
    )
    second = new_code(client, settings, side_a, other)
    refused(
        scan(client, settings, student(side_a), second["payload"], key="reserve-key-01"),
        "idempotency_key_reused",
        409,
    )
    assert count(session, CheckIn, activity_id=other.id) == 0


def test_too_many_scans_in_a_minute_are_rate_limited(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    settings.scan_rate_per_minute = 3
    code = new_code(client, settings, side_a, activity)
    answers = [
        scan(client, settings, student(side_a), code["payload"], key=f"rapid-{i:04d}")
        for i in range(4)
    ]
    assert [a.status_code for a in answers[:3]] == [201, 200, 200]
    body = refused(answers[3], "rate_limited", 429)
    assert answers[3].headers["Retry-After"] == "60"
    assert body["status"] == 429


def test_an_idempotency_key_is_required(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    response = client.post(
        "/api/v1/checkins", json={"code": code["payload"]}, headers=auth(settings, student(side_a))
    )
    assert response.status_code == 422
    assert count_fields(response.json()) == ["header.Idempotency-Key"]


def count_fields(problem: dict[str, Any]) -> list[str]:
    return [e["field"] for e in problem["errors"]]


def test_staff_cannot_self_scan_and_guardians_name_the_child(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    refused(
        scan(client, settings, side_a.principal(Role.venue_staff), code["payload"]),
        "role_forbidden",
        403,
    )
    # family mode (tests/checkin/test_family.py): a guardian scans for a child named in the query
    refused(
        scan(client, settings, side_a.principal(Role.guardian), code["payload"]),
        "student_id_required",
        422,
    )


# --- exits and duration -----------------------------------------------------------------------


def test_an_exit_closes_the_visit_with_rounded_minutes_on_the_record(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    clock: FrozenClock,
) -> None:
    code = new_code(client, settings, side_a, activity)
    clock.set(START - timedelta(minutes=20))  # early: counted from the start
    entered = scan(client, settings, student(side_a), code["payload"], key="enter-0001").json()
    clock.set(START + timedelta(minutes=109))
    exited = scan(
        client, settings, student(side_a), code["payload"], key="exit-00001", direction="exit"
    )
    assert exited.status_code == 201, exited.text
    body = exited.json()
    assert body["id"] == entered["id"]
    assert body["minutes"] == 90  # 109 minutes rounded down to the half hour
    assert body["closed_by"] == "exit_scan"
    record = session.get(ParticipationRecord, body["record_id"])
    assert record is not None
    session.refresh(record)
    assert record.minutes == 90
    assert record.ended_at == START + timedelta(minutes=109)
    actions = session.exec(
        select(RecordEvent.action).where(RecordEvent.record_id == record.id)
    ).all()
    assert actions == ["created", "duration"]
    again = scan(
        client, settings, student(side_a), code["payload"], key="exit-00002", direction="exit"
    )
    assert again.status_code == 200
    assert again.json()["duplicate"] is True


def test_minutes_are_capped_per_day(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    clock: FrozenClock,
) -> None:
    activity.daily_cap_minutes = 120
    session.add(activity)
    session.flush()
    code = new_code(client, settings, side_a, activity)
    scan(client, settings, student(side_a), code["payload"], key="cap-enter-1")
    clock.set(END + timedelta(minutes=10))  # past the end: counted to the end, then capped
    body = scan(
        client, settings, student(side_a), code["payload"], key="cap-exit-01", direction="exit"
    ).json()
    assert body["minutes"] == 120
    assert body["exited_at"].startswith("2026-10-14T08:10")


def test_an_exit_without_entry_is_not_checked_in(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    refused(
        scan(client, settings, student(side_a), code["payload"], direction="exit"),
        "not_checked_in",
        409,
    )


def test_own_check_ins(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    scan(client, settings, student(side_a), code["payload"])
    mine = client.get("/api/v1/me/checkins", headers=auth(settings, student(side_a))).json()
    assert mine["total"] == 1
    assert mine["items"][0]["activity_title"] == "走进科技馆：力与运动"
    theirs = client.get("/api/v1/me/checkins", headers=auth(settings, student(side_b))).json()
    assert theirs["total"] == 0


def test_codes_are_issued_only_by_the_organiser(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, activity: Activity
) -> None:
    for principal in (side_b.principal(Role.venue_staff), side_a.principal(Role.school_staff)):
        response = client.post(
            f"/api/v1/activities/{activity.id}/codes",
            json={"kind": "static"},
            headers=auth(settings, principal),
        )
        assert response.status_code == 404
        assert response.json()["code"] == "activity_not_found"
    code = new_code(client, settings, side_a, activity)
    for path in ("qr.png", "qr.svg", "poster.pdf"):
        response = client.get(
            f"/api/v1/codes/{code['id']}/{path}",
            headers=auth(settings, side_b.principal(Role.venue_staff)),
        )
        assert response.status_code == 404
    listed = client.get(
        f"/api/v1/activities/{activity.id}/codes",
        headers=auth(settings, side_a.principal(Role.venue_staff)),
    )
    assert [c["id"] for c in listed.json()["items"]] == [code["id"]]


def test_static_code_images_encode_the_link(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    code = new_code(client, settings, side_a, activity)
    headers = auth(settings, side_a.principal(Role.venue_staff))
    png = client.get(f"/api/v1/codes/{code['id']}/qr.png", headers=headers)
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content == render.qr_png(code["link"])
    svg = client.get(f"/api/v1/codes/{code['id']}/qr.svg", headers=headers)
    assert svg.text == render.qr_svg(code["link"])
    poster = client.get(f"/api/v1/codes/{code['id']}/poster.pdf", headers=headers)
    assert poster.status_code == 200
    assert poster.content.startswith(b"%PDF")
    rotating = new_code(client, settings, side_a, activity, kind="rotating")
    response = client.get(f"/api/v1/codes/{rotating['id']}/qr.png", headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "code_kind_invalid"
    assert session.get(ActivityCode, code["id"]) is not None
