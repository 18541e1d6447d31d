"""WeChat login through the real httpx client against a fake WeChat server on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlmodel import Session, select

from scipass.account.models import WeChatUser
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings, WeChatMode
from scipass.core.db import Database
from tests import fake_wechat
from tests.fake_wechat import FakeWeChatServer


@pytest.fixture
def wechat_server() -> Iterator[FakeWeChatServer]:
    with FakeWeChatServer() as server:
        yield server


@pytest.fixture
def wechat_client(
    settings: Settings,
    engine: Engine,
    connection: Connection,
    clock: FrozenClock,
    wechat_server: FakeWeChatServer,
    make_app: Callable[..., FastAPI],
) -> Iterator[TestClient]:
    real = settings.model_copy(
        update={
            "wechat_mode": WeChatMode.real,
            "wechat_app_id": fake_wechat.APP_ID,
            "wechat_app_secret": settings.wechat_app_secret.__class__(fake_wechat.APP_SECRET),
            "wechat_base_url": wechat_server.url,
            "wechat_timeout_seconds": 0.3,
        }
    )
    app = make_app(real, database=Database(engine, bind=connection), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _login(client: TestClient, code: str):
    return client.post("/api/v1/auth/wechat", json={"code": code})


def test_login_creates_the_user_once_and_never_leaks_the_session_key(
    wechat_client: TestClient, session: Session
) -> None:
    first = _login(wechat_client, "ok-abc")
    assert first.status_code == 200
    assert first.json()["role"] == "wechat_user"
    assert first.json()["new_user"] is True
    assert fake_wechat.SESSION_KEY not in first.text
    again = _login(wechat_client, "ok-abc")
    assert again.json()["new_user"] is False
    users = session.exec(select(WeChatUser).where(WeChatUser.openid == "o-abc")).all()
    assert len(users) == 1
    assert users[0].unionid == "u-abc"
    me = wechat_client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert me.json()["role"] == "wechat_user"
    assert me.json()["subject"] == f"wechat:{users[0].id}"


def test_busy_is_retried_once(wechat_client: TestClient, wechat_server: FakeWeChatServer) -> None:
    assert _login(wechat_client, "busy-x").status_code == 200
    assert wechat_server.calls["busy-x"] == 2
    response = _login(wechat_client, "busyall")
    assert response.status_code == 503
    assert response.json()["code"] == "wechat_unavailable"
    assert wechat_server.calls["busyall"] == 2


@pytest.mark.parametrize(
    ("code", "status", "problem"),
    [
        ("bad", 401, "wechat_code_invalid"),
        ("limit", 429, "wechat_rate_limited"),
        ("risky", 403, "wechat_user_blocked"),
        ("http500", 503, "wechat_unavailable"),
        ("garbage", 503, "wechat_unavailable"),
        ("slow", 503, "wechat_unavailable"),
        ("bad code with spaces", 401, "wechat_code_invalid"),
    ],
)
def test_wechat_errors_map_to_problems(
    wechat_client: TestClient, session: Session, code: str, status: int, problem: str
) -> None:
    response = _login(wechat_client, code)
    assert response.status_code == status
    assert response.json()["code"] == problem
    if status == 429:
        assert int(response.headers["retry-after"]) > 0
    assert session.exec(select(WeChatUser)).all() == []


def test_wrong_app_secret_is_a_server_problem_not_the_users(
    wechat_client: TestClient, wechat_server: FakeWeChatServer, settings: Settings
) -> None:
    app = wechat_client.app
    app.state.wechat._secret = settings.wechat_app_secret.__class__("wrong")  # type: ignore[attr-defined]
    response = _login(wechat_client, "ok-zzz")
    assert response.status_code == 503
    assert "wrong" not in response.text


def test_fake_mode_accepts_dev_codes_only(client: TestClient) -> None:
    assert _login(client, "dev-xiaoming").status_code == 200
    response = _login(client, "real-looking-code")
    assert response.status_code == 401
    assert response.json()["code"] == "wechat_code_invalid"
