"""Cheating, floods and privacy: exits from home, retries after a refusal, capacity changes,
who sees which names, and location kept no longer than needed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, delete, func, select

from scipass.activity.models import Activity
from scipass.audit.models import AuditLog
from scipass.checkin import cards as checkin_cards
from scipass.checkin import codes
from scipass.checkin.jobs import purge_telemetry
from scipass.checkin.models import CheckIn, ScanEvent
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.core.ratelimit import RateLimitCounter
from tests.checkin.test_checkin import (
    CENTRE,
    END,
    START,
    activity,  # noqa: F401  (fixture)
    new_code,
    refused,
    scan,
    student,
)
from tests.checkin.test_staff_and_batches import _group, personal, staff_scan
from tests.factories import NOW, Side, auth, create_activity, create_student, create_wechat_user

TEEN = date(2009, 5, 1)


def _north(metres: float, accuracy: float = 20) -> dict[str, float]:
    return {
        "latitude": CENTRE[0] + metres / 111_194.9,
        "longitude": CENTRE[1],
        "accuracy": accuracy,
    }


def _fence(session: Session, target: Activity) -> None:
    target.geofence_radius_m = 200
    session.add(target)
    session.flush()


def test_an_exit_from_outside_the_geofence_is_refused(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
    clock: FrozenClock,
) -> None:
    _fence(session, activity)
    code = new_code(client, settings, side_a, activity)
    enter = scan(
        client, settings, student(side_a), code["payload"], key="in-on-site", location=_north(50)
    )
    assert enter.status_code == 201
    clock.advance(timedelta(hours=5))  # at home, a photo of the poster
    home = scan(
        client,
        settings,
        student(side_a),
        code["payload"],
        key="out-at-home",
        direction="exit",
        location=_north(9000),
    )
    refused(home, "out_of_geofence", 403)
    visit = session.exec(select(CheckIn)).one()
    session.refresh(visit)
    assert visit.exited_at is None


def test_a_retry_of_a_rate_limited_scan_is_refused_again_and_a_flood_writes_nothing(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    settings.scan_rate_per_minute = 2
    code = new_code(client, settings, side_a, activity)
    for i in range(2):
        assert scan(
            client, settings, student(side_a), code["payload"], key=f"burst-{i:04d}"
        ).status_code in (200, 201)
    limited = scan(client, settings, student(side_a), code["payload"], key="burst-0002")
    refused(limited, "rate_limited", 429)
    again = scan(client, settings, student(side_a), code["payload"], key="burst-0002")
    refused(again, "rate_limited", 429)
    events = session.exec(select(func.count()).select_from(ScanEvent)).one()
    counter = select(RateLimitCounter.count).where(
        RateLimitCounter.key == f"student:{side_a.student.id}"
    )
    assert session.exec(counter).one() == 4  # twice the rate: each counted in the database
    for i in range(3, 8):
        refused(
            scan(client, settings, student(side_a), "garbage", key=f"flood-{i:04d}"),
            "rate_limited",
            429,
        )
    assert session.exec(select(func.count()).select_from(ScanEvent)).one() == events + 0
    # past twice the rate in this process alone: refused before the database is touched
    session.expire_all()
    assert session.exec(counter).one() == 4


def test_a_long_group_nonce_still_checks_in_every_pupil(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    pupils = [
        create_student(session, school_id=side_a.school.id or 0, birth_month=TEEN) for _ in range(3)
    ]
    reservation = _group(session, side_a, activity, pupils)
    response = client.post(
        f"/api/v1/reservations/{reservation.id}/checkins",
        json={"student_ids": [p.id for p in pupils], "nonce": "f" * 64},
        headers=auth(settings, side_a.principal(Role.school_staff)),
    )
    assert response.json()["accepted"] == 3, response.text


def test_capacity_cannot_drop_below_the_visits_and_a_late_capacity_counts_them(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    code = new_code(client, settings, side_a, activity)
    pupils = []
    for i in range(2):
        pupil = create_student(session, school_id=side_a.school.id or 0, birth_month=TEEN)
        user = create_wechat_user(session)
        pupil.wechat_user_id = user.id
        session.add(pupil)
        session.flush()
        pupils.append(
            Principal(
                subject=f"wechat:{user.id}",
                role=Role.student,
                school_id=side_a.school.id,
                student_id=pupil.id,
            )
        )
        assert (
            scan(client, settings, pupils[-1], code["payload"], key=f"cap-late-{i}").status_code
            == 201
        )
    url = f"/api/v1/activities/{activity.id}"
    headers = auth(settings, side_a.principal(Role.venue_staff))
    current = client.get(url, headers=headers).json()
    body = {k: current[k] for k in ("kind", "title", "starts_at", "ends_at", "admission", "stages")}
    too_low = client.put(url, json={**body, "capacity": 1}, headers=headers)
    assert too_low.status_code == 422
    assert too_low.json()["checked_in"] == 2
    assert client.put(url, json={**body, "capacity": 3}, headers=headers).status_code == 200
    session.refresh(activity)
    assert activity.checked_in == 2
    third = create_student(session, school_id=side_a.school.id or 0, birth_month=TEEN)
    scanned = staff_scan(client, settings, side_a, activity, personal(settings, third))
    assert scanned.status_code == 201
    fourth = create_student(session, school_id=side_a.school.id or 0, birth_month=TEEN)
    full = staff_scan(client, settings, side_a, activity, personal(settings, fourth))
    assert full.json()["code"] == "capacity_full"


def test_staff_see_whom_they_scanned_masked(
    client: TestClient,
    settings: Settings,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    body = staff_scan(client, settings, side_a, activity, personal(settings, side_a.student)).json()
    assert body["student_name"] == "张*明"
    assert body["class_label"].endswith("4年级1班")


def test_a_school_activity_shows_other_schools_pupils_masked(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
) -> None:
    fair = create_activity(
        session,
        venue_id=None,
        school_id=side_a.school.id,
        title="校园科技节",
        starts_at=START,
        ends_at=END,
        admission="open",
        open_to_other_schools=True,  # the school invited its neighbours
    )
    own = create_student(session, school_id=side_a.school.id or 0, name="王小红", birth_month=TEEN)
    guest = create_student(
        session, school_id=side_b.school.id or 0, name="李四光", birth_month=TEEN
    )
    headers = auth(settings, side_a.principal(Role.school_staff))
    for pupil in (own, guest):
        response = client.post(
            f"/api/v1/activities/{fair.id}/staff-scans",
            json={"code": personal(settings, pupil), "nonce": f"fair-{pupil.id:05d}"},
            headers=headers,
        )
        assert response.status_code == 201, response.text
    names = {
        i["student_name"]
        for i in client.get(f"/api/v1/activities/{fair.id}/checkins", headers=headers).json()[
            "items"
        ]
    }
    assert names == {"王小红", "李*光"}
    viewed = client.get(
        "/api/v1/audit-logs",
        params={"action": "checkins_viewed"},
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert viewed.status_code == 200
    assert any(e["action"] == "checkins_viewed" for e in viewed.json()["items"])


def test_a_school_activity_admits_only_its_own_pupils_unless_opened(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
) -> None:
    """A club of school A with open admission: a pupil of school B is refused (other_school,
    kept as a refused scan), by staff scan or with the club's own code, and nothing of theirs
    is shown to school A; opening the club to other schools lets them in."""
    club = create_activity(
        session,
        venue_id=None,
        school_id=side_a.school.id,
        kind="club",
        title="机器人社团",
        starts_at=START,
        ends_at=END,
        admission="open",
    )
    guest = create_student(
        session, school_id=side_b.school.id or 0, name="李四光", birth_month=TEEN
    )
    headers = auth(settings, side_a.principal(Role.school_staff))
    staff_scan = client.post(
        f"/api/v1/activities/{club.id}/staff-scans",
        json={"code": personal(settings, guest), "nonce": "club-guest-1"},
        headers=headers,
    )
    assert staff_scan.status_code == 403
    assert staff_scan.json()["code"] == "other_school"
    code = client.post(
        f"/api/v1/activities/{club.id}/codes", json={"kind": "static"}, headers=headers
    )
    assert code.status_code == 201, code.text
    own_scan = scan(client, settings, side_b.principal(Role.student), code.json()["payload"])
    assert own_scan.status_code == 403
    assert own_scan.json()["code"] == "other_school"
    assert session.exec(select(CheckIn).where(CheckIn.activity_id == club.id)).all() == []
    refused = session.exec(select(ScanEvent.reason).where(ScanEvent.activity_id == club.id)).all()
    assert refused == ["other_school", "other_school"]
    listed = client.get(f"/api/v1/activities/{club.id}/checkins", headers=headers).json()
    assert listed["items"] == []

    club.open_to_other_schools = True
    session.add(club)
    session.flush()
    client.app.state.checkin_cache.forget()  # type: ignore[attr-defined]
    opened = client.post(
        f"/api/v1/activities/{club.id}/staff-scans",
        json={"code": personal(settings, guest), "nonce": "club-guest-2"},
        headers=headers,
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["student_name"] == "李*光"


def test_locations_are_kept_only_with_a_geofence_and_erased_after_the_retention(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    open_code = new_code(client, settings, side_a, activity)
    scan(
        client,
        settings,
        student(side_a),
        open_code["payload"],
        key="no-fence-1",
        location=_north(10),
    )
    plain = session.exec(select(ScanEvent)).one()
    assert plain.latitude is None  # no geofence: no need to keep where the child was

    fenced = create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        starts_at=START,
        ends_at=END,
        admission="open",
        latitude=CENTRE[0],
        longitude=CENTRE[1],
        geofence_radius_m=200,
    )
    code = new_code(client, settings, side_a, fenced)
    scan(client, settings, student(side_a), code["payload"], key="fenced-01", location=_north(10))
    kept = session.exec(select(ScanEvent).where(ScanEvent.activity_id == fenced.id)).one()
    assert kept.latitude is not None
    # the scans' rate counters (core/ratelimit.py, kept a day) are not what this test counts
    session.exec(delete(RateLimitCounter))
    assert purge_telemetry(session, NOW + timedelta(days=179), settings) == 0
    assert purge_telemetry(session, NOW + timedelta(days=181), settings) == 1
    session.refresh(kept)
    assert (kept.latitude, kept.longitude, kept.accuracy_m, kept.distance_m) == (None,) * 4
    assert (kept.result, kept.server_time) == ("accepted", NOW)  # the judgement stays


def test_a_kiosk_token_with_unicode_digits_is_refused(client: TestClient) -> None:
    response = client.get("/kiosk/1/state", params={"token": "K.².1.DEV.AAAAAAAAAAAAAAAA"})
    assert response.status_code == 401
    assert response.json()["code"] == "kiosk_token_invalid"


@pytest.mark.parametrize("code_id", [1, 99, 100, 123_456, 2**31 - 1])
def test_a_kiosk_token_opens_its_code_whatever_the_codes_number(
    settings: Settings, code_id: int
) -> None:
    """A venue's hundredth code must open its screen like its first (the token's two numbers
    are checked one by one, not as one string of at most 12 digits)."""
    token = codes.kiosk_token(settings.code_keyring, code_id, NOW + timedelta(hours=1))
    assert codes.parse_kiosk_token(settings.code_keyring, token, now=NOW) == code_id
    with pytest.raises(codes.CodeRejected):
        codes.parse_kiosk_token(settings.code_keyring, token, now=NOW + timedelta(hours=2))


def test_the_dev_personal_key_verifies_only_its_own_codes(settings: Settings) -> None:
    payload = checkin_cards.personal_code(settings, student_id=7, expires_at=NOW)
    keys = codes.personal_keys(settings.personal_code_keys.get_secret_value())
    assert codes.parse_personal_code(keys, payload).student_id == 7


def test_a_school_reviews_its_own_pupils_scans_and_no_other_schools(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    activity: Activity,  # noqa: F811
    clock: FrozenClock,
) -> None:
    payload = new_code(client, settings, side_a, activity)["payload"]
    forged = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    assert scan(client, settings, student(side_a), payload, key="pupil-a-in").status_code == 201
    clock.advance(timedelta(minutes=1))
    refused(
        scan(client, settings, student(side_a), forged, key="pupil-a-forged"), "code_invalid", 400
    )
    refused(
        scan(client, settings, student(side_b), forged, key="pupil-b-forged"), "code_invalid", 400
    )
    staff_a = auth(settings, side_a.principal(Role.school_staff))

    everything = client.get("/api/v1/school-scan-events", headers=staff_a)
    assert everything.status_code == 200, everything.text
    items = everything.json()["items"]
    assert everything.json()["total"] == 2
    assert [(i["result"], i["reason"]) for i in items] == [  # newest first
        ("refused", "code_invalid"),
        ("accepted", ""),
    ]
    assert {i["student_id"] for i in items} == {side_a.student.id}
    accepted = items[1]
    assert accepted["student_name"] == side_a.student.name  # their own pupil: in full
    assert accepted["class_name"] == side_a.student.class_name
    assert (accepted["activity_id"], accepted["activity_title"]) == (activity.id, activity.title)
    assert accepted["organiser_name"] == side_a.venue.name
    assert items[0]["activity_id"] is None  # a forged code names no activity

    def listed(headers: dict[str, str], **params: object) -> list[int]:
        response = client.get("/api/v1/school-scan-events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert listed(staff_a, result="refused") == [items[0]["id"]]
    assert listed(staff_a, reason="code_invalid") == [items[0]["id"]]
    assert listed(staff_a, reason="out_of_geofence") == []
    assert listed(staff_a, student_id=side_b.student.id) == []  # not theirs to see
    today = NOW.date()
    assert len(listed(staff_a, from_date=today, to_date=today)) == 2
    assert listed(staff_a, from_date=today + timedelta(days=1)) == []
    assert listed(staff_a, to_date=today - timedelta(days=1)) == []
    staff_b = auth(settings, side_b.principal(Role.school_staff))
    assert len(listed(staff_b)) == 1  # their pupil's forged scan, and nothing of school A

    for role in (Role.venue_staff, Role.student, Role.bureau):
        forbidden = client.get(
            "/api/v1/school-scan-events", headers=auth(settings, side_a.principal(role))
        )
        refused(forbidden, "role_forbidden", 403)
    bad = client.get("/api/v1/school-scan-events", params={"reason": "x'; --"}, headers=staff_a)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")

    viewed = client.get(
        "/api/v1/audit-logs",
        params={"action": "checkins_viewed"},
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert viewed.status_code == 200
    views = [e for e in viewed.json()["items"] if e["object_type"] == "school"]
    assert views
    assert {e["object_id"] for e in views} == {str(side_a.school.id)}
    looked_up = session.exec(
        select(AuditLog).where(
            AuditLog.action == "checkins_viewed", AuditLog.object_type == "school"
        )
    ).all()
    assert any(f'"student_id": {side_b.student.id}' in (e.detail or "") for e in looked_up)
