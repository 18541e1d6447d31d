"""Family mode, the attestation and marking part (issue 15).

A school admin switches teacher attestation (教师代为确认) on for their school; a teacher then
confirms for a pupil with no phone and no bound guardian, with a reason, and the record goes
through review, the public notice (公示) and the archive like any other. The attester is neither
the organiser's confirmer nor the reviewer. Whoever gave the pupil's side for the pupil is
marked (家长代为确认, 家长代填, 教师代为确认) on the record, in the notice list and in every
export format (CSV, XLSX, the PDF file)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.consent.service import NOTICE_VERSION
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.record import chain
from scipass.record import notices as record_notices
from scipass.record.exports import HEADER
from scipass.record.models import ParticipationRecord, RecordEvent
from scipass.roster.models import Student
from tests.factories import (
    NOW,
    Side,
    auth,
    consent_on_paper,
    create_record,
    create_student,
    create_wechat_user,
    grant_consent,
    link_guardian,
)

API = "/api/v1"
BOM = b"\xef\xbb\xbf"
# A notice opened at NOW (Wednesday 14 October 2026) closes after five working days.
WINDOW_END = datetime(2026, 10, 21, 16, 0, tzinfo=UTC)
REASON = "学生和家长均无智能手机，经班主任核实确已参加"
TEACHER_MARK = "教师代为确认"
GUARDIAN_MARKS = "家长代为确认；家长代填"
MARKS_COLUMN = HEADER.index("代填标注")


@dataclass
class Api:
    """The test client with a token minted at the frozen clock's current time."""

    client: TestClient
    settings: Settings
    clock: FrozenClock

    def call(self, method: str, url: str, principal: Principal, **kwargs: Any) -> Any:
        headers = {**auth(self.settings, principal, now=self.clock.now())}
        headers.update(kwargs.pop("headers", {}))
        return self.client.request(method, f"{API}{url}", headers=headers, **kwargs)

    def get(self, url: str, principal: Principal, **kwargs: Any) -> Any:
        return self.call("GET", url, principal, **kwargs)

    def post(self, url: str, principal: Principal, **kwargs: Any) -> Any:
        return self.call("POST", url, principal, **kwargs)

    def patch(self, url: str, principal: Principal, **kwargs: Any) -> Any:
        return self.call("PATCH", url, principal, **kwargs)


@pytest.fixture
def api(client: TestClient, settings: Settings, clock: FrozenClock) -> Api:
    return Api(client, settings, clock)


def _teacher(side: Side, account_id: int, role: Role = Role.school_staff) -> Principal:
    """A member of the side's school staff with an account of their own (the factories'
    school staff and school admin share one subject)."""
    return Principal(subject=f"account:{account_id}", role=role, school_id=side.school.id)


def _admin(side: Side) -> Principal:
    return side.principal(Role.school_admin)  # account:900001


def _no_phone_pupil(session: Session, side: Side, **overrides: Any) -> Student:
    """A pupil with no WeChat binding and no guardian link."""
    return create_student(session, school_id=side.school.id or 0, name="李小花", **overrides)


def _switch(api: Api, side: Side, on: bool) -> Any:
    return api.patch(
        f"/schools/{side.school.id}/settings", _admin(side), json={"teacher_attestation": on}
    )


def _attest(api: Api, teacher: Principal, record_id: int | None, reason: str = REASON) -> Any:
    return api.post(f"/records/{record_id}/teacher-attestation", teacher, json={"reason": reason})


def _confirm_as_organiser(api: Api, teacher: Principal, record_id: int | None) -> Any:
    return api.post(
        f"/records/{record_id}/organiser-decision", teacher, json={"decision": "confirm"}
    )


def _review(api: Api, teacher: Principal, record_id: int | None, **body: Any) -> Any:
    return api.post(f"/records/{record_id}/review", teacher, json={"decision": "approve", **body})


def _fresh(session: Session, record: ParticipationRecord) -> ParticipationRecord:
    session.expire_all()
    found = session.get(ParticipationRecord, record.id)
    assert found is not None
    return found


def _events(session: Session, record: ParticipationRecord) -> list[RecordEvent]:
    return list(
        session.exec(
            select(RecordEvent)
            .where(RecordEvent.record_id == record.id)
            .order_by(col(RecordEvent.id))
        ).all()
    )


def _audits(session: Session, action: str) -> list[AuditLog]:
    return list(
        session.exec(
            select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
        ).all()
    )


def _code(response: Any) -> str:
    return str(response.json()["code"])


# --- the school's switch ------------------------------------------------------------------------


def test_a_school_admin_switches_teacher_attestation_for_their_own_school(
    api: Api, session: Session, side_a: Side, side_b: Side
) -> None:
    url = f"/schools/{side_a.school.id}/settings"
    staff = side_a.principal(Role.school_staff)
    assert api.get(url, staff).json() == {
        "school_id": side_a.school.id,
        "teacher_attestation": False,  # off by default
        "whitelisted_competitions_only": False,  # off by default
    }
    refused = api.patch(url, staff, json={"teacher_attestation": True})
    assert (refused.status_code, _code(refused)) == (403, "role_forbidden")
    foreign = api.patch(url, _admin(side_b), json={"teacher_attestation": True})
    assert (foreign.status_code, _code(foreign)) == (404, "organisation_not_found")
    assert api.get(url, side_b.principal(Role.school_staff)).status_code == 404

    switched = _switch(api, side_a, True)
    assert switched.status_code == 200, switched.text
    assert switched.json()["teacher_attestation"] is True
    assert api.get(url, staff).json()["teacher_attestation"] is True
    # a request that changes nothing writes no audit entry
    assert api.patch(url, _admin(side_a), json={}).json()["teacher_attestation"] is True
    assert _switch(api, side_a, True).status_code == 200
    assert _switch(api, side_a, False).json()["teacher_attestation"] is False

    entries = _audits(session, "school_settings_changed")
    assert [json.loads(e.detail)["changes"] for e in entries] == [
        {"teacher_attestation": {"from": False, "to": True}},
        {"teacher_attestation": {"from": True, "to": False}},
    ]
    assert {(e.actor, e.school_id, e.object_id) for e in entries} == {
        ("account:900001", side_a.school.id, str(side_a.school.id))
    }
    session.expire_all()
    assert side_b.school.teacher_attestation is False


# --- attestation through to the archive -------------------------------------------------------


def test_a_teachers_attestation_carries_a_no_phone_pupils_record_to_the_archive(
    api: Api, session: Session, side_a: Side
) -> None:
    assert _switch(api, side_a, True).status_code == 200
    pupil = _no_phone_pupil(session, side_a)
    consent_on_paper(session, student=pupil)  # the school's export goes to the 综评 platform
    record = create_record(session, student=pupil, title="走进湘乡科技馆")
    organiser, attester = _teacher(side_a, 910001), _teacher(side_a, 910002)
    assert _confirm_as_organiser(api, organiser, record.id).status_code == 200

    attested = _attest(api, attester, record.id)
    assert attested.status_code == 200, attested.text
    body = attested.json()
    assert body["status"] == "confirmed"
    assert body["student_confirmed_as"] == "teacher"
    assert body["marks"] == TEACHER_MARK
    assert (body["reflection"], body["reflection_by"]) == ("", None)  # the teacher writes none
    assert datetime.fromisoformat(body["student_confirmed_at"]) == NOW
    fresh = _fresh(session, record)
    assert (fresh.student_confirmed_as, fresh.student_confirmed_by) == ("teacher", "account:910002")

    history = api.get(f"/records/{record.id}/history", organiser).json()["items"]
    assert history[-1] == {
        "at": history[-1]["at"],
        "action": "teacher_attested",
        "actor_role": "school_staff",
        "from_status": "confirmed",
        "to_status": "confirmed",
        "note": REASON,
    }
    (audit,) = _audits(session, "record_attested")
    assert (audit.actor, audit.object_id, audit.school_id) == (
        "account:910002",
        str(record.id),
        side_a.school.id,
    )
    assert json.loads(audit.detail) == {"reason": REASON, "student_id": pupil.id}

    # the attester does not review it; another teacher (here the admin) does
    refused = _review(api, attester, record.id)
    assert (refused.status_code, _code(refused)) == (403, "attester_cannot_review")
    assert _fresh(session, record).status == "confirmed"
    reviewed = _review(api, _admin(side_a), record.id)
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["status"] == "reviewed"

    # the public notice applies unchanged, and shows the mark
    notice = api.post("/notices", _admin(side_a), json={"title": "2026 秋季学期写实记录公示"})
    assert notice.status_code == 201, notice.text
    entries = api.get(f"/notices/{notice.json()['id']}/entries", organiser).json()["items"]
    assert [(e["record_id"], e["name"], e["marks"]) for e in entries] == [
        (record.id, "李小花", TEACHER_MARK)
    ]

    session.expire_all()
    assert record_notices.archive_due(session, now=WINDOW_END) == 1
    session.flush()
    archived = _fresh(session, record)
    assert (archived.status, archived.archive_seq) == ("archived", 1)
    assert archived.student_confirmed_as == "teacher"
    assert chain.verify(session, pupil.id or 0).valid

    csv_rows = _csv(api.get("/record-exports", organiser, params={"format": "csv"}))
    assert [row[MARKS_COLUMN] for row in csv_rows] == [TEACHER_MARK]
    again = _attest(api, _teacher(side_a, 910003), record.id)
    assert (again.status_code, _code(again)) == (409, "record_state_invalid")


# --- refusals ---------------------------------------------------------------------------------


def test_a_school_with_attestation_off_refuses_it_and_other_schools_see_nothing(
    api: Api, session: Session, side_a: Side, side_b: Side
) -> None:
    pupil = _no_phone_pupil(session, side_a)
    record = create_record(session, student=pupil)
    for role in (Role.school_staff, Role.school_admin):
        refused = _attest(api, _teacher(side_a, 910001, role), record.id)
        assert (refused.status_code, _code(refused)) == (403, "attestation_disabled"), role
    assert _switch(api, side_b, True).status_code == 200
    foreign = _attest(api, side_b.principal(Role.school_staff), record.id)
    assert (foreign.status_code, _code(foreign)) == (404, "record_not_found")
    for role in (Role.student, Role.guardian, Role.venue_staff, Role.bureau):
        assert _code(_attest(api, side_a.principal(role), record.id)) == "role_forbidden"

    fresh = _fresh(session, record)
    assert (fresh.student_confirmed_at, fresh.student_confirmed_as) == (None, None)
    assert [e.action for e in _events(session, record)] == []
    assert _audits(session, "record_attested") == []


def test_attestation_is_refused_while_the_pupil_or_a_guardian_can_confirm(
    api: Api, session: Session, side_a: Side
) -> None:
    assert _switch(api, side_a, True).status_code == 200
    teacher = _teacher(side_a, 910001)
    # side A's pupil is bound and has a bound guardian
    both = create_record(session, student=side_a.student)
    bound_only = create_record(
        session,
        student=_no_phone_pupil(session, side_a, wechat_user_id=create_wechat_user(session).id),
    )
    linked_pupil = _no_phone_pupil(session, side_a)
    link = link_guardian(session, guardian=create_wechat_user(session), student=linked_pupil)
    linked_only = create_record(session, student=linked_pupil)
    for record in (both, bound_only, linked_only):
        refused = _attest(api, teacher, record.id)
        assert (refused.status_code, _code(refused)) == (409, "pupil_can_confirm")
        assert _fresh(session, record).student_confirmed_at is None

    # once the school revokes the guardian's link, nobody can confirm for the pupil
    link.revoked_at = NOW
    session.add(link)
    session.flush()
    assert _attest(api, teacher, linked_only.id).status_code == 200


def test_the_pupils_side_once_given_is_not_given_again_and_a_reason_is_required(
    api: Api, session: Session, side_a: Side
) -> None:
    assert _switch(api, side_a, True).status_code == 200
    teacher, colleague = _teacher(side_a, 910001), _teacher(side_a, 910002)
    # confirmed by a guardian whose link the school has since revoked
    earlier = create_record(
        session,
        student=_no_phone_pupil(session, side_a),
        student_confirmed_at=NOW,
        student_confirmed_as="guardian",
        student_confirmed_by="wechat:1",
    )
    refused = _attest(api, teacher, earlier.id)
    assert (refused.status_code, _code(refused)) == (409, "student_already_confirmed")

    record = create_record(session, student=_no_phone_pupil(session, side_a))
    assert _code(_attest(api, teacher, record.id, reason="   ")) == "reason_required"
    missing = api.post(f"/records/{record.id}/teacher-attestation", teacher, json={})
    assert (missing.status_code, _code(missing)) == (422, "validation_failed")
    too_long = _attest(api, teacher, record.id, reason="因" * 201)
    assert (too_long.status_code, _code(too_long)) == (422, "validation_failed")
    assert _attest(api, teacher, record.id).status_code == 200
    # a second teacher cannot take the attestation over (and so become free to review)
    over = _attest(api, colleague, record.id)
    assert (over.status_code, _code(over)) == (409, "student_already_confirmed")
    assert _fresh(session, record).student_confirmed_by == "account:910001"

    rejected = create_record(session, student=_no_phone_pupil(session, side_a), status="rejected")
    closed = _attest(api, teacher, rejected.id)
    assert (closed.status_code, _code(closed)) == (409, "record_state_invalid")


def test_the_organisers_confirmer_and_the_attester_are_two_people(
    api: Api, session: Session, side_a: Side
) -> None:
    assert _switch(api, side_a, True).status_code == 200
    first, second = _teacher(side_a, 910001), _teacher(side_a, 910002)
    pupil = _no_phone_pupil(session, side_a)

    # who confirmed a record as its organiser does not attest it
    organised = create_record(session, student=pupil)
    assert _confirm_as_organiser(api, first, organised.id).status_code == 200
    refused = _attest(api, first, organised.id)
    assert (refused.status_code, _code(refused)) == (403, "organiser_cannot_attest")
    assert _attest(api, second, organised.id).status_code == 200

    # a record a teacher entered by hand is confirmed by that teacher as organiser (the
    # pupil's guardian signed the paper consent form, which the school admin registers)
    paper = api.post(
        f"/students/{pupil.id}/consents",
        _admin(side_a),
        json={
            "purposes": ["participation_record"],
            "decision": "grant",
            "notice_version": NOTICE_VERSION,
            "guardian_name": "李妈妈",
        },
    )
    assert paper.status_code == 201, paper.text
    manual = api.post(
        "/records/manual",
        first,
        json={
            "student_ids": [pupil.id],
            "title": "机器人社团（2026 秋季学期）",
            "category": "inquiry",
            "started_at": "2026-09-07T16:00:00+08:00",
            "ended_at": "2026-09-07T17:30:00+08:00",
            "minutes": 90,
        },
        headers={"Idempotency-Key": "manual-0001"},
    )
    assert manual.status_code == 201, manual.text
    entered = manual.json()[0]["id"]
    assert _code(_attest(api, first, entered)) == "organiser_cannot_attest"

    # who attested a pending record does not confirm it as organiser, alone or in bulk
    pending = create_record(session, student=pupil)
    assert _attest(api, second, pending.id).status_code == 200
    refused = _confirm_as_organiser(api, second, pending.id)
    assert (refused.status_code, _code(refused)) == (403, "attester_cannot_confirm")
    bulk = api.post(
        "/records/organiser-decisions",
        second,
        json={"decision": "confirm", "record_ids": [pending.id]},
    ).json()
    assert (bulk["succeeded"], bulk["items"][0]["code"]) == (0, "attester_cannot_confirm")
    assert _fresh(session, pending).status == "pending"
    assert _confirm_as_organiser(api, first, pending.id).status_code == 200


def test_the_attester_may_not_review_even_in_bulk_and_another_teacher_may(
    api: Api, session: Session, side_a: Side
) -> None:
    assert _switch(api, side_a, True).status_code == 200
    attester, reviewer = _teacher(side_a, 910001), _teacher(side_a, 910002, Role.school_admin)
    pupil = _no_phone_pupil(session, side_a)
    records = [
        create_record(session, student=pupil, status="confirmed", confirmed_at=NOW)
        for _ in range(2)
    ]
    for record in records:
        assert _attest(api, attester, record.id).status_code == 200
    ids = [r.id for r in records]

    rejecting = _review(api, attester, ids[0], decision="reject", reason="时长有误")
    assert (rejecting.status_code, _code(rejecting)) == (403, "attester_cannot_review")
    bulk = api.post("/records/reviews", attester, json={"decision": "approve", "record_ids": ids})
    assert bulk.status_code == 200, bulk.text
    assert bulk.json()["succeeded"] == 0
    assert [(i["record_id"], i["code"]) for i in bulk.json()["items"]] == [
        (ids[0], "attester_cannot_review"),
        (ids[1], "attester_cannot_review"),
    ]
    assert {_fresh(session, r).status for r in records} == {"confirmed"}

    other = api.post("/records/reviews", reviewer, json={"decision": "approve", "record_ids": ids})
    assert other.json()["succeeded"] == 2
    assert {_fresh(session, r).reviewed_by for r in records} == {"account:910002"}


# --- a guardian's reflection, marked wherever the record is shown ------------------------------


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.content.startswith(BOM)
    rows = list(csv.reader(io.StringIO(response.content[len(BOM) :].decode("utf-8"))))
    assert rows[0] == list(HEADER)
    return rows[1:]


def _pdf_text(response: Any) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return "".join("".join(page.extract_text().split()) for page in reader.pages)


def test_a_guardians_reflection_is_marked_on_the_record_the_notice_and_every_export(
    api: Api, session: Session, side_a: Side
) -> None:
    child = side_a.student  # under 14, linked to side A's guardian
    grant_consent(
        session,
        student=child,
        link=side_a.guardian_link,
        purposes=["participation_record", "record_export"],
    )
    record = create_record(session, student=child, title="星空观测夜", status="confirmed")
    own = create_record(session, student=child, title="校园科技节", status="confirmed")
    guardian = side_a.principal(Role.guardian)

    confirmed = api.post(
        f"/records/{record.id}/student-confirmation",
        guardian,
        params={"student_id": child.id},
        json={"reflection": "孩子第一次用望远镜看到了土星环。"},
    )
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert (body["student_confirmed_as"], body["reflection_by"]) == ("guardian", "guardian")
    assert body["marks"] == GUARDIAN_MARKS
    mine = api.post(
        f"/records/{own.id}/student-confirmation",
        side_a.principal(Role.student),
        json={"reflection": "我做了水火箭。"},
    )
    assert mine.json()["marks"] == ""

    # the record, as the school and the family read it
    staff = side_a.principal(Role.school_staff)
    assert api.get(f"/records/{record.id}", staff).json()["marks"] == GUARDIAN_MARKS
    listed = api.get("/records", guardian, params={"student_id": child.id}).json()["items"]
    assert {item["title"]: item["marks"] for item in listed} == {
        "星空观测夜": GUARDIAN_MARKS,
        "校园科技节": "",
    }

    # the notice list
    for item in (record, own):
        assert _review(api, _admin(side_a), item.id).status_code == 200
    notice = api.post("/notices", _admin(side_a), json={"title": "2026 秋季学期写实记录公示"})
    assert notice.status_code == 201, notice.text
    for reader in (guardian, staff):
        entries = api.get(f"/notices/{notice.json()['id']}/entries", reader).json()["items"]
        assert {e["activity"]: e["marks"] for e in entries} == {
            "星空观测夜": GUARDIAN_MARKS,
            "校园科技节": "",
        }

    # CSV and XLSX, one column for the marks
    rows = _csv(api.get("/record-exports", staff, params={"format": "csv"}))
    assert {row[4]: row[MARKS_COLUMN] for row in rows} == {
        "星空观测夜": GUARDIAN_MARKS,
        "校园科技节": "",
    }
    xlsx = api.get("/record-exports", staff, params={"format": "xlsx"})
    assert xlsx.status_code == 200, xlsx.text
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True)["写实记录"]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == list(HEADER)
    assert {row[4]: row[MARKS_COLUMN] for row in values[1:]} == {
        "星空观测夜": GUARDIAN_MARKS,
        "校园科技节": None,  # openpyxl reads an empty cell back as None
    }

    # the PDF file, for the school and for the guardian acting for the child
    for response in (
        api.get(f"/students/{child.id}/record-file", staff),
        api.get("/me/record-file", guardian, params={"student_id": child.id}),
    ):
        text = _pdf_text(response)
        assert "代填标注" in text
        assert "家长代填" in text
        assert text.count("家长代为确认") == 1
