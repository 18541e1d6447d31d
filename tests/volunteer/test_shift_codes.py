"""A volunteer shift's codes have everything an activity's codes have, through the same
routes: revocation, PNG/SVG images, the A4 poster, the mini-program code (page
``SCIPASS_WECHAT_VOLUNTEER_PAGE``, scene ``c=<short id>``) and the kiosk screen of a rotating
code (``/kiosk/shifts/{id}``); only the shift's organiser manages them."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import qrcode
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader
from qrcode.constants import ERROR_CORRECT_M
from sqlalchemy import Connection, Engine
from sqlmodel import Session, select

from scipass.checkin import codes, render
from scipass.checkin.models import ActivityCode, ScanEvent, WxaCodeImage
from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings, WeChatMode
from scipass.core.db import Database
from tests import fake_wechat
from tests.factories import Side, create_activity
from tests.fake_wechat import FakeWeChatServer
from tests.volunteer.factories_attendance import (
    END,
    START,
    Api,
    Setup,
    scan,
    shift_code,
    signed_up,
)

TITLE = "志愿服务：小小志愿者（10月17日 09:00–12:00）"


@pytest.fixture
def api(client: TestClient, settings: Settings, clock: FrozenClock) -> Api:
    return Api(client, settings, clock)


@pytest.fixture
def setup(session: Session, side_a: Side) -> Setup:
    return signed_up(session, side_a)


def squeezed(text: str) -> str:
    return "".join(text.split())


def png_matrix(content: bytes) -> list[list[bool]]:
    """The modules of a QR code PNG of 10-pixel modules, read at each module's centre."""
    image = Image.open(io.BytesIO(content)).convert("L")
    assert image.width == image.height
    size = image.width // 10
    return [
        [image.getpixel((x * 10 + 5, y * 10 + 5)) == 0 for x in range(size)] for y in range(size)
    ]


def qr_of(text: str) -> list[list[bool]]:
    """What ``qrcode`` makes of ``text`` at level M with a 4-module quiet zone."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


# --- revocation ------------------------------------------------------------------------------


def test_a_revoked_shift_code_is_refused_and_the_refusal_is_kept(
    api: Api, session: Session, side_a: Side, clock: FrozenClock, setup: Setup
) -> None:
    code = shift_code(api, side_a, setup.shift.id or 0)
    staff = side_a.principal(Role.venue_staff)
    revoked = api.post(f"/api/v1/codes/{code['id']}/revoke", staff, json={"reason": "海报被撕"})
    assert revoked.status_code == 200, revoked.text
    body = revoked.json()
    assert (body["shift_id"], body["activity_id"]) == (setup.shift.id, None)
    assert body["revoked_at"] is not None
    assert body["revoke_reason"] == "海报被撕"
    assert body["link"] == code["link"]
    listed = api.get(f"/api/v1/volunteer-shifts/{setup.shift.id}/codes", staff).json()
    assert listed["items"][0]["revoked_at"] is not None

    clock.set(START + timedelta(minutes=1))
    refused = scan(api, side_a.principal(Role.student), code["link"], "revoked-1")
    assert (refused.status_code, refused.json()["code"]) == (400, "code_revoked")
    session.expire_all()
    event = session.exec(select(ScanEvent).where(ScanEvent.shift_id == setup.shift.id)).one()
    assert (event.result, event.reason, event.code_id) == ("refused", "code_revoked", code["id"])
    # a revoked code is printed no more
    png = api.get(f"/api/v1/codes/{code['id']}/qr.png", staff)
    assert (png.status_code, png.json()["code"]) == (422, "code_kind_invalid")


# --- images and the poster -------------------------------------------------------------------


def test_the_images_show_the_shifts_link(
    api: Api, settings: Settings, side_a: Side, setup: Setup
) -> None:
    code = shift_code(api, side_a, setup.shift.id or 0)
    link = code["link"]
    assert link.startswith(settings.shift_link_base)
    assert code["payload"] == link.removeprefix(settings.shift_link_base)
    assert code["scene"] == codes.SCENE_PREFIX + code["short_id"]
    assert code["kiosk_url"] is None  # a poster code has no screen
    staff = side_a.principal(Role.venue_staff)

    png = api.get(f"/api/v1/codes/{code['id']}/qr.png", staff)
    assert png.status_code == 200, png.text
    assert png.headers["content-type"] == "image/png"
    assert png_matrix(png.content) == qr_of(link)
    svg = api.get(f"/api/v1/codes/{code['id']}/qr.svg", staff)
    assert svg.status_code == 200
    assert svg.text == render.qr_svg(link)


def test_the_poster_names_the_role_the_place_and_the_venue(
    api: Api, side_a: Side, setup: Setup
) -> None:
    code = shift_code(api, side_a, setup.shift.id or 0)
    response = api.get(f"/api/v1/codes/{code['id']}/poster.pdf", side_a.principal(Role.venue_staff))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 1
    text = squeezed("".join(page.extract_text() for page in reader.pages))
    for expected in (
        "科学实践护照 · 志愿服务签到码",
        TITLE,
        f"主办单位：{side_a.venue.name}",
        "服务地点：一楼序厅",
        # from half an hour before the start to the end, as arrivals are taken
        "有效期：2026-10-17 08:30 至 2026-10-17 12:00（北京时间）",
        "如何到岗、离岗",
        code["short_id"],
    ):
        assert squeezed(expected) in text, expected
    assert "活动签到码" not in text


@pytest.mark.parametrize("how", ["cancelled", "over"])
def test_a_cancelled_or_finished_shifts_code_is_no_longer_printed(
    api: Api, session: Session, side_a: Side, clock: FrozenClock, setup: Setup, how: str
) -> None:
    code = shift_code(api, side_a, setup.shift.id or 0)
    if how == "cancelled":
        cancelled = api.post(
            f"/api/v1/volunteer-shifts/{setup.shift.id}/cancel",
            side_a.principal(Role.venue_admin),
            json={"reason": "场馆临时闭馆"},
        )
        assert cancelled.status_code == 200, cancelled.text
    else:
        clock.set(END + timedelta(minutes=31))
    for path in ("qr.png", "qr.svg", "poster.pdf", "wxacode.png"):
        response = api.get(f"/api/v1/codes/{code['id']}/{path}", side_a.principal(Role.venue_staff))
        assert (response.status_code, response.json()["code"]) == (422, "code_kind_invalid"), path
        assert "签到码已停用" in response.json()["title"] + response.json().get("detail", "")


# --- the mini-program code -------------------------------------------------------------------


@pytest.fixture
def wechat_server() -> Iterator[FakeWeChatServer]:
    with FakeWeChatServer() as server:
        yield server


@pytest.fixture
def wechat_api(
    settings: Settings,
    wechat_server: FakeWeChatServer,
    engine: Engine,
    connection: Connection,
    clock: FrozenClock,
    make_app: Callable[..., FastAPI],
) -> Iterator[Api]:
    real = settings.model_copy(
        update={
            "wechat_mode": WeChatMode.real,
            "wechat_app_id": fake_wechat.APP_ID,
            "wechat_app_secret": settings.wechat_app_secret.__class__(fake_wechat.APP_SECRET),
            "wechat_base_url": wechat_server.url,
            "wechat_timeout_seconds": 0.5,
        }
    )
    app = make_app(real, database=Database(engine, bind=connection), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, real, clock)


def test_the_mini_program_code_opens_the_volunteer_page_and_is_stored_once(
    wechat_api: Api,
    session: Session,
    side_a: Side,
    clock: FrozenClock,
    setup: Setup,
    wechat_server: FakeWeChatServer,
) -> None:
    code = shift_code(wechat_api, side_a, setup.shift.id or 0)
    url = f"/api/v1/codes/{code['id']}/wxacode.png"
    staff = side_a.principal(Role.venue_staff)
    first = wechat_api.get(url, staff)
    assert first.status_code == 200, first.text
    assert first.headers["X-Code-Kind"] == "wxacode"
    assert first.content == fake_wechat.wxacode_png(code["scene"])
    [call] = wechat_server.wxacode_calls
    assert call.body is not None
    assert call.body["scene"] == "c=" + code["short_id"] == code["scene"]
    assert call.body["page"] == "pages/volunteer/scan"

    second = wechat_api.get(url, staff)
    assert second.content == first.content
    assert len(wechat_server.wxacode_calls) == 1  # stored, not asked again
    stored = session.exec(select(WxaCodeImage).where(WxaCodeImage.code_id == code["id"])).one()
    assert (stored.page, stored.png) == ("pages/volunteer/scan", first.content)

    # the scene the mini-program receives is a scan of the shift
    clock.set(START + timedelta(minutes=2))
    arrived = scan(wechat_api, side_a.principal(Role.student), code["scene"], "scene-1")
    assert arrived.status_code == 201, arrived.text
    assert arrived.json()["shift_id"] == setup.shift.id


def test_the_volunteer_page_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIPASS_WECHAT_VOLUNTEER_PAGE", "pages/helpers/scan")
    assert Settings(_env_file=None).wechat_volunteer_page == "pages/helpers/scan"  # type: ignore[call-arg]
    monkeypatch.delenv("SCIPASS_WECHAT_VOLUNTEER_PAGE")
    assert Settings(_env_file=None).wechat_volunteer_page == "pages/volunteer/scan"  # type: ignore[call-arg]


def test_a_malformed_volunteer_page_is_refused_before_wechat_is_asked(
    wechat_api: Api, side_a: Side, setup: Setup, wechat_server: FakeWeChatServer
) -> None:
    wechat_api.settings.wechat_volunteer_page = "/pages/volunteer/scan?x=1"
    code = shift_code(wechat_api, side_a, setup.shift.id or 0)
    response = wechat_api.get(
        f"/api/v1/codes/{code['id']}/wxacode.png", side_a.principal(Role.venue_staff)
    )
    assert response.json()["code"] == "wxacode_page_invalid"
    assert wechat_server.wxacode_calls == []


# --- the kiosk screen ------------------------------------------------------------------------


def test_the_kiosk_shows_the_shifts_rotating_code_and_its_arrivals(
    api: Api, session: Session, side_a: Side, clock: FrozenClock, setup: Setup
) -> None:
    code = shift_code(api, side_a, setup.shift.id or 0, kind="rotating")
    page_url = code["kiosk_url"]
    assert page_url.startswith(f"/kiosk/shifts/{setup.shift.id}?token=K.")
    token = parse_qs(urlsplit(page_url).query)["token"][0]
    state_url = f"/kiosk/shifts/{setup.shift.id}/state"
    clock.set(START + timedelta(minutes=1))

    state = api.client.get(state_url, params={"token": token})
    assert state.status_code == 200, state.text
    assert state.headers["cache-control"] == "no-store"
    body = state.json()
    assert (body["title"], body["place"], body["organiser"]) == (
        TITLE,
        "一楼序厅",
        side_a.venue.name,
    )
    assert body["checked_in"] == 0
    assert body["link"].startswith(api.settings.shift_link_base)
    assert body["svg"] == render.qr_svg_element(body["link"])
    page = api.client.get(page_url)
    assert page.status_code == 200
    assert "本班次已到岗" in page.text
    assert TITLE in page.text
    assert "content-security-policy" in page.headers

    # the pupil scans the code on the screen: the count is the shift's arrivals
    arrived = scan(api, side_a.principal(Role.student), body["link"], "kiosk-1")
    assert arrived.status_code == 201, arrived.text
    assert api.client.get(state_url, params={"token": token}).json()["checked_in"] == 1

    # the token opens this shift's screen only, never an activity's of the same number
    activity = create_activity(session, venue_id=side_a.venue.id or 0)
    for path in (f"/kiosk/{setup.shift.id}/state", f"/kiosk/{activity.id}/state"):
        wrong = api.client.get(path, params={"token": token})
        assert (wrong.status_code, wrong.json()["code"]) == (401, "kiosk_token_invalid"), path
    # it expires with the leaving scans, half an hour after the end
    clock.set(END + timedelta(minutes=30))
    expired = api.client.get(state_url, params={"token": token})
    assert (expired.status_code, expired.json()["code"]) == (401, "kiosk_token_invalid")


def test_an_activitys_kiosk_token_opens_no_shift_screen(
    api: Api, session: Session, side_a: Side, setup: Setup
) -> None:
    activity = create_activity(session, venue_id=side_a.venue.id or 0, admission="open")
    response = api.post(
        f"/api/v1/activities/{activity.id}/codes",
        side_a.principal(Role.venue_staff),
        json={"kind": "rotating"},
    )
    assert response.status_code == 201, response.text
    token = parse_qs(urlsplit(response.json()["kiosk_url"]).query)["token"][0]
    for shift_id in (setup.shift.id, activity.id):
        refused = api.client.get(f"/kiosk/shifts/{shift_id}/state", params={"token": token})
        assert refused.status_code == 401


def test_a_cancelled_shift_leaves_the_screen(
    api: Api, session: Session, side_a: Side, setup: Setup
) -> None:
    code = shift_code(api, side_a, setup.shift.id or 0, kind="rotating")
    assert api.client.get(code["kiosk_url"]).status_code == 200
    cancelled = api.post(
        f"/api/v1/volunteer-shifts/{setup.shift.id}/cancel",
        side_a.principal(Role.venue_admin),
        json={"reason": "场馆临时闭馆"},
    )
    assert cancelled.status_code == 200, cancelled.text
    page = api.client.get(code["kiosk_url"])
    assert page.status_code == 401
    assert "班次已取消" in page.text
    state = api.client.get(code["kiosk_url"].replace("?", "/state?", 1))
    assert state.json()["code"] == "kiosk_token_invalid"


# --- who manages them ------------------------------------------------------------------------


def test_another_organisers_staff_get_404_on_every_route_of_a_shift_code(
    api: Api, session: Session, side_a: Side, side_b: Side, setup: Setup
) -> None:
    code = shift_code(api, side_a, setup.shift.id or 0)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"/api/v1/codes/{code['id']}/revoke", {"json": {"reason": "作废"}}),
        *(("GET", f"/api/v1/codes/{code['id']}/{p}", {}) for p in ("qr.png", "qr.svg")),
        *(("GET", f"/api/v1/codes/{code['id']}/{p}", {}) for p in ("poster.pdf", "wxacode.png")),
        ("GET", f"/api/v1/volunteer-shifts/{setup.shift.id}/codes", {}),
    ]
    for role in (Role.venue_staff, Role.venue_admin, Role.school_staff):
        other = side_b.principal(role)
        for method, url, kwargs in calls:
            response = api.client.request(method, url, headers=api.headers(other), **kwargs)
            assert response.status_code == 404, (role, url, response.text)
            assert response.json()["code"] in (
                "activity_code_not_found",
                "volunteer_shift_not_found",
            )
    # side A's school does not run the venue's shift either; the venue does
    qr = f"/api/v1/codes/{code['id']}/qr.png"
    assert api.get(qr, side_a.principal(Role.school_staff)).status_code == 404
    assert api.get(qr, side_a.principal(Role.venue_staff)).status_code == 200
    assert api.get(qr, side_a.principal(Role.platform_admin)).status_code == 200
    session.expire_all()
    assert session.get(ActivityCode, code["id"]).revoked_at is None  # type: ignore[union-attr]
