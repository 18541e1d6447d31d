"""The console's two ways to the API (``/console/do/<operation>`` and ``/console/api/v1/...``)
reach only the operations offered, however a path is spelled, and answer bad input as a
problem, never as a 500; a password change ends the account's other console sessions."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.console.models import ConsoleSession
from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from tests.console.signing import PASSWORD, create_staff, sign_in
from tests.factories import Side

JSON = {"Accept": "application/json"}


def test_a_form_path_value_cannot_reach_an_operation_not_offered(
    client: TestClient, session: Session, side_a: Side
) -> None:
    name = create_staff(session, username="li", role=Role.school_admin, org_id=side_a.school.id)
    csrf = sign_in(client, name)
    pupil = side_a.student.id
    # student-guardian-list (/students/{id}/guardians) is not offered to the console.
    for value in (f"{pupil}%2Fguardians", f"{pupil}/guardians", "..", f"{pupil}?limit=1", "%2E%2E"):
        answer = client.post(
            "/console/do/student-get",
            data={"csrf_token": csrf, "path.student_id": value},
            headers=JSON,
        )
        assert answer.status_code == 404, (value, answer.status_code, answer.text)
        assert "relation" not in answer.text
    offered = client.post(
        "/console/do/student-get",
        data={"csrf_token": csrf, "path.student_id": str(pupil)},
        headers=JSON,
    )
    assert offered.status_code == 200
    assert offered.json()["result"]["id"] == pupil


def test_a_script_path_cannot_leave_its_operation(
    client: TestClient, session: Session, side_a: Side
) -> None:
    name = create_staff(session, username="li", role=Role.school_admin, org_id=side_a.school.id)
    sign_in(client, name)
    pupil = side_a.student.id
    for path in (
        "records/..%2Fhistory",  # record-history with a dot segment: /api/v1/history
        f"students/{pupil}%3Flimit=1",  # a query inside the path
        f"students/{pupil}%23x",  # a fragment inside the path
        f"students/{pupil}%252Fguardians",  # an encoded slash the API would decode
    ):
        answer = client.get(f"/console/api/v1/{path}", headers=JSON)
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["code"] == "console_operation_not_offered", (path, answer.text)


def test_a_script_body_that_is_not_json_is_a_problem(
    client: TestClient, session: Session, side_a: Side
) -> None:
    name = create_staff(session, username="li", role=Role.school_admin, org_id=side_a.school.id)
    csrf = sign_in(client, name)
    answer = client.post(
        "/console/api/v1/records/reviews",
        content=b"not json{",
        headers={**JSON, "content-type": "application/json", "x-csrf-token": csrf},
    )
    assert answer.status_code == 422  # the API's own answer to a body that is not JSON
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "validation_failed"


def test_a_relayed_answer_carries_the_request_id_and_is_not_cached_or_sniffed(
    client: TestClient, session: Session, side_a: Side
) -> None:
    name = create_staff(session, username="li", role=Role.school_admin, org_id=side_a.school.id)
    sign_in(client, name)
    answer = client.get("/console/api/v1/students/999999", headers=JSON)
    assert answer.status_code == 404
    # the API's problem names the console request's id: one id to find in the logs
    assert answer.json()["request_id"] == answer.headers["x-request-id"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in answer.headers["cache-control"]
    poster = client.get("/console/api/v1/students", headers=JSON)
    assert poster.status_code == 200
    assert "no-store" in poster.headers["cache-control"]


def test_a_password_change_ends_the_other_console_sessions(
    app: FastAPI, client: TestClient, session: Session, side_a: Side
) -> None:
    name = create_staff(session, username="li", role=Role.school_staff, org_id=side_a.school.id)
    csrf = sign_in(client, name)
    with TestClient(app, raise_server_exceptions=False) as other:
        sign_in(other, name)  # e.g. a cookie left on another computer, or taken
        assert len(session.exec(select(ConsoleSession)).all()) == 2
        done = client.post(
            "/console/do/auth-password-change",
            data={
                "csrf_token": csrf,
                "current_password": PASSWORD,
                "new_password": "Another-pass-2026!",
                "_next": "/console",
                "_done": "密码已修改",
            },
            follow_redirects=False,
        )
        assert done.status_code == 303
        left_out = other.get("/console", follow_redirects=False)
        assert left_out.status_code == 303
        assert left_out.headers["location"].startswith("/console/login")
    home = client.get("/console", follow_redirects=False)  # the one who changed it stays in
    assert home.status_code == 200
    assert "密码已修改" in home.text
    assert len(session.exec(select(ConsoleSession)).all()) == 1


def test_a_password_changed_through_the_api_ends_the_console_sessions(
    client: TestClient, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    name = create_staff(session, username="li", role=Role.school_staff, org_id=side_a.school.id)
    sign_in(client, name)
    clock.advance(timedelta(minutes=5))
    with TestClient(client.app, raise_server_exceptions=False) as api:
        tokens = api.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
        changed = api.post(
            "/api/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": "Another-pass-2026!"},
            headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
        )
        assert changed.status_code < 300, changed.text
    left_out = client.get("/console", follow_redirects=False)
    assert left_out.status_code == 303
    assert left_out.headers["location"].startswith("/console/login")


def test_signing_in_over_a_session_ends_the_one_before(
    client: TestClient, session: Session, side_a: Side
) -> None:
    first = create_staff(session, username="li", role=Role.school_staff, org_id=side_a.school.id)
    second = create_staff(session, username="wang", role=Role.school_staff, org_id=side_a.school.id)
    sign_in(client, first)
    left = client.cookies.get("scipass_console")
    sign_in(client, second)  # a shared tablet: the next teacher signs in without signing out
    rows = session.exec(select(ConsoleSession)).all()
    assert len(rows) == 1
    client.cookies.clear()
    client.cookies.set("scipass_console", left or "")
    again = client.get("/console", follow_redirects=False)
    assert again.status_code == 303  # the first teacher's cookie opens nothing
