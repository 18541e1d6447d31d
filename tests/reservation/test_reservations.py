"""Time slots and reservations: each refusal with its own code and nothing written, the
waitlist in order, groups, the school channel, idempotent retries, cancellation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.org.models import Venue
from scipass.reservation.models import Reservation, ReservationMember, TimeSlot
from scipass.roster.models import Student
from scipass.venue.models import VenueHoursException
from tests.factories import (
    NOW,
    Side,
    auth,
    create_activity,
    create_slot,
    create_student,
    create_wechat_user,
    list_venue,
)

TUESDAY = date(2026, 10, 20)


@pytest.fixture
def venue(session: Session, side_a: Side) -> Venue:
    return list_venue(session, side_a.venue)


@pytest.fixture
def slot(session: Session, venue: Venue) -> TimeSlot:
    return create_slot(session, venue_id=venue.id or 0, capacity=2)


def _pupil(session: Session, school_id: int, **overrides: Any) -> tuple[Student, Principal]:
    """A bound student of 14 or over (no guardian consent needed) and their principal."""
    user = create_wechat_user(session)
    values: dict[str, Any] = {"birth_month": date(2011, 1, 1), "stage": "junior", "grade": 8}
    values.update(overrides)
    student = create_student(session, school_id=school_id, wechat_user_id=user.id, **values)
    principal = Principal(
        subject=f"wechat:{user.id}", role=Role.student, school_id=school_id, student_id=student.id
    )
    return student, principal


def _reserve(
    client: TestClient,
    settings: Settings,
    principal: Principal,
    slot_id: int,
    *,
    key: str | None = None,
    wait: bool = True,
    now: datetime = NOW,
):
    headers = auth(settings, principal, now=now)
    if key:
        headers["Idempotency-Key"] = key
    return client.post(
        f"/api/v1/slots/{slot_id}/reservations", json={"join_waitlist": wait}, headers=headers
    )


def _rows(session: Session, slot_id: int) -> tuple[int, list[Reservation], int]:
    session.expire_all()
    slot = session.get(TimeSlot, slot_id)
    assert slot is not None
    reservations = session.exec(select(Reservation).where(Reservation.slot_id == slot_id)).all()
    members = session.exec(
        select(ReservationMember).where(ReservationMember.slot_id == slot_id)
    ).all()
    return slot.taken, list(reservations), len(members)


def test_student_reserves_and_a_retry_returns_the_first_result(
    client: TestClient, settings: Settings, session: Session, side_a: Side, slot: TimeSlot
) -> None:
    _, me = _pupil(session, side_a.school.id or 0)
    first = _reserve(client, settings, me, slot.id or 0, key="retry-key-0001")
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "confirmed"
    assert first.json()["waitlist_position"] is None
    again = _reserve(client, settings, me, slot.id or 0, key="retry-key-0001")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    taken, reservations, members = _rows(session, slot.id or 0)
    assert (taken, len(reservations), members) == (1, 1, 1)

    # without the key, the second attempt is the student reserving twice
    twice = _reserve(client, settings, me, slot.id or 0)
    assert twice.status_code == 409
    assert twice.json()["code"] == "already_reserved"
    assert _rows(session, slot.id or 0)[0] == 1


def test_a_key_reused_for_another_request_is_refused_and_writes_nothing(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    venue: Venue,
    slot: TimeSlot,
) -> None:
    """Slot 1's key sent for slot 2 (another path), or with another body, is the client's
    mistake: 409 idempotency_key_reused, nothing written; the first request still replays."""
    _, me = _pupil(session, side_a.school.id or 0)
    other = create_slot(session, venue_id=venue.id or 0, capacity=2)
    first = _reserve(client, settings, me, slot.id or 0, key="slot-one-key")
    assert first.status_code == 201
    elsewhere = _reserve(client, settings, me, other.id or 0, key="slot-one-key")
    assert elsewhere.status_code == 409
    assert elsewhere.json()["code"] == "idempotency_key_reused"
    assert _rows(session, other.id or 0) == (0, [], 0)
    changed = _reserve(client, settings, me, slot.id or 0, key="slot-one-key", wait=False)
    assert changed.status_code == 409
    assert changed.json()["code"] == "idempotency_key_reused"
    replay = _reserve(client, settings, me, slot.id or 0, key="slot-one-key")
    assert (replay.status_code, replay.json()["id"]) == (200, first.json()["id"])
    # keys belong to their caller: another student's same key is a new request
    _, you = _pupil(session, side_a.school.id or 0)
    yours = _reserve(client, settings, you, other.id or 0, key="slot-one-key")
    assert yours.status_code == 201


def test_full_slot_waitlists_in_order_or_refuses_when_asked_not_to_wait(
    client: TestClient, settings: Settings, session: Session, side_a: Side, slot: TimeSlot
) -> None:
    pupils = [_pupil(session, side_a.school.id or 0)[1] for _ in range(5)]
    answers = [_reserve(client, settings, p, slot.id or 0).json() for p in pupils[:4]]
    assert [a["status"] for a in answers] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    assert [a["waitlist_position"] for a in answers[2:]] == [1, 2]

    refused = _reserve(client, settings, pupils[4], slot.id or 0, wait=False)
    assert refused.status_code == 409
    assert refused.json()["code"] == "capacity_full"
    assert refused.json()["waitlist_length"] == 2
    taken, reservations, members = _rows(session, slot.id or 0)
    assert (taken, len(reservations), members) == (2, 4, 4)  # nothing half-written

    # a confirmed student cancels: the first in line moves up, the second becomes first
    cancelled = client.post(
        f"/api/v1/reservations/{answers[0]['id']}/cancel",
        json={"reason": "生病"},
        headers=auth(settings, pupils[0]),
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    mine = client.get("/api/v1/me/reservations", headers=auth(settings, pupils[2])).json()
    assert mine["items"][0]["status"] == "confirmed"
    last = client.get("/api/v1/me/reservations", headers=auth(settings, pupils[3])).json()
    assert last["items"][0]["waitlist_position"] == 1
    assert _rows(session, slot.id or 0)[0] == 2
    # the cancelled place is free for the same student again
    assert _reserve(client, settings, pupils[0], slot.id or 0).json()["status"] == "waitlisted"


def test_a_group_first_in_line_is_not_overtaken(
    client: TestClient, settings: Settings, session: Session, side_a: Side, slot: TimeSlot
) -> None:
    pupils = [_pupil(session, side_a.school.id or 0)[1] for _ in range(3)]
    first = _reserve(client, settings, pupils[0], slot.id or 0).json()
    _reserve(client, settings, pupils[1], slot.id or 0)
    classmates = [_pupil(session, side_a.school.id or 0, class_name="2班")[0].id for _ in range(2)]
    group = client.post(
        f"/api/v1/slots/{slot.id}/group-reservations",
        json={"student_ids": classmates},
        headers=auth(settings, side_a.principal(Role.school_staff)),
    ).json()
    assert (group["status"], group["party_size"]) == ("waitlisted", 2)
    single = _reserve(client, settings, pupils[2], slot.id or 0).json()
    assert single["waitlist_position"] == 2
    # one place frees up: the group of two does not fit, and the single student behind waits
    client.post(
        f"/api/v1/reservations/{first['id']}/cancel", headers=auth(settings, pupils[0])
    ).raise_for_status()
    assert _rows(session, slot.id or 0)[0] == 1
    session.expire_all()
    assert session.get(Reservation, single["id"]).status == "waitlisted"  # type: ignore[union-attr]


def test_teacher_reserves_a_class_as_one_group_with_escorts(
    client: TestClient, settings: Settings, session: Session, side_a: Side, venue: Venue
) -> None:
    slot = create_slot(session, venue_id=venue.id or 0, capacity=40)
    for _ in range(3):
        create_student(session, school_id=side_a.school.id or 0, grade=5, class_name="3班")
    teacher = auth(settings, side_a.principal(Role.school_staff))
    response = client.post(
        f"/api/v1/slots/{slot.id}/group-reservations",
        json={"grade": 5, "class_name": "3班", "escorts": 2, "note": "科学课"},
        headers={**teacher, "Idempotency-Key": "class-5-3-visit"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["kind"], body["students"], body["party_size"]) == ("group", 3, 5)
    assert body["group_label"] == "五年级3班"
    assert _rows(session, slot.id or 0)[0] == 5
    # the same class again: every student already holds a place
    again = client.post(
        f"/api/v1/slots/{slot.id}/group-reservations",
        json={"grade": 5, "class_name": "3班"},
        headers=teacher,
    )
    assert again.status_code == 409
    assert again.json()["code"] == "already_reserved"
    assert len(again.json()["student_ids"]) == 3
    empty = client.post(
        f"/api/v1/slots/{slot.id}/group-reservations",
        json={"grade": 5, "class_name": "9班"},
        headers=teacher,
    )
    assert empty.json()["code"] == "group_empty"
    listed = client.get("/api/v1/school-reservations", headers=teacher).json()
    assert listed["total"] == 1


def test_teacher_cannot_reserve_for_another_schools_student(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    slot: TimeSlot,
) -> None:
    own = create_student(session, school_id=side_b.school.id or 0, stage="junior", grade=7)
    response = client.post(
        f"/api/v1/slots/{slot.id}/group-reservations",
        json={"student_ids": [own.id, side_a.student.id]},
        headers=auth(settings, side_b.principal(Role.school_staff)),
    )
    assert response.status_code == 403
    assert response.json()["code"] == "student_other_school"
    assert response.json()["student_ids"] == [side_a.student.id]
    assert _rows(session, slot.id or 0) == (0, [], 0)


def test_past_slot_and_closed_day_and_stage_are_refused(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    venue: Venue,
    slot: TimeSlot,
    clock: FrozenClock,
) -> None:
    _, me = _pupil(session, side_a.school.id or 0)

    session.add(
        VenueHoursException(venue_id=venue.id or 0, on_date=TUESDAY, closed=True, note="检修")
    )
    session.flush()
    closed = _reserve(client, settings, me, slot.id or 0)
    assert closed.status_code == 409
    assert closed.json()["code"] == "outside_opening_hours"

    venue.stages = "primary"
    session.add(venue)
    other = create_slot(
        session,
        venue_id=venue.id or 0,
        starts_at=datetime(2026, 10, 21, 2, 0, tzinfo=UTC),
        ends_at=datetime(2026, 10, 21, 3, 0, tzinfo=UTC),
    )
    stage = _reserve(client, settings, me, other.id or 0)
    assert stage.status_code == 409
    assert stage.json()["code"] == "stage_not_served"
    assert stage.json()["stages"] == ["primary"]

    clock.set(datetime(2026, 10, 21, 2, 30, tzinfo=UTC))
    past = _reserve(client, settings, me, other.id or 0, now=clock.now())
    assert past.json()["code"] == "slot_in_past"
    assert _rows(session, other.id or 0) == (0, [], 0)


def test_activity_stages_narrow_the_venues(
    client: TestClient, settings: Settings, session: Session, side_a: Side, venue: Venue
) -> None:
    activity = create_activity(session, venue_id=venue.id or 0, stages="senior")
    slot = create_slot(session, venue_id=venue.id or 0, activity_id=activity.id)
    _, me = _pupil(session, side_a.school.id or 0)
    assert _reserve(client, settings, me, slot.id or 0).json()["code"] == "stage_not_served"


def test_under_14_needs_guardian_consent(
    client: TestClient, settings: Settings, side_a: Side, slot: TimeSlot, session: Session
) -> None:
    response = _reserve(client, settings, side_a.principal(Role.student), slot.id or 0)
    assert response.status_code == 403
    assert response.json()["code"] == "consent_required"
    assert _rows(session, slot.id or 0) == (0, [], 0)


def test_school_channel_takes_groups_first_until_the_cut_off(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    venue: Venue,
    clock: FrozenClock,
) -> None:
    cut_off = datetime(2026, 10, 16, 10, 0, tzinfo=UTC)
    slot = create_slot(
        session,
        venue_id=venue.id or 0,
        starts_at=datetime(2026, 10, 20, 8, 30, tzinfo=UTC),  # 16:30, after school
        ends_at=datetime(2026, 10, 20, 9, 0, tzinfo=UTC),
        school_channel=True,
        school_priority_until=cut_off,
    )
    _, me = _pupil(session, side_a.school.id or 0)
    early = _reserve(client, settings, me, slot.id or 0)
    assert early.status_code == 409
    assert early.json()["code"] == "school_channel_reserved"
    assert early.json()["open_to_all_at"].startswith("2026-10-16T10:00")
    group = client.post(
        f"/api/v1/slots/{slot.id}/group-reservations",
        json={"student_ids": [side_a.student.id]},
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert group.status_code == 201
    clock.set(cut_off + timedelta(minutes=1))
    assert _reserve(client, settings, me, slot.id or 0, now=clock.now()).status_code == 201


def test_venue_creates_slots_inside_opening_hours_only(
    client: TestClient, settings: Settings, session: Session, side_a: Side, venue: Venue
) -> None:
    staff = auth(settings, side_a.principal(Role.venue_staff))

    def create(**body: Any):
        return client.post(f"/api/v1/venues/{venue.id}/slots", json=body, headers=staff)

    good = create(
        starts_at="2026-10-21T09:00:00+08:00", ends_at="2026-10-21T10:30:00+08:00", capacity=50
    )
    assert good.status_code == 201, good.text
    assert good.json()["available"] == 50
    monday = create(
        starts_at="2026-10-19T09:00:00+08:00", ends_at="2026-10-19T10:00:00+08:00", capacity=5
    )
    assert monday.json()["code"] == "outside_opening_hours"
    late = create(
        starts_at="2026-10-21T16:30:00+08:00", ends_at="2026-10-21T17:30:00+08:00", capacity=5
    )
    assert late.json()["code"] == "outside_opening_hours"
    past = create(
        starts_at="2026-10-13T09:00:00+08:00", ends_at="2026-10-13T10:00:00+08:00", capacity=5
    )
    assert past.json()["code"] == "slot_in_past"
    no_cut_off = create(
        starts_at="2026-10-21T15:00:00+08:00",
        ends_at="2026-10-21T16:00:00+08:00",
        capacity=5,
        school_channel=True,
    )
    assert no_cut_off.json()["code"] == "slot_invalid"
    listed = client.get(f"/api/v1/venues/{venue.id}/slots", params={"to_date": "2026-10-21"})
    assert [s["id"] for s in listed.json()["items"]] == [good.json()["id"]]


def test_venue_cancels_a_slot_and_every_reservation_with_it(
    client: TestClient, settings: Settings, session: Session, side_a: Side, slot: TimeSlot
) -> None:
    _, me = _pupil(session, side_a.school.id or 0)
    reserved = _reserve(client, settings, me, slot.id or 0).json()
    staff = auth(settings, side_a.principal(Role.venue_admin))
    names = client.get(f"/api/v1/slots/{slot.id}/reservations", headers=staff).json()
    assert names["items"][0]["student_name"] == "张*明"  # the venue sees a masked name
    response = client.post(
        f"/api/v1/slots/{slot.id}/cancel", json={"reason": "停电"}, headers=staff
    )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    mine = client.get("/api/v1/me/reservations", headers=auth(settings, me)).json()
    assert [r["status"] for r in mine["items"]] == ["cancelled"]
    session.expire_all()
    stored = session.get(Reservation, reserved["id"])
    assert stored is not None
    assert (stored.status, stored.cancel_reason) == ("cancelled", "停电")
    again = _reserve(client, settings, me, slot.id or 0)
    assert again.json()["code"] == "slot_cancelled"


def test_cancelling_after_the_start_is_too_late(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    slot: TimeSlot,
    clock: FrozenClock,
) -> None:
    _, me = _pupil(session, side_a.school.id or 0)
    reserved = _reserve(client, settings, me, slot.id or 0).json()
    clock.set(slot.starts_at + timedelta(minutes=5))
    late = client.post(
        f"/api/v1/reservations/{reserved['id']}/cancel", headers=auth(settings, me, now=clock.now())
    )
    assert late.json()["code"] == "cancel_too_late"
    clock.set(NOW)
    ok = client.post(f"/api/v1/reservations/{reserved['id']}/cancel", headers=auth(settings, me))
    assert ok.status_code == 200
    twice = client.post(f"/api/v1/reservations/{reserved['id']}/cancel", headers=auth(settings, me))
    assert twice.json()["code"] == "reservation_not_active"
