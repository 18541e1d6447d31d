"""The incident log: the platform admin records, lists and changes incidents (audited); a
bureau reads its region's only; bad input changes nothing; a closed incident stays closed and
the report to the authority is recorded once."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Role
from scipass.core.config import Settings
from scipass.privacy.models import PrivacyIncident
from tests.factories import Side, auth

URL = "/api/v1/privacy-incidents"
BODY: dict[str, Any] = {
    "occurred_at": "2026-10-01T09:00:00+08:00",
    "discovered_at": "2026-10-02T09:00:00+08:00",
    "title": "导出文件误发",
    "description": "一份签到名单误发给其他学校的老师。\n已要求对方删除。",
    "categories": ["roster_identity", "attendance"],
    "affected_children": 12,
    "affected_minors": 20,
    "measures": "通知对方删除",
}


def _count(session: Session, model: Any, *where: Any) -> int:
    session.expire_all()
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def test_the_platform_records_lists_and_changes_an_incident(
    client: TestClient, session: Session, settings: Settings, side_a: Side, side_b: Side
) -> None:
    admin = auth(settings, side_a.principal(Role.platform_admin))
    created = client.post(URL, json={**BODY, "school_id": side_a.school.id}, headers=admin)
    assert created.status_code == 201, created.text
    incident = created.json()
    assert incident["region_code"] == side_a.school.region_code  # from the school
    assert incident["categories"] == ["roster_identity", "attendance"]
    assert incident["recorded_by"] == "account:900004"
    other = client.post(URL, json={**BODY, "region_code": "960101"}, headers=admin).json()
    platform_wide = client.post(URL, json=BODY, headers=admin).json()

    listed = client.get(URL, headers=admin).json()
    assert listed["total"] == 3
    ids = {i["id"] for i in listed["items"]}
    assert ids == {incident["id"], other["id"], platform_wide["id"]}

    bureau = auth(settings, side_a.principal(Role.bureau))
    seen = client.get(URL, headers=bureau).json()
    assert [i["id"] for i in seen["items"]] == [incident["id"]]
    assert client.get(f"{URL}/{other['id']}", headers=bureau).status_code == 404
    assert client.get(f"{URL}/{platform_wide['id']}", headers=bureau).status_code == 404
    assert client.get(f"{URL}/{incident['id']}", headers=bureau).status_code == 200
    refused = client.patch(f"{URL}/{incident['id']}", json={"close": True}, headers=bureau)
    assert refused.status_code == 403

    path = f"{URL}/{incident['id']}"
    reported = client.patch(
        path,
        json={"measures": "已删除并复核", "reported_to_authority_at": "2026-10-03T10:00:00+08:00"},
        headers=admin,
    )
    assert reported.status_code == 200, reported.text
    assert reported.json()["measures"] == "已删除并复核"
    assert reported.json()["reported_to_authority_at"] == "2026-10-03T02:00:00Z"
    again = client.patch(
        path, json={"reported_to_authority_at": "2026-10-04T10:00:00+08:00"}, headers=admin
    )
    assert again.status_code == 409
    assert again.json()["code"] == "incident_already_reported"

    closed = client.patch(path, json={"close": True}, headers=admin)
    assert closed.status_code == 200
    assert closed.json()["closed_at"] is not None
    after = client.patch(path, json={"measures": "补充"}, headers=admin)
    assert after.status_code == 409
    assert after.json()["code"] == "incident_closed"
    assert client.get(path, headers=admin).json()["measures"] == "已删除并复核"
    assert client.get(URL, params={"open_only": True}, headers=admin).json()["total"] == 2

    session.expire_all()
    actions = list(
        session.exec(
            select(AuditLog.action)
            .where(col(AuditLog.object_type) == "privacy_incident")
            .order_by(col(AuditLog.id))
        ).all()
    )
    assert actions == ["privacy_incident_recorded"] * 3 + ["privacy_incident_changed"] * 2


def test_bad_input_changes_nothing(
    client: TestClient, session: Session, settings: Settings, side_a: Side
) -> None:
    admin = auth(settings, side_a.principal(Role.platform_admin))
    for change, code in (
        ({"discovered_at": "2026-09-30T09:00:00+08:00"}, "incident_invalid"),  # before occurred
        ({"discovered_at": "2026-12-01T09:00:00+08:00"}, "incident_invalid"),  # the future
        ({"affected_minors": 11}, "incident_invalid"),  # fewer than the children
        ({"school_id": 987654}, "incident_invalid"),
        ({"region_code": "999999"}, "incident_invalid"),
        ({"school_id": side_a.school.id, "region_code": "960101"}, "incident_invalid"),
        ({"categories": ["diary"]}, "validation_failed"),
        ({"categories": []}, "validation_failed"),
        ({"occurred_at": "2026-10-01T09:00:00"}, "validation_failed"),  # no offset
        ({"occurred_at": "0001-01-01T00:00:00+08:00"}, "incident_invalid"),  # before year 1 UTC
        ({"occurred_at": "1999-12-31T09:00:00+08:00"}, "incident_invalid"),
        ({"affected_children": -1}, "validation_failed"),
        ({"title": "bad\u0000title"}, "validation_failed"),
    ):
        response = client.post(URL, json={**BODY, **change}, headers=admin)
        assert response.status_code == 422, change
        assert response.json()["code"] == code, change
    assert _count(session, PrivacyIncident) == 0
    assert _count(session, AuditLog, col(AuditLog.object_type) == "privacy_incident") == 0

    incident = client.post(URL, json=BODY, headers=admin).json()
    early = client.patch(
        f"{URL}/{incident['id']}",
        json={"reported_to_authority_at": "2026-10-01T08:00:00+08:00", "close": True},
        headers=admin,
    )
    assert early.status_code == 422
    assert early.json()["code"] == "incident_invalid"
    assert client.get(f"{URL}/{incident['id']}", headers=admin).json()["closed_at"] is None
    missing = client.patch(f"{URL}/987654", json={"close": True}, headers=admin)
    assert missing.status_code == 404
    assert missing.json()["code"] == "incident_not_found"
