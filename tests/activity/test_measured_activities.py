"""What the policy rules read off activities (issue 19): a bureau organises activities through
the same routes as a venue or a school, and every activity says whether it is held in
after-school service, the programme it belongs to and the campaigns it is part of."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from scipass.activity.models import Activity
from scipass.core.auth import Role
from scipass.core.config import Settings
from scipass.record import append as record_append
from tests.factories import NOW, Side, auth

TALK = {
    "kind": "lecture",
    "title": "院士报告会：从一粒种子到一片森林",
    "starts_at": "2026-10-21T14:00:00+08:00",
    "ends_at": "2026-10-21T15:30:00+08:00",
}


def test_a_bureau_organises_and_runs_its_own_activity(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    bureau = auth(settings, side_a.principal(Role.bureau))
    created = client.post(
        "/api/v1/activities",
        json={**TALK, "programme": "top_scientist_talk", "campaigns": ["science_week"]},
        headers=bureau,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["organiser"], body["bureau_id"], body["venue_id"], body["school_id"]) == (
        "bureau",
        side_a.bureau.id,
        None,
        None,
    )
    assert body["place_name"] == side_a.bureau.name
    assert body["stages"] == ["primary", "junior", "senior", "vocational"]
    # nobody at a bureau confirms pupils' records one by one: they are confirmed in advance
    assert body["auto_confirm_records"] is True
    activity = f"/api/v1/activities/{body['id']}"
    assert client.post(f"{activity}/publish", headers=bureau).json()["status"] == "published"
    public = client.get(activity).json()
    assert (public["organiser"], public["programme"]) == ("bureau", "top_scientist_talk")
    managed = client.get("/api/v1/managed-activities", headers=bureau).json()
    assert [a["id"] for a in managed["items"]] == [body["id"]]

    # another bureau, and a venue or school of the region, neither see nor touch it
    for principal in (
        side_b.principal(Role.bureau),
        side_a.principal(Role.venue_admin),
        side_a.principal(Role.school_admin),
    ):
        headers = auth(settings, principal)
        changed = client.put(activity, json={**TALK, "title": "改掉的标题"}, headers=headers)
        assert changed.status_code == 404, principal.role
        assert (
            client.post(f"{activity}/cancel", json={"reason": "x"}, headers=headers).status_code
            == 404
        )
        assert body["id"] not in [
            a["id"]
            for a in client.get("/api/v1/managed-activities", headers=headers).json()["items"]
        ]
    session.expire_all()
    stored = session.get(Activity, body["id"])
    assert (stored.title, stored.status) == (TALK["title"], "published")

    # a record of a pupil's visit names the bureau as organiser and is confirmed
    facts = record_append.facts_for_activity(session, stored)
    assert (facts.organiser_name, facts.confirmed) == (side_a.bureau.name, True)
    assert (facts.organiser_venue_id, facts.organiser_school_id) == (None, None)


def test_after_school_programme_and_campaigns_are_kept_and_changed(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    teacher = auth(settings, side_a.principal(Role.school_staff))
    created = client.post(
        "/api/v1/activities",
        json={
            **TALK,
            "kind": "club",
            "after_school": True,
            "programme": "science_first_lesson",
            "campaigns": ["science_week", "science_popularisation_day"],
        },
        headers=teacher,
    ).json()
    assert created["after_school"] is True
    assert created["programme"] == "science_first_lesson"
    assert created["campaigns"] == ["science_popularisation_day", "science_week"]  # enum order
    stored = session.get(Activity, created["id"])
    assert stored.campaigns == "science_popularisation_day,science_week"

    updated = client.put(f"/api/v1/activities/{created['id']}", json=TALK, headers=teacher).json()
    assert (updated["after_school"], updated["programme"], updated["campaigns"]) == (
        False,
        None,
        [],
    )
    # an activity from before the columns: not after-school, no programme, no campaigns
    venue = client.post(
        "/api/v1/activities", json=TALK, headers=auth(settings, side_a.principal(Role.venue_staff))
    ).json()
    assert (venue["after_school"], venue["programme"], venue["campaigns"]) == (False, None, [])
    assert venue["auto_confirm_records"] is False


def test_bad_measures_change_nothing(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    bureau = auth(settings, side_a.principal(Role.bureau))
    created = client.post("/api/v1/activities", json=TALK, headers=bureau).json()
    for bad in (
        {"programme": "science_fair"},
        {"campaigns": ["science_week", "science_week"]},
        {"campaigns": ["world_water_day"]},
        {"campaigns": "science_week"},
        {"after_school": "sometimes"},
    ):
        answer = client.put(
            f"/api/v1/activities/{created['id']}", json={**TALK, **bad}, headers=bureau
        )
        assert answer.json()["code"] == "validation_failed", bad
        fresh = client.post("/api/v1/activities", json={**TALK, **bad}, headers=bureau)
        assert fresh.json()["code"] == "validation_failed", bad
    # a bureau's activity has no coordinates of its own to fence
    fenced = client.post(
        "/api/v1/activities", json={**TALK, "geofence_radius_m": 200}, headers=bureau
    )
    assert fenced.json()["code"] == "activity_invalid"
    assert session.exec(select(func.count()).select_from(Activity)).one() == 1
    stored = session.get(Activity, created["id"])
    assert (stored.programme, stored.campaigns, stored.after_school) == (None, "", False)


def test_the_database_keeps_exactly_one_organiser(session: Session, side_a: Side) -> None:
    def activity(**organiser: int | None) -> Activity:
        return Activity(
            **organiser,
            kind="lecture",
            title="讲座",
            starts_at=NOW,
            ends_at=NOW.replace(hour=NOW.hour + 1),
            place_name="礼堂",
            admission="open",
            stages="primary",
            credited_minutes=60,
            record_category="course_lecture",
            dimension="social_practice",
            status="draft",
            created_by="test",
            created_at=NOW,
            updated_at=NOW,
        )

    for organiser in (
        {},
        {"school_id": side_a.school.id, "bureau_id": side_a.bureau.id},
        {"venue_id": side_a.venue.id, "bureau_id": side_a.bureau.id},
    ):
        try:
            with session.begin_nested():
                session.add(activity(**organiser))
                session.flush()
        except IntegrityError:
            continue
        raise AssertionError(f"accepted {organiser}")
    with session.begin_nested():
        session.add(activity(bureau_id=side_a.bureau.id))
        session.flush()
