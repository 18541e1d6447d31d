"""Venue profiles and their review, the public directory (科普地图), exception dates,
reservable resources and the yearly directory editions with their exports."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.jobs import worker as job_worker
from scipass.jobs.storage import store_for
from scipass.main import job_kinds
from scipass.org.models import Venue
from scipass.venue.hours import open_weekdays
from scipass.venue.models import DirectoryEdition, VenueHoursException
from tests.conftest import FROZEN_AT
from tests.factories import NOW, Side, auth, create_region

_serial = itertools.count(1)

# Wednesday 2026-10-14 is "today"; Monday is the weekly closing day.
WEEK = {
    "1": [],
    "2": [["09:00", "17:00"]],
    "3": [["09:00", "17:00"]],
    "4": [["09:00", "17:00"]],
    "5": [["09:00", "17:00"]],
    "6": [["09:00", "17:00"]],
    "7": [["09:00", "17:00"]],
}
WEEKEND_ONLY = {str(day): [] for day in range(1, 6)} | {"6": [["10:00", "16:00"]], "7": []}
MONDAY = date(2026, 10, 19)
WEDNESDAY = date(2026, 10, 21)
SATURDAY = date(2026, 10, 17)

PROFILE: dict[str, Any] = {
    "name": "星城青少年科技馆",
    "kind": "science_museum",
    "region_code": "970101",
    "address": "星城市科教路 1 号",
    "longitude": 112.95,
    "latitude": 27.83,
    "phone": "0731-52381234",
    "services": "科学实验课、天象厅放映",
    "facilities": "实验室 4 间，球幕影院 1 座",
    # unsorted periods and missing days: the stored form is sorted, with all seven days
    "weekly_hours": {"2": [["13:30", "17:30"], ["09:00", "12:00"]], "6": [["09:00", "17:30"]]},
    "is_free": False,
    "fee_note": "学生半价",
    "stages": ["senior", "junior"],
    "reservation_required": True,
    "photos": ["https://example.com/a.jpg"],
}


def _list(session: Session, venue: Venue, **fields: Any) -> Venue:
    """Make ``venue`` a listed directory entry with a complete live profile."""
    week = fields.pop("weekly_hours", WEEK)
    values: dict[str, Any] = {
        "address": "科教路 1 号",
        "phone": "0731-88880000",
        "listed": True,
        "weekly_hours": week,
        "open_weekdays": open_weekdays(week),
        "approved_at": NOW,
    }
    values.update(fields)
    for name, value in values.items():
        setattr(venue, name, value)
    session.add(venue)
    session.flush()
    return venue


def _venue(session: Session, *, region_code: str, **fields: Any) -> Venue:
    """A new listed venue (``listed=False`` to keep it out of the directory)."""
    values: dict[str, Any] = {
        "name": f"目录场馆{next(_serial)}",
        "kind": "science_museum",
        "region_code": region_code,
        "longitude": 112.9,
        "latitude": 27.8,
        "created_at": NOW,
    }
    for name in ("name", "kind", "longitude", "latitude"):
        if name in fields:
            values[name] = fields.pop(name)
    venue = Venue(**values)
    session.add(venue)
    session.flush()
    return _list(session, venue, **fields)


def _names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def _directory(client: TestClient, **params: Any) -> list[str]:
    return _names(client.get("/api/v1/venues", params=params))


# --- profile, draft and review ---------------------------------------------------------------


def test_approved_draft_goes_live_in_the_directory(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    venue_id = side_a.venue.id
    _list(session, side_a.venue, listed=False, approved_at=None)
    admin = auth(settings, side_a.principal(Role.venue_admin))
    bureau = auth(settings, side_a.principal(Role.bureau))

    saved = client.put(f"/api/v1/venues/{venue_id}/profile-draft", json=PROFILE, headers=admin)
    assert saved.status_code == 200, saved.text
    assert saved.json()["review_status"] == "draft"
    assert saved.json()["draft"]["weekly_hours"]["2"] == [["09:00", "12:00"], ["13:30", "17:30"]]
    assert saved.json()["draft"]["weekly_hours"]["1"] == []
    assert saved.json()["draft"]["stages"] == ["junior", "senior"]
    # a draft is not for review yet, and the venue is not public
    assert client.get("/api/v1/venue-reviews", headers=bureau).json()["items"] == []
    assert client.get(f"/api/v1/venues/{venue_id}").status_code == 404

    submitted = client.post(f"/api/v1/venues/{venue_id}/profile-draft/submit", headers=admin)
    assert submitted.status_code == 200
    assert submitted.json()["review_status"] == "pending"
    pending = client.get("/api/v1/venue-reviews", headers=bureau).json()["items"]
    assert [(p["venue_id"], p["name"]) for p in pending] == [(venue_id, PROFILE["name"])]

    approved = client.post(
        f"/api/v1/venues/{venue_id}/profile-review", json={"decision": "approve"}, headers=bureau
    )
    assert approved.status_code == 200, approved.text
    state = approved.json()
    assert state["listed"] is True
    assert state["draft"] is None
    assert state["review_status"] is None
    assert state["live"]["name"] == PROFILE["name"]
    assert client.get("/api/v1/venue-reviews", headers=bureau).json()["items"] == []

    assert _directory(client, region_code="970101") == [PROFILE["name"]]
    detail = client.get(f"/api/v1/venues/{venue_id}")
    assert detail.status_code == 200
    body = detail.json()
    assert body["services"] == PROFILE["services"]
    assert body["address"] == PROFILE["address"]
    assert body["phone"] == PROFILE["phone"]
    assert body["is_free"] is False
    assert body["fee_note"] == "学生半价"
    assert body["stages"] == ["junior", "senior"]
    assert body["reservation_required"] is True
    assert body["photos"] == ["https://example.com/a.jpg"]
    assert body["weekly_hours"]["2"] == [["09:00", "12:00"], ["13:30", "17:30"]]
    assert body["hours_summary"] == "周二 09:00-12:00、13:30-17:30；周六 09:00-17:30"

    session.refresh(side_a.venue)
    assert side_a.venue.open_weekdays == "0100010"
    assert side_a.venue.approved_at == FROZEN_AT
    actions = session.exec(select(AuditLog.action)).all()
    assert "venue_reviewed" in actions


def test_reject_needs_a_note_and_keeps_the_live_profile(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    venue_id = side_a.venue.id
    live_name = side_a.venue.name
    _list(session, side_a.venue)
    admin = auth(settings, side_a.principal(Role.venue_admin))
    bureau = auth(settings, side_a.principal(Role.bureau))
    client.put(f"/api/v1/venues/{venue_id}/profile-draft", json=PROFILE, headers=admin)
    client.post(f"/api/v1/venues/{venue_id}/profile-draft/submit", headers=admin)

    url = f"/api/v1/venues/{venue_id}/profile-review"
    for note in ("", "   "):
        bare = client.post(url, json={"decision": "reject", "note": note}, headers=bureau)
        assert bare.status_code == 422
        assert bare.json()["code"] == "review_note_required"
    assert (
        client.get(f"/api/v1/venues/{venue_id}/profile", headers=admin).json()["review_status"]
        == "pending"
    )

    rejected = client.post(
        url, json={"decision": "reject", "note": " 请补充设施照片 "}, headers=bureau
    )
    assert rejected.status_code == 200
    assert rejected.json()["review_status"] == "rejected"
    assert rejected.json()["review_note"] == "请补充设施照片"
    assert rejected.json()["draft"]["name"] == PROFILE["name"]
    assert rejected.json()["live"]["name"] == live_name
    assert _directory(client, region_code="970101") == [live_name]
    assert client.get(f"/api/v1/venues/{venue_id}").json()["services"] == ""

    # a rejected profile is not pending any more; the venue may resubmit it
    again = client.post(url, json={"decision": "approve"}, headers=bureau)
    assert again.status_code == 409
    assert again.json()["code"] == "not_pending_review"
    resubmitted = client.post(f"/api/v1/venues/{venue_id}/profile-draft/submit", headers=admin)
    assert resubmitted.json()["review_status"] == "pending"


def test_submit_without_a_draft_is_refused(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    _list(session, side_a.venue)
    admin = auth(settings, side_a.principal(Role.venue_admin))
    url = f"/api/v1/venues/{side_a.venue.id}/profile-draft/submit"
    response = client.post(url, headers=admin)
    assert response.status_code == 409
    assert response.json()["code"] == "no_draft"

    client.put(f"/api/v1/venues/{side_a.venue.id}/profile-draft", json=PROFILE, headers=admin)
    assert client.post(url, headers=admin).status_code == 200
    twice = client.post(url, headers=admin)
    assert twice.status_code == 409
    assert twice.json()["code"] == "no_draft"


def test_other_regions_bureau_sees_and_reviews_nothing(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, session: Session
) -> None:
    venue_id = side_a.venue.id
    _list(session, side_a.venue)
    admin = auth(settings, side_a.principal(Role.venue_admin))
    client.put(f"/api/v1/venues/{venue_id}/profile-draft", json=PROFILE, headers=admin)
    client.post(f"/api/v1/venues/{venue_id}/profile-draft/submit", headers=admin)
    other = auth(settings, side_b.principal(Role.bureau))

    assert client.get("/api/v1/venue-reviews", headers=other).json()["items"] == []
    profile = client.get(f"/api/v1/venues/{venue_id}/profile", headers=other)
    assert profile.status_code == 404
    assert profile.json()["code"] == "venue_not_found"
    reviewed = client.post(
        f"/api/v1/venues/{venue_id}/profile-review", json={"decision": "approve"}, headers=other
    )
    assert reviewed.status_code == 404
    assert reviewed.json()["code"] == "venue_not_found"
    session.refresh(side_a.venue)
    assert side_a.venue.review_status == "pending"
    # the own bureau sees the profile
    own = client.get(
        f"/api/v1/venues/{venue_id}/profile", headers=auth(settings, side_a.principal(Role.bureau))
    )
    assert own.status_code == 200
    assert own.json()["draft"]["name"] == PROFILE["name"]


def test_bureau_cannot_approve_a_move_out_of_its_region(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, session: Session
) -> None:
    _list(session, side_a.venue)
    venue_id = side_a.venue.id
    admin = auth(settings, side_a.principal(Role.venue_admin))
    client.put(
        f"/api/v1/venues/{venue_id}/profile-draft",
        json={**PROFILE, "region_code": "960101"},
        headers=admin,
    )
    client.post(f"/api/v1/venues/{venue_id}/profile-draft/submit", headers=admin)
    response = client.post(
        f"/api/v1/venues/{venue_id}/profile-review",
        json={"decision": "approve"},
        headers=auth(settings, side_a.principal(Role.bureau)),
    )
    assert response.status_code == 403
    assert response.json()["code"] == "outside_region"
    session.refresh(side_a.venue)
    assert side_a.venue.region_code == "970101"


def test_approving_a_name_taken_in_the_region_is_a_conflict(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    _list(session, side_a.venue)
    _venue(session, region_code="970101", name=PROFILE["name"])
    venue_id = side_a.venue.id
    admin = auth(settings, side_a.principal(Role.venue_admin))
    client.put(f"/api/v1/venues/{venue_id}/profile-draft", json=PROFILE, headers=admin)
    client.post(f"/api/v1/venues/{venue_id}/profile-draft/submit", headers=admin)
    response = client.post(
        f"/api/v1/venues/{venue_id}/profile-review",
        json={"decision": "approve"},
        headers=auth(settings, side_a.principal(Role.bureau)),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "organisation_exists"
    session.expire_all()
    assert session.get(Venue, venue_id).review_status == "pending"  # type: ignore[union-attr]


def test_only_the_venues_admin_saves_a_draft(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, session: Session
) -> None:
    _list(session, side_a.venue)
    url = f"/api/v1/venues/{side_a.venue.id}/profile-draft"

    staff = auth(settings, side_a.principal(Role.venue_staff))
    refused = client.put(url, json=PROFILE, headers=staff)
    assert refused.status_code == 403
    assert refused.json()["code"] == "role_forbidden"
    # staff may read the profile, though
    assert client.get(f"/api/v1/venues/{side_a.venue.id}/profile", headers=staff).status_code == 200

    other_admin = auth(settings, side_b.principal(Role.venue_admin))
    foreign = client.put(url, json=PROFILE, headers=other_admin)
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "venue_not_found"

    school = auth(settings, side_a.principal(Role.school_admin))
    assert client.put(url, json=PROFILE, headers=school).status_code == 403
    session.refresh(side_a.venue)
    assert side_a.venue.draft is None


def test_draft_in_an_unknown_region_is_refused(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    _list(session, side_a.venue)
    response = client.put(
        f"/api/v1/venues/{side_a.venue.id}/profile-draft",
        json={**PROFILE, "region_code": "979999"},
        headers=auth(settings, side_a.principal(Role.venue_admin)),
    )
    assert response.status_code == 404
    assert response.json()["code"] == "region_not_found"


def test_first_draft_of_a_newly_created_venue(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    # Regression: a venue created through POST /api/v1/venues may have no address or phone;
    # its profile page and first draft once answered 500 validating that as a live profile.
    admin = auth(settings, side_a.principal(Role.venue_admin))
    profile = client.get(f"/api/v1/venues/{side_a.venue.id}/profile", headers=admin)
    assert profile.status_code == 200
    saved = client.put(
        f"/api/v1/venues/{side_a.venue.id}/profile-draft", json=PROFILE, headers=admin
    )
    assert saved.status_code == 200
    assert saved.json()["review_status"] == "draft"


@pytest.mark.parametrize(
    "week",
    [
        pytest.param({"3": [["09:00", "12:00"], ["11:30", "17:00"]]}, id="overlap"),
        pytest.param({"3": [["9点", "17:00"]]}, id="bad-format"),
        pytest.param({"3": [["09:00", "25:00"]]}, id="no-such-hour"),
        pytest.param({"3": [["17:00", "09:00"]]}, id="end-before-start"),
        pytest.param({"3": [["09:00", "09:00"]]}, id="empty-period"),
        pytest.param({"3": [["09:00", "12:00", "17:00"]]}, id="three-times"),
        pytest.param({"8": [["09:00", "17:00"]]}, id="no-such-weekday"),
    ],
)
def test_invalid_weekly_hours_change_nothing(
    client: TestClient, settings: Settings, side_a: Side, session: Session, week: dict
) -> None:
    _list(session, side_a.venue)
    response = client.put(
        f"/api/v1/venues/{side_a.venue.id}/profile-draft",
        json={**PROFILE, "weekly_hours": week},
        headers=auth(settings, side_a.principal(Role.venue_admin)),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "hours_invalid"
    session.refresh(side_a.venue)
    assert side_a.venue.draft is None
    assert side_a.venue.review_status is None


def test_time_with_utc_offset_is_a_validation_error(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    # Regression: "09:00+08:00" once parsed as an aware time and failed comparing -> 500.
    _list(session, side_a.venue)
    response = client.put(
        f"/api/v1/venues/{side_a.venue.id}/profile-draft",
        json={**PROFILE, "weekly_hours": {"3": [["09:00+08:00", "17:00"]]}},
        headers=auth(settings, side_a.principal(Role.venue_admin)),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "hours_invalid"


def test_seconds_cannot_turn_a_period_empty(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    # Regression: seconds once passed and were stored as the empty period ["09:00", "09:00"].
    _list(session, side_a.venue)
    response = client.put(
        f"/api/v1/venues/{side_a.venue.id}/profile-draft",
        json={**PROFILE, "weekly_hours": {"3": [["09:00:10", "09:00:50"]]}},
        headers=auth(settings, side_a.principal(Role.venue_admin)),
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "hours_invalid"


def test_invalid_exception_hours_change_nothing(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    _list(session, side_a.venue)
    response = client.put(
        f"/api/v1/venues/{side_a.venue.id}/hours-exceptions/{MONDAY}",
        json={"periods": [["10:00", "12:00"], ["11:00", "13:00"]]},
        headers=auth(settings, side_a.principal(Role.venue_admin)),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "hours_invalid"
    assert session.exec(select(VenueHoursException)).all() == []


# --- the public directory --------------------------------------------------------------------


def test_directory_filters_by_region_including_sub_regions(
    client: TestClient, side_a: Side, side_b: Side, session: Session
) -> None:
    create_region(session, "970102", "县970102", "county", "970100")
    _venue(session, region_code="970101", name="甲县科技馆")
    _venue(session, region_code="970102", name="乙县科技馆")
    _venue(session, region_code="970100", name="市科技馆")
    _venue(session, region_code="960101", name="外省科技馆")

    assert _directory(client, region_code="970000") == ["市科技馆", "甲县科技馆", "乙县科技馆"]
    assert _directory(client, region_code="970100") == ["市科技馆", "甲县科技馆", "乙县科技馆"]
    assert _directory(client, region_code="970102") == ["乙县科技馆"]
    assert _directory(client, region_code="960000") == ["外省科技馆"]


def test_directory_filters_by_kind_stage_and_text(
    client: TestClient, side_a: Side, session: Session
) -> None:
    _venue(
        session,
        region_code="970101",
        name="自然博物馆",
        kind="museum",
        stages="primary",
        address="湘江路 8 号",
        services="恐龙化石展",
    )
    _venue(
        session,
        region_code="970101",
        name="高校物理实验室",
        kind="university_lab",
        stages="senior,vocational",
        address="麓山南路 2 号",
        services="激光干涉实验",
    )
    region = {"region_code": "970000"}
    assert _directory(client, **region, kind="museum") == ["自然博物馆"]
    assert _directory(client, **region, kind="university_lab") == ["高校物理实验室"]
    assert _directory(client, **region, kind="enterprise") == []
    assert _directory(client, **region, stage="primary") == ["自然博物馆"]
    assert _directory(client, **region, stage="senior") == ["高校物理实验室"]
    assert _directory(client, **region, stage="junior") == []
    assert _directory(client, **region, q="博物") == ["自然博物馆"]  # name
    assert _directory(client, **region, q="麓山") == ["高校物理实验室"]  # address
    assert _directory(client, **region, q="恐龙") == ["自然博物馆"]  # services
    assert _directory(client, **region, q="天文") == []
    bad = client.get("/api/v1/venues", params={"kind": "zoo"})
    assert bad.status_code == 422


def test_directory_open_on_uses_week_and_exception_dates(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    weekdays = _list(session, side_a.venue, name="周一闭馆科技馆")
    _venue(session, region_code="970101", name="周六开放基地", weekly_hours=WEEKEND_ONLY)
    admin = auth(settings, side_a.principal(Role.venue_admin))
    region = {"region_code": "970101"}

    assert _directory(client, **region, open_on=SATURDAY) == ["周一闭馆科技馆", "周六开放基地"]
    assert _directory(client, **region, open_on=MONDAY) == []
    assert _directory(client, **region, open_on=WEDNESDAY) == ["周一闭馆科技馆"]

    # closed for repairs on an otherwise open Wednesday
    closure = client.put(
        f"/api/v1/venues/{weekdays.id}/hours-exceptions/{WEDNESDAY}",
        json={"periods": [], "note": "设备检修闭馆"},
        headers=admin,
    )
    assert closure.status_code == 200, closure.text
    assert closure.json()["closed"] is True
    assert _directory(client, **region, open_on=WEDNESDAY) == []
    assert _directory(client, **region, open_on=date(2026, 10, 22)) == ["周一闭馆科技馆"]

    # a special opening on an otherwise closed Monday
    opening = client.put(
        f"/api/v1/venues/{weekdays.id}/hours-exceptions/{MONDAY}",
        json={"periods": [["18:00", "21:00"], ["09:00", "12:00"]], "note": "科技活动周"},
        headers=admin,
    )
    assert opening.status_code == 200
    assert opening.json()["closed"] is False
    assert opening.json()["periods"] == [["09:00", "12:00"], ["18:00", "21:00"]]
    assert _directory(client, **region, open_on=MONDAY) == ["周一闭馆科技馆"]
    assert _directory(client, **region, open_on=date(2026, 10, 26)) == []

    # the detail lists the exception dates from today on
    detail = client.get(f"/api/v1/venues/{weekdays.id}").json()
    assert [e["on_date"] for e in detail["hours_exceptions"]] == [
        MONDAY.isoformat(),
        WEDNESDAY.isoformat(),
    ]

    # changing an exception replaces it; deleting it restores the week
    reopened = client.put(
        f"/api/v1/venues/{weekdays.id}/hours-exceptions/{WEDNESDAY}",
        json={"periods": [["09:00", "12:00"]]},
        headers=admin,
    )
    assert reopened.json()["closed"] is False
    assert len(session.exec(select(VenueHoursException)).all()) == 2
    deleted = client.delete(
        f"/api/v1/venues/{weekdays.id}/hours-exceptions/{MONDAY}", headers=admin
    )
    assert deleted.status_code == 204
    assert _directory(client, **region, open_on=MONDAY) == []
    assert _directory(client, **region, open_on=WEDNESDAY) == ["周一闭馆科技馆"]


def test_exception_dates_are_for_the_venues_admin(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, session: Session
) -> None:
    _list(session, side_a.venue)
    url = f"/api/v1/venues/{side_a.venue.id}/hours-exceptions/{WEDNESDAY}"
    staff = client.put(url, json={}, headers=auth(settings, side_a.principal(Role.venue_staff)))
    assert staff.status_code == 403
    foreign = client.put(url, json={}, headers=auth(settings, side_b.principal(Role.venue_admin)))
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "venue_not_found"
    removed = client.delete(url, headers=auth(settings, side_b.principal(Role.venue_admin)))
    assert removed.status_code == 404
    assert session.exec(select(VenueHoursException)).all() == []


def test_directory_sorts_by_distance_from_a_point(
    client: TestClient, side_a: Side, session: Session
) -> None:
    # listed in name order "A…", "B…" but the second is nearer to the point
    _venue(session, region_code="970101", name="A远处科技馆", longitude=112.90, latitude=27.85)
    _venue(session, region_code="970101", name="B近处科技馆", longitude=112.91, latitude=27.80)
    assert _directory(client, region_code="970101") == ["A远处科技馆", "B近处科技馆"]

    response = client.get(
        "/api/v1/venues", params={"region_code": "970101", "longitude": 112.9, "latitude": 27.8}
    )
    items = response.json()["items"]
    assert [i["name"] for i in items] == ["B近处科技馆", "A远处科技馆"]
    # 0.01° of longitude at 27.8°N is about 984 m; 0.05° of latitude about 5560 m
    assert items[0]["distance_m"] == pytest.approx(984, rel=0.02)
    assert items[1]["distance_m"] == pytest.approx(5560, rel=0.02)
    without = client.get("/api/v1/venues", params={"region_code": "970101"}).json()["items"]
    assert {i["distance_m"] for i in without} == {None}


@pytest.mark.parametrize(
    "params", [{"longitude": 112.9}, {"latitude": 27.8}], ids=["lon-only", "lat-only"]
)
def test_a_point_needs_both_coordinates(client: TestClient, params: dict) -> None:
    response = client.get("/api/v1/venues", params=params)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_directory_pages_with_a_total(client: TestClient, side_a: Side, session: Session) -> None:
    for name in ("分页场馆1", "分页场馆2", "分页场馆3"):
        _venue(session, region_code="970101", name=name)
    first = client.get("/api/v1/venues", params={"region_code": "970101", "limit": 2}).json()
    second = client.get(
        "/api/v1/venues", params={"region_code": "970101", "limit": 2, "offset": 2}
    ).json()
    assert first["total"] == second["total"] == 3
    assert [i["name"] for i in first["items"]] == ["分页场馆1", "分页场馆2"]
    assert [i["name"] for i in second["items"]] == ["分页场馆3"]
    assert (first["limit"], second["offset"]) == (2, 2)
    filtered = client.get(
        "/api/v1/venues", params={"region_code": "970101", "open_on": MONDAY, "limit": 1}
    ).json()
    assert filtered["total"] == 0


def test_unlisted_venues_are_not_public(client: TestClient, side_a: Side, session: Session) -> None:
    listed = _venue(session, region_code="970101", name="已列入场馆")
    hidden = _venue(session, region_code="970101", name="未列入场馆", listed=False)
    assert _directory(client, region_code="970101") == ["已列入场馆"]
    assert client.get(f"/api/v1/venues/{listed.id}").status_code == 200
    response = client.get(f"/api/v1/venues/{hidden.id}")
    assert response.status_code == 404
    assert response.json()["code"] == "venue_not_found"
    assert client.get("/api/v1/venues/999999").status_code == 404


# --- resources -------------------------------------------------------------------------------

MICROSCOPE = {
    "name": "扫描电子显微镜",
    "kind": "instrument",
    "value_yuan": 500_000,
    "capacity": 6,
    "description": "可观察微米级结构",
}


def test_resources_crud_and_major_instruments(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    _list(session, side_a.venue)
    url = f"/api/v1/venues/{side_a.venue.id}/resources"
    admin = auth(settings, side_a.principal(Role.venue_admin))

    major = client.post(url, json=MICROSCOPE, headers=admin)
    assert major.status_code == 201, major.text
    assert major.json()["major_instrument"] is True
    assert major.json()["venue_id"] == side_a.venue.id
    cheap = client.post(
        url, json={**MICROSCOPE, "name": "光学显微镜", "value_yuan": 499_999}, headers=admin
    )
    assert cheap.json()["major_instrument"] is False
    lab = client.post(
        url,
        json={"name": "化学实验室", "kind": "lab", "value_yuan": 2_000_000, "capacity": 40},
        headers=admin,
    )
    assert lab.json()["major_instrument"] is False  # only instruments count

    duplicate = client.post(url, json={**MICROSCOPE, "kind": "lab"}, headers=admin)
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "resource_exists"

    cheap_id = cheap.json()["id"]
    renamed = client.put(
        f"{url}/{cheap_id}", json={**MICROSCOPE, "name": "扫描电子显微镜"}, headers=admin
    )
    assert renamed.status_code == 409
    assert renamed.json()["code"] == "resource_exists"
    raised = client.put(
        f"{url}/{cheap_id}",
        json={**MICROSCOPE, "name": "光学显微镜", "value_yuan": 650_000, "active": False},
        headers=admin,
    )
    assert raised.status_code == 200
    assert raised.json()["major_instrument"] is True
    assert raised.json()["active"] is False

    staff = auth(settings, side_a.principal(Role.venue_staff))
    listed = client.get(url, headers=staff).json()["items"]
    assert [r["name"] for r in listed] == ["扫描电子显微镜", "光学显微镜", "化学实验室"]
    public = client.get(f"/api/v1/venues/{side_a.venue.id}").json()["resources"]
    assert [r["name"] for r in public] == ["扫描电子显微镜", "化学实验室"]


def test_resources_belong_to_their_venue(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, session: Session
) -> None:
    url = f"/api/v1/venues/{side_a.venue.id}/resources"
    admin_a = auth(settings, side_a.principal(Role.venue_admin))
    created = client.post(url, json=MICROSCOPE, headers=admin_a)
    resource_id = created.json()["id"]

    staff = client.post(
        url, json=MICROSCOPE, headers=auth(settings, side_a.principal(Role.venue_staff))
    )
    assert staff.status_code == 403
    admin_b = auth(settings, side_b.principal(Role.venue_admin))
    foreign = client.post(url, json={**MICROSCOPE, "name": "别的仪器"}, headers=admin_b)
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "venue_not_found"
    assert client.get(url, headers=admin_b).status_code == 404
    # a resource of venue A addressed through venue B
    through_b = client.put(
        f"/api/v1/venues/{side_b.venue.id}/resources/{resource_id}",
        json={**MICROSCOPE, "name": "改名"},
        headers=admin_b,
    )
    assert through_b.status_code == 404
    assert through_b.json()["code"] == "resource_not_found"
    assert [r["name"] for r in client.get(url, headers=admin_a).json()["items"]] == [
        "扫描电子显微镜"
    ]


# --- yearly editions and their exports -------------------------------------------------------


def _publish(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/v1/directory-editions", json={"year": 2026, **body}, headers=headers)


def test_published_edition_is_frozen(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, session: Session
) -> None:
    _list(session, side_a.venue, name="冻结科技馆", services="机器人编程")
    _venue(session, region_code="970101", name="未列入场馆", listed=False)
    _venue(session, region_code="960101", name="外地科技馆")
    bureau = auth(settings, side_a.principal(Role.bureau))

    published = _publish(client, bureau)
    assert published.status_code == 201, published.text
    edition = published.json()
    assert edition["region_code"] == "970100"
    assert edition["venue_count"] == 1
    assert edition["title"] == "市9701002026年科普地图"
    assert edition["published_at"].startswith("2026-10-14T02:00:00")

    # a later profile change and a newly listed venue leave the edition as it was
    side_a.venue.name = "改名科技馆"
    side_a.venue.services = "天文观测"
    session.add(side_a.venue)
    _venue(session, region_code="970101", name="新列入场馆")
    detail = client.get(f"/api/v1/directory-editions/{edition['id']}")
    assert detail.status_code == 200
    entries = detail.json()["entries"]
    assert [(e["name"], e["services"]) for e in entries] == [("冻结科技馆", "机器人编程")]
    assert entries[0]["hours"] == "周二至周日 09:00-17:00"
    assert detail.json()["venue_count"] == 1

    again = _publish(client, bureau, title="重复发布")
    assert again.status_code == 409
    assert again.json()["code"] == "edition_exists"
    assert len(session.exec(select(DirectoryEdition)).all()) == 1

    next_year = _publish(client, bureau, year=2027, title="2027 版")
    assert next_year.status_code == 201
    assert next_year.json()["venue_count"] == 2
    other = _publish(client, auth(settings, side_b.principal(Role.bureau)))
    assert other.status_code == 201
    assert other.json()["region_code"] == "960100"

    listed = client.get("/api/v1/directory-editions", params={"region_code": "970100"}).json()
    assert listed["total"] == 2
    assert [e["year"] for e in listed["items"]] == [2027, 2026]
    by_year = client.get("/api/v1/directory-editions", params={"year": 2026}).json()
    assert {e["region_code"] for e in by_year["items"]} == {"970100", "960100"}


def test_only_a_bureau_publishes(client: TestClient, settings: Settings, side_a: Side) -> None:
    for role in (Role.venue_admin, Role.school_admin, Role.platform_admin):
        response = _publish(client, auth(settings, side_a.principal(role)))
        assert response.status_code == 403, role
        assert response.json()["code"] == "role_forbidden"
    assert _publish(client, {}).status_code == 401
    missing = client.get("/api/v1/directory-editions/999999")
    assert missing.status_code == 404
    assert missing.json()["code"] == "edition_not_found"


@pytest.fixture
def edition_id(client: TestClient, settings: Settings, side_a: Side, session: Session) -> int:
    _list(
        session,
        side_a.venue,
        name='=HYPERLINK("http://evil.example","点我")',
        services="科学实验课",
        is_free=False,
        fee_note="20 元",
        stages="primary,junior",
    )
    response = _publish(client, auth(settings, side_a.principal(Role.bureau)), title="导出测试")
    assert response.status_code == 201
    return int(response.json()["id"])


def test_export_xlsx_has_the_chinese_header(client: TestClient, edition_id: int) -> None:
    response = client.get(f"/api/v1/directory-editions/{edition_id}/export?format=xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "场馆名称"
    assert "开放时间" in rows[0]
    assert len(rows) == 2
    assert rows[1][0] == '\'=HYPERLINK("http://evil.example","点我")'
    assert rows[1][rows[0].index("收费")] == "20 元"
    assert rows[1][rows[0].index("适合学段")] == "小学、初中"


def test_export_csv_has_a_bom_and_defuses_formulas(client: TestClient, edition_id: int) -> None:
    response = client.get(f"/api/v1/directory-editions/{edition_id}/export?format=csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "场馆名称"
    assert len(rows) == 2
    assert rows[1][0] == '\'=HYPERLINK("http://evil.example","点我")'
    assert rows[1][rows[0].index("服务内容")] == "科学实验课"


def test_export_json_has_the_entries(client: TestClient, edition_id: int) -> None:
    response = client.get(f"/api/v1/directory-editions/{edition_id}/export?format=json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["title"] == "导出测试"
    assert body["venue_count"] == 1
    assert [e["name"] for e in body["entries"]] == ['=HYPERLINK("http://evil.example","点我")']
    assert body["entries"][0]["stages"] == ["primary", "junior"]
    unknown = client.get(f"/api/v1/directory-editions/{edition_id}/export?format=pdf")
    assert unknown.status_code == 422


def test_an_edition_export_job_equals_the_direct_file(
    app: FastAPI,
    client: TestClient,
    settings: Settings,
    side_a: Side,
    clock: FrozenClock,
    edition_id: int,
    tmp_path: Path,
) -> None:
    """Any signed-in caller may queue an edition's export (issue 16: every bulk export is a
    job); the worker's file is the direct one, byte for byte. Above the direct limit, the
    public GET names the job endpoint and the JSON form is still answered."""
    settings.job_results_dir = tmp_path / "results"
    teacher = side_a.principal(Role.school_staff)
    path = f"/api/v1/directory-editions/{edition_id}/exports"
    assert client.post(path).status_code == 401
    assert (
        client.post(
            "/api/v1/directory-editions/999999/exports", headers=auth(settings, teacher)
        ).json()["code"]
        == "edition_not_found"
    )
    queued = client.post(path, params={"format": "csv"}, headers=auth(settings, teacher))
    assert queued.status_code == 202, queued.text
    ran = job_worker.run_next(
        app.state.db, clock, settings, job_kinds(), worker="w1", store=store_for(settings)
    )
    assert ran is not None
    status = client.get(f"/api/v1/jobs/{queued.json()['id']}", headers=auth(settings, teacher))
    assert (status.json()["status"], status.json()["row_count"]) == ("done", 1)
    result = client.get(status.json()["download_url"], headers=auth(settings, teacher))
    direct = client.get(f"/api/v1/directory-editions/{edition_id}/export?format=csv")
    assert result.status_code == direct.status_code == 200
    assert result.content == direct.content
    assert result.headers["x-row-count"] == direct.headers["x-row-count"] == "1"

    settings.export_sync_row_limit = 0
    refused = client.get(f"/api/v1/directory-editions/{edition_id}/export?format=xlsx")
    assert refused.status_code == 422
    assert refused.json()["code"] == "export_too_large"
    assert refused.json()["job_endpoint"] == path
    assert client.get(f"/api/v1/directory-editions/{edition_id}/export?format=json").is_success


def test_search_text_is_literal(client: TestClient, session: Session, side_a: Side) -> None:
    _list(session, side_a.venue)
    assert client.get("/api/v1/venues", params={"q": "%"}).json()["total"] == 0
    assert client.get("/api/v1/venues", params={"q": "_"}).json()["total"] == 0


def test_a_control_character_stored_before_the_text_rule_does_not_break_the_export(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    """A name with a control character, stored directly (as rows from before the rule may
    be), leaves every format valid: the character is dropped, the rest kept."""
    _list(session, side_a.venue, name="少年\u0015科学\u0001宫", services="实验\r\n参观\u0085")
    response = _publish(client, auth(settings, side_a.principal(Role.bureau)), title="清理测试")
    assert response.status_code == 201
    edition = response.json()["id"]
    xlsx = client.get(f"/api/v1/directory-editions/{edition}/export?format=xlsx")
    assert xlsx.status_code == 200
    rows = [list(row) for row in load_workbook(io.BytesIO(xlsx.content)).worksheets[0].values]
    assert rows[1][0] == "少年科学宫"
    assert rows[1][rows[0].index("服务内容")] == "实验\n参观"
    text = client.get(f"/api/v1/directory-editions/{edition}/export?format=csv")
    assert list(csv.reader(io.StringIO(text.content.decode("utf-8-sig"))))[1][0] == "少年科学宫"
