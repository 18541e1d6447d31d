"""The mini-program code of a static code: fetched from a fake WeChat server on loopback once,
stored, then served from the database; the plain link QR when WeChat is not configured."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlmodel import Session, select

from scipass.activity.models import Activity
from scipass.checkin import render
from scipass.checkin.models import WxaCodeImage
from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings, WeChatMode
from scipass.core.db import Database
from tests import fake_wechat
from tests.factories import Side, auth, create_activity
from tests.fake_wechat import FakeWeChatServer

START = datetime(2026, 10, 14, 2, 0, tzinfo=UTC)


@pytest.fixture
def wechat_server() -> Iterator[FakeWeChatServer]:
    with FakeWeChatServer() as server:
        yield server


@pytest.fixture
def real_settings(settings: Settings, wechat_server: FakeWeChatServer) -> Settings:
    return settings.model_copy(
        update={
            "wechat_mode": WeChatMode.real,
            "wechat_app_id": fake_wechat.APP_ID,
            "wechat_app_secret": settings.wechat_app_secret.__class__(fake_wechat.APP_SECRET),
            "wechat_base_url": wechat_server.url,
            "wechat_timeout_seconds": 0.5,
        }
    )


@pytest.fixture
def wechat_client(
    real_settings: Settings,
    engine: Engine,
    connection: Connection,
    clock: FrozenClock,
    make_app: Callable[..., FastAPI],
) -> Iterator[TestClient]:
    app = make_app(real_settings, database=Database(engine, bind=connection), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def activity(session: Session, side_a: Side) -> Activity:
    return create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        starts_at=START,
        ends_at=START + timedelta(hours=4),
        admission="open",
    )


def _static(client: TestClient, settings: Settings, side: Side, activity: Activity) -> dict:
    response = client.post(
        f"/api/v1/activities/{activity.id}/codes",
        json={"kind": "static"},
        headers=auth(settings, side.principal(Role.venue_staff)),
    )
    assert response.status_code == 201
    return response.json()


def test_the_mini_program_code_is_fetched_once_and_then_served_from_the_database(
    wechat_client: TestClient,
    real_settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    wechat_server: FakeWeChatServer,
) -> None:
    code = _static(wechat_client, real_settings, side_a, activity)
    url = f"/api/v1/codes/{code['id']}/wxacode.png"
    headers = auth(real_settings, side_a.principal(Role.venue_staff))
    first = wechat_client.get(url, headers=headers)
    assert first.status_code == 200, first.text
    assert first.headers["X-Code-Kind"] == "wxacode"
    assert first.content == fake_wechat.wxacode_png(code["scene"])
    call = wechat_server.wxacode_calls[0]
    assert call.content_type.startswith("application/json")
    assert call.body["scene"] == code["scene"]
    assert len(call.body["scene"]) <= 32
    assert call.body["page"] == "pages/checkin/index"
    assert call.body["env_version"] == "release"

    second = wechat_client.get(url, headers=headers)
    assert second.content == first.content
    assert len(wechat_server.wxacode_calls) == 1  # stored, not asked again
    assert wechat_server.token_calls == 1
    stored = session.exec(select(WxaCodeImage).where(WxaCodeImage.code_id == code["id"])).one()
    assert stored.png == first.content


def test_an_expired_token_is_refreshed_once(
    wechat_client: TestClient,
    real_settings: Settings,
    side_a: Side,
    activity: Activity,
    wechat_server: FakeWeChatServer,
) -> None:
    code = _static(wechat_client, real_settings, side_a, activity)
    wechat_server.expire_next = 42001
    response = wechat_client.get(
        f"/api/v1/codes/{code['id']}/wxacode.png",
        headers=auth(real_settings, side_a.principal(Role.venue_staff)),
    )
    assert response.status_code == 200
    assert wechat_server.token_calls == 2
    assert len(wechat_server.wxacode_calls) == 2


def test_wechat_errors_become_clear_problems_and_store_nothing(
    wechat_client: TestClient,
    real_settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,
    wechat_server: FakeWeChatServer,
) -> None:
    code = _static(wechat_client, real_settings, side_a, activity)
    url = f"/api/v1/codes/{code['id']}/wxacode.png"
    headers = auth(real_settings, side_a.principal(Role.venue_staff))
    wechat_server.wxacode_errcode = 45009
    quota = wechat_client.get(url, headers=headers)
    assert quota.status_code == 429
    assert quota.json()["code"] == "wechat_quota_exceeded"
    wechat_server.wxacode_errcode = None
    wechat_server.wxacode_fault = "http500"
    down = wechat_client.get(url, headers=headers)
    assert down.status_code == 503
    assert down.json()["code"] == "wechat_unavailable"
    assert session.exec(select(WxaCodeImage)).all() == []


def test_an_unreleased_page_is_named(
    wechat_client: TestClient,
    real_settings: Settings,
    side_a: Side,
    activity: Activity,
) -> None:
    real_settings.wechat_checkin_page = "pages/missing"
    code = _static(wechat_client, real_settings, side_a, activity)
    response = wechat_client.get(
        f"/api/v1/codes/{code['id']}/wxacode.png",
        headers=auth(real_settings, side_a.principal(Role.venue_staff)),
    )
    assert response.status_code == 503
    assert response.json()["code"] == "wxacode_page_invalid"


def test_without_wechat_the_plain_link_qr_is_returned(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    code = _static(client, settings, side_a, activity)
    response = client.get(
        f"/api/v1/codes/{code['id']}/wxacode.png",
        headers=auth(settings, side_a.principal(Role.venue_staff)),
    )
    assert response.status_code == 200
    assert response.headers["X-Code-Kind"] == "link"
    assert response.content == render.qr_png(code["link"])
    assert session.exec(select(WxaCodeImage)).all() == []


def test_rotating_codes_have_no_mini_program_code(
    client: TestClient, settings: Settings, side_a: Side, activity: Activity
) -> None:
    response = client.post(
        f"/api/v1/activities/{activity.id}/codes",
        json={"kind": "rotating"},
        headers=auth(settings, side_a.principal(Role.venue_staff)),
    )
    code_id = response.json()["id"]
    refused = client.get(
        f"/api/v1/codes/{code_id}/wxacode.png",
        headers=auth(settings, side_a.principal(Role.venue_staff)),
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "code_kind_invalid"
