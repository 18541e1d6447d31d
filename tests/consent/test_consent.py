"""Guardian consent for students under 14: the rule, the gate, grant, refuse and withdraw."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.audit.models import AuditLog
from scipass.consent import service as consent_service
from scipass.consent.models import ConsentRecord, Purpose
from scipass.core.auth import Role
from scipass.core.callers import StudentCaller
from scipass.core.clock import ClockDep, local_date
from scipass.core.config import Settings
from scipass.core.db import SessionDep
from scipass.roster.models import Student
from tests.conftest import FROZEN_AT
from tests.factories import Side, auth

VERSION = consent_service.NOTICE_VERSION


@pytest.mark.parametrize(
    ("born", "today", "under"),
    [
        (date(2012, 5, 1), date(2026, 5, 31), True),  # may turn 14 on 31 May: still asked
        (date(2012, 5, 1), date(2026, 6, 1), False),
        (date(2012, 12, 1), date(2026, 12, 31), True),
        (date(2012, 12, 1), date(2027, 1, 1), False),
        (date(2016, 3, 1), date(2026, 10, 14), True),
        (date(2010, 3, 1), date(2026, 10, 14), False),
    ],
)
def test_under_14_errs_on_the_side_of_asking(born: date, today: date, under: bool) -> None:
    assert consent_service.is_under_14(born, today) is under


@pytest.fixture
def gated_app(app: FastAPI) -> FastAPI:
    """A route that processes a student's data for participation records, as later issues do."""

    @app.post("/api/v1/test-participation", name="test-participation")
    def participate(caller: StudentCaller, session: SessionDep, clock: ClockDep) -> dict[str, bool]:
        student = session.get(Student, caller.student_id)
        assert student is not None
        consent_service.require_consent(
            session,
            student=student,
            purpose=Purpose.participation_record,
            today=local_date(clock.now()),
        )
        return {"ok": True}

    return app


def _decide(client: TestClient, settings: Settings, side: Side, decision: str, purposes=None):
    return client.post(
        f"/api/v1/me/children/{side.student.id}/consents",
        json={
            "purposes": purposes or ["participation_record", "location"],
            "decision": decision,
            "notice_version": VERSION,
        },
        headers=auth(settings, side.principal(Role.guardian)),
    )


def test_gate_follows_the_guardians_decisions(
    gated_app: FastAPI, client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    student = auth(settings, side_a.principal(Role.student))

    refused = client.post("/api/v1/test-participation", headers=student)
    assert refused.status_code == 403
    assert refused.json()["code"] == "consent_required"
    assert refused.json()["purpose"] == "participation_record"

    granted = _decide(client, settings, side_a, "grant")
    assert granted.status_code == 201
    states = {p["purpose"]: p for p in granted.json()["purposes"]}
    assert states["participation_record"]["effective"] is True
    assert states["photos"]["effective"] is False
    assert client.post("/api/v1/test-participation", headers=student).status_code == 200

    withdrawn = _decide(client, settings, side_a, "withdraw", ["participation_record"])
    assert withdrawn.status_code == 201
    assert client.post("/api/v1/test-participation", headers=student).status_code == 403

    # append-only history, each entry with channel, notice version and time
    history = client.get(
        f"/api/v1/students/{side_a.student.id}/consent-history",
        headers=auth(settings, side_a.principal(Role.school_staff)),
    ).json()["items"]
    assert [(h["purpose"], h["decision"]) for h in history] == [
        ("participation_record", "withdraw"),
        ("location", "grant"),
        ("participation_record", "grant"),
    ]
    assert all(h["channel"] == "mini_program" and h["notice_version"] == VERSION for h in history)
    actions = [a.action for a in session.exec(select(AuditLog)).all()]
    assert actions.count("consent_granted") == 1
    assert actions.count("consent_withdrawn") == 1


def test_students_of_14_and_over_need_no_consent(
    gated_app: FastAPI, client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    side_a.student.birth_month = date(2010, 3, 1)
    session.add(side_a.student)
    session.flush()
    response = client.post(
        "/api/v1/test-participation", headers=auth(settings, side_a.principal(Role.student))
    )
    assert response.status_code == 200
    status = client.get(
        "/api/v1/me/consents", headers=auth(settings, side_a.principal(Role.student))
    )
    assert status.json()["under_14"] is False
    states = {p["purpose"]: p for p in status.json()["purposes"]}
    # every purpose but volunteering, which is asked up to 18
    assert all(p["effective"] and not p["asked"] for k, p in states.items() if k != "volunteering")
    assert states["volunteering"]["asked"] is True
    assert states["volunteering"]["effective"] is False


@pytest.mark.parametrize(
    ("born", "asked"),
    [
        (date(2016, 3, 1), True),  # 10
        (date(2010, 3, 1), True),  # 16
        (date(2008, 10, 1), True),  # turns 18 in October 2026: still asked that month
        (date(2008, 9, 1), False),  # 18
    ],
)
def test_volunteering_is_asked_up_to_18(born: date, asked: bool) -> None:
    today = date(2026, 10, 14)
    assert consent_service.needs_consent(born, Purpose.volunteering, today) is asked
    assert consent_service.needs_consent(born, Purpose.photos, today) is (born.year >= 2013)


def test_a_pupil_of_16_gets_volunteering_consent_from_the_guardian_or_on_paper(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    side_a.student.birth_month = date(2010, 3, 1)
    session.add(side_a.student)
    session.flush()
    today = date(2026, 10, 14)

    def volunteering() -> bool:
        return consent_service.has_consent(
            session, student=side_a.student, purpose=Purpose.volunteering, today=today
        )

    assert not volunteering()
    assert _decide(client, settings, side_a, "grant", ["volunteering"]).status_code == 201
    assert volunteering()
    assert _decide(client, settings, side_a, "withdraw", ["volunteering"]).status_code == 201
    assert not volunteering()
    paper = client.post(
        f"/api/v1/students/{side_a.student.id}/consents",
        json={
            "purposes": ["volunteering"],
            "decision": "grant",
            "notice_version": VERSION,
            "guardian_name": "王爸爸",
        },
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert paper.status_code == 201
    assert {p["purpose"]: p["effective"] for p in paper.json()["purposes"]}["volunteering"]
    assert volunteering()


def test_grants_under_the_earlier_notice_still_count_except_for_volunteering(
    session: Session, side_a: Side
) -> None:
    """The 2026-12 notice added volunteering and changed no other purpose's wording."""
    for purpose in (Purpose.participation_record, Purpose.volunteering):
        session.add(
            ConsentRecord(
                student_id=side_a.student.id or 0,
                purpose=purpose.value,
                decision="grant",
                notice_version="2026-09",
                channel="paper",
                guardian_name="王妈妈",
                recorded_by="account:1",
                recorded_at=FROZEN_AT,
            )
        )
    session.flush()
    today = date(2026, 10, 14)
    student = side_a.student
    assert consent_service.has_consent(
        session, student=student, purpose=Purpose.participation_record, today=today
    )
    assert not consent_service.has_consent(
        session, student=student, purpose=Purpose.volunteering, today=today
    )


def test_refusal_is_recorded_and_keeps_the_gate_shut(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    assert _decide(client, settings, side_a, "refuse", ["location"]).status_code == 201
    state = consent_service.decisions(session, side_a.student.id or 0)
    assert state[Purpose.location].decision == "refuse"
    assert not consent_service.has_consent(
        session, student=side_a.student, purpose=Purpose.location, today=date(2026, 10, 14)
    )


def test_outdated_notice_is_refused(client: TestClient, settings: Settings, side_a: Side) -> None:
    response = client.post(
        f"/api/v1/me/children/{side_a.student.id}/consents",
        json={"purposes": ["photos"], "decision": "grant", "notice_version": "2020-01"},
        headers=auth(settings, side_a.principal(Role.guardian)),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "notice_outdated"
    assert response.json()["current_version"] == VERSION


def test_guardian_of_another_child_cannot_decide(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, session: Session
) -> None:
    response = client.post(
        f"/api/v1/me/children/{side_a.student.id}/consents",
        json={"purposes": ["photos"], "decision": "grant", "notice_version": VERSION},
        headers=auth(settings, side_b.principal(Role.guardian)),
    )
    assert response.status_code == 404
    assert session.exec(select(ConsentRecord)).all() == []


def test_school_records_a_paper_form(client: TestClient, settings: Settings, side_a: Side) -> None:
    response = client.post(
        f"/api/v1/students/{side_a.student.id}/consents",
        json={
            "purposes": ["participation_record", "record_export"],
            "decision": "grant",
            "notice_version": VERSION,
            "guardian_name": "王妈妈",
        },
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert response.status_code == 201
    history = client.get(
        f"/api/v1/students/{side_a.student.id}/consent-history",
        headers=auth(settings, side_a.principal(Role.school_admin)),
    ).json()["items"]
    assert {h["channel"] for h in history} == {"paper"}
    assert {h["guardian_name"] for h in history} == {"王妈妈"}


def test_notice_is_public(client: TestClient) -> None:
    body = client.get("/api/v1/consent-notice").json()
    assert body["version"] == VERSION
    assert "撤回" in body["text"]
    assert set(body["purposes"]) == {p.value for p in Purpose}


def test_unlinked_guardians_consent_no_longer_counts(
    gated_app: FastAPI, client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    assert _decide(client, settings, side_a, "grant").status_code == 201
    student = auth(settings, side_a.principal(Role.student))
    assert client.post("/api/v1/test-participation", headers=student).status_code == 200

    unlinked = client.delete(
        f"/api/v1/students/{side_a.student.id}/guardians/{side_a.guardian_link.id}",
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert unlinked.status_code == 204
    assert client.post("/api/v1/test-participation", headers=student).status_code == 403
    # the history stays: the link is revoked, not deleted
    session.expire_all()
    assert len(session.exec(select(ConsentRecord)).all()) == 2


def test_grant_under_an_old_notice_is_not_effective_but_can_be_withdrawn(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    old = ConsentRecord(
        student_id=side_a.student.id or 0,
        purpose=Purpose.photos,
        decision="grant",
        channel="mini_program",
        notice_version="2025-09",
        guardian_link_id=side_a.guardian_link.id,
        recorded_by=f"wechat:{side_a.guardian.id}",
        recorded_at=FROZEN_AT,
    )
    session.add(old)
    session.flush()
    assert not consent_service.has_consent(
        session, student=side_a.student, purpose=Purpose.photos, today=date(2026, 10, 14)
    )
    withdrawn = client.post(
        f"/api/v1/me/children/{side_a.student.id}/consents",
        json={"purposes": ["photos"], "decision": "withdraw", "notice_version": "2025-09"},
        headers=auth(settings, side_a.principal(Role.guardian)),
    )
    assert withdrawn.status_code == 201, withdrawn.text
    state = consent_service.decisions(session, side_a.student.id or 0)
    assert state[Purpose.photos].decision == "withdraw"


def test_a_paper_form_signed_under_an_editorially_earlier_notice_is_recorded(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    def paper(version: str, purposes: list[str]) -> Any:
        return client.post(
            f"/api/v1/students/{side_a.student.id}/consents",
            json={
                "purposes": purposes,
                "decision": "grant",
                "notice_version": version,
                "guardian_name": "王妈妈",
            },
            headers=auth(settings, side_a.principal(Role.school_admin)),
        )

    assert paper("2026-12", ["participation_record"]).status_code == 201  # editorial since
    outdated = paper("2026-09", ["volunteering"])  # volunteering came with 2026-12
    assert (outdated.status_code, outdated.json()["code"]) == (409, "notice_outdated")
    on_screen = client.post(  # the mini-program shows the notice in force
        f"/api/v1/me/children/{side_a.student.id}/consents",
        json={"purposes": ["photos"], "decision": "grant", "notice_version": "2026-12"},
        headers=auth(settings, side_a.principal(Role.guardian)),
    )
    assert on_screen.json()["code"] == "notice_outdated"
