"""Attendance at volunteer shifts through the check-in machinery (issue 18 point 4), and the
whole path: sign-up, scans in and out, confirmed minutes, a record in the pupil's archive."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from scipass.checkin.models import CheckIn, ScanEvent
from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.record import notices as record_notices
from scipass.record.models import ParticipationRecord
from scipass.volunteer.models import VolunteerShift, VolunteerSignup
from tests.factories import (
    Side,
    bound_student,
    create_volunteer_role,
    create_volunteer_shift,
    create_volunteer_signup,
)
from tests.volunteer.factories_attendance import (
    END,
    OLDER,
    START,
    Api,
    Setup,
    consent,
    personal,
    scan,
    shift_code,
    signed_up,
)


@pytest.fixture
def api(client: TestClient, settings: Settings, clock: FrozenClock) -> Api:
    return Api(client, settings, clock)


def count(session: Session, model: Any, *where: Any) -> int:
    session.expire_all()
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def signup_row(session: Session, signup_id: int) -> VolunteerSignup:
    session.expire_all()
    row = session.get(VolunteerSignup, signup_id)
    assert row is not None
    return row


def test_the_whole_path_from_sign_up_to_the_archive(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    consent(session, side_a)
    role = create_volunteer_role(session, venue_id=side_a.venue.id)
    shift = create_volunteer_shift(session, role=role)
    me = side_a.principal(Role.student)
    # the pupil signs up through the API, as a new user would
    signup = api.post(f"/api/v1/volunteer-shifts/{shift.id}/signups", me, json={})
    assert signup.status_code == 201, signup.text
    # a second pupil (16) holds a place too
    other, _caller = bound_student(session, school_id=side_a.school.id or 0, birth_month=OLDER)
    other_signup = create_volunteer_signup(session, shift=shift, student=other)
    setup = Setup(role, shift, session.get(VolunteerSignup, signup.json()["id"]))  # type: ignore[arg-type]
    link = shift_code(api, side_a, setup.shift.id or 0)["link"]
    # its own link prefix: the mini-program sends it to /volunteer-attendance, not /checkins
    assert link.startswith(api.settings.shift_link_base)
    assert not link.startswith(api.settings.code_link_base)

    clock.set(START + timedelta(minutes=5))
    arrived = scan(api, me, link, "key-in-1")
    assert arrived.status_code == 201, arrived.text
    body = arrived.json()
    assert (body["signup_id"], body["direction"], body["duplicate"]) == (
        setup.signup.id,
        "entry",
        False,
    )
    assert body["status"] == "attended"
    again = scan(api, me, link, "key-in-1")  # a retry: the first answer, nothing new
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    second = scan(api, me, link, "key-in-2")  # scanned twice: a duplicate
    assert (second.status_code, second.json()["duplicate"]) == (200, True)
    # the other pupil is scanned in by staff with their personal code
    staff = side_a.principal(Role.venue_staff)
    by_staff = api.post(
        f"/api/v1/volunteer-shifts/{setup.shift.id}/staff-scans",
        staff,
        json={"code": personal(api.settings, other, clock.now()), "nonce": "staff-nonce-1"},
    )
    assert by_staff.status_code == 201, by_staff.text
    assert by_staff.json()["student_name"] != other.name  # a venue sees a masked name

    clock.set(START + timedelta(hours=2, minutes=40))
    left = scan(api, me, link, "key-out-1", direction="exit")
    assert left.status_code == 201, left.text

    # no visit and no visit record: the shift is its own target
    assert count(session, CheckIn) == 0
    assert count(session, ParticipationRecord) == 0
    events = session.exec(select(ScanEvent).order_by(col(ScanEvent.id))).all()
    assert {e.shift_id for e in events} == {setup.shift.id}
    assert {e.activity_id for e in events} == {None}

    # confirming before the end is refused
    early = api.post(f"/api/v1/volunteer-shifts/{setup.shift.id}/minutes", staff, json={})
    assert (early.status_code, early.json()["code"]) == (409, "volunteer_shift_not_over")
    clock.set(END + timedelta(minutes=30))
    confirmed = api.post(f"/api/v1/volunteer-shifts/{setup.shift.id}/minutes", staff, json={})
    assert confirmed.status_code == 200, confirmed.text
    by_id = {item["signup_id"]: item for item in confirmed.json()}
    mine = by_id[setup.signup.id]
    # 09:05 to 11:40 is 155 minutes: 150 in half-hour units
    assert (mine["confirmed_minutes"], mine["status"]) == (150, "attended")
    # never scanned out: no default (only actual service time counts); staff enter it
    assert by_id[other_signup.id]["confirmed_minutes"] is None
    assert by_id[other_signup.id]["needs_minutes"] is True
    record = session.get(ParticipationRecord, mine["record_id"])
    assert record is not None
    assert (record.source, record.category, record.dimension, record.role) == (
        "volunteer",
        "volunteer",
        "moral",
        "volunteer",
    )
    assert (record.minutes, record.status, record.attester_unit) == (
        150,
        "confirmed",
        side_a.venue.name,
    )
    assert record.organiser_venue_id == side_a.venue.id

    # the pupil confirms, the school reviews, a notice runs, the archiver files it
    assert (
        api.post(f"/api/v1/records/{record.id}/student-confirmation", me, json={}).status_code
        == 200
    )
    reviewed = api.post(
        f"/api/v1/records/{record.id}/review",
        side_a.principal(Role.school_staff),
        json={"decision": "approve"},
    )
    assert reviewed.status_code == 200, reviewed.text
    notice = api.post(
        "/api/v1/notices", side_a.principal(Role.school_admin), json={"title": "志愿服务公示"}
    )
    assert notice.status_code == 201, notice.text
    session.expire_all()
    assert (
        record_notices.archive_due(session, now=datetime.fromisoformat(notice.json()["ends_at"]))
        >= 1
    )
    session.flush()
    session.expire_all()
    archived = session.get(ParticipationRecord, record.id)
    assert archived is not None
    assert archived.status == "archived"
    totals = api.get("/api/v1/me/volunteer-hours", me).json()
    assert totals["years"] == [{"school_year": 2026, "minutes": 150, "hours": 2.5, "times": 1}]
    assert totals["terms"][0]["semester"] == "autumn"


def test_refusals_of_shift_scans_are_stored(
    api: Api, session: Session, side_a: Side, side_b: Side, clock: FrozenClock
) -> None:
    setup = signed_up(session, side_a)
    link = shift_code(api, side_a, setup.shift.id or 0)["link"]
    me = side_a.principal(Role.student)

    clock.set(START - timedelta(hours=2))
    early = scan(api, me, link, "r-early")
    assert (early.status_code, early.json()["code"]) == (409, "not_started")
    clock.set(START + timedelta(minutes=1))
    forged = scan(api, me, link[:-3] + "AAA", "r-forged")
    assert forged.json()["code"] == "code_invalid"
    leaving_first = scan(api, me, link, "r-exit", direction="exit")
    assert leaving_first.json()["code"] == "not_checked_in"
    _stranger, stranger_caller = bound_student(
        session, school_id=side_b.school.id or 0, birth_month=OLDER
    )
    refused = scan(api, stranger_caller, link, "r-stranger")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_registered")
    _unconsented, unconsented_caller = bound_student(session, school_id=side_a.school.id or 0)
    no_consent = scan(api, unconsented_caller, link, "r-consent")
    assert no_consent.json()["code"] == "consent_required"
    # an activity's path does not take a shift's code
    visit = api.post(
        "/api/v1/checkins",
        me,
        json={"code": link},
        extra_headers={"Idempotency-Key": "r-visit-00000000"},
    )
    assert visit.json()["code"] == "code_invalid"
    clock.set(END + timedelta(minutes=1))
    late = scan(api, me, link, "r-late")
    assert late.json()["code"] == "window_closed"
    # every refusal is a stored scan event of the shift
    session.expire_all()
    reasons = session.exec(
        select(ScanEvent.reason).where(
            ScanEvent.shift_id == setup.shift.id, ScanEvent.result == "refused"
        )
    ).all()
    assert set(reasons) >= {
        "not_started",
        "not_checked_in",
        "not_registered",
        "consent_required",
        "window_closed",
    }
    assert signup_row(session, setup.signup.id or 0).arrived_at is None
    # a refused key replayed answers the same refusal
    clock.set(START + timedelta(minutes=2))
    assert scan(api, stranger_caller, link, "r-stranger").json()["code"] == "not_registered"


def test_a_walk_in_fills_a_free_place_when_the_shift_allows(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    setup = signed_up(session, side_a, walk_ins=True, capacity=2)
    link = shift_code(api, side_a, setup.shift.id or 0, kind="rotating")["link"]
    # 18 in 2026: volunteering asks no guardian agreement any more
    _walker, walker_caller = bound_student(
        session, school_id=side_a.school.id or 0, birth_month=date(2008, 1, 1)
    )
    _third, third_caller = bound_student(
        session, school_id=side_a.school.id or 0, birth_month=OLDER
    )
    _fourth, fourth_caller = bound_student(
        session, school_id=side_a.school.id or 0, birth_month=date(2008, 2, 1)
    )
    clock.set(START + timedelta(seconds=5))
    link = api.get(
        f"/api/v1/volunteer-shifts/{setup.shift.id}/codes", side_a.principal(Role.venue_staff)
    ).json()["items"][0]["link"]
    # a 16-year-old without the guardian's agreement fails the sign-up rules
    unagreed = scan(api, third_caller, link, "w-0")
    assert (unagreed.json()["code"], unagreed.json()["reason"]) == (
        "ineligible",
        "consent_required",
    )
    walked = scan(api, walker_caller, link, "w-1")
    assert walked.status_code == 201, walked.text
    assert walked.json()["walk_in"] is True
    full = scan(api, fourth_caller, link, "w-2")
    assert (full.status_code, full.json()["code"]) == (409, "capacity_full")
    session.expire_all()
    shift = session.get(VolunteerShift, setup.shift.id)
    assert shift is not None
    assert shift.taken == 2
    # leaving without a place is not a walk-in
    out = scan(api, third_caller, link, "w-3", direction="exit")
    assert out.json()["code"] == "not_registered"


def test_offline_upload_is_judged_at_the_scan_time_and_idempotent(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    setup = signed_up(session, side_a)
    clock.set(END + timedelta(hours=1))
    staff = side_a.principal(Role.venue_staff)
    code_in = personal(api.settings, side_a.student, START + timedelta(minutes=3))
    code_out = personal(api.settings, side_a.student, END - timedelta(minutes=10))
    items = [
        {
            "nonce": "off-in-0001",
            "code": code_in,
            "scan_time": (START + timedelta(minutes=3)).isoformat(),
        },
        {
            "nonce": "off-out-001",
            "code": code_out,
            "scan_time": (END - timedelta(minutes=10)).isoformat(),
            "direction": "exit",
        },
    ]
    url = f"/api/v1/volunteer-shifts/{setup.shift.id}/offline-scans"
    first = api.post(url, staff, json={"items": items})
    assert first.status_code == 200, first.text
    assert (first.json()["accepted"], first.json()["refused"]) == (2, 0)
    again = api.post(url, staff, json={"items": items})
    assert [i["result"] for i in again.json()["items"]] == ["accepted", "accepted"]
    row = signup_row(session, setup.signup.id or 0)
    assert row.arrived_at == START + timedelta(minutes=3)
    assert row.left_at == END - timedelta(minutes=10)
    assert count(session, ScanEvent, col(ScanEvent.shift_id) == setup.shift.id) == 2


def test_two_shifts_on_one_day_are_two_attendances(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    morning = signed_up(session, side_a)
    afternoon = create_volunteer_shift(
        session,
        role=morning.role,
        starts_at=START + timedelta(hours=5),
        ends_at=END + timedelta(hours=5),
    )
    later = create_volunteer_signup(session, shift=afternoon, student=side_a.student)
    me = side_a.principal(Role.student)
    first = shift_code(api, side_a, morning.shift.id or 0)["link"]
    second = shift_code(api, side_a, afternoon.id or 0)["link"]
    clock.set(START)
    assert scan(api, me, first, "two-1").status_code == 201
    clock.set(START + timedelta(hours=5))
    assert scan(api, me, second, "two-2").status_code == 201
    assert signup_row(session, morning.signup.id or 0).arrived_at == START
    assert signup_row(session, later.id or 0).arrived_at == START + timedelta(hours=5)


def test_a_guardian_scans_for_a_child_and_staff_nonces_are_checked(
    api: Api, session: Session, side_a: Side, clock: FrozenClock, settings: Settings
) -> None:
    setup = signed_up(session, side_a)
    rotating = shift_code(api, side_a, setup.shift.id or 0, kind="rotating")
    clock.set(START)
    codes = api.get(
        f"/api/v1/volunteer-shifts/{setup.shift.id}/codes", side_a.principal(Role.venue_staff)
    )
    link = codes.json()["items"][0]["link"]
    assert codes.json()["items"][0]["id"] == rotating["id"]
    guardian = side_a.principal(Role.guardian)
    by_guardian = scan(api, guardian, link, "g-1", params={"student_id": side_a.student.id})
    assert by_guardian.status_code == 201, by_guardian.text
    assert by_guardian.json()["student_id"] == side_a.student.id
    event = session.exec(select(ScanEvent).where(ScanEvent.shift_id == setup.shift.id)).one()
    assert event.operator == guardian.subject
    # a rotating code a few steps old has expired
    clock.set(START + timedelta(minutes=5))
    stale = scan(api, side_a.principal(Role.student), link, "g-2", direction="exit")
    assert stale.json()["code"] == "code_expired"
    # staff: the same nonce for another pupil's code is refused, and kept
    staff = side_a.principal(Role.venue_staff)
    url = f"/api/v1/volunteer-shifts/{setup.shift.id}/staff-scans"
    code = personal(settings, side_a.student, clock.now())
    body = {"code": code, "nonce": "staff-n-0001", "direction": "exit"}
    left = api.post(url, staff, json=body)
    assert left.status_code == 201, left.text
    assert api.post(url, staff, json=body).json()["duplicate"] is True  # the retry
    other, _caller = bound_student(session, school_id=side_a.school.id or 0, birth_month=OLDER)
    reused = api.post(
        url,
        staff,
        json={"code": personal(settings, other, clock.now()), "nonce": "staff-n-0001"},
    )
    assert reused.json()["code"] == "replayed_nonce"
    expired = api.post(
        url,
        staff,
        json={
            "code": personal(settings, side_a.student, clock.now() - timedelta(minutes=10)),
            "nonce": "staff-n-0002",
        },
    )
    assert expired.json()["code"] == "code_expired"
