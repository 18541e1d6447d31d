"""Console sessions: signing in and out, the cookie, CSRF on every change, and the JSON API
still admitting bearer tokens only."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.audit.models import AuditLog
from scipass.console.models import ConsoleSession
from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from tests.console.signing import PASSWORD, create_staff, csrf_of, sign_in
from tests.factories import Side


def test_sign_in_sets_an_httponly_cookie_and_audits(
    client: TestClient, session: Session, side_a: Side
) -> None:
    name = create_staff(session, username="li", role=Role.school_staff, org_id=side_a.school.id)
    page = client.get("/console/login")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    answer = client.post(
        "/console/login",
        data={"username": name, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console"
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("scipass_console=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/console" in cookie
    stored = session.exec(select(ConsoleSession)).one()
    token = cookie.split(";")[0].split("=", 1)[1]
    assert stored.token_hash != token  # only its hash is kept
    login = session.exec(select(AuditLog).where(AuditLog.action == "login")).one()
    assert '"channel": "console"' in login.detail
    home = client.get("/console")
    assert home.status_code == 200
    assert "li 老师" in home.text


def test_a_wrong_password_shows_the_problem_and_starts_nothing(
    client: TestClient, session: Session, side_a: Side
) -> None:
    name = create_staff(session, username="li", role=Role.school_staff, org_id=side_a.school.id)
    page = client.get("/console/login")
    answer = client.post(
        "/console/login",
        data={"username": name, "password": "wrong", "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 401
    assert 'role="alert"' in answer.text
    assert "用户名或密码错误" in answer.text
    assert session.exec(select(ConsoleSession)).all() == []


def test_sign_in_without_the_form_token_is_refused(
    client: TestClient, session: Session, side_a: Side
) -> None:
    name = create_staff(session, username="li", role=Role.school_staff, org_id=side_a.school.id)
    client.get("/console/login")
    answer = client.post("/console/login", data={"username": name, "password": PASSWORD})
    assert answer.status_code == 403
    assert "页面已过期" in answer.text
    assert session.exec(select(ConsoleSession)).all() == []


def test_a_form_posted_without_the_csrf_token_is_refused(
    client: TestClient, session: Session, side_a: Side
) -> None:
    name = create_staff(
        session, username="li", role=Role.school_staff, org_id=side_a.school.id, must_change=True
    )
    csrf = sign_in(client, name)
    form = {"current_password": PASSWORD, "new_password": "Another-pass-2026!"}
    refused = client.post("/console/do/auth-password-change", data=form)
    assert refused.status_code == 403
    assert "csrf_failed" in refused.text
    foreign = client.post(
        "/console/do/auth-password-change",
        data={**form, "csrf_token": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    done = client.post(
        "/console/do/auth-password-change",
        data={**form, "csrf_token": csrf, "_next": "/console", "_done": "密码已修改"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/console"
    assert "密码已修改" in client.get("/console").text  # shown once
    assert "密码已修改" not in client.get("/console").text


def test_the_api_does_not_take_the_console_cookie(
    client: TestClient, session: Session, side_a: Side
) -> None:
    name = create_staff(session, username="li", role=Role.school_staff, org_id=side_a.school.id)
    sign_in(client, name)
    assert client.get("/api/v1/me").status_code == 401
    relayed = client.get("/console/api/v1/me", headers={"Accept": "application/json"})
    assert relayed.status_code == 200
    assert relayed.json()["role"] == "school_staff"


def test_sign_out_ends_the_session(client: TestClient, session: Session, side_a: Side) -> None:
    name = create_staff(session, username="li", role=Role.school_staff, org_id=side_a.school.id)
    csrf = sign_in(client, name)
    answer = client.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert session.exec(select(ConsoleSession)).all() == []
    client.cookies.clear()
    again = client.get("/console", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/console/login")


def test_an_idle_session_ends(
    client: TestClient, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    name = create_staff(session, username="li", role=Role.school_staff, org_id=side_a.school.id)
    sign_in(client, name)
    clock.advance(timedelta(hours=3))
    answer = client.get("/console", follow_redirects=False)
    assert answer.status_code == 303
    assert "/console/login" in answer.headers["location"]
    script = client.get("/console/api/v1/me", headers={"Accept": "application/json"})
    assert script.status_code == 401
    assert script.json()["code"] == "console_sign_in_required"


def test_an_initial_password_is_changed_first(
    client: TestClient, session: Session, side_a: Side
) -> None:
    name = create_staff(
        session, username="li", role=Role.school_staff, org_id=side_a.school.id, must_change=True
    )
    page = client.get("/console/login")
    client.post(
        "/console/login",
        data={"username": name, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    home = client.get("/console", follow_redirects=False)
    assert home.status_code == 303
    assert home.headers["location"] == "/console/password"
