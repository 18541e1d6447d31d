"""School–venue pairing (结对): propose, confirm, decline, end; the lists and the bureau's
coverage view (004 二.4: every urban school paired with at least one venue)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Principal, Role
from scipass.core.config import Settings
from scipass.pairing.models import Pairing
from tests.factories import Side, auth, create_school

TODAY = date(2026, 10, 14)


def _headers(settings: Settings, side: Side, role: Role) -> dict[str, str]:
    return auth(settings, side.principal(role))


def _by_school(client: TestClient, settings: Settings, side: Side, **body: Any) -> Any:
    payload = {"venue_id": side.venue.id, "starts_on": TODAY.isoformat(), **body}
    return client.post(
        "/api/v1/pairings", json=payload, headers=_headers(settings, side, Role.school_admin)
    )


def _by_venue(client: TestClient, settings: Settings, side: Side, **body: Any) -> Any:
    payload = {"school_id": side.school.id, "starts_on": TODAY.isoformat(), **body}
    return client.post(
        "/api/v1/pairings", json=payload, headers=_headers(settings, side, Role.venue_admin)
    )


def _act(
    client: TestClient, settings: Settings, side: Side, role: Role, pairing_id: int, action: str
) -> Any:
    return client.post(
        f"/api/v1/pairings/{pairing_id}/{action}", headers=_headers(settings, side, role)
    )


def _active(client: TestClient, settings: Settings, side: Side, **body: Any) -> int:
    proposed = _by_school(client, settings, side, **body)
    assert proposed.status_code == 201, proposed.text
    pairing_id = int(proposed.json()["id"])
    confirmed = _act(client, settings, side, Role.venue_admin, pairing_id, "confirm")
    assert confirmed.status_code == 200, confirmed.text
    return pairing_id


def test_school_proposes_and_venue_confirms(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    proposed = _by_school(client, settings, side_a, note="每学期一次科学实践")
    assert proposed.status_code == 201, proposed.text
    body = proposed.json()
    assert body["status"] == "proposed"
    assert body["proposed_by"] == "school"
    assert body["school_id"] == side_a.school.id
    assert body["school_name"] == side_a.school.name
    assert body["venue_name"] == side_a.venue.name
    assert body["school_confirmed_at"] is not None
    assert body["venue_confirmed_at"] is None
    assert body["ends_on"] is None

    own = _act(client, settings, side_a, Role.school_admin, body["id"], "confirm")
    assert own.status_code == 409
    assert own.json()["code"] == "pairing_transition_invalid"

    confirmed = _act(client, settings, side_a, Role.venue_admin, body["id"], "confirm")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "active"
    assert confirmed.json()["venue_confirmed_at"] is not None
    twice = _act(client, settings, side_a, Role.venue_admin, body["id"], "confirm")
    assert twice.status_code == 409
    assert twice.json()["code"] == "pairing_transition_invalid"

    changes = session.exec(
        select(AuditLog.action).where(AuditLog.object_id == str(body["id"]))
    ).all()
    assert changes == ["pairing_changed", "pairing_changed"]


def test_venue_proposes_and_school_confirms(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    proposed = _by_venue(client, settings, side_a)
    assert proposed.status_code == 201
    assert proposed.json()["proposed_by"] == "venue"
    assert proposed.json()["venue_confirmed_at"] is not None
    assert proposed.json()["school_confirmed_at"] is None
    pairing_id = proposed.json()["id"]

    own = _act(client, settings, side_a, Role.venue_admin, pairing_id, "confirm")
    assert own.status_code == 409
    assert own.json()["code"] == "pairing_transition_invalid"
    confirmed = _act(client, settings, side_a, Role.school_admin, pairing_id, "confirm")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "active"


def test_one_open_pairing_per_school_and_venue(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    first = _by_school(client, settings, side_a)
    pairing_id = first.json()["id"]
    for again in (_by_school(client, settings, side_a), _by_venue(client, settings, side_a)):
        assert again.status_code == 409
        assert again.json()["code"] == "pairing_exists"

    # declined (here: the proposer withdraws) frees the pair
    declined = client.post(
        f"/api/v1/pairings/{pairing_id}/decline",
        json={"reason": " 时间冲突 "},
        headers=_headers(settings, side_a, Role.school_admin),
    )
    assert declined.status_code == 200
    assert declined.json()["status"] == "declined"
    assert declined.json()["close_reason"] == "时间冲突"
    assert declined.json()["closed_at"] is not None
    second = _by_venue(client, settings, side_a)
    assert second.status_code == 201

    # active also blocks; ended frees it again
    _act(client, settings, side_a, Role.school_admin, second.json()["id"], "confirm")
    blocked = _by_school(client, settings, side_a)
    assert blocked.status_code == 409
    assert blocked.json()["code"] == "pairing_exists"
    ended = _act(client, settings, side_a, Role.venue_admin, second.json()["id"], "end")
    assert ended.status_code == 200
    assert _by_school(client, settings, side_a).status_code == 201


def test_other_parties_cannot_touch_a_pairing(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, session: Session
) -> None:
    pairing_id = _by_school(client, settings, side_a).json()["id"]
    for role in (Role.school_admin, Role.venue_admin):
        for action in ("confirm", "decline", "end"):
            response = _act(client, settings, side_b, role, pairing_id, action)
            assert response.status_code == 404, (role, action)
            assert response.json()["code"] == "pairing_not_found"
    missing = _act(client, settings, side_a, Role.venue_admin, 999999, "confirm")
    assert missing.status_code == 404
    # staff who are not admins, and bureaus, do not pair
    for role in (Role.venue_staff, Role.school_staff, Role.bureau):
        forbidden = _act(client, settings, side_a, role, pairing_id, "confirm")
        assert forbidden.status_code == 403, role
        assert forbidden.json()["code"] == "role_forbidden"
    pairing = session.get(Pairing, pairing_id)
    assert pairing is not None
    session.refresh(pairing)
    assert pairing.status == "proposed"


def test_a_proposal_needs_a_counterpart_and_a_sane_period(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    school = _headers(settings, side_a, Role.school_admin)
    cases = [
        {"starts_on": "2026-10-14"},  # no venue named
        {"venue_id": 999999, "starts_on": "2026-10-14"},
        {"venue_id": side_a.venue.id, "starts_on": "2026-10-14", "ends_on": "2026-10-13"},
    ]
    for body in cases:
        response = client.post("/api/v1/pairings", json=body, headers=school)
        assert response.status_code == 422, body
        assert response.json()["code"] == "pairing_invalid"
    venue = client.post(
        "/api/v1/pairings",
        json={"venue_id": side_a.venue.id, "starts_on": "2026-10-14"},  # school_id missing
        headers=_headers(settings, side_a, Role.venue_admin),
    )
    assert venue.status_code == 422
    assert venue.json()["code"] == "pairing_invalid"
    assert session.exec(select(Pairing)).all() == []


@pytest.mark.parametrize(
    ("ends_on", "expected"),
    [
        (None, TODAY),  # open-ended: ends today
        ("2027-07-01", TODAY),  # planned later: ends today
    ],
)
def test_end_sets_the_end_date_to_today(
    client: TestClient, settings: Settings, side_a: Side, ends_on: str | None, expected: date
) -> None:
    pairing_id = _active(client, settings, side_a, starts_on="2026-09-01", ends_on=ends_on)
    ended = client.post(
        f"/api/v1/pairings/{pairing_id}/end",
        json={"reason": "基地改造"},
        headers=_headers(settings, side_a, Role.school_admin),
    )
    assert ended.status_code == 200
    body = ended.json()
    assert body["status"] == "ended"
    assert body["ends_on"] == expected.isoformat()
    assert body["close_reason"] == "基地改造"
    assert body["closed_at"] is not None
    again = _act(client, settings, side_a, Role.venue_admin, pairing_id, "end")
    assert again.status_code == 409
    assert again.json()["code"] == "pairing_transition_invalid"


def test_only_active_pairings_end_and_only_proposals_decline(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    proposed = _by_school(client, settings, side_a).json()["id"]
    not_active = _act(client, settings, side_a, Role.venue_admin, proposed, "end")
    assert not_active.status_code == 409
    assert not_active.json()["code"] == "pairing_transition_invalid"
    _act(client, settings, side_a, Role.venue_admin, proposed, "confirm")
    not_proposed = _act(client, settings, side_a, Role.venue_admin, proposed, "decline")
    assert not_proposed.status_code == 409
    assert not_proposed.json()["code"] == "pairing_transition_invalid"


def _listed(client: TestClient, headers: dict[str, str], **params: Any) -> list[int]:
    response = client.get("/api/v1/pairings", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return [item["id"] for item in body["items"]]


def test_each_side_and_bureau_see_their_own_pairings(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side
) -> None:
    a_active = _active(client, settings, side_a)
    b_proposed = _by_school(client, settings, side_b).json()["id"]

    assert _listed(client, _headers(settings, side_a, Role.school_staff)) == [a_active]
    assert _listed(client, _headers(settings, side_a, Role.venue_staff)) == [a_active]
    assert _listed(client, _headers(settings, side_b, Role.school_admin)) == [b_proposed]
    assert _listed(client, _headers(settings, side_a, Role.bureau)) == [a_active]
    assert _listed(client, _headers(settings, side_b, Role.bureau)) == [b_proposed]
    everyone = _headers(settings, side_a, Role.platform_admin)
    assert _listed(client, everyone) == [b_proposed, a_active]
    assert _listed(client, everyone, status="proposed") == [b_proposed]
    assert _listed(client, _headers(settings, side_a, Role.bureau), status="proposed") == []
    student = client.get("/api/v1/pairings", headers=_headers(settings, side_a, Role.student))
    assert student.status_code == 403


def test_a_venue_paired_with_a_school_elsewhere_is_listed_for_the_schools_bureau(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side
) -> None:
    # school of region A pairs with the venue of region B: region A's bureau sees it
    proposed = client.post(
        "/api/v1/pairings",
        json={"venue_id": side_b.venue.id, "starts_on": TODAY.isoformat()},
        headers=_headers(settings, side_a, Role.school_admin),
    )
    assert proposed.status_code == 201
    pairing_id = proposed.json()["id"]
    assert _listed(client, _headers(settings, side_a, Role.bureau)) == [pairing_id]
    assert _listed(client, _headers(settings, side_b, Role.bureau)) == []
    assert _listed(client, _headers(settings, side_b, Role.venue_admin)) == [pairing_id]


def test_coverage_counts_pairings_in_force_today(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, session: Session
) -> None:
    unpaired = create_school(session, region_code="970101", name="未结对城区学校")
    create_school(session, region_code="970101", name="乡村学校", area="rural")
    only_proposed = create_school(session, region_code="970101", name="待确认城区学校")
    future = create_school(session, region_code="970101", name="明年结对学校")
    _active(client, settings, side_a)
    _active(client, settings, side_b)
    venue = _headers(settings, side_a, Role.venue_admin)
    proposal = {"school_id": only_proposed.id, "starts_on": TODAY.isoformat()}
    assert client.post("/api/v1/pairings", json=proposal, headers=venue).status_code == 201
    later = client.post(
        "/api/v1/pairings",
        json={"school_id": future.id, "starts_on": "2027-02-01"},
        headers=venue,
    ).json()["id"]
    confirm = client.post(
        f"/api/v1/pairings/{later}/confirm", headers=auth(settings, _school_admin(future.id))
    )
    assert confirm.status_code == 200

    response = client.get(
        "/api/v1/pairing-coverage",
        params={"area": "urban"},
        headers=_headers(settings, side_a, Role.bureau),
    )
    assert response.status_code == 200
    counts = {row["school_id"]: row["active_pairings"] for row in response.json()["items"]}
    assert counts == {side_a.school.id: 1, unpaired.id: 0, only_proposed.id: 0, future.id: 0}
    assert {row["area"] for row in response.json()["items"]} == {"urban"}

    everything = client.get(
        "/api/v1/pairing-coverage", headers=_headers(settings, side_a, Role.bureau)
    ).json()
    assert (
        everything["total"] == len(everything["items"]) == 5
    )  # the rural school too, nothing of region B
    forbidden = client.get(
        "/api/v1/pairing-coverage", headers=_headers(settings, side_a, Role.school_admin)
    )
    assert forbidden.status_code == 403


def _school_admin(school_id: int | None) -> Principal:
    return Principal(subject="account:900011", role=Role.school_admin, school_id=school_id)
