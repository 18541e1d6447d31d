"""Access and copy (issue 20, point 2): everything held about a pupil, and nothing of another.

Two pupils of one class have data in every category; pupil B's data carries the marker
``SECRET`` (or ``秘密``) wherever it holds text, so a copy of pupil A that leaks any of it is
caught by a plain search, and every ``student_id`` in the copy is checked to be A's.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.audit.models import AuditLog
from scipass.checkin.models import CheckIn, PersonalCard, ScanEvent
from scipass.competition.models import Entry, EntryMember
from scipass.competition.talent_models import TalentTracking
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.jobs import worker as job_worker
from scipass.jobs.storage import store_for
from scipass.main import job_kinds
from scipass.record import notices as record_notices
from scipass.record import storage as evidence_storage
from scipass.record.models import RecordEvent, RecordEvidence, RecordNotice
from scipass.reservation.models import Reservation, ReservationMember
from scipass.roster.models import GuardianLink, Student
from scipass.volunteer.models import NotificationOutbox, VolunteerCertificate
from tests.factories import (
    NOW,
    Side,
    auth,
    bound_student,
    create_activity,
    create_competition,
    create_record,
    create_reservation,
    create_slot,
    create_student,
    create_volunteer_role,
    create_volunteer_shift,
    create_volunteer_signup,
    create_wechat_user,
    grant_consent,
    link_guardian,
)

API = "/api/v1"


@pytest.fixture
def quiet(settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose job heartbeat stays out of the way of a test's one connection."""
    settings.job_progress_seconds = 3600
    settings.job_lease_seconds = 3600
    settings.job_results_dir = tmp_path / "results"
    return settings


@dataclass
class Pupil:
    student: Student
    link: GuardianLink
    guardian: Principal
    evidence: bytes
    objects: dict[str, set[str]]


def _pupil_data(
    session: Session,
    settings: Settings,
    side: Side,
    student: Student,
    link: GuardianLink,
    mark: str,
) -> Pupil:
    """Data of ``student`` in every category, its text marked with ``mark``."""
    objects: dict[str, set[str]] = {}

    def note(kind: str, value: object) -> None:
        objects.setdefault(kind, set()).add(str(value))

    grant_consent(session, student=student, link=link, purposes=["participation_record"])
    activity = create_activity(session, venue_id=side.venue.id or 0, title=f"科技馆参观{mark}")
    visit = CheckIn(
        activity_id=activity.id or 0,
        student_id=student.id or 0,
        school_id=student.school_id,
        day=date(2026, 10, 13),
        source="self",
        entered_at=NOW - timedelta(days=1),
        operator=f"wechat:{student.wechat_user_id or 0}",
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(visit)
    session.flush()
    note("check_in", visit.id)
    session.add(
        ScanEvent(
            activity_id=activity.id,
            student_id=student.id,
            school_id=student.school_id,
            check_in_id=visit.id,
            direction="in",
            source="self",
            operator=f"device-{mark}",
            nonce=f"nonce-{mark}",
            fingerprint=f"fp-{mark}"[:32],
            server_time=NOW - timedelta(days=1),
            latitude=27.8,
            longitude=112.9,
            result="accepted",
        )
    )
    card = PersonalCard(
        student_id=student.id or 0,
        school_id=student.school_id,
        nonce=hashlib.sha256(mark.encode()).hexdigest()[:12],
        expires_at=NOW + timedelta(days=30),
        issued_by="account:900001",
        issued_at=NOW,
        revoke_reason=f"卡片{mark}",
    )
    session.add(card)
    session.flush()
    note("personal_card", card.id)
    record = create_record(session, student=student, title=f"写实记录{mark}", reflection=mark)
    note("participation_record", record.id)
    session.add(
        RecordEvent(
            record_id=record.id or 0,
            at=NOW,
            action="created",
            actor="test",
            actor_role="school_staff",
            to_status="pending",
            note=f"变更{mark}",
        )
    )
    content = f"%PDF-1.4 evidence of {mark}".encode()
    sha = hashlib.sha256(content).hexdigest()
    evidence_storage.store(settings, content, sha)
    evidence = RecordEvidence(
        record_id=record.id or 0,
        sha256=sha,
        media_type="application/pdf",
        size=len(content),
        filename=f"evidence-{mark}.pdf",
        uploaded_by="test",
        uploaded_at=NOW,
        cleaned_at=NOW,
    )
    session.add(evidence)
    session.flush()
    note("record_evidence", evidence.id)
    reservation = create_reservation(
        session, slot=create_slot(session, venue_id=side.venue.id or 0), student=student
    )
    reservation.note = f"预约{mark}"
    session.add(reservation)
    note("reservation", reservation.id)
    role = create_volunteer_role(session, venue_id=side.venue.id)
    shift = create_volunteer_shift(session, role=role, place=f"序厅{mark}")
    signup = create_volunteer_signup(session, shift=shift, student=student)
    signup.minutes_reason = f"时长{mark}"
    session.add(signup)
    note("volunteer_signup", signup.id)
    certificate = VolunteerCertificate(
        number=f"CERT-{mark}",
        student_id=student.id or 0,
        school_id=student.school_id,
        venue_id=side.venue.id or 0,
        from_date=date(2026, 10, 1),
        to_date=date(2026, 10, 31),
        minutes=180,
        times=1,
        content=[{"role": f"引导{mark}"}],
        person_in_charge="李馆长",
        handler="赵老师",
        contact="0731-88880000",
        issued_by="account:900002",
        issued_at=NOW,
    )
    session.add(certificate)
    session.add(
        NotificationOutbox(
            kind="signup_confirmed", student_id=student.id or 0, payload={"m": mark}, created_at=NOW
        )
    )
    tracking = TalentTracking(
        student_id=student.id or 0,
        school_id=student.school_id,
        reason=f"获奖{mark}",
        started_by="account:900001",
        started_by_role="school_admin",
        started_at=NOW,
    )
    session.add(tracking)
    session.flush()
    note("volunteer_certificate", certificate.id)
    note("talent_tracking", tracking.id)
    # a teacher looked at the pupil's evidence, and exported the pupil's records alone
    staff = side.principal(Role.school_staff)
    for kind, object_id, action in (
        ("record_evidence", evidence.id, audit_service.Action.evidence_viewed),
        ("student", student.id, audit_service.Action.student_bound),
    ):
        audit_service.record(
            session,
            action=action,
            at=NOW,
            actor=staff,
            object_type=kind,
            object_id=object_id,
            school_id=student.school_id,
        )
    audit_service.record(
        session,
        action=audit_service.Action.records_exported,
        at=NOW,
        actor=staff,
        object_type="participation_record",
        school_id=student.school_id,
        filter={"student_id": student.id},
        row_count=1,
    )
    session.flush()
    guardian = Principal(subject=f"wechat:{link.guardian_id}", role=Role.guardian)
    return Pupil(student, link, guardian, content, objects)


@dataclass
class Class:
    a: Pupil
    b: Pupil
    team_entry: Entry
    group_reservation: Reservation


@pytest.fixture
def one_class(session: Session, settings: Settings, side_a: Side) -> Class:
    """Pupil A (side A's pupil, under 14, bound) and pupil B of the same class, with another
    guardian; a team entry and a group reservation hold both."""
    a = _pupil_data(session, settings, side_a, side_a.student, side_a.guardian_link, "alpha")
    b_user = create_wechat_user(session)
    b_student = create_student(
        session,
        school_id=side_a.school.id or 0,
        name="李秘密",
        student_no="SECRET-B",
        wechat_user_id=b_user.id,
    )
    b_link = link_guardian(session, guardian=create_wechat_user(session), student=b_student)
    b = _pupil_data(session, settings, side_a, b_student, b_link, "SECRET")
    scene = create_competition(session, bureau=side_a.bureau, region_code=side_a.region_code)
    entry = Entry(
        edition_id=scene.edition.id or 0,
        division_id=scene.division.id or 0,
        round_id=scene.round.id or 0,
        school_id=side_a.school.id or 0,
        title="智能分拣机器人",
        status="submitted",
        registered_by_kind="student",
        created_by=f"wechat:{b_user.id}",
        created_at=NOW,
        submitted_at=NOW,
        updated_at=NOW,
    )
    session.add(entry)
    session.flush()
    for pupil, role in ((b, "captain"), (a, "member")):
        session.add(
            EntryMember(
                entry_id=entry.id or 0,
                division_id=scene.division.id or 0,
                student_id=pupil.student.id or 0,
                role=role,
                status="active",
                joined_by=f"wechat:{b_user.id}",
                joined_at=NOW,
            )
        )
    slot = create_slot(session, venue_id=side_a.venue.id or 0, capacity=40)
    group = Reservation(
        slot_id=slot.id or 0,
        kind="group",
        school_id=side_a.school.id or 0,
        group_label="四年级1班",
        students=2,
        escorts=1,
        party_size=3,
        status="confirmed",
        made_by="account:900001",
        created_at=NOW,
    )
    session.add(group)
    session.flush()
    for pupil in (a, b):
        session.add(
            ReservationMember(
                reservation_id=group.id or 0, slot_id=slot.id or 0, student_id=pupil.student.id or 0
            )
        )
    # a class-wide export covers both; a talent list named both; one named B alone
    staff = side_a.principal(Role.school_staff)
    audit_service.record(
        session,
        action=audit_service.Action.records_exported,
        at=NOW,
        actor=staff,
        object_type="participation_record",
        school_id=side_a.school.id,
        filter={"grade": 4, "class_name": "1班"},
        row_count=2,
    )
    for ids in ([b.student.id], [a.student.id, b.student.id]):
        audit_service.record(
            session,
            action=audit_service.Action.talent_tracking_viewed,
            at=NOW,
            actor=staff,
            object_type="talent_tracking",
            school_id=side_a.school.id,
            student_ids=ids,
        )
    # B's captain changed the team entry (B is named nowhere in A's copy)
    audit_service.record(
        session,
        action=audit_service.Action.competition_entry_changed,
        at=NOW,
        actor=Principal(subject=f"wechat:{b_user.id}", role=Role.student),
        object_type="competition_entry",
        object_id=entry.id,
        school_id=side_a.school.id,
    )
    session.flush()
    return Class(a, b, entry, group)


def _copy(client: TestClient, settings: Settings, who: Principal, **params: Any) -> Any:
    return client.get(f"{API}/me/data-copy", headers=auth(settings, who), params=params)


def _values(node: Any, key: str) -> list[Any]:
    """Every value of ``key`` anywhere in a JSON document."""
    found: list[Any] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                found.append(v)
            found += _values(v, key)
    elif isinstance(node, list):
        for item in node:
            found += _values(item, key)
    return found


def test_the_copy_holds_every_category_and_nothing_of_another_pupil(
    client: TestClient, settings: Settings, session: Session, one_class: Class
) -> None:
    a, b = one_class.a, one_class.b
    response = _copy(client, settings, a.guardian, student_id=a.student.id)
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    copy = response.json()
    text = response.text
    # nothing of pupil B: no marked text, no id of B, none of B's objects in the audit entries
    assert "SECRET" not in text
    assert "秘密" not in text
    assert set(_values(copy, "student_id")) <= {a.student.id}
    assert b.student.id not in [i for ids in _values(copy, "student_ids") for i in ids]
    about_b = {(kind, i) for kind, ids in b.objects.items() for i in ids}
    named = {(e["object_type"], e["object_id"]) for e in copy["audit_entries"]}
    assert named & about_b == set()
    # every category of pupil A
    assert copy["student"]["id"] == a.student.id
    assert "binding_code" not in copy["student"]
    assert "guardian_code" not in copy["student"]
    assert copy["bindings"]["wechat"]["openid"].startswith("o-test-")
    assert [g["is_requester"] for g in copy["bindings"]["guardians"]] == [True]
    assert [c["purpose"] for c in copy["consents"]] == ["participation_record"]
    [visit] = copy["visits"]
    assert visit["activity_title"] == "科技馆参观alpha"
    assert [s["fingerprint"] for s in visit["scans"]] == ["fp-alpha"]
    assert [c["revoke_reason"] for c in copy["personal_cards"]] == ["卡片alpha"]
    assert "nonce" not in copy["personal_cards"][0]
    [record] = copy["records"]
    assert record["title"] == "写实记录alpha"
    assert [e["note"] for e in record["events"]] == ["变更alpha"]
    assert [e["filename"] for e in record["evidence"]] == ["evidence-alpha.pdf"]
    group, own = sorted(copy["reservations"], key=lambda r: r["kind"])
    assert (group["kind"], group["id"], group["group_label"]) == (
        "group",
        one_class.group_reservation.id,
        "四年级1班",
    )
    assert "students" not in group
    assert own["note"] == "预约alpha"
    [entry] = copy["competition_entries"]
    assert entry["id"] == one_class.team_entry.id
    assert entry["membership"]["role"] == "member"
    assert "created_by" not in entry
    assert [s["minutes_reason"] for s in copy["volunteering"]["signups"]] == ["时长alpha"]
    assert [c["number"] for c in copy["volunteering"]["certificates"]] == ["CERT-alpha"]
    assert [n["payload"] for n in copy["volunteering"]["notifications"]] == [{"m": "alpha"}]
    assert [t["reason"] for t in copy["talent_tracking"]] == ["获奖alpha"]
    # who read or exported A's data: A's own objects, and the lists that covered A
    entries = {(e["action"], e["object_type"], e["scope"]) for e in copy["audit_entries"]}
    assert {
        ("evidence_viewed", "record_evidence", "child"),
        ("student_bound", "student", "child"),
        ("records_exported", "participation_record", "list"),
        ("talent_tracking_viewed", "talent_tracking", "list"),
        ("competition_entry_changed", "competition_entry", "child"),
    } <= entries
    exports = [e for e in copy["audit_entries"] if e["action"] == "records_exported"]
    assert len(exports) == 2  # A's own export, and the class's; not B's own
    assert len([e for e in copy["audit_entries"] if e["action"] == "talent_tracking_viewed"]) == 1
    [changed] = [e for e in copy["audit_entries"] if e["action"] == "competition_entry_changed"]
    assert changed["actor"] is None  # another pupil is not named
    assert all("detail" not in e for e in copy["audit_entries"])
    # and the copy is audited
    session.expire_all()
    [logged] = session.exec(select(AuditLog).where(AuditLog.action == "child_data_copied")).all()
    assert (logged.object_type, logged.object_id) == ("student", str(a.student.id))
    assert logged.actor == a.guardian.subject
    assert json.loads(logged.detail)["counts"]["records"] == 1


def test_a_guardian_of_another_family_gets_not_found(
    client: TestClient, settings: Settings, one_class: Class, side_b: Side
) -> None:
    a, b = one_class.a, one_class.b
    other_school = side_b.principal(Role.guardian)
    for who, child in ((other_school, a.student), (b.guardian, a.student)):
        response = _copy(client, settings, who, student_id=child.id)
        assert (response.status_code, response.json()["code"]) == (404, "student_not_found")
        queued = client.post(
            f"{API}/me/data-copy/evidence",
            headers=auth(settings, who),
            params={"student_id": child.id},
        )
        assert queued.status_code == 404


def test_a_pupil_of_14_gets_their_own_and_a_younger_one_asks_the_guardian(
    client: TestClient, settings: Settings, session: Session, side_a: Side, one_class: Class
) -> None:
    older, principal = bound_student(
        session, school_id=side_a.school.id or 0, birth_month=date(2011, 9, 1), grade=9
    )
    create_record(session, student=older, title="初三的写实记录")
    response = _copy(client, settings, principal)
    assert response.status_code == 200, response.text
    copy = response.json()
    assert copy["student"]["id"] == older.id
    assert [r["title"] for r in copy["records"]] == ["初三的写实记录"]
    assert set(_values(copy, "student_id")) <= {older.id}
    # naming another pupil is not found; a pupil under 14 asks through the guardian
    other = _copy(client, settings, principal, student_id=one_class.a.student.id)
    assert other.status_code == 404
    young = _copy(client, settings, side_a.principal(Role.student))
    assert (young.status_code, young.json()["code"]) == (403, "data_copy_through_guardian")


def test_the_evidence_zip_holds_the_childs_files_only(
    app: FastAPI,
    client: TestClient,
    quiet: Settings,
    session: Session,
    clock: FrozenClock,
    one_class: Class,
) -> None:
    a, b = one_class.a, one_class.b
    headers = auth(quiet, a.guardian)
    queued = client.post(
        f"{API}/me/data-copy/evidence", headers=headers, params={"student_id": a.student.id}
    )
    assert queued.status_code == 202, queued.text
    session.commit()
    job_worker.run_next(
        app.state.db, clock, quiet, job_kinds(), worker="w1", store=store_for(quiet)
    )
    status = client.get(f"{API}/jobs/{queued.json()['id']}", headers=headers).json()
    assert (status["status"], status["row_count"]) == ("done", 2), status
    result = client.get(status["download_url"], headers=headers)
    assert result.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(BytesIO(result.content)) as bundle:
        names = bundle.namelist()
        manifest = json.loads(bundle.read("manifest.json"))
        files = [n for n in names if n != "manifest.json"]
        assert len(files) == 1
        assert files[0].endswith("evidence-alpha.pdf")
        assert bundle.read(files[0]) == a.evidence
        assert all(bundle.read(n) != b.evidence for n in names)
    assert [f["file"] for f in manifest["files"]] == files
    assert "SECRET" not in json.dumps(manifest)
    # another family's guardian cannot read the job
    other = client.get(f"{API}/jobs/{queued.json()['id']}", headers=auth(quiet, b.guardian))
    assert other.status_code == 404
    session.expire_all()
    [logged] = session.exec(
        select(AuditLog)
        .where(AuditLog.action == "child_evidence_copied")
        .order_by(col(AuditLog.id))
    ).all()
    assert logged.object_id == str(a.student.id)
    assert (json.loads(logged.detail)["files"], json.loads(logged.detail)["outcome"]) == (2, "done")


def test_an_objecting_classmate_is_not_named_in_the_records_history(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    notice = RecordNotice(
        school_id=side_a.school.id or 0,
        title="公示",
        working_days=5,
        starts_at=NOW - timedelta(days=1),
        ends_at=NOW + timedelta(days=5),
        record_count=1,
        opened_by="account:900001",
    )
    session.add(notice)
    session.flush()
    record = create_record(
        session, student=side_a.student, status="publicised", notice_id=notice.id
    )
    _mate, classmate = bound_student(session, school_id=side_a.school.id or 0)
    record_notices.object_to(
        session, actor=classmate, record_id=record.id or 0, reason="不属实", now=NOW
    )
    session.commit()
    response = _copy(
        client, settings, side_a.principal(Role.guardian), student_id=side_a.student.id
    )
    assert response.status_code == 200, response.text
    [copied] = [r for r in response.json()["records"] if r["id"] == record.id]
    assert "objection" in {e["action"] for e in copied["events"]}
    assert classmate.subject not in response.text


def test_the_school_does_not_see_a_familys_copy_job_and_an_unbound_token_gets_nothing(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    session.commit()
    queued = client.post(
        f"{API}/me/data-copy/evidence",
        headers=auth(settings, side_a.principal(Role.guardian)),
        params={"student_id": side_a.student.id},
    )
    assert queued.status_code == 202, queued.text
    admin = auth(settings, side_a.principal(Role.school_admin))
    assert client.get(f"{API}/jobs/{queued.json()['id']}", headers=admin).status_code == 404
    older, principal = bound_student(
        session, school_id=side_a.school.id or 0, birth_month=date(2011, 9, 1), grade=9
    )
    older.wechat_user_id = None  # the school unbound the account since the token was issued
    session.add(older)
    session.commit()
    assert _copy(client, settings, principal).status_code == 404
