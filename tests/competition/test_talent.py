"""创新后备人才 tracking (issue 17, point 5): schools and bureaus mark pupils, list them, end
the tracking; one open tracking per pupil, decided by the database; every view audited."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Role
from scipass.core.config import Settings
from tests.factories import Side, auth, create_student

API = "/api/v1"


def _audits(session: Session, action: str) -> list[dict[str, Any]]:
    session.expire_all()
    rows = session.exec(
        select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
    ).all()
    return [{**json.loads(r.detail or "{}"), "_region": r.region_code} for r in rows]


def _start(
    client: TestClient,
    settings: Settings,
    side: Side,
    role: Role,
    student_id: int,
    reason: str = "市青少年科技创新大赛一等奖",
) -> Any:
    return client.post(
        f"{API}/students/{student_id}/talent-tracking",
        json={"reason": reason},
        headers=auth(settings, side.principal(role)),
    )


def test_a_school_marks_a_talent_the_bureau_lists_it_and_the_tracking_ends(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    pupil = create_student(session, school_id=side_a.school.id or 0, name="王小明", grade=6)
    session.commit()
    started = _start(client, settings, side_a, Role.school_staff, pupil.id or 0)
    assert started.status_code == 201, started.text
    tracking = started.json()
    assert (tracking["student_name"], tracking["active"]) == ("王小明", True)
    assert tracking["class_label"].startswith("六年级")

    again = _start(client, settings, side_a, Role.school_admin, pupil.id or 0, "再次标记")
    assert again.status_code == 409
    assert again.json()["code"] == "talent_already_tracked"

    bureau = auth(settings, side_a.principal(Role.bureau))
    listed = client.get(f"{API}/talent-trackings", params={"active": True}, headers=bureau)
    assert listed.status_code == 200
    assert [(t["id"], t["student_name"]) for t in listed.json()["items"]] == [
        (tracking["id"], "王*明")  # a bureau sees names masked
    ]
    other_bureau = auth(settings, side_b.principal(Role.bureau))
    assert client.get(f"{API}/talent-trackings", headers=other_bureau).json()["total"] == 0
    other_school = auth(settings, side_b.principal(Role.school_admin))
    assert client.get(f"{API}/talent-trackings", headers=other_school).json()["total"] == 0

    end_path = f"{API}/talent-trackings/{tracking['id']}/end"
    foreign = client.post(end_path, json={"reason": "毕业"}, headers=other_bureau)
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "talent_tracking_not_found"
    ended = client.post(end_path, json={"reason": "已毕业"}, headers=bureau)
    assert ended.status_code == 200
    assert (ended.json()["active"], ended.json()["end_reason"]) == (False, "已毕业")
    twice = client.post(end_path, json={"reason": "已毕业"}, headers=bureau)
    assert twice.status_code == 409
    assert twice.json()["code"] == "talent_tracking_ended"
    assert (
        client.get(f"{API}/talent-trackings", params={"active": True}, headers=bureau).json()[
            "total"
        ]
        == 0
    )

    # tracked again later: a new tracking, the history keeps both
    assert (
        _start(client, settings, side_a, Role.bureau, pupil.id or 0, "省赛二等奖").status_code
        == 201
    )
    history = client.get(
        f"{API}/students/{pupil.id}/talent-tracking",
        headers=auth(settings, side_a.principal(Role.school_staff)),
    )
    assert [(t["reason"], t["active"]) for t in history.json()] == [
        ("省赛二等奖", True),
        ("市青少年科技创新大赛一等奖", False),
    ]

    assert [a["reason"] for a in _audits(session, "talent_tracking_started")] == [
        "市青少年科技创新大赛一等奖",
        "省赛二等奖",
    ]
    assert [a["reason"] for a in _audits(session, "talent_tracking_ended")] == ["已毕业"]
    viewed = _audits(session, "talent_tracking_viewed")
    assert [a["student_ids"] for a in viewed] == [
        [pupil.id],  # the bureau's list
        [],  # the other bureau's
        [],  # the other school's
        [],  # the bureau's list of active ones, after the end
        [pupil.id],  # the pupil's history
    ]
    assert all(a["_region"] for a in viewed[:1])  # filed where the bureau reads its audit log


def test_nobody_marks_another_schools_or_regions_pupil(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    for role in (Role.school_staff, Role.bureau):
        refused = _start(client, settings, side_b, role, side_a.student.id or 0)
        assert refused.status_code == 404
        assert refused.json()["code"] == "student_not_found"
    history = client.get(
        f"{API}/students/{side_a.student.id}/talent-tracking",
        headers=auth(settings, side_b.principal(Role.school_admin)),
    )
    assert history.status_code == 404
    assert _audits(session, "talent_tracking_started") == []


def test_an_empty_reason_is_refused_and_writes_nothing(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    refused = _start(client, settings, side_a, Role.school_staff, side_a.student.id or 0, "")
    assert refused.status_code == 422
    assert refused.json()["code"] == "validation_failed"
    assert _audits(session, "talent_tracking_started") == []
