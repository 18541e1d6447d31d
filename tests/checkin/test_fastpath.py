"""The check-in fast path answers a well-formed scan itself and hands anything else to the
route; both give the same answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from scipass.activity.models import Activity
from scipass.checkin.fastpath import CheckinFastPath
from scipass.checkin.models import CheckIn
from scipass.core.auth import Role
from scipass.core.config import Settings
from tests.checkin.test_checkin import activity, new_code, student  # noqa: F401
from tests.factories import Side, auth

PAD = " " * 5000  # valid JSON whitespace that makes the body too long for the fast path


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the fast path answered each scan (False: the route did)."""
    seen: list[bool] = []
    original = CheckinFastPath._answer

    async def spy(self: CheckinFastPath, *args: Any) -> bool:
        result = await original(self, *args)
        seen.append(result)
        return result

    monkeypatch.setattr(CheckinFastPath, "_answer", spy)
    return seen


def _post(
    client: TestClient, settings: Settings, side: Side, body: str, key: str, **extra: str
) -> Any:
    headers = {
        **auth(settings, student(side)),
        "Idempotency-Key": key,
        "Content-Type": "application/json",
        **extra,
    }
    return client.post("/api/v1/checkins", content=body.encode(), headers=headers)


def _same(fast: Any, slow: Any) -> None:
    assert fast.status_code == slow.status_code
    assert fast.headers["content-type"] == slow.headers["content-type"]
    left, right = fast.json(), slow.json()
    for body in (left, right):
        body.pop("request_id", None)
    assert left == right
    assert "x-request-id" in fast.headers


def test_the_fast_path_and_the_route_answer_alike(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
    answered: list[bool],
) -> None:
    code = new_code(client, settings, side_a, activity)
    body = json.dumps({"code": code["payload"]})
    first = _post(client, settings, side_a, body, "fast-0001")
    assert first.status_code == 201
    fast = _post(client, settings, side_a, body, "fast-0002")
    slow = _post(client, settings, side_a, body + PAD, "slow-0002")
    _same(fast, slow)
    assert fast.json()["duplicate"] is True

    bad = json.dumps({"code": "S.NOTACODE.DEV.XXXX"})
    _same(
        _post(client, settings, side_a, bad, "fast-0003"),
        _post(client, settings, side_a, bad + PAD, "slow-0003"),
    )
    assert answered == [True, True, True]  # the padded ones never reached the answer
    assert session.exec(select(func.count()).select_from(CheckIn)).one() == 1


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        ("{", {}, 422, "validation_failed"),
        ('{"code": "x"}', {}, 422, "validation_failed"),
        ('{"code": "S.AAAAAAAA.DEV.AAAA"}', {"Idempotency-Key": "short"}, 422, "validation_failed"),
        (
            '{"code": "S.AAAAAAAA.DEV.AAAA"}',
            {"Authorization": "Bearer nonsense"},
            401,
            "token_invalid",
        ),
    ],
)
def test_odd_requests_go_to_the_route(
    client: TestClient,
    settings: Settings,
    side_a: Side,
    answered: list[bool],
    body: str,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    response = _post(client, settings, side_a, body, "odd-000001", **headers)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert True not in answered


def test_other_roles_go_to_the_route(
    client: TestClient, settings: Settings, side_a: Side, answered: list[bool]
) -> None:
    response = client.post(
        "/api/v1/checkins",
        json={"code": "S.AAAAAAAA.DEV.AAAA"},
        headers={
            **auth(settings, side_a.principal(Role.venue_staff)),
            "Idempotency-Key": "venue-staff-1",
        },
    )
    assert response.status_code == 403
    assert response.json()["code"] == "role_forbidden"
    assert answered == [False]


def test_a_repeated_header_is_read_as_the_route_reads_it(
    client: TestClient,
    settings: Settings,
    side_a: Side,
    activity: Activity,  # noqa: F811
    answered: list[bool],
) -> None:
    code = new_code(client, settings, side_a, activity)
    good = auth(settings, student(side_a))["Authorization"]
    response = client.post(
        "/api/v1/checkins",
        content=json.dumps({"code": code["payload"]}).encode(),
        headers=[
            ("Content-Type", "application/json"),
            ("Idempotency-Key", "twice-0001"),
            ("Authorization", "Bearer not-a-token"),
            ("Authorization", good),
        ],
    )
    assert response.status_code == 401  # the first Authorization counts, on both paths
    assert answered == [False]
