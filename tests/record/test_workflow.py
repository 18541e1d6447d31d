"""The record's life before the public notice: append (idempotent, also under concurrency),
the organiser's confirmation, the student's confirmation and withdrawal, the school's review
(one by one and in bulk), and records the school enters itself."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from scipass.activity.models import Activity
from scipass.core.auth import Principal, Role
from scipass.core.config import Settings
from scipass.org.models import Region, School, Venue
from scipass.record import append as record_append
from scipass.record.errors import RecordInvalid
from scipass.record.models import ParticipationRecord, RecordEvent, RecordSource
from scipass.roster.models import Student
from tests.factories import (
    NOW,
    Side,
    auth,
    create_activity,
    create_record,
    create_student,
    create_wechat_user,
)

API = "/api/v1"


def _post(client: TestClient, settings: Settings, who: Principal, path: str, body: Any = None):
    return client.post(API + path, json=body, headers=auth(settings, who))


def _status(session: Session, record_id: int) -> str:
    session.expire_all()
    record = session.get(ParticipationRecord, record_id)
    assert record is not None
    return record.status


def _venue_record(session: Session, side: Side, **overrides: Any) -> ParticipationRecord:
    """A pending record of a visit organised by side's venue."""
    activity = create_activity(session, venue_id=side.venue.id or 0)
    values: dict[str, Any] = {
        "activity_id": activity.id,
        "organiser_venue_id": side.venue.id,
        "organiser_school_id": None,
        "organiser_name": side.venue.name,
    }
    values.update(overrides)
    return create_record(session, student=side.student, **values)


def _events(session: Session, record_id: int) -> list[tuple[str, str, str]]:
    rows = session.exec(
        select(RecordEvent).where(RecordEvent.record_id == record_id).order_by(col(RecordEvent.id))
    ).all()
    return [(e.action, e.actor, e.to_status) for e in rows]


# --- append -----------------------------------------------------------------------------------


def test_append_is_idempotent_and_takes_the_activity_facts(session: Session, side_a: Side) -> None:
    activity = create_activity(
        session, venue_id=side_a.venue.id or 0, title="力与运动", credited_minutes=90
    )
    facts = record_append.facts_for_activity(session, activity)
    first, created = record_append.append_record(
        session,
        student=side_a.student,
        source=RecordSource.checkin,
        source_ref="visit-1",
        facts=facts,
        actor=None,
        now=NOW,
    )
    again, created_again = record_append.append_record(
        session,
        student=side_a.student,
        source=RecordSource.checkin,
        source_ref="visit-1",
        facts=facts,
        actor=None,
        now=NOW + timedelta(minutes=1),
    )
    assert created
    assert not created_again
    assert again.id == first.id
    assert (first.title, first.minutes, first.status) == ("力与运动", 90, "pending")
    assert first.organiser_venue_id == side_a.venue.id
    assert first.attester_unit == side_a.venue.name
    assert (first.school_year, first.semester) == (2026, "autumn")
    assert _events(session, first.id or 0) == [("created", "system", "pending")]
    count = session.exec(
        select(ParticipationRecord).where(ParticipationRecord.student_id == side_a.student.id)
    ).all()
    assert len(count) == 1


def test_an_activity_may_confirm_its_records_in_advance(session: Session, side_a: Side) -> None:
    activity = create_activity(session, venue_id=side_a.venue.id or 0, auto_confirm_records=True)
    record, _ = record_append.append_record(
        session,
        student=side_a.student,
        source=RecordSource.checkin,
        source_ref="visit-auto",
        facts=record_append.facts_for_activity(session, activity),
        actor=None,
        now=NOW,
    )
    assert record.status == "confirmed"
    assert record.confirmed_at == NOW
    assert [e[0] for e in _events(session, record.id or 0)] == ["created", "confirmed"]


def test_append_refuses_an_end_before_the_start(session: Session, side_a: Side) -> None:
    activity = create_activity(session, venue_id=side_a.venue.id or 0)
    facts = record_append.facts_for_activity(
        session, activity, started_at=NOW, ended_at=NOW - timedelta(hours=1)
    )
    with pytest.raises(RecordInvalid):
        record_append.append_record(
            session,
            student=side_a.student,
            source=RecordSource.checkin,
            source_ref="bad",
            facts=facts,
            actor=None,
            now=NOW,
        )


@pytest.fixture
def committed(engine: Engine) -> Iterator[dict[str, int]]:
    """A school, venue, activity and student committed for real (removed afterwards)."""
    with Session(engine) as s:
        s.add(Region(code="930000", name="并发记录省", level="province"))
        s.flush()
        school = School(
            name="并发记录学校", region_code="930000", stages="junior", area="urban", created_at=NOW
        )
        venue = Venue(
            name="并发记录科技馆",
            kind="science_museum",
            region_code="930000",
            longitude=112.9,
            latitude=27.8,
            created_at=NOW,
        )
        s.add_all([school, venue])
        s.flush()
        student = Student(
            school_id=school.id or 0,
            student_no="R0001",
            name="并发学生",
            gender="female",
            birth_month=date(2011, 1, 1),
            stage="junior",
            grade=8,
            class_name="2班",
            created_at=NOW,
            updated_at=NOW,
        )
        s.add(student)
        s.flush()
        activity = create_activity(s, venue_id=venue.id or 0)
        ids = {
            "school": school.id or 0,
            "venue": venue.id or 0,
            "student": student.id or 0,
            "activity": activity.id or 0,
        }
        s.commit()
    yield ids
    with Session(engine) as s:
        records = select(ParticipationRecord.id).where(
            ParticipationRecord.student_id == ids["student"]
        )
        s.execute(delete(RecordEvent).where(col(RecordEvent.record_id).in_(records)))
        s.execute(
            delete(ParticipationRecord).where(ParticipationRecord.student_id == ids["student"])
        )
        s.execute(delete(Activity).where(Activity.id == ids["activity"]))
        s.execute(delete(Student).where(Student.id == ids["student"]))
        s.execute(delete(Venue).where(Venue.id == ids["venue"]))
        s.execute(delete(School).where(School.id == ids["school"]))
        s.execute(delete(Region).where(Region.code == "930000"))
        s.commit()


@pytest.mark.slow
def test_fifty_concurrent_appends_make_one_record(
    engine: Engine, committed: dict[str, int]
) -> None:
    callers = 50
    barrier = threading.Barrier(callers)
    ids: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    with Session(engine) as s:
        activity = s.get(Activity, committed["activity"])
        assert activity is not None
        facts = record_append.facts_for_activity(s, activity)

    def append() -> None:
        try:
            barrier.wait(timeout=30)
            with Session(engine) as s:
                student = s.get(Student, committed["student"])
                assert student is not None
                record, _ = record_append.append_record(
                    s,
                    student=student,
                    source=RecordSource.checkin,
                    source_ref="crowd-visit",
                    facts=facts,
                    actor=None,
                    now=NOW,
                )
                s.commit()
                with lock:
                    ids.append(record.id or 0)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=append) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(ids) == callers
    assert len(set(ids)) == 1
    with Session(engine) as s:
        rows = s.exec(
            select(ParticipationRecord).where(
                ParticipationRecord.student_id == committed["student"]
            )
        ).all()
        events = s.exec(select(RecordEvent).where(RecordEvent.record_id == ids[0])).all()
    assert len(rows) == 1
    assert [e.action for e in events] == ["created"]


# --- the organiser ----------------------------------------------------------------------------


def test_the_organising_venue_confirms_and_becomes_the_attester(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    record = _venue_record(session, side_a)
    venue_staff = side_a.principal(Role.venue_staff)
    response = _post(
        client,
        settings,
        venue_staff,
        f"/records/{record.id}/organiser-decision",
        {"decision": "confirm"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "confirmed"
    assert body["student_name"] == "张*明"  # venues see masked names
    assert _status(session, record.id or 0) == "confirmed"
    assert _events(session, record.id or 0)[-1] == ("confirmed", venue_staff.subject, "confirmed")
    # a second confirmation finds the record no longer pending
    again = _post(
        client,
        settings,
        venue_staff,
        f"/records/{record.id}/organiser-decision",
        {"decision": "confirm"},
    )
    assert again.status_code == 409
    assert again.json()["code"] == "record_state_invalid"


def test_the_organiser_rejects_only_with_a_reason(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    record = _venue_record(session, side_a)
    venue_staff = side_a.principal(Role.venue_staff)
    path = f"/records/{record.id}/organiser-decision"
    missing = _post(client, settings, venue_staff, path, {"decision": "reject"})
    assert missing.json()["code"] == "reason_required"
    assert _status(session, record.id or 0) == "pending"
    ok = _post(client, settings, venue_staff, path, {"decision": "reject", "reason": "未到场"})
    assert ok.status_code == 200
    assert ok.json()["status_reason"] == "未到场"
    assert _status(session, record.id or 0) == "rejected"


def test_only_the_organiser_confirms(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    record = _venue_record(session, side_a)
    path = f"/records/{record.id}/organiser-decision"
    body = {"decision": "confirm"}
    other_venue = _post(client, settings, side_b.principal(Role.venue_staff), path, body)
    assert other_venue.status_code == 404
    assert other_venue.json()["code"] == "record_not_found"
    own_school = _post(client, settings, side_a.principal(Role.school_admin), path, body)
    assert own_school.status_code == 403
    assert own_school.json()["code"] == "not_the_organiser"
    student = _post(client, settings, side_a.principal(Role.student), path, body)
    assert student.status_code == 403
    assert student.json()["code"] == "role_forbidden"
    assert _status(session, record.id or 0) == "pending"


def test_bulk_organiser_confirmation_reports_each_item(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    mine = [_venue_record(session, side_a) for _ in range(3)]
    done = _venue_record(session, side_a, status="rejected")
    theirs = _venue_record(session, side_b)
    ids = [r.id for r in mine] + [done.id, theirs.id, 999_999]
    response = _post(
        client,
        settings,
        side_a.principal(Role.venue_admin),
        "/records/organiser-decisions",
        {"record_ids": ids, "decision": "confirm"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["succeeded"], body["failed"]) == (3, 3)
    codes = {item["record_id"]: item["code"] for item in body["items"]}
    assert codes[done.id] == "record_state_invalid"
    assert codes[theirs.id] == "record_not_found"
    assert codes[999_999] == "record_not_found"
    assert [_status(session, r.id or 0) for r in mine] == ["confirmed"] * 3
    assert _status(session, theirs.id or 0) == "pending"


# --- the student ------------------------------------------------------------------------------


def test_the_student_confirms_with_a_reflection_and_staff_cannot_write_it(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    record = create_record(session, student=side_a.student, status="confirmed")
    path = f"/records/{record.id}/student-confirmation"
    staff = _post(client, settings, side_a.principal(Role.school_admin), path, {"reflection": "x"})
    assert staff.status_code == 403, staff.text
    assert staff.json()["code"] == "role_forbidden"
    response = _post(
        client, settings, side_a.principal(Role.student), path, {"reflection": "学会了杠杆原理"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["reflection"] == "学会了杠杆原理"
    assert response.json()["student_confirmed_at"] is not None
    assert response.json()["status"] == "confirmed"


def test_a_student_cannot_touch_another_students_record(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    classmate = create_student(session, school_id=side_a.school.id or 0)
    record = create_record(session, student=classmate)
    me = side_a.principal(Role.student)
    for path in (f"/records/{record.id}/student-confirmation", f"/records/{record.id}/withdrawal"):
        response = _post(client, settings, me, path, {})
        assert response.status_code == 404
        assert response.json()["code"] == "record_not_found"
    assert _status(session, record.id or 0) == "pending"


def test_an_unbound_student_token_no_longer_confirms(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    record = create_record(session, student=side_a.student)
    principal = side_a.principal(Role.student)
    side_a.student.wechat_user_id = None
    session.add(side_a.student)
    session.flush()
    response = _post(client, settings, principal, f"/records/{record.id}/student-confirmation")
    assert response.status_code == 404


def test_the_student_withdraws_before_review_only(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    me = side_a.principal(Role.student)
    open_record = create_record(session, student=side_a.student, status="confirmed")
    reviewed = create_record(session, student=side_a.student, status="reviewed")
    ok = _post(client, settings, me, f"/records/{open_record.id}/withdrawal", {"reason": "重复"})
    assert ok.status_code == 200
    assert ok.json()["status"] == "withdrawn"
    late = _post(client, settings, me, f"/records/{reviewed.id}/withdrawal", {})
    assert late.status_code == 409
    assert late.json()["code"] == "record_state_invalid"
    assert _status(session, reviewed.id or 0) == "reviewed"
    staff = _post(
        client, settings, side_a.principal(Role.school_staff), f"/records/{reviewed.id}/withdrawal"
    )
    assert staff.status_code == 403


# --- the school's review ----------------------------------------------------------------------


def _ready(session: Session, side: Side, **overrides: Any) -> ParticipationRecord:
    values: dict[str, Any] = {"status": "confirmed", "student_confirmed_at": NOW}
    values.update(overrides)
    return create_record(session, student=side.student, **values)


def test_review_approves_a_record_both_sides_confirmed(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    record = _ready(session, side_a)
    staff = side_a.principal(Role.school_staff)
    response = _post(
        client, settings, staff, f"/records/{record.id}/review", {"decision": "approve"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "reviewed"
    session.expire_all()
    stored = session.get(ParticipationRecord, record.id)
    assert stored is not None
    assert stored.reviewed_by == staff.subject
    assert _events(session, record.id or 0)[-1] == ("reviewed", staff.subject, "reviewed")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"status": "confirmed", "student_confirmed_at": None}, "student_confirmation_required"),
        ({"status": "pending", "student_confirmed_at": NOW}, "record_state_invalid"),
        ({"status": "withdrawn"}, "record_state_invalid"),
        ({"status": "reviewed"}, "record_state_invalid"),
        ({"status": "archived"}, "record_state_invalid"),
    ],
)
def test_review_refuses_records_not_ready(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    overrides: dict[str, Any],
    code: str,
) -> None:
    record = create_record(session, student=side_a.student, **overrides)
    response = _post(
        client,
        settings,
        side_a.principal(Role.school_admin),
        f"/records/{record.id}/review",
        {"decision": "approve"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == code
    assert _status(session, record.id or 0) == overrides["status"]


def test_review_rejects_with_a_reason(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    record = _ready(session, side_a)
    staff = side_a.principal(Role.school_staff)
    path = f"/records/{record.id}/review"
    assert _post(client, settings, staff, path, {"decision": "reject"}).json()["code"] == (
        "reason_required"
    )
    response = _post(client, settings, staff, path, {"decision": "reject", "reason": "时长不实"})
    assert response.json()["status"] == "rejected"
    assert response.json()["status_reason"] == "时长不实"


def test_review_belongs_to_the_students_school(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    record = _ready(session, side_a)
    path = f"/records/{record.id}/review"
    other = _post(
        client, settings, side_b.principal(Role.school_admin), path, {"decision": "approve"}
    )
    assert other.status_code == 404
    assert other.json()["code"] == "record_not_found"
    for role in (Role.venue_admin, Role.bureau, Role.student, Role.guardian):
        response = _post(client, settings, side_a.principal(role), path, {"decision": "approve"})
        assert response.status_code == 403, role
    assert _status(session, record.id or 0) == "confirmed"


def test_bulk_review_reports_each_item(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    ready = [_ready(session, side_a) for _ in range(2)]
    unconfirmed = _ready(session, side_a, student_confirmed_at=None)
    other_school = _ready(session, side_b)
    response = _post(
        client,
        settings,
        side_a.principal(Role.school_admin),
        "/records/reviews",
        {
            "record_ids": [r.id for r in ready] + [unconfirmed.id, other_school.id],
            "decision": "approve",
        },
    )
    body = response.json()
    assert (body["succeeded"], body["failed"]) == (2, 2)
    assert [i["code"] for i in body["items"]] == [
        None,
        None,
        "student_confirmation_required",
        "record_not_found",
    ]
    assert {_status(session, r.id or 0) for r in ready} == {"reviewed"}
    assert _status(session, other_school.id or 0) == "confirmed"
    reject_without_reason = _post(
        client,
        settings,
        side_a.principal(Role.school_admin),
        "/records/reviews",
        {"record_ids": [unconfirmed.id], "decision": "reject"},
    )
    assert reject_without_reason.json()["code"] == "reason_required"


# --- reading ----------------------------------------------------------------------------------


def test_each_role_lists_only_what_it_may_see(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    mine = _venue_record(session, side_a, reflection="我的感想")
    theirs = _venue_record(session, side_b)

    def ids(role: Role, side: Side) -> set[int]:
        response = client.get(API + "/records", headers=auth(settings, side.principal(role)))
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    for role in (Role.student, Role.guardian, Role.school_staff, Role.venue_staff, Role.bureau):
        assert ids(role, side_a) == {mine.id}, role
        assert ids(role, side_b) == {theirs.id}, role
    venue_view = client.get(
        API + f"/records/{mine.id}", headers=auth(settings, side_a.principal(Role.venue_staff))
    ).json()
    assert venue_view["reflection"] == ""
    assert venue_view["student_name"] == "张*明"
    other = client.get(
        API + f"/records/{mine.id}", headers=auth(settings, side_b.principal(Role.school_admin))
    )
    assert other.status_code == 404


def test_the_summary_totals_minutes_by_semester_category_and_dimension(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    student = side_a.student
    create_record(session, student=student, minutes=120, status="archived")
    create_record(session, student=student, minutes=60, category="volunteer", dimension="moral")
    create_record(
        session,
        student=student,
        minutes=30,
        started_at=datetime(2026, 3, 10, 1, 0, tzinfo=UTC),
        status="reviewed",
    )
    create_record(session, student=student, minutes=500, status="rejected")
    create_record(session, student=student, minutes=500, status="withdrawn")
    response = client.get(
        API + f"/students/{student.id}/record-summary",
        headers=auth(settings, side_a.principal(Role.student)),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["records"], body["minutes"], body["archived_minutes"]) == (3, 210, 120)
    assert {(t["label"], t["minutes"]) for t in body["by_semester"]} == {
        ("2025-2026学年第二学期", 30),
        ("2026-2027学年第一学期", 180),
    }
    assert {(t["key"], t["minutes"]) for t in body["by_dimension"]} == {
        ("social_practice", 150),
        ("moral", 60),
    }
    assert {(t["label"], t["records"]) for t in body["by_category"]} == {
        ("科普场馆参观与研学", 2),
        ("志愿服务", 1),
    }


# --- manual records ---------------------------------------------------------------------------


def _teen(session: Session, side: Side) -> Student:
    user = create_wechat_user(session)
    return create_student(
        session,
        school_id=side.school.id or 0,
        wechat_user_id=user.id,
        birth_month=date(2011, 1, 1),
        stage="junior",
        grade=8,
    )


def _manual_body(student_ids: list[int]) -> dict[str, Any]:
    return {
        "student_ids": student_ids,
        "title": "机器人社团（2026 秋季学期）",
        "category": "inquiry",
        "started_at": "2026-09-07T08:00:00+08:00",
        "ended_at": "2026-10-12T17:00:00+08:00",
        "minutes": 960,
        "role": "participant",
        "outcome": "校级一等奖",
        "attester_phone": "13812348000",
    }


def test_the_school_enters_records_once_per_idempotency_key(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    pupils = [_teen(session, side_a), _teen(session, side_a)]
    headers = {
        **auth(settings, side_a.principal(Role.school_staff)),
        "Idempotency-Key": "club-2026-a",
    }
    body = _manual_body([p.id or 0 for p in pupils])
    first = client.post(API + "/records/manual", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = client.post(API + "/records/manual", json=body, headers=headers)
    assert [r["id"] for r in again.json()] == [r["id"] for r in first.json()]
    other_pupils = client.post(
        API + "/records/manual", json=_manual_body([pupils[0].id or 0]), headers=headers
    )
    assert other_pupils.status_code == 409
    assert other_pupils.json()["code"] == "idempotency_key_reused"
    record = first.json()[0]
    assert record["status"] == "confirmed"  # the school organised it
    assert record["dimension"] == "academic"  # the category's default
    assert record["organiser_name"] == side_a.school.name
    assert record["attester_phone"] == "138****8000"
    assert record["source"] == "manual"
    rows = session.exec(
        select(ParticipationRecord).where(
            col(ParticipationRecord.student_id).in_([p.id for p in pupils])
        )
    ).all()
    assert len(rows) == 2


def test_manual_records_only_for_own_students_with_consent(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    staff = auth(settings, side_a.principal(Role.school_staff))
    foreign = _teen(session, side_b)
    response = client.post(
        API + "/records/manual", json=_manual_body([foreign.id or 0]), headers=staff
    )
    assert response.status_code == 404
    assert response.json()["code"] == "student_not_found"
    child = side_a.student  # under 14, no consent recorded
    response = client.post(
        API + "/records/manual", json=_manual_body([child.id or 0]), headers=staff
    )
    assert response.json()["code"] == "consent_required"
    assert response.json()["student_ids"] == [child.id]
    student = client.post(
        API + "/records/manual",
        json=_manual_body([child.id or 0]),
        headers=auth(settings, side_a.principal(Role.student)),
    )
    assert student.status_code == 403  # students cannot invent an activity
    assert (
        session.exec(
            select(ParticipationRecord).where(ParticipationRecord.source == "manual")
        ).all()
        == []
    )


def test_manual_records_validate_their_times(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    pupil = _teen(session, side_a)
    body = _manual_body([pupil.id or 0])
    body["ended_at"] = "2026-09-01T08:00:00+08:00"
    response = client.post(
        API + "/records/manual",
        json=body,
        headers=auth(settings, side_a.principal(Role.school_staff)),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "record_invalid"


def test_the_record_list_filters_by_kind_of_record(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    visit = create_record(session, student=side_a.student, category="science_visit")
    club = create_record(session, student=side_a.student, category="inquiry")
    create_record(session, student=side_b.student, category="inquiry")  # another school's
    staff = auth(settings, side_a.principal(Role.school_staff))
    found = client.get(API + "/records", params={"category": "inquiry"}, headers=staff)
    assert found.status_code == 200
    assert [r["id"] for r in found.json()["items"]] == [club.id]
    both = client.get(API + "/records", headers=staff).json()["items"]
    assert {r["id"] for r in both} == {visit.id, club.id}
    wrong = client.get(API + "/records", params={"category": "party"}, headers=staff)
    assert wrong.status_code == 422
