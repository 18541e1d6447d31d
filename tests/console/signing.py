"""Signing a test client in to the console as a browser does: the sign-in page, its token, the
form posted with it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from scipass.account import service as account_service
from scipass.core.auth import Role
from tests.factories import NOW

PASSWORD = "Kexue-2026!"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def create_staff(
    session: Session, *, username: str, role: Role, org_id: int | None, must_change: bool = False
) -> str:
    account, _ = account_service.create_account(
        session,
        actor=None,
        username=username,
        display_name=f"{username} 老师",
        role=role,
        org_id=org_id,
        password=PASSWORD,
        now=NOW,
    )
    account.must_change_password = must_change
    session.add(account)
    session.flush()
    return username.lower()


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in; returns the session's CSRF token (from the home page)."""
    page = client.get("/console/login")
    assert page.status_code == 200
    answer = client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    home = client.get("/console", follow_redirects=True)
    assert home.status_code == 200
    return csrf_of(home.text)
