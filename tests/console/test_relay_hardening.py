"""The console's two ways to the API (``/console/do/<operation>`` and ``/console/api/v1/...``)
reach only the operations offered, however a path is spelled."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from scipass.core.auth import Role
from tests.console.signing import create_staff, sign_in
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
