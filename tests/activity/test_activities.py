"""Activities: defaults from the organiser and the kind, the status machine, who sees what."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session

from scipass.core.auth import Role
from scipass.core.config import Settings
from tests.factories import Side, auth, create_activity, list_venue

LECTURE = {
    "kind": "lecture",
    "title": "院士进校园：从一粒种子到一片森林",
    "starts_at": "2026-10-21T14:00:00+08:00",
    "ends_at": "2026-10-21T15:30:00+08:00",
}


def test_venue_activity_takes_the_venues_place_and_the_kinds_record_defaults(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    venue = list_venue(session, side_a.venue, stages="junior,senior")
    staff = auth(settings, side_a.principal(Role.venue_staff))
    created = client.post(
        "/api/v1/activities",
        json={**LECTURE, "kind": "science_camp", "geofence_radius_m": 300, "capacity": 60},
        headers=staff,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["organiser"] == "venue"
    assert (body["place_name"], body["longitude"]) == (venue.name, venue.longitude)
    assert body["stages"] == ["junior", "senior"]
    assert body["credited_minutes"] == 90
    assert (body["record_category"], body["dimension"]) == ("inquiry", "academic")
    assert body["status"] == "draft"
    # a draft is not public
    assert client.get(f"/api/v1/activities/{body['id']}").status_code == 404
    assert client.get("/api/v1/activities").json()["total"] == 0


def test_school_activity_and_the_status_machine(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side
) -> None:
    teacher = auth(settings, side_a.principal(Role.school_staff))
    created = client.post(
        "/api/v1/activities",
        json={**LECTURE, "kind": "scientist_in_school", "credited_minutes": 60},
        headers=teacher,
    ).json()
    assert (created["organiser"], created["school_id"]) == ("school", side_a.school.id)
    assert created["dimension"] == "social_practice"
    activity = f"/api/v1/activities/{created['id']}"

    finish_early = client.post(f"{activity}/finish", headers=teacher)
    assert finish_early.json()["code"] == "activity_transition_invalid"
    published = client.post(f"{activity}/publish", headers=teacher)
    assert published.json()["status"] == "published"
    assert client.post(f"{activity}/publish", headers=teacher).status_code == 409
    assert client.get(activity).json()["status"] == "published"
    listed = client.get("/api/v1/activities", params={"kind": "scientist_in_school"}).json()
    assert [a["id"] for a in listed["items"]] == [created["id"]]

    # the other school cannot touch it; a cancellation needs a reason
    other = auth(settings, side_b.principal(Role.school_admin))
    assert client.post(f"{activity}/cancel", json={"reason": "x"}, headers=other).status_code == 404
    no_reason = client.post(f"{activity}/cancel", headers=teacher)
    assert no_reason.json()["code"] == "activity_invalid"
    cancelled = client.post(f"{activity}/cancel", json={"reason": "专家行程变更"}, headers=teacher)
    assert (cancelled.json()["status"], cancelled.json()["status_reason"]) == (
        "cancelled",
        "专家行程变更",
    )
    edit = client.put(activity, json=LECTURE, headers=teacher)
    assert edit.json()["code"] == "activity_not_editable"
    managed = client.get("/api/v1/managed-activities", headers=teacher).json()
    assert managed["total"] == 1
    assert client.get("/api/v1/managed-activities", headers=other).json()["total"] == 0


def test_invalid_activities_are_refused(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    teacher = auth(settings, side_a.principal(Role.school_staff))
    backwards = client.post(
        "/api/v1/activities",
        json={**LECTURE, "ends_at": "2026-10-21T13:00:00+08:00"},
        headers=teacher,
    )
    assert backwards.json()["code"] == "activity_invalid"
    fence = client.post(
        "/api/v1/activities", json={**LECTURE, "geofence_radius_m": 200}, headers=teacher
    )
    assert fence.json()["code"] == "activity_invalid"  # a school has no coordinates by default
    naive = client.post(
        "/api/v1/activities", json={**LECTURE, "starts_at": "2026-10-21T14:00:00"}, headers=teacher
    )
    assert naive.json()["code"] == "validation_failed"
    assert client.get("/api/v1/managed-activities", headers=teacher).json()["total"] == 0


def test_an_organiser_reads_its_own_drafts_and_filters_by_date(
    client: TestClient, session: Session, settings: Settings, side_a: Side, side_b: Side
) -> None:
    venue = side_a.venue.id or 0
    draft = create_activity(session, venue_id=venue, status="draft", title="草稿活动")
    later = create_activity(
        session,
        venue_id=venue,
        title="十一月的活动",
        starts_at=datetime(2026, 11, 3, 1, 0, tzinfo=UTC),
        ends_at=datetime(2026, 11, 3, 8, 0, tzinfo=UTC),
    )
    staff = auth(settings, side_a.principal(Role.venue_staff))
    found = client.get(f"/api/v1/managed-activities/{draft.id}", headers=staff)
    assert found.status_code == 200
    assert found.json()["status"] == "draft"
    assert client.get(f"/api/v1/activities/{draft.id}").status_code == 404  # public: not a draft
    other = auth(settings, side_b.principal(Role.venue_staff))
    refused = client.get(f"/api/v1/managed-activities/{draft.id}", headers=other)
    assert refused.status_code == 404
    november = client.get(
        "/api/v1/managed-activities", params={"from_date": "2026-11-01"}, headers=staff
    ).json()
    assert [a["id"] for a in november["items"]] == [later.id]
    october = client.get(
        "/api/v1/managed-activities",
        params={"from_date": "2026-10-20", "to_date": "2026-10-20"},
        headers=staff,
    ).json()
    assert [a["id"] for a in october["items"]] == [draft.id]
    # the last day counts whole: an activity starting that evening (Beijing) is in it
    evening = create_activity(
        session,
        venue_id=venue,
        title="晚间活动",
        starts_at=datetime(2026, 11, 3, 12, 0, tzinfo=UTC),  # 20:00 in Beijing
        ends_at=datetime(2026, 11, 3, 13, 0, tzinfo=UTC),
    )
    day = client.get(
        "/api/v1/managed-activities",
        params={"to_date": "2026-11-03", "from_date": "2026-11-03"},
        headers=staff,
    ).json()
    assert {a["id"] for a in day["items"]} == {later.id, evening.id}
