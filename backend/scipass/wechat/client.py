"""The WeChat server API, called with httpx (see shared/DOMAIN-NOTES.md §2).

``code2session`` exchanges a ``wx.login`` code for the user's openid (and unionid when the
mini-program is bound to an Open Platform account). The ``session_key`` WeChat returns is
dropped here: nothing we do needs it, and it must never reach a client.

``access_token`` comes from the stable-token API in normal mode (never ``force_refresh``, which
WeChat allows 20 times a day and which invalidates the token for every other process). It is
kept in the instance until five minutes before it expires; threads share one fetch. A call
that WeChat answers 40001 (token replaced) or 42001 (token expired) drops the token through
``invalidate_token`` and is retried once with a fresh one.

``get_unlimited_qrcode`` is wxacode.getUnlimited: WeChat answers the image itself on success
and JSON on failure, so the Content-Type decides. Codes are permanent and the API allows
5,000 calls a minute, so callers store the image instead of asking again.

``SCIPASS_WECHAT_MODE=fake`` swaps in :class:`FakeWeChat`, which accepts ``dev-<name>`` codes
so that a developer can log in without WeChat and is not ``configured`` for mini-program codes
(callers fall back to a plain link QR code); production refuses to start in that mode.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from scipass.core.config import Settings, WeChatMode
from scipass.wechat.errors import (
    WeChatCodeInvalid,
    WeChatMisconfigured,
    WeChatNotConfigured,
    WeChatQuotaExceeded,
    WeChatRateLimited,
    WeChatUnavailable,
    WeChatUserBlocked,
    WxacodePageInvalid,
    WxacodeSceneInvalid,
)

logger = logging.getLogger("scipass.wechat")

BUSY = -1
CODE_INVALID = 40029
RATE_LIMITED = 45011
HIGH_RISK_USER = 40226
TOKEN_INVALID = 40001  # wrong secret, or a token that a newer one replaced
TOKEN_EXPIRED = 42001
QUOTA_EXCEEDED = 45009
PAGE_INVALID = 41030
SCENE_TOO_LONG = 40169  # also: the body was not JSON
SCENE_BAD_CHARACTERS = 40129
# Invalid appid, invalid secret, appid missing, secret missing, server IP not whitelisted.
MISCONFIGURED = frozenset({40013, 40125, 41002, 41004, 40164})
TOKEN_REFRESH_MARGIN_SECONDS = 300
QUOTA_RETRY_AFTER_SECONDS = 60
_ENV_NAMES_ZH = {"release": "正式版", "trial": "体验版", "develop": "开发版"}
WXACODE_ENV_VERSIONS = frozenset(_ENV_NAMES_ZH)
WXACODE_MIN_WIDTH = 280
WXACODE_MAX_WIDTH = 1280

_CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
_DEV_CODE = re.compile(r"dev-([A-Za-z0-9_-]{1,40})")
_SCENE_PATTERN = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}")
_ACCESS_TOKEN_IN_TEXT = re.compile(r"(access_token=)[^&\s\"']+")


def _redact(value: object) -> object:
    text = str(value)
    return _ACCESS_TOKEN_IN_TEXT.sub(r"\1***", text) if "access_token=" in text else value


class _RedactAccessToken(logging.Filter):
    """httpx logs each request URL at INFO; our access token travels in the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(arg) for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = _ACCESS_TOKEN_IN_TEXT.sub(r"\1***", record.msg)
        return True


logging.getLogger("httpx").addFilter(_RedactAccessToken())


@dataclass(frozen=True, slots=True)
class WeChatIdentity:
    openid: str
    unionid: str | None = None


@dataclass(frozen=True, slots=True)
class _CachedToken:
    value: str
    refresh_at: float  # on the monotonic clock


class WeChat(Protocol):
    @property
    def configured(self) -> bool:
        """Whether mini-program codes can be made; when not, fall back to a plain link QR."""
        ...

    def code2session(self, code: str) -> WeChatIdentity: ...

    def get_unlimited_qrcode(
        self,
        *,
        scene: str,
        page: str,
        env_version: str = "release",
        width: int = 430,
        check_path: bool = True,
    ) -> bytes: ...

    def close(self) -> None: ...


def _check_wxacode_arguments(*, scene: str, page: str, env_version: str, width: int) -> None:
    """Refuse what WeChat would refuse, before spending a call (and an access token) on it."""
    if not _SCENE_PATTERN.fullmatch(scene):
        raise WxacodeSceneInvalid(
            "小程序码参数须为 1 至 32 个字符，只能包含数字、英文字母和 !#$&'()*+,/:;=?@-._~",
            "The scene must be 1 to 32 characters of digits, letters and !#$&'()*+,/:;=?@-._~",
        )
    if page.startswith("/") or "?" in page or any(ch.isspace() for ch in page):
        raise WxacodePageInvalid(
            "小程序页面路径格式不正确：不能以 / 开头，也不能带查询参数（参数请放在 scene 中）",
            "The page must not start with '/' nor carry a query string (use the scene)",
        )
    if env_version not in WXACODE_ENV_VERSIONS:
        raise ValueError(f"env_version must be one of {sorted(WXACODE_ENV_VERSIONS)}")
    if not WXACODE_MIN_WIDTH <= width <= WXACODE_MAX_WIDTH:
        raise ValueError(f"width must be between {WXACODE_MIN_WIDTH} and {WXACODE_MAX_WIDTH}")


class WeChatClient:
    def __init__(
        self,
        settings: Settings,
        http: httpx.Client | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app_id = settings.wechat_app_id
        self._secret = settings.wechat_app_secret
        self._http = http or httpx.Client(
            base_url=settings.wechat_base_url,
            timeout=httpx.Timeout(settings.wechat_timeout_seconds, connect=3.0),
        )
        self._monotonic = monotonic
        self._token: _CachedToken | None = None
        self._token_lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return True

    def close(self) -> None:
        self._http.close()

    # --- transport --------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One request; anything but an HTTP 200 answer is :class:`WeChatUnavailable`.

        ``path`` is what gets logged: the access token travels in ``params`` and never in it.
        """
        try:
            response = self._http.request(method, path, params=params, json=json)
        except httpx.HTTPError as exc:
            logger.warning("wechat %s failed: %s", path, exc.__class__.__name__)
            raise WeChatUnavailable("连接微信服务超时或失败", "WeChat did not answer") from None
        if response.status_code != 200:
            logger.warning("wechat %s answered HTTP %s", path, response.status_code)
            raise WeChatUnavailable()
        return response

    @staticmethod
    def _json(path: str, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            logger.warning("wechat %s answered a body that is not JSON", path)
            raise WeChatUnavailable() from None
        if not isinstance(body, dict):
            logger.warning("wechat %s answered JSON that is not an object", path)
            raise WeChatUnavailable()
        return body

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        return self._json(path, self._send("GET", path, params=params))

    # --- login ------------------------------------------------------------------------------

    def code2session(self, code: str) -> WeChatIdentity:
        if not _CODE_PATTERN.fullmatch(code):
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

    # --- access token -----------------------------------------------------------------------

    def _cached_token(self) -> str | None:
        token = self._token
        if token is not None and self._monotonic() < token.refresh_at:
            return token.value
        return None

    def access_token(self) -> str:
        """The mini-program's access token, fetched once and shared until shortly before expiry."""
        token = self._cached_token()
        if token is not None:
            return token
        with self._token_lock:
            token = self._cached_token()  # another thread may have fetched it while we waited
            if token is not None:
                return token
            token, expires_in = self._fetch_stable_token()
            if expires_in > TOKEN_REFRESH_MARGIN_SECONDS:
                lifetime = expires_in - TOKEN_REFRESH_MARGIN_SECONDS
            else:  # WeChat renews stable tokens 5 min early, so this should not happen
                lifetime = expires_in / 2
            self._token = _CachedToken(token, self._monotonic() + lifetime)
            return token

    def invalidate_token(self, token: str) -> None:
        """Forget ``token`` after WeChat refused it, unless a newer one already replaced it.

        Several threads that saw the same refusal thus cause a single refresh.
        """
        with self._token_lock:
            if self._token is not None and self._token.value == token:
                self._token = None

    def _fetch_stable_token(self) -> tuple[str, float]:
        path = "/cgi-bin/stable_token"
        payload = {
            "grant_type": "client_credential",
            "appid": self._app_id,
            "secret": self._secret.get_secret_value(),
            "force_refresh": False,
        }
        body = self._json(path, self._send("POST", path, json=payload))
        errcode = body.get("errcode") or 0
        token = body.get("access_token")
        expires_in = body.get("expires_in")
        if (
            errcode == 0
            and isinstance(token, str)
            and token
            and isinstance(expires_in, int | float)
            and not isinstance(expires_in, bool)
            and expires_in > 0
        ):
            return token, float(expires_in)
        if errcode in MISCONFIGURED:
            logger.error(
                "wechat stable_token refused our configuration: errcode=%s errmsg=%s "
                "(check SCIPASS_WECHAT_APP_ID, SCIPASS_WECHAT_APP_SECRET and the IP whitelist)",
                errcode,
                body.get("errmsg"),
            )
            raise WeChatMisconfigured()
        if errcode == QUOTA_EXCEEDED:
            logger.error("wechat stable_token quota exceeded: errmsg=%s", body.get("errmsg"))
            raise WeChatQuotaExceeded(retry_after=QUOTA_RETRY_AFTER_SECONDS)
        logger.error("wechat stable_token errcode=%s errmsg=%s", errcode, body.get("errmsg"))
        raise WeChatUnavailable()

    # --- mini-program codes -----------------------------------------------------------------

    def get_unlimited_qrcode(
        self,
        *,
        scene: str,
        page: str,
        env_version: str = "release",
        width: int = 430,
        check_path: bool = True,
    ) -> bytes:
        """The image of a mini-program code opening ``page`` with ``scene`` (wxacode.getUnlimited).

        ``scene`` is 1-32 characters of digits, letters and ``!#$&'()*+,/:;=?@-._~``
        (:class:`WxacodeSceneInvalid` otherwise); ``page`` has no leading ``/`` and no query
        string, empty meaning the home page. With ``check_path`` WeChat requires the page in the
        released version: for a trial or development build pass ``check_path=False`` and its
        ``env_version``. A bad ``env_version`` or ``width`` is a programming error (ValueError).
        """
        _check_wxacode_arguments(scene=scene, page=page, env_version=env_version, width=width)
        payload: dict[str, Any] = {
            "scene": scene,
            "check_path": check_path,
            "env_version": env_version,
            "width": width,
        }
        if page:
            payload["page"] = page
        token = self.access_token()
        image, errcode, errmsg = self._post_wxacode(token, payload)
        if errcode in (TOKEN_INVALID, TOKEN_EXPIRED):
            self.invalidate_token(token)
            token = self.access_token()
            image, errcode, errmsg = self._post_wxacode(token, payload)
            if errcode in (TOKEN_INVALID, TOKEN_EXPIRED):
                logger.error(
                    "wechat getwxacodeunlimit refused a fresh access token: errcode=%s errmsg=%s",
                    errcode,
                    errmsg,
                )
                raise WeChatUnavailable()
        if image is not None:
            return image
        if errcode == QUOTA_EXCEEDED:
            logger.warning("wechat getwxacodeunlimit quota exceeded (5,000 calls a minute)")
            raise WeChatQuotaExceeded(retry_after=QUOTA_RETRY_AFTER_SECONDS)
        if errcode == PAGE_INVALID:
            logger.warning(
                "wechat getwxacodeunlimit: page %r is not in the %s version (check_path=%s)",
                page,
                env_version,
                check_path,
            )
            raise WxacodePageInvalid(
                f"页面 {page or '（首页）'} 不在小程序{_ENV_NAMES_ZH[env_version]}中，请先发布；"
                "体验版或开发版请设置 check_path 为 false 并指定 env_version",
                f"The page {page!r} is not in the {env_version} version; publish it, or pass "
                "check_path=false and env_version for a trial or development build",
            )
        if errcode in (SCENE_TOO_LONG, SCENE_BAD_CHARACTERS):
            logger.warning("wechat getwxacodeunlimit refused the scene: errcode=%s", errcode)
            raise WxacodeSceneInvalid()
        logger.error("wechat getwxacodeunlimit errcode=%s errmsg=%s", errcode, errmsg)
        raise WeChatUnavailable()

    def _post_wxacode(
        self, token: str, payload: dict[str, Any]
    ) -> tuple[bytes | None, int, str | None]:
        """``(image, 0, None)`` on success, ``(None, errcode, errmsg)`` when WeChat refused."""
        path = "/wxa/getwxacodeunlimit"
        response = self._send("POST", path, params={"access_token": token}, json=payload)
        content_type = response.headers.get("content-type", "").lower()
        if content_type.startswith("image/"):
            if not response.content:
                logger.warning("wechat %s answered an empty image", path)
                raise WeChatUnavailable()
            return response.content, 0, None
        body = self._json(path, response)
        errcode = body.get("errcode")
        if not isinstance(errcode, int) or isinstance(errcode, bool) or errcode == 0:
            # JSON that is no refusal is no image either: never hand it out as one.
            logger.error("wechat %s answered JSON without an image: %s", path, body)
            raise WeChatUnavailable()
        errmsg = body.get("errmsg")
        return None, errcode, str(errmsg) if errmsg is not None else None


class FakeWeChat:
    """Development stand-in: ``dev-<name>`` logs in as the openid ``dev-openid-<name>``.

    It cannot make mini-program codes: ``configured`` is False and callers show a plain link
    QR code instead.
    """

    @property
    def configured(self) -> bool:
        return False

    def code2session(self, code: str) -> WeChatIdentity:
        match = _DEV_CODE.fullmatch(code)
        if match is None:
            raise WeChatCodeInvalid(
                "开发模式下请使用 dev-<名字> 作为登录凭证", "In fake mode use codes 'dev-<name>'"
            )
        return WeChatIdentity(openid=f"dev-openid-{match.group(1)}")

    def get_unlimited_qrcode(
        self,
        *,
        scene: str,
        page: str,
        env_version: str = "release",
        width: int = 430,
        check_path: bool = True,
    ) -> bytes:
        # Same checks as the real client, so that a bad scene shows up in development too.
        _check_wxacode_arguments(scene=scene, page=page, env_version=env_version, width=width)
        raise WeChatNotConfigured(
            "开发模式未接入微信，无法生成小程序码，请使用普通二维码",
            "Fake mode cannot make mini-program codes; use a plain link QR code",
        )

    def close(self) -> None:
        pass


def make_wechat(settings: Settings) -> WeChat:
    if settings.wechat_mode is WeChatMode.fake:
        return FakeWeChat()
    return WeChatClient(settings)
