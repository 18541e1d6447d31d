"""School staff's console pages of compliance, pupils' scans and competition recommendations."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.competition.models import RoundEntry
from scipass.core.auth import Role
from tests.console.signing import create_staff, sign_in
from tests.console.test_school import _from
from tests.factories import NOW, Side, auth, create_competition, create_student

JSON = {"Accept": "application/json"}


def _client(app: FastAPI, session: Session, side: Side, role: Role, tag: str) -> tuple[Any, str]:
    name = create_staff(session, username=f"{tag}-{role.value}", role=role, org_id=side.school.id)
    client = TestClient(app, raise_server_exceptions=False)
    return client, sign_in(client, name)


def _submitted_entry(client: TestClient, app: FastAPI, session: Session, side: Side) -> int:
    """A school entry of two pupils of 15, submitted: waiting for the school's recommendation."""
    scene = create_competition(session, bureau=side.bureau, region_code=side.region_code)
    pupils = [
        create_student(
            session, school_id=side.school.id or 0, birth_month=NOW.date().replace(year=2011, day=1)
        ).id
        for _ in range(2)
    ]
    headers = auth(app.state.settings, side.principal(Role.school_staff))
    entry = client.post(
        f"/api/v1/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id, "student_ids": pupils, "title": "水质检测仪"},
        headers=headers,
    )
    assert entry.status_code == 201, entry.text
    entry_id: int = entry.json()["id"]
    submitted = client.post(f"/api/v1/competition-entries/{entry_id}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    return entry_id


def test_a_teacher_recommends_an_entry_and_another_school_cannot(
    app: FastAPI, client: TestClient, session: Session, side_a: Side, side_b: Side
) -> None:
    entry_id = _submitted_entry(client, app, session, side_a)
    other, other_csrf = _client(app, session, side_b, Role.school_staff, "b")
    assert "水质检测仪" not in other.get("/console/school/entries").text
    refused = other.post(
        "/console/do/competition-entry-recommend",
        data={"csrf_token": other_csrf, "path.entry_id": str(entry_id)},
        headers=JSON,
    )
    assert refused.status_code == 404
    teacher, csrf = _client(app, session, side_a, Role.school_staff, "a")
    page = teacher.get("/console/school/entries")
    assert "水质检测仪" in page.text
    assert "待学校推荐" in page.text
    done = teacher.post(
        "/console/do/competition-entry-recommend",
        data={
            "csrf_token": csrf,
            "_form": f"recommend-{entry_id}",
            "_done": "已推荐",
            "path.entry_id": str(entry_id),
        },
        headers=_from("/console/school/entries"),
        follow_redirects=True,
    )
    assert "已推荐" in done.text
    status = session.exec(select(RoundEntry.status).where(RoundEntry.entry_id == entry_id)).one()
    assert status == "recommended"


def test_compliance_and_scans_are_the_schools_own(
    app: FastAPI, session: Session, side_a: Side, side_b: Side
) -> None:
    teacher, _csrf = _client(app, session, side_a, Role.school_staff, "a")
    compliance = teacher.get("/console/school/compliance")
    assert compliance.status_code == 200
    assert side_a.school.name in compliance.text
    assert "条要求" in compliance.text
    other_term = teacher.get(
        "/console/school/compliance", params={"school_year": "2025", "semester": "spring"}
    )
    assert "2025-2026学年第二学期" in other_term.text
    scans = teacher.get("/console/school/scans", params={"result": "refused"})
    assert scans.status_code == 200
    assert "没有符合条件的扫码记录" in scans.text
    # The compliance page names no school: another school's staff see their own.
    other, _ = _client(app, session, side_b, Role.school_admin, "b")
    theirs = other.get("/console/school/compliance")
    assert side_b.school.name in theirs.text
    assert side_a.school.name not in theirs.text
