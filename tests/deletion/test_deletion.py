"""Deletion requests (issue 20, point 3): a guardian (or a pupil of 14 and over) asks, the
school sees it, the ``carry-out-deletions`` job deletes what it must and keeps archived
records, logs what kind and how many, and a second run changes nothing; WeChat users who never
bound are deleted after their period."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scipass.account.models import RefreshToken, WeChatUser
from scipass.audit.models import AuditLog
from scipass.consent import service as consent_service
from scipass.consent.models import ConsentRecord, Purpose
from scipass.core.auth import Role
from scipass.core.config import Settings
from scipass.deletion.jobs import carry_out_deletions, delete_unbound_wechat_users
from scipass.deletion.models import DeletionRequest
from scipass.record import notices as record_notices
from scipass.record import storage
from scipass.record import withdrawal as record_withdrawal
from scipass.record.models import ParticipationRecord
from scipass.roster.models import GuardianLink, Student
from tests.consent.test_retention import _attach, _event, _evidence, _located, _notice, _scan_event
from tests.factories import (
    NOW,
    Side,
    auth,
    bound_student,
    create_record,
    create_student,
    create_wechat_user,
    grant_consent,
    link_guardian,
)

URL = "/api/v1/me/deletion-request"


def _log(session: Session, action: str) -> list[dict[str, Any]]:
    session.expire_all()
    rows = session.exec(
        select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
    ).all()
    return [{"object_id": r.object_id, **json.loads(r.detail)} for r in rows]


def _ask(client: TestClient, settings: Settings, side: Side, student_id: int | None = None) -> Any:
    return client.post(
        URL,
        params={"student_id": student_id or side.student.id},
        headers=auth(settings, side.principal(Role.guardian)),
    )


def test_a_guardian_asks_is_answered_and_the_school_sees_it(
    client: TestClient, session: Session, settings: Settings, side_a: Side, side_b: Side
) -> None:
    response = _ask(client, settings, side_a)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["student_id"] == side_a.student.id
    assert body["status"] == "pending"
    assert body["requested_by_role"] == "guardian"
    assert body["due_at"].startswith((NOW + timedelta(days=15)).date().isoformat())
    assert any("已归档" in line for line in body["will_keep"])
    assert any("微信绑定" in line for line in body["will_delete"])
    [asked] = _log(session, "deletion_requested")
    assert asked["object_id"] == str(side_a.student.id)

    # asking again answers the open request and records nothing new
    again = _ask(client, settings, side_a)
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert len(_log(session, "deletion_requested")) == 1
    read = client.get(
        URL,
        params={"student_id": side_a.student.id},
        headers=auth(settings, side_a.principal(Role.guardian)),
    )
    assert read.status_code == 200
    assert read.json()["id"] == body["id"]

    # the school sees its pupil's request; the other school does not
    mine = client.get(
        "/api/v1/deletion-requests", headers=auth(settings, side_a.principal(Role.school_staff))
    ).json()
    assert [(r["id"], r["student_no"]) for r in mine["items"]] == [
        (body["id"], side_a.student.student_no)
    ]
    theirs = client.get(
        "/api/v1/deletion-requests", headers=auth(settings, side_b.principal(Role.school_admin))
    ).json()
    assert theirs["items"] == []
    done = client.get(
        "/api/v1/deletion-requests",
        params={"status": "carried_out"},
        headers=auth(settings, side_a.principal(Role.school_staff)),
    ).json()
    assert done["items"] == []


def test_who_may_ask(
    client: TestClient, session: Session, settings: Settings, side_a: Side, side_b: Side
) -> None:
    # a guardian of another family: 404, and nothing is recorded
    other = _ask(client, settings, side_b, student_id=side_a.student.id or 0)
    assert other.status_code == 404
    assert other.json()["code"] == "student_not_found"
    assert other.headers["content-type"].startswith("application/problem+json")
    # a pupil under 14 asks through the guardian
    under = client.post(URL, headers=auth(settings, side_a.principal(Role.student)))
    assert under.status_code == 403
    assert under.json()["code"] == "deletion_through_guardian"
    assert session.exec(select(DeletionRequest)).all() == []
    # a pupil of 14 and over asks for themselves
    _, older = bound_student(session, school_id=side_a.school.id or 0, birth_month=date(2010, 1, 1))
    own = client.post(URL, headers=auth(settings, older))
    assert own.status_code == 201, own.text
    assert own.json()["requested_by_role"] == "student"
    # nobody has asked for this one
    missing = client.get(
        URL,
        params={"student_id": side_b.student.id},
        headers=auth(settings, side_b.principal(Role.guardian)),
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "deletion_request_not_found"


def test_the_job_deletes_what_it_must_keeps_archived_records_and_runs_once(
    client: TestClient, session: Session, settings: Settings, side_a: Side
) -> None:
    pupil, notice = side_a.student, _notice(session, side_a)
    grant_consent(session, student=pupil, link=side_a.guardian_link, purposes=["photos"])
    archived = create_record(
        session, student=pupil, status="publicised", notice_id=notice.id, reflection="我的心得"
    )
    archived_photo = _attach(session, settings, archived, b"archived photo")
    assert record_notices.archive_due(session, now=NOW) == 1
    open_record = create_record(session, student=pupil, reflection="很有意思")
    open_photo = _attach(session, settings, open_record, b"open photo")
    reviewed = create_record(session, student=pupil, status="reviewed", reflection="学到了")
    scans = [_scan_event(session, pupil, NOW - timedelta(days=d)) for d in (1, 2)]
    pupil_user, guardian = side_a.student_user.id, side_a.guardian.id
    for who in (pupil_user, guardian):  # the pupil's login and the guardian's
        session.add(
            AuditLog(at=NOW, action="wechat_login", actor=f"wechat:{who}", client_ip="203.0.113.7")
        )
    session.add(
        RefreshToken(
            token_hash="h" * 64,
            family="f1",
            subject=f"wechat:{pupil_user}",
            issued_at=NOW,
            expires_at=NOW + timedelta(days=30),
        )
    )
    classmate = create_student(session, school_id=side_a.school.id or 0)
    their_record = create_record(session, student=classmate, reflection="同学的心得")
    their_scan = _scan_event(session, classmate, NOW)
    session.flush()
    assert _ask(client, settings, side_a).status_code == 201

    assert carry_out_deletions(session, NOW, settings) > 0
    session.expire_all()
    student = session.get(Student, pupil.id)
    assert student is not None
    assert student.wechat_user_id is None
    assert student.bound_at is None
    assert session.get(WeChatUser, pupil_user) is None
    assert session.get(WeChatUser, guardian) is None  # linked no other child
    assert session.exec(select(GuardianLink).where(GuardianLink.student_id == pupil.id)).all() == []
    assert session.exec(select(RefreshToken)).all() == []
    consents = session.exec(
        select(ConsentRecord)
        .where(ConsentRecord.student_id == pupil.id)
        .order_by(col(ConsentRecord.id))
    ).all()
    assert consents
    assert all(c.guardian_link_id is None for c in consents)  # the proof stays, unlinked
    assert [c.decision for c in consents] == ["grant", "withdraw"]  # and no longer counts
    assert not consent_service.in_force(
        session, student_id=pupil.id or 0, purpose=Purpose.photos, today=NOW.date()
    )
    for record in (open_record, reviewed):
        found = session.get(ParticipationRecord, record.id)
        assert found is not None
        assert (found.status, found.reflection) == ("withdrawn", "")
    kept = session.get(ParticipationRecord, archived.id)
    assert kept is not None
    assert (kept.status, kept.reflection) == ("archived", "我的心得")
    assert _evidence(session, archived_photo).quarantined_at is None
    assert _evidence(session, open_photo).quarantine_reason == "consent_withdrawn"
    assert not any(_located(_event(session, e)) for e in scans)
    assert _located(_event(session, their_scan))
    theirs = session.get(ParticipationRecord, their_record.id)
    assert theirs is not None
    assert theirs.reflection == "同学的心得"
    addresses = session.exec(select(AuditLog.client_ip).where(AuditLog.action == "wechat_login"))
    assert list(addresses) == [None, None]
    request = session.exec(select(DeletionRequest)).one()
    assert (request.status, request.carried_out_at) == ("carried_out", NOW)

    log = {entry["kind"]: entry for entry in _log(session, "data_deleted")}
    assert {kind: entry["count"] for kind, entry in log.items()} == {
        "open_record": 2,
        "reflection": 2,
        "evidence_file": 1,
        "scan_location": 2,
        "client_address": 2,  # the pupil's login and the guardian's
        "wechat_binding": 1,
        "guardian_link": 1,
        "wechat_user": 2,
        "consent": 1,
    }
    assert {entry["reason"] for entry in log.values()} == {f"deletion_request:{request.id}"}
    assert "很有意思" not in json.dumps(list(log.values()), ensure_ascii=False)

    # a second run changes nothing and logs nothing
    assert carry_out_deletions(session, NOW + timedelta(minutes=5), settings) == 0
    assert len(_log(session, "data_deleted")) == len(log)

    # the school sees it carried out
    done = client.get(
        "/api/v1/deletion-requests",
        params={"status": "carried_out"},
        headers=auth(settings, side_a.principal(Role.school_staff)),
    ).json()
    assert [r["id"] for r in done["items"]] == [request.id]


def test_a_guardian_of_another_child_keeps_the_account(
    client: TestClient, session: Session, settings: Settings, side_a: Side
) -> None:
    sibling = create_student(session, school_id=side_a.school.id or 0)
    link_guardian(session, guardian=side_a.guardian, student=sibling)
    assert _ask(client, settings, side_a).status_code == 201
    carry_out_deletions(session, NOW, settings)
    session.expire_all()
    assert session.get(WeChatUser, side_a.guardian.id) is not None
    links = session.exec(select(GuardianLink.student_id)).all()
    assert side_a.student.id not in links
    assert sibling.id in links


def test_unbound_wechat_users_are_deleted_after_their_period(
    session: Session, settings: Settings, side_a: Side
) -> None:
    old = NOW - timedelta(days=settings.unbound_wechat_retention_days + 1)
    stale = side_a.unbound_user
    recent = create_wechat_user(session)
    lapsed_guardian = create_wechat_user(session)  # a link revoked by the school still counts
    link = link_guardian(session, guardian=lapsed_guardian, student=side_a.student)
    link.revoked_at = NOW
    for user in (stale, side_a.student_user, side_a.guardian, lapsed_guardian):
        user.last_login_at = old
        session.add(user)
    session.flush()

    stale_id = stale.id
    kept_ids = [u.id for u in (recent, side_a.student_user, side_a.guardian, lapsed_guardian)]
    assert delete_unbound_wechat_users(session, NOW, settings) == 1
    session.expire_all()
    assert session.get(WeChatUser, stale_id) is None
    for kept_id in kept_ids:
        assert session.get(WeChatUser, kept_id) is not None
    [entry] = _log(session, "data_deleted")
    assert entry == {
        "object_id": None,
        "kind": "wechat_user",
        "count": 1,
        "reason": "unbound_wechat_user",
    }
    assert delete_unbound_wechat_users(session, NOW, settings) == 0


def test_a_deletion_also_deletes_the_quarantine_copy_a_withdrawal_keeps(
    client: TestClient, session: Session, settings: Settings, side_a: Side
) -> None:
    """A file quarantined as unsafe keeps its copy for the administrator when photos are
    withdrawn; a deletion request deletes that copy too, unless another pupil's row keeps it."""
    pupil = side_a.student
    unsafe = _attach(session, settings, create_record(session, student=pupil), b"unsafe pdf")
    shared = _attach(session, settings, create_record(session, student=pupil), b"shared pdf")
    classmate = create_student(session, school_id=side_a.school.id or 0)
    theirs = _attach(session, settings, create_record(session, student=classmate), b"shared pdf")
    for row in (unsafe, shared, theirs):
        storage.quarantine(settings, row.sha256)
        row.quarantined_at, row.quarantine_reason = NOW, "active_content"
        session.add(row)
    session.flush()
    record_withdrawal.delete_evidence_of(session, pupil.id or 0, NOW, settings)
    assert storage.quarantine_path_of(settings, unsafe.sha256).is_file()  # withdrawal keeps it

    assert _ask(client, settings, side_a).status_code == 201
    carry_out_deletions(session, NOW, settings)
    session.commit()  # the files go when the job's transaction commits
    assert not storage.quarantine_path_of(settings, unsafe.sha256).exists()
    assert storage.quarantine_path_of(settings, shared.sha256).is_file()  # the classmate's
    assert _evidence(session, unsafe).quarantine_reason == "active_content"  # the row stays
