"""Volunteer roles (presets or an organiser's own) and shifts (one, or a weekly series)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Role
from scipass.core.config import Settings
from scipass.volunteer.models import VolunteerShift
from tests.factories import Side, auth, create_volunteer_role


def test_presets_are_public_and_ready_to_use(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    presets = client.get("/api/v1/volunteer-role-presets").json()
    assert [p["name"] for p in presets] == ["小小志愿者", "小小科普辅导员", "科普小达人"]
    venue = auth(settings, side_a.principal(Role.venue_admin))
    created = client.post(
        "/api/v1/volunteer-roles", json={"preset": "little_docent"}, headers=venue
    )
    assert created.status_code == 201, created.json()
    role = created.json()
    assert (role["name"], role["preset"], role["organiser_kind"]) == (
        "小小科普辅导员",
        "little_docent",
        "venue",
    )
    assert (role["organiser_id"], role["organiser_name"]) == (side_a.venue.id, side_a.venue.name)
    assert role["min_age"] == 10
    assert role["max_daily_hours"] == 4
    assert role["training"]

    # a preset's fields can be changed at creation and afterwards
    own = client.post(
        "/api/v1/volunteer-roles",
        json={
            "preset": "little_volunteer",
            "name": "小小讲解员",
            "stages": ["junior"],
            "max_daily_hours": 2.5,
            "prerequisite_role_id": role["id"],
        },
        headers=venue,
    ).json()
    assert (own["name"], own["stages"], own["max_daily_minutes"]) == ("小小讲解员", ["junior"], 150)
    assert own["prerequisite_role_id"] == role["id"]
    changed = client.patch(
        f"/api/v1/volunteer-roles/{own['id']}",
        json={"max_daily_hours": 8, "clear_prerequisite": True, "active": False},
        headers=venue,
    ).json()
    assert (changed["max_daily_hours"], changed["prerequisite_role_id"]) == (8, None)
    listed = client.get("/api/v1/volunteer-roles", params={"venue_id": side_a.venue.id}).json()
    assert [r["id"] for r in listed["items"]] == [role["id"]]  # the inactive one is left out
    assert client.get(f"/api/v1/volunteer-roles/{own['id']}").json()["active"] is False


def test_a_school_defines_roles_for_its_science_festival(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    response = client.post(
        "/api/v1/volunteer-roles",
        json={"name": "科技节引导员", "description": "科技节当天引导来宾", "max_daily_hours": 3},
        headers=auth(settings, side_a.principal(Role.school_staff)),
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["organiser_kind"], body["organiser_id"]) == ("school", side_a.school.id)
    audit = session.exec(select(AuditLog).where(AuditLog.action == "volunteer_role_saved")).all()
    assert len(audit) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"description": "没有名称"}, "volunteer_role_invalid"),
        ({"name": "超时岗位", "max_daily_hours": 9}, "validation_failed"),
        ({"name": "零时岗位", "max_daily_hours": 0}, "validation_failed"),
        ({"name": "半点", "max_daily_hours": 1.2}, "validation_failed"),
        ({"name": "前置", "prerequisite_role_id": 999999}, "volunteer_role_invalid"),
    ],
)
def test_invalid_roles_are_refused(
    client: TestClient, settings: Settings, side_a: Side, body: dict[str, object], code: str
) -> None:
    response = client.post(
        "/api/v1/volunteer-roles",
        json=body,
        headers=auth(settings, side_a.principal(Role.venue_staff)),
    )
    assert response.json()["code"] == code


def test_the_database_caps_the_daily_maximum_at_8_hours(session: Session, side_a: Side) -> None:
    with pytest.raises(IntegrityError), session.begin_nested():
        create_volunteer_role(session, venue_id=side_a.venue.id, max_daily_minutes=481)


def test_another_organisations_role_is_not_found(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, session: Session
) -> None:
    role = create_volunteer_role(session, venue_id=side_a.venue.id)
    for caller in (side_b.principal(Role.venue_admin), side_a.principal(Role.school_admin)):
        response = client.patch(
            f"/api/v1/volunteer-roles/{role.id}",
            json={"name": "改名"},
            headers=auth(settings, caller),
        )
        assert response.status_code == 404
        assert response.json()["code"] == "volunteer_role_not_found"


def test_a_shift_with_its_cut_off(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    role = create_volunteer_role(session, venue_id=side_a.venue.id)
    venue = auth(settings, side_a.principal(Role.venue_staff))
    url = f"/api/v1/volunteer-roles/{role.id}/shifts"
    body = {
        "starts_at": "2026-10-17T09:00:00+08:00",
        "ends_at": "2026-10-17T12:00:00+08:00",
        "place": "一楼序厅",
        "capacity": 8,
    }
    created = client.post(url, json=body, headers=venue)
    assert created.status_code == 201, created.json()
    shift = created.json()
    assert shift["signup_closes_at"] == "2026-10-17T01:00:00Z"  # at the start when not given
    assert (shift["capacity"], shift["available"], shift["status"]) == (8, 8, "open")
    listed = client.get(url, params={"from_date": "2026-10-17", "to_date": "2026-10-17"}).json()
    assert [s["id"] for s in listed["items"]] == [shift["id"]]

    refusals = [
        {"ends_at": "2026-10-17T08:00:00+08:00"},  # before the start
        {"starts_at": "2026-10-13T09:00:00+08:00"},  # past
        {"ends_at": "2026-10-18T01:00:00+08:00"},  # over midnight
        {"ends_at": "2026-10-17T13:30:00+08:00"},  # 4.5 hours > the role's 4
        {"signup_closes_at": "2026-10-17T10:00:00+08:00"},  # after the start
    ]
    for change in refusals:
        refused = client.post(url, json={**body, **change}, headers=venue)
        assert refused.json()["code"] == "volunteer_shift_invalid", change


def test_a_weekly_series(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    """Every Saturday 09:00-12:00 from 17 October to 14 November, but not 31 October."""
    role = create_volunteer_role(session, venue_id=side_a.venue.id)
    response = client.post(
        f"/api/v1/volunteer-roles/{role.id}/shift-series",
        json={
            "from_date": "2026-10-17",
            "to_date": "2026-11-14",
            "weekdays": [6],
            "start_time": "09:00",
            "end_time": "12:00",
            "except_dates": ["2026-10-31"],
            "place": "二楼展厅",
            "capacity": 6,
            "close_hours_before": 48,
        },
        headers=auth(settings, side_a.principal(Role.venue_staff)),
    )
    assert response.status_code == 201, response.json()
    shifts = response.json()
    assert [s["starts_at"] for s in shifts] == [
        "2026-10-17T01:00:00Z",
        "2026-10-24T01:00:00Z",
        "2026-11-07T01:00:00Z",
        "2026-11-14T01:00:00Z",
    ]
    assert {s["ends_at"][11:] for s in shifts} == {"04:00:00Z"}
    assert shifts[0]["signup_closes_at"] == "2026-10-15T01:00:00Z"
    assert len({s["series_key"] for s in shifts}) == 1
    stored = session.exec(select(VolunteerShift).where(VolunteerShift.role_id == role.id)).all()
    assert len(stored) == 4
    assert all(s.venue_id == side_a.venue.id for s in stored)


@pytest.mark.parametrize(
    "change",
    [
        {"to_date": "2026-10-01"},  # before from_date
        {"weekdays": [8]},
        {"weekdays": [1], "to_date": "2026-10-18"},  # no Monday in range
        {"from_date": "2026-10-14"},  # today, 09:00 already past
        {"to_date": "2031-01-01"},  # more than a year
    ],
)
def test_an_invalid_series_publishes_nothing(
    client: TestClient,
    settings: Settings,
    side_a: Side,
    session: Session,
    change: dict[str, object],
) -> None:
    role = create_volunteer_role(session, venue_id=side_a.venue.id)
    body = {
        "from_date": "2026-10-15",
        "to_date": "2026-11-14",
        "weekdays": [3, 6],
        "start_time": "09:00",
        "end_time": "12:00",
        "capacity": 6,
        **change,
    }
    response = client.post(
        f"/api/v1/volunteer-roles/{role.id}/shift-series",
        json=body,
        headers=auth(settings, side_a.principal(Role.venue_staff)),
    )
    assert response.json()["code"] in ("volunteer_shift_invalid", "validation_failed"), change
    assert session.exec(select(VolunteerShift)).all() == []
