"""The bureau's venue pages in the console: the review queue (paged by the API), a profile's
changes against what is live, approving and returning (a reason required, as the API
requires) through the forms, and publishing the directory's yearly edition once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.core.auth import Role
from scipass.core.config import Settings
from scipass.org.models import Venue
from scipass.venue.models import DirectoryEdition
from tests.console.signing import create_staff, sign_in
from tests.factories import Side, auth, list_venue
from tests.venue.test_directory import PROFILE


def _submitted(client: TestClient, settings: Settings, side: Side, **changes: Any) -> int:
    """Side A's venue with a profile change submitted for review."""
    admin = auth(settings, side.principal(Role.venue_admin))
    venue_id = side.venue.id
    saved = client.put(
        f"/api/v1/venues/{venue_id}/profile-draft", json={**PROFILE, **changes}, headers=admin
    )
    assert saved.status_code == 200, saved.text
    sent = client.post(f"/api/v1/venues/{venue_id}/profile-draft/submit", headers=admin)
    assert sent.status_code == 200, sent.text
    return venue_id or 0


@pytest.fixture
def officer(app: FastAPI, session: Session, side_a: Side) -> tuple[TestClient, str]:
    name = create_staff(session, username="a-officer", role=Role.bureau, org_id=side_a.bureau.id)
    console = TestClient(app, raise_server_exceptions=False)
    return console, sign_in(console, name)


def test_a_change_is_reviewed_from_the_queue_approved_and_goes_live(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    officer: tuple[TestClient, str],
) -> None:
    console, csrf = officer
    list_venue(session, side_a.venue)
    venue_id = _submitted(client, settings, side_a, phone="0731-99990000")
    queue = console.get("/console/bureau/venues")
    assert queue.status_code == 200
    assert f'href="/console/bureau/venues/{venue_id}"' in queue.text
    assert PROFILE["name"] in queue.text

    page = console.get(f"/console/bureau/venues/{venue_id}")
    assert page.status_code == 200, page.text
    changed = re.findall(r'<tr data-field="(\w+)" data-changed>', page.text)
    assert "phone" in changed
    assert "name" in changed
    assert "0731-99990000" in page.text

    answer = console.post(
        "/console/do/venue-profile-review",
        data={
            "csrf_token": csrf,
            "_form": "approve",
            "_next": "/console/bureau/venues",
            "_done": "已审核通过，资料已生效",
            "path.venue_id": str(venue_id),
            "decision": "approve",
            "note": "",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/bureau/venues"
    session.expire_all()
    venue = session.get(Venue, venue_id)
    assert venue is not None
    assert (venue.listed, venue.review_status, venue.phone) == (True, None, "0731-99990000")
    after = console.get("/console/bureau/venues").text
    assert "已审核通过，资料已生效" in after
    assert "没有待审核的场馆资料" in after


def test_a_return_needs_a_reason_and_keeps_it(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    officer: tuple[TestClient, str],
) -> None:
    console, csrf = officer
    venue_id = _submitted(client, settings, side_a)
    form = {
        "csrf_token": csrf,
        "_form": "reject",
        "path.venue_id": str(venue_id),
        "decision": "reject",
    }
    page_url = f"/console/bureau/venues/{venue_id}"
    refused = console.post(
        "/console/do/venue-profile-review",
        data={**form, "note": ""},
        headers={"referer": "http://testserver" + page_url},
        follow_redirects=False,
    )
    assert refused.status_code == 303
    assert refused.headers["location"] == page_url
    session.expire_all()
    assert session.get(Venue, venue_id).review_status == "pending"  # type: ignore[union-attr]
    shown = console.get(page_url).text
    problem = re.search(r'<div class="problem" role="alert" data-problem>(.*?)</div>', shown, re.S)
    assert problem
    assert "退回" in problem.group(1)

    script = console.post(
        "/console/do/venue-profile-review",
        data={**form, "note": "开放时间与实际不符"},
        headers={"accept": "application/json"},
    )
    assert script.status_code == 200, script.text
    session.expire_all()
    venue = session.get(Venue, venue_id)
    assert venue is not None
    assert (venue.review_status, venue.review_note) == ("rejected", "开放时间与实际不符")
    assert "审核意见：开放时间与实际不符" in console.get(page_url).text


def test_another_regions_bureau_sees_neither_the_queue_nor_the_profile(
    app: FastAPI,
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
) -> None:
    venue_id = _submitted(client, settings, side_a)
    name = create_staff(session, username="b-officer", role=Role.bureau, org_id=side_b.bureau.id)
    other = TestClient(app, raise_server_exceptions=False)
    csrf = sign_in(other, name)
    assert PROFILE["name"] not in other.get("/console/bureau/venues").text
    assert other.get(f"/console/bureau/venues/{venue_id}").status_code == 404
    answer = other.post(
        "/console/do/venue-profile-review",
        data={"csrf_token": csrf, "path.venue_id": str(venue_id), "decision": "approve"},
        headers={"accept": "application/json"},
    )
    assert answer.status_code == 404
    session.expire_all()
    assert session.get(Venue, venue_id).review_status == "pending"  # type: ignore[union-attr]


def test_the_yearly_edition_is_published_once(
    session: Session, side_a: Side, officer: tuple[TestClient, str]
) -> None:
    console, csrf = officer
    list_venue(session, side_a.venue)
    page = console.get("/console/bureau/editions")
    assert page.status_code == 200
    assert 'action="/console/do/directory-edition-publish"' in page.text
    form = {"csrf_token": csrf, "_form": "publish", "year": "2026", "title": "测试科普地图"}
    answer = console.post(
        "/console/do/directory-edition-publish",
        data=form,
        headers={"referer": "http://testserver/console/bureau/editions"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    editions = session.exec(
        select(DirectoryEdition).where(DirectoryEdition.region_code == side_a.region_code)
    ).all()
    assert [(e.year, e.title, e.venue_count) for e in editions] == [(2026, "测试科普地图", 1)]
    listed = console.get("/console/bureau/editions").text
    assert re.search(r'<tr data-edition="\d+"><th scope="row">测试科普地图</th>', listed)
    again = console.post(
        "/console/do/directory-edition-publish",
        data=form,
        headers={"accept": "application/json"},
    )
    assert again.status_code == 409
    assert again.json()["title"]
    assert len(session.exec(select(DirectoryEdition)).all()) == len(editions)


def test_the_platform_reviews_but_does_not_publish(app: FastAPI, session: Session) -> None:
    name = create_staff(session, username="platform-2", role=Role.platform_admin, org_id=None)
    console = TestClient(app, raise_server_exceptions=False)
    sign_in(console, name)
    assert console.get("/console/bureau/venues").status_code == 200
    editions = console.get("/console/bureau/editions")
    assert editions.status_code == 200
    assert "directory-edition-publish" not in editions.text
