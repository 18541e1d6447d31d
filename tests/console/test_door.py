"""The door scanner page (console/door.py): today's activities of the venue, the page's data
for its script, and the script's calls (keys, revocations, staff scan, offline upload) through
the console's relay, with the API's rules and the session's CSRF token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.activity.models import Activity
from scipass.checkin import cards as checkin_cards
from scipass.checkin.models import CheckIn, ScanSource
from scipass.core.auth import Role
from scipass.core.config import Settings
from tests.console.signing import create_staff, sign_in
from tests.factories import NOW, Side, create_activity, grant_consent

TODAY_START = datetime(2026, 10, 14, 1, 0, tzinfo=UTC)  # 09:00 in Beijing, NOW is 10:00
JSON = {"Accept": "application/json"}


@pytest.fixture
def today(session: Session, side_a: Side) -> Activity:
    grant_consent(
        session,
        student=side_a.student,
        link=side_a.guardian_link,
        purposes=["participation_record"],
    )
    return create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        title="今日开放日",
        starts_at=TODAY_START,
        ends_at=TODAY_START + timedelta(hours=8),
        admission="open",
    )


@pytest.fixture
def door(client: TestClient, session: Session, side_a: Side) -> tuple[TestClient, str]:
    name = create_staff(session, username="door", role=Role.venue_staff, org_id=side_a.venue.id)
    return client, sign_in(client, name)


def code_of(settings: Settings, side: Side, **kwargs: object) -> str:
    return checkin_cards.personal_code(
        settings,
        student_id=side.student.id or 0,
        expires_at=NOW + timedelta(minutes=5),
        **kwargs,  # type: ignore[arg-type]
    )


def test_the_page_lists_todays_published_activities_of_the_venue(
    door: tuple[TestClient, str], session: Session, side_a: Side, side_b: Side, today: Activity
) -> None:
    client, _ = door
    venue = side_a.venue.id or 0
    create_activity(session, venue_id=venue, title="明天的活动")  # 2026-10-20
    create_activity(
        session,
        venue_id=venue,
        title="今天的草稿",
        status="draft",
        starts_at=TODAY_START,
        ends_at=TODAY_START + timedelta(hours=2),
    )
    create_activity(
        session,
        venue_id=venue,
        title="三天的科技周",
        starts_at=TODAY_START - timedelta(days=1),
        ends_at=TODAY_START + timedelta(days=1),
    )
    other = create_activity(
        session,
        venue_id=side_b.venue.id or 0,
        title="别馆的活动",
        starts_at=TODAY_START,
        ends_at=TODAY_START + timedelta(hours=2),
    )
    page = client.get("/console/door")
    assert page.status_code == 200
    assert '<a href="/console/door" aria-current="page">门口扫码</a>' in page.text
    options = re.findall(r'<option value="(\d*)"[^>]*>([^<（]*)', page.text)
    assert [title for _, title in options] == ["请选择今天的活动", "三天的科技周", "今日开放日"]
    assert 'id="door"' not in page.text  # nothing chosen yet: no scanner

    chosen = client.get(f"/console/door?activity_id={today.id}")
    assert f'data-activity-id="{today.id}"' in chosen.text
    assert '<script type="module" src="/console/static/door.js"></script>' in chosen.text
    assert '<script src="/console/vendor/jsqr.js" defer></script>' in chosen.text
    assert "script-src 'self'" in chosen.headers["content-security-policy"]
    assert "<script>" not in chosen.text  # no inline script

    foreign = client.get(f"/console/door?activity_id={other.id}")
    assert foreign.status_code == 200
    assert 'id="door"' not in foreign.text
    assert "这个活动今天不能在这里扫码" in foreign.text
    assert "别馆的活动" not in foreign.text


def test_school_staff_may_not_open_the_door(
    client: TestClient, session: Session, side_a: Side
) -> None:
    name = create_staff(session, username="t", role=Role.school_staff, org_id=side_a.school.id)
    sign_in(client, name)
    assert client.get("/console/door").status_code == 403


def test_the_script_reads_the_keys_and_the_revocations_through_the_relay(
    door: tuple[TestClient, str], settings: Settings
) -> None:
    client, _ = door
    keys = client.get("/console/api/v1/personal-code-keys", headers=JSON)
    assert keys.status_code == 200
    assert keys.json()["keys"][0]["algorithm"] == "Ed25519"
    revoked = client.get("/console/api/v1/personal-code-revocations", headers=JSON)
    assert revoked.status_code == 200
    assert revoked.json()["nonces"] == []


def test_a_scan_goes_to_the_api_with_the_csrf_token_and_answers_a_masked_name(
    door: tuple[TestClient, str],
    session: Session,
    side_a: Side,
    settings: Settings,
    today: Activity,
) -> None:
    client, csrf = door
    code = code_of(settings, side_a)
    url = f"/console/api/v1/activities/{today.id}/staff-scans"
    body = {"code": code, "nonce": "door-nonce-1"}
    forged = client.post(url, json=body, headers=JSON)
    assert forged.status_code == 403
    assert forged.json()["code"] == "csrf_failed"
    assert session.exec(select(CheckIn)).all() == []

    answer = client.post(url, json=body, headers={**JSON, "X-CSRF-Token": csrf})
    assert answer.status_code == 201, answer.text
    name = answer.json()["student_name"]
    assert name != side_a.student.name
    assert "*" in name
    again = client.post(
        url, json={**body, "nonce": "door-nonce-2"}, headers={**JSON, "X-CSRF-Token": csrf}
    )
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    visits = session.exec(select(CheckIn).where(CheckIn.student_id == side_a.student.id)).all()
    assert [v.source for v in visits] == [ScanSource.staff_scan]


def test_an_offline_batch_goes_to_the_api_and_answers_each_item(
    door: tuple[TestClient, str],
    session: Session,
    side_a: Side,
    settings: Settings,
    today: Activity,
) -> None:
    client, csrf = door
    good = code_of(settings, side_a)
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")  # a broken signature
    items = [
        {
            "nonce": "offline-0001",
            "code": good,
            "scan_time": (NOW - timedelta(minutes=3)).isoformat(),
        },
        {
            "nonce": "offline-0002",
            "code": forged,
            "scan_time": (NOW - timedelta(minutes=2)).isoformat(),
        },
    ]
    answer = client.post(
        f"/console/api/v1/activities/{today.id}/offline-scans",
        json={"device": "console", "items": items},
        headers={**JSON, "X-CSRF-Token": csrf},
    )
    assert answer.status_code == 200, answer.text
    results = {i["key"]: i for i in answer.json()["items"]}
    assert results["offline-0001"]["result"] == "accepted"
    assert results["offline-0002"]["result"] == "refused"
    assert results["offline-0002"]["code"] == "code_invalid"
    visit = session.exec(select(CheckIn).where(CheckIn.student_id == side_a.student.id)).one()
    assert visit.source == ScanSource.offline
