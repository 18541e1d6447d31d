"""Mini-program codes and the access token, through the real httpx client against a fake
WeChat server on loopback. No database is involved."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image
from pydantic import SecretStr

from scipass.core.config import Environment, Settings, WeChatMode
from scipass.wechat.client import FakeWeChat, WeChatClient, make_wechat
from scipass.wechat.errors import (
    WeChatMisconfigured,
    WeChatNotConfigured,
    WeChatQuotaExceeded,
    WeChatUnavailable,
    WxacodePageInvalid,
    WxacodeSceneInvalid,
)
from tests import fake_wechat
from tests.fake_wechat import FakeWeChatServer, wxacode_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PAGE = "pages/checkin/index"


def _settings(server: FakeWeChatServer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": Environment.test,
        "wechat_mode": WeChatMode.real,
        "wechat_app_id": fake_wechat.APP_ID,
        "wechat_app_secret": SecretStr(fake_wechat.APP_SECRET),
        "wechat_base_url": server.url,
        "wechat_timeout_seconds": 0.3,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def server() -> Iterator[FakeWeChatServer]:
    with FakeWeChatServer() as server:
        yield server


@pytest.fixture
def make_client(server: FakeWeChatServer) -> Iterator[Callable[..., WeChatClient]]:
    clients: list[WeChatClient] = []

    def make(**kwargs: object) -> WeChatClient:
        monotonic = kwargs.pop("monotonic", None)
        settings = _settings(server, **kwargs)
        client = (
            WeChatClient(settings, monotonic=monotonic) if monotonic else WeChatClient(settings)
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., WeChatClient]) -> WeChatClient:
    return make_client()


def _code(client: WeChatClient, scene: str = "a1", **kwargs: object) -> bytes:
    return client.get_unlimited_qrcode(scene=scene, page=kwargs.pop("page", PAGE), **kwargs)  # type: ignore[arg-type]


# --- success and the token cache ------------------------------------------------------------


def test_success_returns_the_png_and_posts_json(
    client: WeChatClient, server: FakeWeChatServer
) -> None:
    image = client.get_unlimited_qrcode(
        scene="v=12&a=7", page=PAGE, env_version="trial", width=280, check_path=False
    )
    assert image.startswith(PNG_SIGNATURE)
    assert image == wxacode_png("v=12&a=7")
    assert Image.open(io.BytesIO(image)).format == "PNG"
    [call] = server.wxacode_calls
    assert call.access_token == "tok-1"
    assert call.content_type.startswith("application/json")
    assert call.body == {
        "scene": "v=12&a=7",
        "page": PAGE,
        "check_path": False,
        "env_version": "trial",
        "width": 280,
    }


def test_defaults_and_home_page(client: WeChatClient, server: FakeWeChatServer) -> None:
    assert client.get_unlimited_qrcode(scene="x", page="").startswith(PNG_SIGNATURE)
    assert server.wxacode_calls[0].body == {
        "scene": "x",
        "check_path": True,
        "env_version": "release",
        "width": 430,
    }


def test_the_token_is_fetched_once_for_several_calls(
    client: WeChatClient, server: FakeWeChatServer
) -> None:
    for scene in ("a", "b", "c", "d"):
        assert _code(client, scene).startswith(PNG_SIGNATURE)
    assert server.token_calls == 1
    assert {call.access_token for call in server.wxacode_calls} == {"tok-1"}


def test_the_token_is_refreshed_five_minutes_before_it_expires(
    make_client: Callable[..., WeChatClient], server: FakeWeChatServer
) -> None:
    now = [1000.0]
    client = make_client(monotonic=lambda: now[0])
    assert client.access_token() == "tok-1"
    now[0] += 7200 - 300 - 1
    client.access_token()
    assert server.token_calls == 1
    now[0] += 1
    client.access_token()
    assert server.token_calls == 2


def test_a_short_lived_token_is_kept_for_half_its_life(
    make_client: Callable[..., WeChatClient], server: FakeWeChatServer
) -> None:
    server.token_expires_in = 200
    now = [0.0]
    client = make_client(monotonic=lambda: now[0])
    client.access_token()
    now[0] = 99.0
    client.access_token()
    assert server.token_calls == 1
    now[0] = 100.0
    client.access_token()
    assert server.token_calls == 2


def test_invalidate_drops_only_the_token_it_names(
    client: WeChatClient, server: FakeWeChatServer
) -> None:
    assert client.access_token() == "tok-1"
    client.invalidate_token("tok-0")
    client.access_token()
    assert server.token_calls == 1
    client.invalidate_token("tok-1")
    client.access_token()
    assert server.token_calls == 2


def test_the_stable_token_request_is_normal_mode(
    server: FakeWeChatServer, client: WeChatClient
) -> None:
    server.rotate_token()  # tok-1 exists; normal mode must answer it, not force a new one
    assert client.access_token() == "tok-1"
    assert server.current_token == "tok-1"


# --- refusals of the token ------------------------------------------------------------------


@pytest.mark.parametrize("errcode", [40001, 42001])
def test_a_refused_token_is_refreshed_once_and_the_call_retried(
    client: WeChatClient, server: FakeWeChatServer, errcode: int
) -> None:
    server.expire_next = errcode
    assert _code(client).startswith(PNG_SIGNATURE)
    assert server.token_calls == 2
    assert [call.access_token for call in server.wxacode_calls] == ["tok-1", "tok-2"]
    assert _code(client).startswith(PNG_SIGNATURE)
    assert server.token_calls == 2


def test_a_token_replaced_by_another_process_is_refreshed(
    client: WeChatClient, server: FakeWeChatServer
) -> None:
    _code(client)
    server.rotate_token()
    assert _code(client).startswith(PNG_SIGNATURE)
    assert server.token_calls == 2
    assert server.wxacode_calls[-1].access_token == "tok-2"


@pytest.mark.parametrize("errcode", [40001, 42001])
def test_two_refusals_in_a_row_are_unavailable_without_a_third_try(
    client: WeChatClient, server: FakeWeChatServer, errcode: int
) -> None:
    server.expire_next, server.expire_times = errcode, 2
    with pytest.raises(WeChatUnavailable):
        _code(client)
    assert server.token_calls == 2
    assert len(server.wxacode_calls) == 2


# --- refusals of the call -------------------------------------------------------------------


def test_an_unpublished_page_is_a_page_problem(
    client: WeChatClient, server: FakeWeChatServer
) -> None:
    with pytest.raises(WxacodePageInvalid) as caught:
        _code(client, page="pages/missing")
    assert caught.value.code == "wxacode_page_invalid"
    assert caught.value.status == 503
    assert "check_path" in (caught.value.detail_zh or "")
    # A trial build's page: without check_path WeChat makes the code.
    image = _code(client, page="pages/missing", check_path=False, env_version="trial")
    assert image.startswith(PNG_SIGNATURE)


def test_the_quota_is_a_rate_limit(client: WeChatClient) -> None:
    with pytest.raises(WeChatQuotaExceeded) as caught:
        _code(client, "quota")
    assert caught.value.status == 429
    assert caught.value.code == "wechat_quota_exceeded"
    assert caught.value.headers["Retry-After"] == "60"


def test_a_scene_wechat_refuses_is_a_scene_problem(client: WeChatClient) -> None:
    with pytest.raises(WxacodeSceneInvalid) as caught:
        _code(client, "badscene")
    assert caught.value.status == 422
    assert caught.value.code == "wxacode_scene_invalid"


@pytest.mark.parametrize("fault", ["http500", "slow", "garbage", "json-ok"])
def test_a_broken_answer_is_unavailable_and_never_an_image(
    client: WeChatClient, server: FakeWeChatServer, fault: str
) -> None:
    server.wxacode_fault = fault
    with pytest.raises(WeChatUnavailable):
        _code(client)
    assert len(server.wxacode_calls) == 1


def test_a_json_refusal_is_not_returned_as_an_image(
    client: WeChatClient, server: FakeWeChatServer
) -> None:
    for scene, error in (("quota", WeChatQuotaExceeded), ("badscene", WxacodeSceneInvalid)):
        with pytest.raises(error):
            _code(client, scene)
    server.wxacode_fault = "json-ok"
    with pytest.raises(WeChatUnavailable):
        _code(client)


def test_an_unknown_errcode_is_logged_and_unavailable(
    client: WeChatClient, server: FakeWeChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.wxacode_errcode = 40097
    with caplog.at_level(logging.ERROR, logger="scipass.wechat"), pytest.raises(WeChatUnavailable):
        _code(client)
    assert "errcode=40097" in caplog.text


# --- arguments checked before any call ------------------------------------------------------


@pytest.mark.parametrize(
    "scene", ["a" * 33, "50%OFF", "", "科技馆", "a b", "abc\n", "a\tb", 'q"uote', "x<y", "a^b"]
)
def test_a_bad_scene_is_refused_before_calling_wechat(
    client: WeChatClient, server: FakeWeChatServer, scene: str
) -> None:
    with pytest.raises(WxacodeSceneInvalid) as caught:
        _code(client, scene)
    assert caught.value.code == "wxacode_scene_invalid"
    assert server.wxacode_calls == []
    assert server.token_calls == 0


@pytest.mark.parametrize("scene", ["a" * 32, "!#$&'()*+,/:;=?@-._~", "Zz09"])
def test_every_allowed_scene_character_is_accepted(client: WeChatClient, scene: str) -> None:
    assert _code(client, scene).startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("page", ["/pages/index", "pages/index?id=1", "pages/a b"])
def test_a_bad_page_is_refused_before_calling_wechat(
    client: WeChatClient, server: FakeWeChatServer, page: str
) -> None:
    with pytest.raises(WxacodePageInvalid):
        _code(client, page=page)
    assert server.wxacode_calls == []
    assert server.token_calls == 0


@pytest.mark.parametrize(("argument", "value"), [("env_version", "prod"), ("width", 100)])
def test_programming_errors_are_value_errors(
    client: WeChatClient, server: FakeWeChatServer, argument: str, value: object
) -> None:
    with pytest.raises(ValueError, match=argument):
        _code(client, **{argument: value})
    assert server.wxacode_calls == []


# --- the token endpoint failing -------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"wechat_app_secret": SecretStr("wrong")},
        {"wechat_app_id": "wx-other"},
        {"wechat_app_id": ""},
        {"wechat_app_secret": SecretStr("")},
    ],
)
def test_a_refused_configuration_is_misconfigured_and_logged(
    make_client: Callable[..., WeChatClient],
    server: FakeWeChatServer,
    caplog: pytest.LogCaptureFixture,
    overrides: dict[str, object],
) -> None:
    client = make_client(**overrides)
    with (
        caplog.at_level(logging.ERROR, logger="scipass.wechat"),
        pytest.raises(WeChatMisconfigured) as caught,
    ):
        _code(client)
    assert caught.value.code == "wechat_misconfigured"
    assert caught.value.status == 503
    assert "errcode=" in caplog.text
    assert fake_wechat.APP_SECRET not in caplog.text
    assert server.wxacode_calls == []


def test_the_token_quota_is_a_rate_limit(client: WeChatClient, server: FakeWeChatServer) -> None:
    server.token_errcode = 45009
    with pytest.raises(WeChatQuotaExceeded):
        client.access_token()


@pytest.mark.parametrize(
    ("fault", "errcode"),
    [("http500", None), ("slow", None), ("garbage", None), (None, -1), (None, 40002)],
)
def test_a_failing_token_endpoint_is_unavailable_and_nothing_is_cached(
    client: WeChatClient, server: FakeWeChatServer, fault: str | None, errcode: int | None
) -> None:
    server.token_fault, server.token_errcode = fault, errcode
    with pytest.raises(WeChatUnavailable):
        _code(client)
    assert server.wxacode_calls == []
    server.token_fault = server.token_errcode = None
    assert _code(client).startswith(PNG_SIGNATURE)
    assert server.token_calls == 2


# --- threads --------------------------------------------------------------------------------


def test_concurrent_callers_share_one_token_fetch(
    make_client: Callable[..., WeChatClient], server: FakeWeChatServer
) -> None:
    server.token_fault, server.slow_seconds = "slow", 0.2  # the fetch is in flight for a while
    client = make_client(wechat_timeout_seconds=3.0)
    start = threading.Barrier(20)

    def call(index: int) -> bytes:
        start.wait()
        return _code(client, f"s{index}")

    with ThreadPoolExecutor(max_workers=20) as pool:
        images = list(pool.map(call, range(20)))
    assert server.token_calls == 1
    assert all(image.startswith(PNG_SIGNATURE) for image in images)
    assert len(server.wxacode_calls) == 20


def test_concurrent_refusals_refresh_the_token_once(
    make_client: Callable[..., WeChatClient], server: FakeWeChatServer
) -> None:
    client = make_client(wechat_timeout_seconds=3.0)
    client.access_token()
    server.rotate_token()  # every holder of tok-1 is now answered 40001
    start = threading.Barrier(10)

    def call(index: int) -> bytes:
        start.wait()
        return _code(client, f"r{index}")

    with ThreadPoolExecutor(max_workers=10) as pool:
        images = list(pool.map(call, range(10)))
    assert all(image.startswith(PNG_SIGNATURE) for image in images)
    assert server.token_calls == 2


# --- logs, fake mode, the fake server itself ------------------------------------------------


def test_the_access_token_never_reaches_the_logs(
    client: WeChatClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        _code(client)
    assert "getwxacodeunlimit" in caplog.text
    assert "access_token=***" in caplog.text
    assert "tok-1" not in caplog.text


def test_fake_mode_is_not_configured_for_codes(server: FakeWeChatServer) -> None:
    fake = make_wechat(_settings(server, wechat_mode=WeChatMode.fake))
    assert isinstance(fake, FakeWeChat)
    assert fake.configured is False
    with pytest.raises(WeChatNotConfigured) as caught:
        fake.get_unlimited_qrcode(scene="a1", page=PAGE)
    assert caught.value.status == 503
    assert caught.value.code == "wechat_not_configured"
    with pytest.raises(WxacodeSceneInvalid):
        fake.get_unlimited_qrcode(scene="50%", page=PAGE)
    real = make_wechat(_settings(server))
    try:
        assert isinstance(real, WeChatClient)
        assert real.configured is True
    finally:
        real.close()


def test_every_error_has_both_titles() -> None:
    for error in (
        WeChatMisconfigured,
        WeChatNotConfigured,
        WeChatQuotaExceeded,
        WxacodePageInvalid,
        WxacodeSceneInvalid,
    ):
        problem = (error(retry_after=60) if error is WeChatQuotaExceeded else error()).to_problem(
            "zh"
        )
        assert problem["code"] == error.code
        assert error.title_zh != error.title_en
        assert any("\u4e00" <= char <= "\u9fff" for char in error.title_zh)


def test_the_fake_server_refuses_a_form_post(server: FakeWeChatServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        token = http.post(
            "/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": fake_wechat.APP_ID,
                "secret": fake_wechat.APP_SECRET,
                "force_refresh": False,
            },
        ).json()
        assert token == {"access_token": "tok-1", "expires_in": 7200}
        response = http.post(
            "/wxa/getwxacodeunlimit",
            params={"access_token": "tok-1"},
            data={"scene": "a1", "page": PAGE},
        )
    assert response.json()["errcode"] == 40169
