"""The WeChat server API, called with httpx (see shared/DOMAIN-NOTES.md §2).

``code2session`` exchanges a ``wx.login`` code for the user's openid (and unionid when the
mini-program is bound to an Open Platform account). The ``session_key`` WeChat returns is
dropped here: nothing we do needs it, and it must never reach a client.

``SCIPASS_WECHAT_MODE=fake`` swaps in :class:`FakeWeChat`, which accepts ``dev-<name>`` codes
so that a developer can log in without WeChat; production refuses to start in that mode.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from scipass.core.config import Settings, WeChatMode
from scipass.wechat.errors import (
    WeChatCodeInvalid,
    WeChatRateLimited,
    WeChatUnavailable,
    WeChatUserBlocked,
)

logger = logging.getLogger("scipass.wechat")

BUSY = -1
CODE_INVALID = 40029
RATE_LIMITED = 45011
HIGH_RISK_USER = 40226
_CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_DEV_CODE = re.compile(r"^dev-([A-Za-z0-9_-]{1,40})$")


@dataclass(frozen=True, slots=True)
class WeChatIdentity:
    openid: str
    unionid: str | None = None


class WeChat(Protocol):
    def code2session(self, code: str) -> WeChatIdentity: ...

    def close(self) -> None: ...


class WeChatClient:
    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        self._app_id = settings.wechat_app_id
        self._secret = settings.wechat_app_secret
        self._http = http or httpx.Client(
            base_url=settings.wechat_base_url,
            timeout=httpx.Timeout(settings.wechat_timeout_seconds, connect=3.0),
        )

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            logger.warning("wechat %s failed: %s", path, exc.__class__.__name__)
            raise WeChatUnavailable("连接微信服务超时或失败", "WeChat did not answer") from None
        if response.status_code >= 500 or response.status_code != 200:
            logger.warning("wechat %s answered HTTP %s", path, response.status_code)
            raise WeChatUnavailable()
        try:
            body = response.json()
        except ValueError:
            logger.warning("wechat %s answered a body that is not JSON", path)
            raise WeChatUnavailable() from None
        if not isinstance(body, dict):
            raise WeChatUnavailable()
        return body

    def code2session(self, code: str) -> WeChatIdentity:
        if not _CODE_PATTERN.match(code):
            raise WeChatCodeInvalid()
        params = {
            "appid": self._app_id,
            "secret": self._secret.get_secret_value(),
            "js_code": code,
            "grant_type": "authorization_code",
        }
        body = self._get("/sns/jscode2session", params)
        if body.get("errcode") == BUSY:  # WeChat asks to retry once
            body = self._get("/sns/jscode2session", params)
        errcode = body.get("errcode") or 0
        if errcode == 0 and body.get("openid"):
            return WeChatIdentity(openid=str(body["openid"]), unionid=body.get("unionid") or None)
        if errcode == CODE_INVALID:
            raise WeChatCodeInvalid()
        if errcode == RATE_LIMITED:
            raise WeChatRateLimited(retry_after=60)
        if errcode == HIGH_RISK_USER:
            raise WeChatUserBlocked()
        # -1 twice, a configuration error (40013 appid, 40125 secret, 41002 ...) or no openid
        logger.error("wechat code2session errcode=%s errmsg=%s", errcode, body.get("errmsg"))
        raise WeChatUnavailable()


class FakeWeChat:
    """Development stand-in: ``dev-<name>`` logs in as the openid ``dev-openid-<name>``."""

    def code2session(self, code: str) -> WeChatIdentity:
        match = _DEV_CODE.match(code)
        if match is None:
            raise WeChatCodeInvalid(
                "开发模式下请使用 dev-<名字> 作为登录凭证", "In fake mode use codes 'dev-<name>'"
            )
        return WeChatIdentity(openid=f"dev-openid-{match.group(1)}")

    def close(self) -> None:
        pass


def make_wechat(settings: Settings) -> WeChat:
    if settings.wechat_mode is WeChatMode.fake:
        return FakeWeChat()
    return WeChatClient(settings)
