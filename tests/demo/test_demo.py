"""The demo world covers the venue directory, activities, slots, reservations, pairings and
directory editions (issue 4), and participation records in every state, whatever day it is
loaded on."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.activity.models import Activity
from scipass.checkin.models import CheckIn
from scipass.consent import service as consent_service
from scipass.consent.models import Purpose
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock, local_date
from scipass.demo import data
from scipass.org.models import Bureau, Region, School, Venue
from scipass.pairing import service as pairing_service
from scipass.pairing.models import Pairing
from scipass.record import chain
from scipass.record import notices as record_notices
from scipass.record.models import (
    ParticipationRecord,
    RecordEvent,
    RecordNotice,
    RecordObjection,
    RecordStatus,
)
from scipass.reservation.models import Reservation, ReservationMember, TimeSlot
from scipass.roster.models import Student
from scipass.venue import hours
from scipass.venue import service as venue_service
from scipass.venue.models import DirectoryEdition, VenueHoursException, VenueResource
from tests.conftest import FROZEN_AT
from tests.demo_world import loaded_on

NOWS = [
    FROZEN_AT,  # a Wednesday morning in Beijing
    datetime(2026, 12, 30, 15, 30, tzinfo=UTC),  # 23:30 on 30 December, Beijing
    datetime(2027, 3, 7, 4, 0, tzinfo=UTC),  # a Sunday in the spring semester
    datetime(2027, 8, 31, 16, 1, tzinfo=UTC),  # 00:01 on 1 September, Beijing
]
SEED_CITIES = ("430300", "150400", "140500")


@loaded_on(*NOWS)
def test_demo_covers_issue_4(session: Session, now: datetime) -> None:
    today = local_date(now)
    venues = session.exec(select(Venue)).all()
    parents = {code: parent for code, _name, _level, parent in data.REGIONS}

    # listed venues with a profile in every seed city and in Xiangxiang
    listed = [v for v in venues if v.listed]
    for city in SEED_CITIES:
        assert any(parents[v.region_code] == city for v in listed)
    assert any(v.region_code == "430381" for v in listed)
    for venue in listed:
        assert venue.services
        assert venue.facilities
        assert venue.photos
        assert venue.open_weekdays == hours.open_weekdays(venue.weekly_hours) != "0000000"
        assert venue.is_free or venue.fee_note
    unlisted = [v for v in venues if not v.listed]
    assert unlisted
    assert all(v.review_status == "pending" and v.draft for v in unlisted)
    bureau = Principal(subject="t", role=Role.bureau, bureau_id=1, region_code="430300")
    assert venue_service.list_pending(session, actor=bureau)

    resources = session.exec(select(VenueResource)).all()
    assert {r.kind for r in resources} >= {"lab", "instrument", "show"}
    assert any(venue_service.is_major(r) for r in resources)
    exceptions = session.exec(select(VenueHoursException)).all()
    assert any(e.closed for e in exceptions)
    assert any(not e.closed for e in exceptions)

    activities = session.exec(select(Activity)).all()
    published = {a.kind for a in activities if a.status == "published"}
    assert published >= {
        "venue_visit",
        "lecture",
        "scientist_in_school",
        "science_camp",
        "mobile_museum",
    }
    assert any(a.school_id is not None and a.status == "published" for a in activities)

    # slots lie in the future, inside the venue's hours that day, with `taken` consistent
    slots = session.exec(select(TimeSlot)).all()
    assert len(slots) > 50
    by_id = {v.id: v for v in venues}
    confirmed: Counter[int] = Counter()
    reservations = session.exec(select(Reservation)).all()
    for r in reservations:
        if r.status == "confirmed":
            confirmed[r.slot_id] += r.party_size
    for slot in slots:
        venue = by_id[slot.venue_id]
        assert slot.starts_at > now
        periods = venue_service.periods_on(session, venue, local_date(slot.starts_at))
        assert hours.within(periods, slot.starts_at, slot.ends_at)
        assert slot.taken == confirmed[slot.id or 0]
    assert any(s.school_channel and s.school_priority_until for s in slots)
    kinds = Counter((r.kind, r.status) for r in reservations)
    assert kinds[("individual", "confirmed")]
    assert kinds[("group", "confirmed")]
    waitlisted = [r for r in reservations if r.status == "waitlisted"]
    assert waitlisted
    full = session.get(TimeSlot, waitlisted[0].slot_id)
    assert full is not None
    assert full.taken == full.capacity
    members = session.exec(select(ReservationMember)).all()
    active = [r for r in reservations if r.status != "cancelled"]
    assert len(members) == sum(r.students for r in active)

    statuses = {p.status for p in session.exec(select(Pairing)).all()}
    assert statuses >= {"active", "proposed"}
    coverage = pairing_service.coverage(session, actor=bureau, today=today, area="urban")
    assert {n > 0 for _school, n in coverage} == {True, False}

    editions = session.exec(select(DirectoryEdition)).all()
    assert sorted(e.region_code for e in editions) == sorted(SEED_CITIES)
    assert all(e.year == today.year and e.venue_count > 0 for e in editions)
    bureau_regions = {b.region_code for b in session.exec(select(Bureau)).all()}
    assert set(SEED_CITIES) <= bureau_regions
    assert session.get(Region, "430381") is not None


@loaded_on(FROZEN_AT)
def test_demo_answers_the_public_api(client: TestClient) -> None:
    near = client.get("/api/v1/venues", params={"longitude": 112.53, "latitude": 27.73}).json()
    assert near["items"][0]["name"] == "湘乡市青少年校外活动中心"
    assert near["items"][0]["distance_m"] < 2000
    xiangtan = client.get("/api/v1/venues", params={"region_code": "430300"}).json()
    assert xiangtan["total"] >= 3
    activities = client.get("/api/v1/activities").json()
    assert activities["total"] >= 5
    venue_id = xiangtan["items"][0]["id"]
    slots = client.get(f"/api/v1/venues/{venue_id}/slots").json()
    assert slots["total"] > 0
    editions = client.get("/api/v1/directory-editions").json()
    assert editions["total"] == 3

    login = client.post(
        "/api/v1/auth/login", json={"username": "xt-bureau", "password": data.DEMO_PASSWORD}
    )
    token = login.json()["access_token"]
    reviews = client.get("/api/v1/venue-reviews", headers={"Authorization": f"Bearer {token}"})
    assert [r["name"] for r in reviews.json()["items"]] == ["湘潭县青少年科技教育基地"]


@loaded_on(*NOWS)
def test_demo_has_records_in_every_state(
    session: Session, demo: dict[str, Any], now: datetime
) -> None:
    summary = demo
    today = local_date(now)
    records = session.exec(select(ParticipationRecord)).all()
    notices = session.exec(select(RecordNotice)).all()
    assert summary["records"] == len(records)
    assert summary["record_notices"] == len(notices)
    schools = {s.name: s for s in session.exec(select(School)).all()}
    students = {s.id: s for s in session.exec(select(Student)).all()}
    every_state = set(RecordStatus) - {RecordStatus.voided}

    for plan in data.RECORD_PLANS:
        school = schools[plan["school"]]
        mine = [r for r in records if r.school_id == school.id]
        states = {RecordStatus(r.status) for r in mine}
        if plan["main"] is None:  # nobody has bound: the organiser's and the school's steps
            assert states == {RecordStatus.pending, RecordStatus.confirmed, RecordStatus.rejected}
            continue
        assert states == every_state, plan["school"]
        # one notice closed (opened at least 8 days ago) and archived, one open with an
        # objection a student raised
        closed, open_ = sorted(
            (n for n in notices if n.school_id == school.id and n.title in data.NOTICE_TITLES),
            key=lambda n: n.starts_at,
        )
        assert closed.starts_at <= now - timedelta(days=8)
        assert closed.ends_at <= now
        assert open_.starts_at <= now < open_.ends_at
        assert open_.record_count >= 3
        assert {r.status for r in mine if r.notice_id == closed.id} == {"archived"}
        assert {r.status for r in mine if r.notice_id == open_.id} == {"publicised"}
        objections = session.exec(
            select(RecordObjection).where(RecordObjection.notice_id == open_.id)
        ).all()
        assert [(o.status, o.raised_role) for o in objections] == [("open", "student")]
        # the main student's archived records make a valid chain of two
        main = next(r.student_id for r in mine if r.status == "withdrawn")  # a duplicate
        report = chain.verify(session, main)
        assert report.valid
        assert report.length >= 2

    family_day = session.exec(
        select(Activity).where(Activity.title == data.FAMILY["activity"])
    ).one()
    for record in records:
        student = students[record.student_id]
        assert record.created_at <= now
        assert record.ended_at <= now
        assert record.updated_at <= now
        assert consent_service.has_consent(
            session, student=student, purpose=Purpose.participation_record, today=today
        )
        if record.status in ("rejected", "withdrawn"):
            assert record.status_reason
        if record.status in ("reviewed", "publicised", "archived"):
            assert record.student_confirmed_at is not None
            assert record.reviewed_at is not None
        if record.source == "checkin":
            # appended for the plans, or made by a real scan at the family day
            assert record.source_ref.startswith("demo-visit-") or (
                record.activity_id == family_day.id
            )
            assert record.organiser_venue_id is not None
        elif record.source == "competition":  # a published result (competitions.py)
            assert record.organiser_name
        elif record.source == "volunteer":  # confirmed minutes (volunteering.py)
            assert record.minutes
            assert record.organiser_venue_id is not None
        else:
            assert record.source == "manual"
            assert record.organiser_school_id == record.school_id
    assert all(e.at <= now for e in session.exec(select(RecordEvent)).all())
    reflected = [r for r in records if r.reflection]
    assert any(r.status == "confirmed" and r.student_confirmed_at for r in reflected)
    assert any(r.status == "archived" for r in reflected)
    assert any(
        r.status == "confirmed" and r.attester_name for r in records if r.source == "checkin"
    )

    hints = {a["wechat_code"]: a for a in summary["accounts"] if "wechat_code" in a}
    assert hints["dev-xiaoming"]["records"]["archived"] == 3  # with the competition's
    assert hints["dev-xiaohong"]["records"] == {}  # no consent, no records
    assert hints["dev-xiaogang"]["records"]["publicised"] == 2


@loaded_on(FROZEN_AT)
def test_demo_records_answer_the_api(client: TestClient) -> None:
    def login(**body: str) -> dict[str, str]:
        path = "/api/v1/auth/wechat" if "code" in body else "/api/v1/auth/login"
        response = client.post(path, json=body)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    xiaoming = login(code="dev-xiaoming")
    mine = client.get("/api/v1/records", headers=xiaoming).json()
    # with the competition record (competitions.py) and three shifts (volunteering.py)
    assert mine["total"] == 9
    student_id = mine["items"][0]["student_id"]
    report = client.get(f"/api/v1/students/{student_id}/record-chain", headers=xiaoming).json()
    assert report["valid"] is True
    assert report["length"] == 3
    open_notices = client.get("/api/v1/notices", headers=xiaoming).json()
    assert open_notices["total"] == 1

    teacher = login(username="heping-admin", password=data.DEMO_PASSWORD)
    objections = client.get("/api/v1/objections", params={"status": "open"}, headers=teacher).json()
    assert objections["total"] == 1
    waiting = client.get("/api/v1/records", params={"status": "confirmed"}, headers=teacher).json()
    assert waiting["total"] >= 2

    venue = login(username="xtkjg-staff", password=data.DEMO_PASSWORD)
    pending = client.get("/api/v1/records", params={"status": "pending"}, headers=venue).json()
    assert pending["total"] == 2


@loaded_on(FROZEN_AT)
def test_the_demo_open_day_takes_check_ins(client: TestClient, demo: dict[str, Any]) -> None:
    summary = demo
    (demo,) = summary["checkin_codes"]
    assert demo["kiosk_url"].startswith(f"/kiosk/{demo['activity_id']}?token=")
    login = client.post("/api/v1/auth/wechat", json={"code": "dev-xiaoming"}).json()
    headers = {"Authorization": f"Bearer {login['access_token']}", "Idempotency-Key": "demo-scan-1"}
    entered = client.post("/api/v1/checkins", json={"code": demo["static_link"]}, headers=headers)
    assert entered.status_code == 201, entered.text
    assert entered.json()["activity_title"] == "科技活动周·科技馆开放日"
    screen = client.get(demo["kiosk_url"].replace("?", "/state?", 1))
    assert screen.status_code == 200, screen.text
    assert screen.json()["checked_in"] == 1


@loaded_on(*NOWS)
def test_demo_has_a_family_and_an_attested_pupil(session: Session, demo: dict[str, Any]) -> None:
    """Family mode (issue 15): a parent with two children at two schools, one visit made by
    the parent for both, records confirmed by the parent (one with a reflection, 家长代填);
    a pupil with no phone whose record a teacher attested."""
    summary = demo
    hint = next(a for a in summary["accounts"] if a.get("wechat_code") == "dev-wang-mama")
    children = {c["student_id"]: c for c in hint["children"]}
    assert len({c["school"] for c in children.values()}) == 2
    family_day = session.exec(
        select(Activity).where(Activity.title == data.FAMILY["activity"])
    ).one()
    visits = session.exec(select(CheckIn).where(CheckIn.activity_id == family_day.id)).all()
    guardian = f"wechat:{hint['guardian_id']}"
    assert sorted(v.student_id for v in visits) == sorted(children)
    assert {v.operator for v in visits} == {guardian}
    assert all(v.exited_at is not None and v.minutes > 0 for v in visits)
    records = session.exec(
        select(ParticipationRecord).where(ParticipationRecord.activity_id == family_day.id)
    ).all()
    assert {r.status for r in records} == {"confirmed"}
    assert {r.student_confirmed_as for r in records} == {"guardian"}
    assert [r.reflection_by for r in records if r.reflection] == ["guardian"]
    for student_id in children:  # the parent can act for both (under 14 or no own binding)
        assert session.get(Student, student_id).wechat_user_id is None  # type: ignore[union-attr]

    attested = session.exec(
        select(ParticipationRecord).where(ParticipationRecord.student_confirmed_as == "teacher")
    ).all()
    assert len(attested) == 1
    assert attested[0].status == "reviewed"
    assert attested[0].reflection == ""
    school = session.get(School, attested[0].school_id)
    assert school is not None
    assert school.teacher_attestation
    events = [
        e.action
        for e in session.exec(
            select(RecordEvent).where(RecordEvent.record_id == attested[0].id)
        ).all()
    ]
    assert "teacher_attested" in events


@loaded_on(FROZEN_AT)
def test_a_parent_does_a_whole_weekend_visit_for_two_children(
    session: Session, client: TestClient, clock: FrozenClock, demo: dict[str, Any]
) -> None:
    """Issue 15's "done when", with the demo accounts and nothing but the API (and the
    archiving job): the parent books, scans both children in and out at the door, confirms
    with a reflection, and sees the records archived after the public notice."""
    summary = demo

    def login(**body: str) -> dict[str, str]:
        path = "/api/v1/auth/wechat" if "code" in body else "/api/v1/auth/login"
        response = client.post(path, json=body)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    parent = login(code="dev-wang-mama")
    me = client.get("/api/v1/me", headers=parent).json()
    assert me["role"] == "guardian"
    first, second = (c["id"] for c in me["children"])
    assert all(c["actions"]["check_in"] and c["actions"]["reserve"] for c in me["children"])

    # book: one place for each child in a slot of the science museum
    museum = next(
        v for v in client.get("/api/v1/venues").json()["items"] if v["name"] == "湘潭市科技馆"
    )
    slots = client.get(f"/api/v1/venues/{museum['id']}/slots").json()["items"]
    booked: dict[int, dict[str, object]] = {}
    for slot in slots:
        answers = {
            child: client.post(
                f"/api/v1/slots/{slot['id']}/reservations",
                params={"student_id": child},
                json={},
                headers={**parent, "Idempotency-Key": f"book-{slot['id']}-{child}"},
            )
            for child in (first, second)
        }
        if all(a.status_code == 201 for a in answers.values()):
            booked = {child: a.json() for child, a in answers.items()}
            break
    assert booked, "a slot of the museum takes both children"
    assert {r["student_id"] for r in booked.values()} == {first, second}

    # the door: one scan on the parent's phone for both, in and, two hours later, out
    (open_day,) = summary["checkin_codes"]
    for direction, key in (("entry", "family-in"), ("exit", "family-out")):
        scan = client.post(
            "/api/v1/checkins/family",
            json={
                "code": open_day["static_link"],
                "direction": direction,
                "student_ids": [first, second],
            },
            headers={**parent, "Idempotency-Key": key},
        )
        assert scan.status_code == 200, scan.text
        assert scan.json()["accepted"] == 2, scan.text
        clock.advance(timedelta(hours=2))
        parent = login(code="dev-wang-mama")  # a fresh token, as the app refreshes it
    visits = client.get("/api/v1/me/checkins", params={"student_id": first}, headers=parent).json()
    assert visits["items"][0]["activity_title"] == "科技活动周·科技馆开放日"
    assert visits["items"][0]["exited_at"] is not None

    def record_of(child: int) -> dict[str, object]:
        listed = client.get(
            "/api/v1/records",
            params={"student_id": child, "activity_id": open_day["activity_id"]},
            headers=parent,
        ).json()
        (record,) = listed["items"]
        return record

    # the venue confirms; the parent confirms both, with a reflection for the first
    clock.advance(timedelta(hours=20))
    parent = login(code="dev-wang-mama")
    venue = login(username="xtkjg-staff", password=data.DEMO_PASSWORD)
    for child in (first, second):
        decided = client.post(
            f"/api/v1/records/{record_of(child)['id']}/organiser-decision",
            json={"decision": "confirm"},
            headers=venue,
        )
        assert decided.status_code == 200, decided.text
        confirmed = client.post(
            f"/api/v1/records/{record_of(child)['id']}/student-confirmation",
            params={"student_id": child},
            json={"reflection": "孩子最喜欢机器人展区。"} if child == first else {},
            headers=parent,
        )
        assert confirmed.status_code == 200, confirmed.text
    assert record_of(first)["marks"] == "家长代为确认；家长代填"
    assert record_of(second)["marks"] == "家长代为确认"

    # each school reviews and opens a public notice; after it, the archiving job runs
    schools = {
        first: ("heping-teacher", "heping-admin"),
        second: ("dongjiao-admin", "dongjiao-admin"),
    }
    for child, (reviewer, admin) in schools.items():
        record_id = record_of(child)["id"]
        reviewed = client.post(
            f"/api/v1/records/{record_id}/review",
            json={"decision": "approve"},
            headers=login(username=reviewer, password=data.DEMO_PASSWORD),
        )
        assert reviewed.status_code == 200, reviewed.text
        opened = client.post(
            "/api/v1/notices",
            json={"title": "周末科学实践记录公示", "record_ids": [record_id]},
            headers=login(username=admin, password=data.DEMO_PASSWORD),
        )
        assert opened.status_code == 201, opened.text
    entries = client.get("/api/v1/notices", headers=parent).json()
    assert entries["total"] >= 2
    clock.advance(timedelta(days=14))
    parent = login(code="dev-wang-mama")
    with Session(bind=session.connection(), join_transaction_mode="create_savepoint") as job:
        assert record_notices.archive_due(job, now=clock.now()) >= 2
        job.commit()
    for child in (first, second):
        record = record_of(child)
        assert record["status"] == "archived"
        assert record["student_confirmed_as"] == "guardian"
        chain_report = client.get(f"/api/v1/students/{child}/record-chain", headers=parent).json()
        assert chain_report["valid"] is True
    assert record_of(first)["reflection_by"] == "guardian"
