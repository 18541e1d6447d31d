"""Signing up for volunteer shifts: pupils, guardians for a child, schools for a group; every
refusal with its own code and nothing written; the waitlist; cancelling."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.roster.models import Student
from scipass.volunteer.models import (
    NotificationOutbox,
    VolunteerRole,
    VolunteerShift,
    VolunteerSignup,
)
from tests.factories import (
    Side,
    auth,
    bound_student,
    create_volunteer_role,
    create_volunteer_shift,
    create_volunteer_signup,
    grant_consent,
)

SATURDAY = datetime(2026, 10, 17, 1, 0, tzinfo=UTC)  # 09:00 in Beijing


@pytest.fixture
def role(session: Session, side_a: Side) -> VolunteerRole:
    return create_volunteer_role(session, venue_id=side_a.venue.id)


@pytest.fixture
def shift(session: Session, role: VolunteerRole) -> VolunteerShift:
    return create_volunteer_shift(session, role=role)


@pytest.fixture
def consented(session: Session, side_a: Side) -> Side:
    """Side A's pupil (10, primary) with the guardian's consent for participation records."""
    grant_consent(
        session,
        student=side_a.student,
        link=side_a.guardian_link,
        purposes=["participation_record"],
    )
    return side_a


def sign_up(
    client: TestClient,
    settings: Settings,
    caller: Principal,
    shift_id: int,
    params: dict[str, Any] | None = None,
    **body: Any,
) -> Response:
    return client.post(
        f"/api/v1/volunteer-shifts/{shift_id}/signups",
        json=body,
        params=params or {},
        headers=auth(settings, caller),
    )


def count(session: Session, model: Any, *where: Any) -> int:
    session.expire_all()
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def audit_actions(session: Session) -> list[str]:
    return [a.action for a in session.exec(select(AuditLog).order_by(col(AuditLog.id))).all()]


def test_a_pupil_signs_up_and_a_guardian_signs_up_a_child(
    client: TestClient,
    settings: Settings,
    session: Session,
    consented: Side,
    role: VolunteerRole,
    shift: VolunteerShift,
) -> None:
    response = sign_up(client, settings, consented.principal(Role.student), shift.id or 0)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "signed_up"
    assert body["student_name"] == "张小明"
    assert body["waitlist_position"] is None
    session.refresh(shift)
    assert shift.taken == 1
    assert "volunteer_signed_up" in audit_actions(session)

    # family mode: the guardian names the child, for an afternoon shift of the same day
    afternoon = create_volunteer_shift(
        session,
        role=role,
        starts_at=SATURDAY + timedelta(hours=5),
        ends_at=SATURDAY + timedelta(hours=6),
    )
    by_guardian = sign_up(
        client,
        settings,
        consented.principal(Role.guardian),
        afternoon.id or 0,
        params={"student_id": consented.student.id},
    )
    assert by_guardian.status_code == 201, by_guardian.json()
    signup = session.get(VolunteerSignup, by_guardian.json()["id"])
    assert signup is not None
    assert signup.student_id == consented.student.id
    assert signup.made_by == f"wechat:{consented.guardian.id}"
    mine = client.get(
        "/api/v1/me/volunteer-signups", headers=auth(settings, consented.principal(Role.student))
    ).json()
    assert [s["shift_id"] for s in mine["items"]] == [afternoon.id, shift.id]


def _refused(
    client: TestClient,
    settings: Settings,
    session: Session,
    caller: Principal,
    shift: VolunteerShift,
    code: str,
    **body: Any,
) -> dict[str, Any]:
    """The sign-up is refused with ``code`` and leaves no trace."""
    before = (
        count(session, VolunteerSignup),
        count(session, AuditLog),
        count(session, NotificationOutbox),
    )
    response = sign_up(client, settings, caller, shift.id or 0, **body)
    assert response.json().get("code") == code, response.json()
    assert response.status_code in (403, 409)
    assert (
        count(session, VolunteerSignup),
        count(session, AuditLog),
        count(session, NotificationOutbox),
    ) == before
    taken = session.exec(select(VolunteerShift.taken).where(VolunteerShift.id == shift.id)).one()
    assert taken == shift.taken
    return response.json()


def test_closed_past_the_cut_off_or_cancelled(
    client: TestClient,
    settings: Settings,
    session: Session,
    consented: Side,
    role: VolunteerRole,
) -> None:
    student = consented.principal(Role.student)
    late = create_volunteer_shift(
        session, role=role, signup_closes_at=datetime(2026, 10, 14, 1, 0, tzinfo=UTC)
    )
    body = _refused(client, settings, session, student, late, "volunteer_signup_closed")
    assert body["reason"] == "cut_off"
    cancelled = create_volunteer_shift(
        session,
        role=role,
        status="cancelled",
        starts_at=SATURDAY + timedelta(days=7),
        ends_at=SATURDAY + timedelta(days=7, hours=1),
    )
    body = _refused(client, settings, session, student, cancelled, "volunteer_signup_closed")
    assert body["reason"] == "cancelled"


def test_too_young_and_wrong_stage(
    client: TestClient,
    settings: Settings,
    session: Session,
    consented: Side,
    role: VolunteerRole,
    shift: VolunteerShift,
) -> None:
    student = consented.principal(Role.student)
    role.min_age = 12
    session.add(role)
    session.flush()
    body = _refused(client, settings, session, student, shift, "volunteer_too_young")
    assert body["min_age"] == 12
    role.min_age = 10  # born March 2016: 10 on 17 October 2026
    role.stages = "junior,senior"
    session.add(role)
    session.flush()
    body = _refused(client, settings, session, student, shift, "volunteer_wrong_stage")
    assert body["stages"] == ["junior", "senior"]
    role.stages = "primary"
    session.add(role)
    session.flush()
    assert sign_up(client, settings, student, shift.id or 0).status_code == 201


def test_no_consent_under_14(
    client: TestClient, settings: Settings, session: Session, side_a: Side, shift: VolunteerShift
) -> None:
    body = _refused(
        client, settings, session, side_a.principal(Role.student), shift, "consent_required"
    )
    assert body["purpose"] == "participation_record"


def test_a_pupil_of_14_to_18_needs_volunteering_consent_in_the_app_or_on_paper(
    client: TestClient, settings: Settings, session: Session, side_a: Side, shift: VolunteerShift
) -> None:
    pupil, caller = bound_student(
        session,
        school_id=side_a.school.id or 0,
        birth_month=date(2011, 5, 1),
        stage="junior",
        grade=9,
    )
    body = _refused(client, settings, session, caller, shift, "consent_required")
    assert body["purpose"] == "volunteering"
    paper = client.post(
        f"/api/v1/students/{pupil.id}/consents",
        json={
            "purposes": ["volunteering"],
            "decision": "grant",
            "notice_version": client.get("/api/v1/consent-notice").json()["version"],
            "guardian_name": "李妈妈",
        },
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert paper.status_code == 201
    assert sign_up(client, settings, caller, shift.id or 0).status_code == 201

    # and an adult pupil (18) needs none
    _adult, adult_caller = bound_student(
        session,
        school_id=side_a.school.id or 0,
        birth_month=date(2008, 1, 1),
        stage="senior",
        grade=12,
    )
    assert sign_up(client, settings, adult_caller, shift.id or 0).status_code == 201


def test_not_trained_until_the_prerequisite_role_was_served(
    client: TestClient,
    settings: Settings,
    session: Session,
    consented: Side,
    role: VolunteerRole,
) -> None:
    docent = create_volunteer_role(
        session, venue_id=consented.venue.id, name="小小科普辅导员", prerequisite_role_id=role.id
    )
    shift = create_volunteer_shift(session, role=docent)
    student = consented.principal(Role.student)
    body = _refused(client, settings, session, student, shift, "volunteer_not_trained")
    assert body["prerequisite_role_id"] == role.id
    # a sign-up that was not attended does not count; one attended does
    earlier = create_volunteer_shift(
        session,
        role=role,
        starts_at=datetime(2026, 10, 10, 1, 0, tzinfo=UTC),
        ends_at=datetime(2026, 10, 10, 3, 0, tzinfo=UTC),
        signup_closes_at=datetime(2026, 10, 9, 1, 0, tzinfo=UTC),
    )
    served = create_volunteer_signup(session, shift=earlier, student=consented.student)
    _refused(client, settings, session, student, shift, "volunteer_not_trained")
    served.status = "attended"
    session.add(served)
    session.flush()
    assert sign_up(client, settings, student, shift.id or 0).status_code == 201


def test_overlapping_shifts_and_the_daily_maximum(
    client: TestClient,
    settings: Settings,
    session: Session,
    consented: Side,
    role: VolunteerRole,
    shift: VolunteerShift,
) -> None:
    student = consented.principal(Role.student)
    other_role = create_volunteer_role(session, venue_id=consented.venue.id, name="科普小达人")
    overlapping = create_volunteer_shift(
        session,
        role=other_role,
        starts_at=SATURDAY + timedelta(hours=2),
        ends_at=SATURDAY + timedelta(hours=4),
    )
    create_volunteer_signup(session, shift=overlapping, student=consented.student)
    body = _refused(client, settings, session, student, shift, "volunteer_shift_overlap")
    assert body["shift_id"] == overlapping.id

    # 09:00-12:00 asked; 14:00-16:00 held at another role: 5 hours > the role's 4
    overlapping.starts_at = SATURDAY + timedelta(hours=5)
    overlapping.ends_at = SATURDAY + timedelta(hours=7)
    session.add(overlapping)
    session.flush()
    body = _refused(client, settings, session, student, shift, "volunteer_daily_hours_exceeded")
    assert (body["day_minutes"], body["max_daily_minutes"]) == (300, 240)
    role.max_daily_minutes = 300
    session.add(role)
    session.flush()
    assert sign_up(client, settings, student, shift.id or 0).status_code == 201
    _refused(client, settings, session, student, shift, "volunteer_already_signed_up")


def test_full_unless_the_pupil_chooses_the_waitlist(
    client: TestClient,
    settings: Settings,
    session: Session,
    consented: Side,
    role: VolunteerRole,
) -> None:
    shift = create_volunteer_shift(session, role=role, capacity=1)
    other, _ = bound_student(
        session, school_id=consented.school.id or 0, birth_month=date(2008, 1, 1)
    )
    create_volunteer_signup(session, shift=shift, student=other)
    student = consented.principal(Role.student)
    body = _refused(client, settings, session, student, shift, "volunteer_shift_full")
    assert body["waitlist_length"] == 0
    waiting = sign_up(client, settings, student, shift.id or 0, join_waitlist=True)
    assert waiting.status_code == 201
    assert waiting.json()["status"] == "waitlisted"
    assert waiting.json()["waitlist_position"] == 1
    listed = client.get(f"/api/v1/volunteer-roles/{role.id}/shifts").json()["items"]
    assert [(s["taken"], s["available"], s["waitlist_length"]) for s in listed] == [(1, 0, 1)]


def test_a_school_shift_takes_only_its_own_pupils(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    festival = create_volunteer_role(session, school_id=side_a.school.id)
    shift = create_volunteer_shift(session, role=festival)
    grant_consent(
        session,
        student=side_b.student,
        link=side_b.guardian_link,
        purposes=["participation_record"],
    )
    _refused(
        client,
        settings,
        session,
        side_b.principal(Role.student),
        shift,
        "volunteer_own_school_only",
    )


def _pupils(session: Session, side: Side, n: int) -> list[Student]:
    """Adult pupils of the side's school (no consent asked), for group sign-ups."""
    return [
        bound_student(
            session, school_id=side.school.id or 0, birth_month=date(2008, 1, 1), stage="senior"
        )[0]
        for _ in range(n)
    ]


def test_a_school_signs_up_a_group_all_or_nothing(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    role: VolunteerRole,
) -> None:
    teacher = auth(settings, side_a.principal(Role.school_staff))
    shift = create_volunteer_shift(session, role=role, capacity=3)
    pupils = _pupils(session, side_a, 4)
    ids = [p.id for p in pupils]

    def group(student_ids: list[int | None]) -> Response:
        return client.post(
            f"/api/v1/volunteer-shifts/{shift.id}/group-signups",
            json={"student_ids": student_ids, "group_label": "高三 1 班"},
            headers=teacher,
        )

    full = group(ids)
    assert full.status_code == 409
    assert (full.json()["code"], full.json()["available"]) == ("volunteer_shift_full", 3)
    foreign = group([*ids[:2], side_b.student.id])
    assert foreign.json()["code"] == "volunteer_own_school_only"
    assert foreign.json()["student_ids"] == [side_b.student.id]
    unconsented = group([*ids[:2], side_a.student.id])  # 10 years old, no consent
    assert unconsented.json()["code"] == "consent_required"
    assert unconsented.json()["student_id"] == side_a.student.id
    assert count(session, VolunteerSignup) == 0

    done = group(ids[:3])
    assert done.status_code == 201, done.json()
    assert {s["status"] for s in done.json()} == {"signed_up"}
    assert {s["kind"] for s in done.json()} == {"group"}
    session.refresh(shift)
    assert shift.taken == 3


def test_waitlist_is_promoted_in_order_and_each_promotion_is_told(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    role: VolunteerRole,
) -> None:
    shift = create_volunteer_shift(session, role=role, capacity=1)
    callers = [
        bound_student(session, school_id=side_a.school.id or 0, birth_month=date(2008, 1, 1))[1]
        for _ in range(3)
    ]
    ids = []
    for caller in callers:
        response = sign_up(client, settings, caller, shift.id or 0, join_waitlist=True)
        assert response.status_code == 201
        ids.append(response.json()["id"])
    statuses = [session.get(VolunteerSignup, i).status for i in ids]  # type: ignore[union-attr]
    assert statuses == ["signed_up", "waitlisted", "waitlisted"]

    cancelled = client.post(
        f"/api/v1/volunteer-signups/{ids[0]}/cancel",
        json={"reason": "生病"},
        headers=auth(settings, callers[0]),
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    session.expire_all()
    assert [session.get(VolunteerSignup, i).status for i in ids] == [  # type: ignore[union-attr]
        "cancelled",
        "signed_up",
        "waitlisted",
    ]
    notes = session.exec(select(NotificationOutbox)).all()
    assert [(n.kind, n.student_id, n.sent_at) for n in notes] == [
        ("volunteer_promoted", callers[1].student_id, None)
    ]
    assert notes[0].payload["shift_id"] == shift.id
    # the waitlisted one moves to position 1
    mine = client.get("/api/v1/me/volunteer-signups", headers=auth(settings, callers[2])).json()
    assert mine["items"][0]["waitlist_position"] == 1

    # a waitlisted sign-up cancelled frees no place and promotes nobody
    assert (
        client.post(
            f"/api/v1/volunteer-signups/{ids[2]}/cancel", headers=auth(settings, callers[2])
        ).status_code
        == 200
    )
    assert count(session, NotificationOutbox) == 1
    again = client.post(
        f"/api/v1/volunteer-signups/{ids[2]}/cancel", headers=auth(settings, callers[2])
    )
    assert again.json()["code"] == "volunteer_signup_not_active"


def test_the_pupil_cancels_until_the_cut_off_the_organiser_until_the_start(
    client: TestClient,
    settings: Settings,
    session: Session,
    clock: FrozenClock,
    consented: Side,
    shift: VolunteerShift,
    side_b: Side,
) -> None:
    student = consented.principal(Role.student)
    signup_id = sign_up(client, settings, student, shift.id or 0).json()["id"]
    url = f"/api/v1/volunteer-signups/{signup_id}/cancel"
    # someone else's pupil, another venue: as if it did not exist
    for other in (side_b.principal(Role.student), side_b.principal(Role.venue_staff)):
        assert client.post(url, headers=auth(settings, other)).status_code == 404
    clock.set(shift.signup_closes_at)
    late = client.post(url, headers=auth(settings, student, now=clock.now()))
    assert late.status_code == 409
    assert late.json()["code"] == "volunteer_cancel_too_late"
    venue = auth(settings, consented.principal(Role.venue_staff), now=clock.now())
    by_venue = client.post(url, json={"reason": "岗位调整"}, headers=venue)
    assert by_venue.status_code == 200
    assert by_venue.json()["cancel_reason"] == "岗位调整"
    assert by_venue.json()["student_name"] == "张*明"  # a venue sees masked names
    session.refresh(shift)
    assert shift.taken == 0


def test_cancelling_a_shift_frees_and_marks_every_signup_and_tells_each_pupil(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    role: VolunteerRole,
) -> None:
    shift = create_volunteer_shift(session, role=role, capacity=1)
    pupils = _pupils(session, side_a, 2)
    create_volunteer_signup(session, shift=shift, student=pupils[0])
    create_volunteer_signup(session, shift=shift, student=pupils[1], status="waitlisted")
    url = f"/api/v1/volunteer-shifts/{shift.id}/cancel"
    body = {"reason": "场馆临时闭馆"}
    other_venue = auth(settings, side_b.principal(Role.venue_staff))
    assert client.post(url, json=body, headers=other_venue).status_code == 404
    venue = auth(settings, side_a.principal(Role.venue_admin))
    response = client.post(url, json=body, headers=venue)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["taken"]) == ("cancelled", 0)
    session.expire_all()
    signups = session.exec(select(VolunteerSignup).order_by(col(VolunteerSignup.id))).all()
    assert [(s.status, s.cancel_reason) for s in signups] == [("cancelled", "场馆临时闭馆")] * 2
    notes = session.exec(select(NotificationOutbox).order_by(col(NotificationOutbox.id))).all()
    assert [(n.kind, n.student_id) for n in notes] == [
        ("volunteer_shift_cancelled", pupils[0].id),
        ("volunteer_shift_cancelled", pupils[1].id),
    ]
    assert notes[0].payload["reason"] == "场馆临时闭馆"
    assert "volunteer_shift_cancelled" in audit_actions(session)
    again = client.post(url, json=body, headers=venue)
    assert again.json()["code"] == "volunteer_shift_cancelled"


def test_a_shift_under_way_is_not_cancelled(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    role: VolunteerRole,
    clock: FrozenClock,
) -> None:
    shift = create_volunteer_shift(session, role=role)
    signup = create_volunteer_signup(session, shift=shift, student=side_a.student)
    clock.set(shift.starts_at + timedelta(minutes=5))
    venue = auth(settings, side_a.principal(Role.venue_admin), now=clock.now())
    response = client.post(
        f"/api/v1/volunteer-shifts/{shift.id}/cancel", json={"reason": "下雨"}, headers=venue
    )
    assert (response.status_code, response.json()["code"]) == (409, "volunteer_shift_started")
    session.expire_all()
    assert (
        session.get(VolunteerShift, shift.id).status,
        session.get(VolunteerSignup, signup.id).status,
    ) == (  # type: ignore[union-attr]
        "open",
        "signed_up",
    )
    assert session.exec(select(NotificationOutbox)).all() == []


def test_the_shift_list_of_names_by_who_looks(
    client: TestClient,
    settings: Settings,
    session: Session,
    consented: Side,
    side_b: Side,
    shift: VolunteerShift,
) -> None:
    create_volunteer_signup(session, shift=shift, student=consented.student)
    url = f"/api/v1/volunteer-shifts/{shift.id}/signups"
    venue = client.get(url, headers=auth(settings, consented.principal(Role.venue_staff)))
    assert [s["student_name"] for s in venue.json()["items"]] == ["张*明"]
    other = client.get(url, headers=auth(settings, side_b.principal(Role.venue_staff)))
    assert other.status_code == 404
