"""The console's access matrix: every console route declares who may open it, a visitor who is
not signed in is sent to sign in, every staff role outside a page's roles is refused, and
staff of another school, venue or region are refused every page that names an object of this
one. What a page does is the API's (tests/account/test_access_matrix.py): the console's form
and script routes keep its scope, which the last test checks through them."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, routing
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session

from scipass.core.auth import Role, declared_access
from tests.account.test_access_matrix import path_values  # noqa: F401  # a fixture
from tests.console.signing import create_staff, sign_in
from tests.factories import Side

STAFF = (
    Role.school_staff,
    Role.school_admin,
    Role.venue_staff,
    Role.venue_admin,
    Role.bureau,
    Role.platform_admin,
)
# The console's two routes that pass a request on to an API operation: their scope is the
# operation's, checked by the API's matrix and by the last test here.
RELAYS = {"console-do", "console-api"}
# Pages of objects the API lets every tenant read (OPEN_TO_EVERY_TENANT of the API's matrix):
# the competition catalogue and the whitelists. Another region's bureau reads them without
# their forms (tests/console/test_bureau_catalogue.py).
OPEN_PAGES = {"console-bureau-competition", "console-bureau-whitelist"}


def console_routes(app: FastAPI) -> list[Any]:
    return [
        c
        for c in routing.iter_route_contexts(app.routes)
        if isinstance(c.original_route, APIRoute) and c.path.startswith("/console")
    ]


def _org(side: Side, role: Role) -> int | None:
    if role in (Role.school_staff, Role.school_admin):
        return side.school.id
    if role in (Role.venue_staff, Role.venue_admin):
        return side.venue.id
    if role is Role.bureau:
        return side.bureau.id
    return None


def signed_in_clients(
    app: FastAPI, session: Session, side: Side, tag: str
) -> dict[Role, tuple[TestClient, str]]:
    """A client signed in as a staff member of ``side`` in each role, with its CSRF token."""
    clients = {}
    for role in STAFF:
        name = create_staff(
            session, username=f"{tag}-{role.value}", role=role, org_id=_org(side, role)
        )
        client = TestClient(app, raise_server_exceptions=False)
        clients[role] = (client, sign_in(client, name))
    return clients


def _fill(path: str, values: dict[str, object]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"no test value for path parameter {name!r} in {path}"
        return str(values[name])

    return re.sub(r"{(\w+)(:\w+)?}", replace, path)


def _call(client: TestClient, method: str, url: str, csrf: str | None) -> Any:
    data = {"csrf_token": csrf} if csrf and method != "GET" else None
    return client.request(method, url, data=data, follow_redirects=False)


def test_every_console_route_declares_access(app: FastAPI) -> None:
    routes = console_routes(app)
    assert {r.name for r in routes} >= {"console-login", "console-home", "console-do"}
    undeclared = [r.path for r in routes if declared_access(r.dependant) is None]
    assert undeclared == []


def test_visitors_sign_in_and_wrong_roles_are_refused(
    app: FastAPI,
    client: TestClient,
    session: Session,
    side_a: Side,
    path_values: dict[str, object],  # noqa: F811  # the fixture imported above
) -> None:
    values = {**path_values, "operation": "me-get", "path": "me"}
    clients = signed_in_clients(app, session, side_a, "a")
    checked = 0
    for route in console_routes(app):
        access = declared_access(route.dependant)
        if access == "public":
            continue
        url = _fill(route.path, values)
        for method in route.methods:
            anonymous = _call(client, method, url, None)
            if method == "GET":
                assert anonymous.status_code == 303, f"anonymous {method} {route.path}"
                assert anonymous.headers["location"].startswith("/console/login?next=")
            else:
                assert anonymous.status_code == 401, f"anonymous {method} {route.path}"
            for role in STAFF:
                if role in access:
                    continue
                staff, csrf = clients[role]
                answer = _call(staff, method, url, csrf)
                assert answer.status_code == 403, f"{role} {method} {route.path}"
                checked += 1
    assert checked >= 0  # grows with the role pages


def test_staff_of_another_tenant_are_refused_pages_naming_objects(
    app: FastAPI,
    session: Session,
    side_a: Side,
    side_b: Side,
    path_values: dict[str, object],  # noqa: F811  # the fixture imported above
) -> None:
    clients = signed_in_clients(app, session, side_b, "b")
    for route in console_routes(app):
        access = declared_access(route.dependant)
        if access == "public" or "{" not in route.path or route.name in RELAYS | OPEN_PAGES:
            continue
        url = _fill(route.path, path_values)
        for method in route.methods:
            for role in access:
                if role is Role.platform_admin:
                    continue
                staff, csrf = clients[role]
                answer = _call(staff, method, url, csrf)
                assert answer.status_code in (403, 404), f"{role}: {method} {route.path}"


def test_the_relays_keep_the_apis_scope(
    app: FastAPI, session: Session, side_a: Side, side_b: Side
) -> None:
    """A school admin of side B reaches side A's pupil neither by the script relay nor by a
    form, and the relay offers only the console's operations."""
    clients = signed_in_clients(app, session, side_b, "b")
    staff, _csrf = clients[Role.school_admin]
    mine = staff.get("/console/api/v1/me", headers={"Accept": "application/json"})
    assert mine.status_code == 200
    other = staff.get(
        f"/console/api/v1/students/{side_a.student.id}", headers={"Accept": "application/json"}
    )
    assert other.status_code == 404
    assert other.json()["code"] == "student_not_found"
    listed = staff.get("/console/api/v1/students", headers={"Accept": "application/json"})
    assert listed.status_code == 200
    assert side_a.student.id not in {s["id"] for s in listed.json()["items"]}
    assert side_b.student.id in {s["id"] for s in listed.json()["items"]}
    unoffered = staff.get("/console/api/v1/audit-log", headers={"Accept": "application/json"})
    assert unoffered.status_code == 404
    assert unoffered.json()["code"] == "console_operation_not_offered"
