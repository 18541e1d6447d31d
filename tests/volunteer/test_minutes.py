"""Confirmed minutes (issue 18 point 5): the default, the day's cap across roles, changes
with a reason (audited), no-shows, idempotent re-confirming; totals and exports (point 6)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func
from sqlmodel import Session, select

from scipass.account.models import Account
from scipass.audit.models import AuditLog
from scipass.consent.models import ConsentRecord
from scipass.consent.service import NOTICE_VERSION
from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.record.models import ParticipationRecord, RecordEvent
from scipass.volunteer.models import VolunteerSignup
from tests.factories import (
    NOW,
    Side,
    bound_student,
    create_volunteer_role,
    create_volunteer_shift,
    create_volunteer_signup,
)
from tests.volunteer.factories_attendance import END, OLDER, START, Api, Setup, signed_up


@pytest.fixture
def api(client: TestClient, settings: Settings, clock: FrozenClock) -> Api:
    return Api(client, settings, clock)


def attend(session: Session, signup: VolunteerSignup, minutes_in: int, minutes_out: int) -> None:
    """Attendance as the scans leave it (inserted directly: the scans are tested elsewhere)."""
    signup.arrived_at = START + timedelta(minutes=minutes_in)
    signup.left_at = START + timedelta(minutes=minutes_out)
    signup.status = "attended"
    session.add(signup)
    session.flush()


def confirm(api: Api, side: Side, shift_id: int, **body: object) -> object:
    return api.post(
        f"/api/v1/volunteer-shifts/{shift_id}/minutes", side.principal(Role.venue_staff), json=body
    )


def records(session: Session) -> list[ParticipationRecord]:
    session.expire_all()
    return list(session.exec(select(ParticipationRecord)).all())


def test_re_confirming_is_idempotent_and_a_change_is_audited(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    setup = signed_up(session, side_a)
    attend(session, setup.signup, -20, 100)  # travel before the start is not counted
    clock.set(END + timedelta(hours=1))
    first = confirm(api, side_a, setup.shift.id or 0)
    assert first.status_code == 200, first.text  # type: ignore[attr-defined]
    assert first.json()[0]["confirmed_minutes"] == 90  # type: ignore[attr-defined]
    again = confirm(api, side_a, setup.shift.id or 0)
    assert again.json() == first.json()  # type: ignore[attr-defined]
    found = records(session)
    assert len(found) == 1
    assert found[0].minutes == 90
    # a change needs a reason
    refused = confirm(
        api, side_a, setup.shift.id or 0, items=[{"signup_id": setup.signup.id, "minutes": 120}]
    )
    assert refused.json()["code"] == "volunteer_minutes_invalid"  # type: ignore[attr-defined]
    changed = confirm(
        api,
        side_a,
        setup.shift.id or 0,
        items=[{"signup_id": setup.signup.id, "minutes": 120, "reason": "签退时手机没电"}],
    )
    assert changed.json()[0]["confirmed_minutes"] == 120  # type: ignore[attr-defined]
    assert changed.json()[0]["minutes_reason"] == "签退时手机没电"  # type: ignore[attr-defined]
    found = records(session)
    assert (len(found), found[0].minutes) == (1, 120)
    entry = session.exec(
        select(AuditLog).where(AuditLog.action == "volunteer_minutes_changed")
    ).one()
    assert entry.object_id == str(setup.signup.id)
    assert '"before": 90' in entry.detail
    assert '"after": 120' in entry.detail
    assert "签退时手机没电" in entry.detail
    history = session.exec(
        select(RecordEvent.action).where(RecordEvent.record_id == found[0].id)
    ).all()
    assert "duration" in history
    # confirming again without items keeps the changed minutes
    kept = confirm(api, side_a, setup.shift.id or 0)
    assert kept.json()[0]["confirmed_minutes"] == 120  # type: ignore[attr-defined]
    assert (
        session.exec(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "volunteer_minutes_changed")
        ).one()
        == 1
    )
    # more than the shift or the day allows is refused
    too_many = confirm(
        api,
        side_a,
        setup.shift.id or 0,
        items=[{"signup_id": setup.signup.id, "minutes": 300, "reason": "多算"}],
    )
    assert too_many.json()["code"] == "volunteer_minutes_invalid"  # type: ignore[attr-defined]


def test_a_pupil_who_never_scanned_out_waits_for_minutes_entered_with_a_reason(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    setup = signed_up(session, side_a)
    attend(session, setup.signup, 10, 0)
    setup.signup.left_at = None  # arrived at 09:10, no exit scan
    session.add(setup.signup)
    session.flush()
    clock.set(END + timedelta(hours=1))
    waiting = confirm(api, side_a, setup.shift.id or 0)
    assert waiting.status_code == 200, waiting.text  # type: ignore[attr-defined]
    item = waiting.json()[0]  # type: ignore[attr-defined]
    assert (item["needs_minutes"], item["confirmed_at"], item["record_id"]) == (True, None, None)
    assert records(session) == []
    entered = {"signup_id": setup.signup.id, "minutes": 120}
    no_reason = confirm(api, side_a, setup.shift.id or 0, items=[entered])
    assert no_reason.json()["code"] == "volunteer_minutes_invalid"  # type: ignore[attr-defined]
    assert records(session) == []
    done = confirm(api, side_a, setup.shift.id or 0, items=[{**entered, "reason": "现场核实"}])
    item = done.json()[0]  # type: ignore[attr-defined]
    assert (item["needs_minutes"], item["confirmed_minutes"]) == (False, 120)
    (record,) = records(session)
    assert record.minutes == 120
    assert record.ended_at == START + timedelta(minutes=130)  # as entered, from the arrival
    entry = session.exec(
        select(AuditLog).where(AuditLog.action == "volunteer_minutes_changed")
    ).one()
    assert '"before": null' in entry.detail
    assert '"after": 120' in entry.detail
    national = api.get(
        "/api/v1/volunteer-hours/national.csv",
        side_a.principal(Role.venue_staff),
        params={"student_id": side_a.student.id},
    )
    row = list(csv.reader(io.StringIO(national.content.decode("utf-8-sig"))))[1]
    assert row[5:8] == ["2026-10-17 09:10", "2026-10-17 11:10", "2.0"]


def test_minutes_no_longer_change_once_the_school_reviewed_the_record(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    setup = signed_up(session, side_a)
    attend(session, setup.signup, 0, 90)
    clock.set(END + timedelta(hours=1))
    assert confirm(api, side_a, setup.shift.id or 0).json()[0]["confirmed_minutes"] == 90  # type: ignore[attr-defined]
    (record,) = records(session)
    me = side_a.principal(Role.student)
    confirmed = api.post(f"/api/v1/records/{record.id}/student-confirmation", me, json={})
    assert confirmed.status_code == 200, confirmed.text
    reviewed = api.post(
        f"/api/v1/records/{record.id}/review",
        side_a.principal(Role.school_staff),
        json={"decision": "approve"},
    )
    assert reviewed.status_code == 200, reviewed.text
    change = {"signup_id": setup.signup.id, "minutes": 60, "reason": "多记了"}
    refused = confirm(api, side_a, setup.shift.id or 0, items=[change])
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert refused.json()["code"] == "volunteer_minutes_reviewed"  # type: ignore[attr-defined]
    session.expire_all()
    assert session.get(VolunteerSignup, setup.signup.id).confirmed_minutes == 90  # type: ignore[union-attr]
    assert records(session)[0].minutes == 90
    assert (
        session.exec(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "volunteer_minutes_changed")
        ).one()
        == 0
    )
    # confirming again unchanged still answers
    assert confirm(api, side_a, setup.shift.id or 0).status_code == 200  # type: ignore[attr-defined]


def test_no_shows_are_marked_and_get_no_record(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    setup = signed_up(session, side_a)
    clock.set(END + timedelta(minutes=1))
    response = confirm(api, side_a, setup.shift.id or 0)
    item = response.json()[0]  # type: ignore[attr-defined]
    assert (item["status"], item["confirmed_minutes"], item["record_id"]) == ("no_show", 0, None)
    assert records(session) == []


def test_a_day_is_capped_by_the_lowest_daily_maximum_of_the_roles_served(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    morning = signed_up(session, side_a)  # a role of 4 hours a day
    strict = create_volunteer_role(session, venue_id=side_a.venue.id, max_daily_minutes=120)
    afternoon = create_volunteer_shift(
        session, role=strict, starts_at=START + timedelta(hours=5), ends_at=END + timedelta(hours=5)
    )
    later = create_volunteer_signup(session, shift=afternoon, student=side_a.student)
    attend(session, morning.signup, 0, 90)
    later.arrived_at, later.left_at, later.status = (
        afternoon.starts_at,
        afternoon.ends_at,
        "attended",
    )
    session.add(later)
    session.flush()
    clock.set(END + timedelta(hours=6))
    assert confirm(api, side_a, morning.shift.id or 0).json()[0]["confirmed_minutes"] == 90  # type: ignore[attr-defined]
    # the afternoon's 180 minutes: the day allows min(240, 120) - 90 = 30
    assert confirm(api, side_a, afternoon.id or 0).json()[0]["confirmed_minutes"] == 30  # type: ignore[attr-defined]


def test_only_the_organiser_confirms(
    api: Api, session: Session, side_a: Side, side_b: Side, clock: FrozenClock
) -> None:
    setup = signed_up(session, side_a)
    clock.set(END + timedelta(minutes=1))
    other = confirm(api, side_b, setup.shift.id or 0)
    assert other.status_code == 404  # type: ignore[attr-defined]


def _confirmed_pair(session: Session, side: Side) -> Setup:
    setup = signed_up(session, side)
    attend(session, setup.signup, 0, 120)
    older, _caller = bound_student(session, school_id=side.school.id or 0, birth_month=OLDER)
    signup = create_volunteer_signup(session, shift=setup.shift, student=older)
    attend(session, signup, 30, 90)
    return setup


def test_totals_and_exports(api: Api, session: Session, side_a: Side, clock: FrozenClock) -> None:
    setup = _confirmed_pair(session, side_a)
    session.add(  # the venue staff member who confirms (side A's venue_staff principal)
        Account(
            id=900002,
            username="venue-staff-a",
            display_name="赵馆员",
            role="venue_staff",
            venue_id=side_a.venue.id,
            password_hash="x",
            created_at=NOW,
            password_changed_at=NOW,
        )
    )
    session.commit()
    clock.set(END + timedelta(minutes=1))
    assert confirm(api, side_a, setup.shift.id or 0).status_code == 200  # type: ignore[attr-defined]
    # the school's totals with a threshold
    school = side_a.principal(Role.school_staff)
    both = api.get("/api/v1/volunteer-hours/school", school).json()
    assert [(i["minutes"], i["times"]) for i in both["items"]] == [(120, 1), (60, 1)]
    assert both["items"][0]["student_name"] == side_a.student.name  # the school sees names
    over = api.get("/api/v1/volunteer-hours/school", school, params={"min_hours": 1.5}).json()
    assert [i["student_id"] for i in over["items"]] == [side_a.student.id]
    assert (
        session.exec(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "volunteer_hours_viewed")
        ).one()
        == 2
    )
    # the venue's export: CSV with BOM, masked names, minutes and hours
    staff = side_a.principal(Role.venue_staff)
    exported = api.get("/api/v1/volunteer-hours/export", staff, params={"by": "shift"})
    assert exported.status_code == 200, exported.text
    assert exported.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["学生姓名", "学校", "岗位"]
    assert "确认人" in rows[0]
    assert "确认时间" in rows[0]
    assert {r[rows[0].index("确认人")] for r in rows[1:]} == {"赵馆员"}  # a name, not an id
    assert side_a.student.name not in exported.content.decode("utf-8-sig")
    assert sorted(int(r[5]) for r in rows[1:]) == [60, 120]
    assert sorted(float(r[6]) for r in rows[1:]) == [1.0, 2.0]
    per_pupil = api.get(
        "/api/v1/volunteer-hours/export", staff, params={"by": "pupil", "format": "xlsx"}
    )
    assert per_pupil.status_code == 200
    sheet = load_workbook(io.BytesIO(per_pupil.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][3] == "服务次数"
    assert len(values) == 3
    job = api.post("/api/v1/volunteer-hours/exports", staff, params={"format": "xlsx"})
    assert job.status_code == 202, job.text
    assert job.json()["kind"] == "volunteer-hours-export"
    assert (
        session.exec(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "volunteer_hours_exported")
        ).one()
        == 2
    )
    # the pupil's own totals
    mine = api.get("/api/v1/me/volunteer-hours", side_a.principal(Role.student)).json()
    assert mine["terms"] == [
        {"school_year": 2026, "semester": "autumn", "minutes": 120, "hours": 2.0, "times": 1}
    ]


def test_minutes_of_a_pupil_whose_guardian_withdrew_wait_for_a_new_consent_to_be_recorded(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    setup = signed_up(session, side_a)  # under 14, the guardian consented
    attend(session, setup.signup, 0, 90)

    def decide(decision: str) -> None:
        session.add(
            ConsentRecord(
                student_id=side_a.student.id or 0,
                purpose="participation_record",
                decision=decision,
                notice_version=NOTICE_VERSION,
                channel="paper",
                guardian_name="王女士",
                recorded_by="account:1",
                recorded_at=clock.now(),
            )
        )
        session.flush()

    decide("withdraw")
    clock.set(END + timedelta(hours=1))
    first = confirm(api, side_a, setup.shift.id or 0).json()[0]  # type: ignore[attr-defined]
    assert (first["confirmed_minutes"], first["record_id"]) == (90, None)
    assert records(session) == []
    clock.set(END + timedelta(hours=2))
    decide("grant")
    again = confirm(api, side_a, setup.shift.id or 0).json()[0]  # type: ignore[attr-defined]
    assert again["record_id"] is not None
    assert [r.minutes for r in records(session)] == [90]
