"""A fake WeChat server: a real HTTP server on loopback that answers like api.weixin.qq.com.

``GET /sns/jscode2session`` behaves according to the ``js_code``:
``ok-<x>`` logs in as openid ``o-<x>`` (with a unionid and a session_key, which must never reach
our clients); ``busy-<x>`` answers -1 once, then succeeds; ``busyall`` always -1; ``bad`` 40029;
``limit`` 45011; ``risky`` 40226; ``http500`` HTTP 500; ``slow`` sleeps past the client
timeout; ``garbage`` a body that is not JSON.

``POST /cgi-bin/stable_token`` (JSON) checks the appid (40013) and secret (40125) and, like the
real normal mode, answers the current token (``tok-1``, ``tok-2``, ...; ``expires_in`` 7200)
until it is replaced; calls are counted in ``token_calls``. Switches: ``token_errcode`` answers
that errcode; ``token_fault`` is ``"http500"``, ``"slow"`` or ``"garbage"``. ``rotate_token()``
replaces the token as another process forcing a refresh would.

``POST /wxa/getwxacodeunlimit?access_token=`` wants a JSON body (else 40169, as WeChat) and the
current token (a replaced or unknown one: 40001; none: 41001). ``expire_next = 40001 | 42001``
makes the next ``expire_times`` (default 1) calls with a valid token answer that errcode, each
time dropping the token so that the next ``stable_token`` call issues a new one. Scenes: longer
than 32 characters 40169, ``badscene`` 40129, ``quota`` 45009; page ``pages/missing`` 41030
while ``check_path`` is true. Otherwise the answer is an ``image/png`` QR code encoding
``wxacode:<scene>`` (:func:`wxacode_png`). Every call is recorded in ``wxacode_calls``.
``wxacode_errcode`` answers that errcode to a call with a valid token. ``wxacode_fault`` is
``"http500"``, ``"slow"``, ``"garbage"`` or ``"json-ok"`` (errcode 0 and no image); ``"slow"``
(for the token too) sleeps ``slow_seconds`` and then answers normally.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import qrcode
from qrcode.image.pil import PilImage

APP_ID = "wx-test-app"
APP_SECRET = "test-app-secret-0123456789abcdef"
SESSION_KEY = "NEVER-SEND-THIS-SESSION-KEY"
TOKEN_EXPIRES_IN = 7200

Answer = tuple[int, bytes, str]


@dataclass(frozen=True, slots=True)
class WxacodeCall:
    access_token: str | None
    content_type: str
    body: dict[str, Any] | None  # None when the body was not a JSON object


@cache
def wxacode_png(scene: str) -> bytes:
    """The image the fake answers for ``scene``: a small PNG QR code of ``wxacode:<scene>``."""
    code = qrcode.QRCode(box_size=2, border=1, image_factory=PilImage)
    code.add_data(f"wxacode:{scene}")
    out = io.BytesIO()
    code.make_image().save(out)
    return out.getvalue()


def _json(body: dict[str, Any]) -> Answer:
    return 200, json.dumps(body).encode(), "application/json; encoding=utf-8"


def _error(errcode: int, errmsg: str = "fake") -> Answer:
    return _json({"errcode": errcode, "errmsg": errmsg})


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # concurrency tests open many connections at once


class FakeWeChatServer:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.slow_seconds = 0.8
        # stable_token
        self.token_calls = 0
        self.token_errcode: int | None = None
        self.token_fault: str | None = None
        self.token_expires_in = TOKEN_EXPIRES_IN
        self._issued = 0
        self._current_token: str | None = None
        # getwxacodeunlimit
        self.wxacode_calls: list[WxacodeCall] = []
        self.expire_next: int | None = None
        self.expire_times = 1
        self.wxacode_fault: str | None = None
        self.wxacode_errcode: int | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def _send(
                self, status: int, body: bytes, content_type: str = "application/json"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path != "/sns/jscode2session":
                    self._send(404, b"{}")
                    return
                if query.get("appid") != APP_ID or query.get("secret") != APP_SECRET:
                    self._send(
                        200, json.dumps({"errcode": 40013, "errmsg": "invalid appid"}).encode()
                    )
                    return
                if query.get("grant_type") != "authorization_code":
                    self._send(200, b'{"errcode": 40002, "errmsg": "invalid grant_type"}')
                    return
                code = query.get("js_code", "")
                server.calls[code] += 1
                self._send(*server.answer(code, server.calls[code]))

            def do_POST(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                content_type = self.headers.get("Content-Type", "")
                if url.path == "/cgi-bin/stable_token":
                    self._send(*server.stable_token(raw))
                elif url.path == "/wxa/getwxacodeunlimit":
                    self._send(*server.wxacode(query.get("access_token"), content_type, raw))
                else:
                    self._send(404, b"{}")

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def answer(self, code: str, call: int) -> tuple[int, bytes]:
        def ok(name: str) -> tuple[int, bytes]:
            body = {"openid": f"o-{name}", "unionid": f"u-{name}", "session_key": SESSION_KEY}
            return 200, json.dumps(body).encode()

        def error(errcode: int) -> tuple[int, bytes]:
            return 200, json.dumps({"errcode": errcode, "errmsg": "fake"}).encode()

        if code.startswith("ok-"):
            return ok(code[3:])
        if code.startswith("busy-"):
            return error(-1) if call == 1 else ok(code[5:])
        if code == "slow":
            time.sleep(self.slow_seconds)
            return ok("slow")
        if code == "http500":
            return 500, b"internal"
        if code == "garbage":
            return 200, b"<html>busy</html>"
        errors = {"busyall": -1, "bad": 40029, "limit": 45011, "risky": 40226}
        return error(errors.get(code, 40029))

    # --- access token -------------------------------------------------------------------------

    @property
    def current_token(self) -> str | None:
        return self._current_token

    def rotate_token(self) -> str:
        """Replace the token, as another process calling ``force_refresh`` would."""
        with self._lock:
            return self._issue()

    def _issue(self) -> str:
        self._issued += 1
        self._current_token = f"tok-{self._issued}"
        return self._current_token

    def _fault(self, fault: str | None) -> Answer | None:
        if fault == "http500":
            return 500, b"internal", "text/plain"
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if fault == "garbage":
            return 200, b"<html>busy</html>", "text/html"
        if fault == "json-ok":  # JSON that is neither an image nor a refusal
            return _json({"errcode": 0, "errmsg": "ok"})
        return None

    def stable_token(self, raw: bytes) -> Answer:
        with self._lock:
            self.token_calls += 1
        failed = self._fault(self.token_fault)
        if failed is not None:
            return failed
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(47001, "data format error")
        if not isinstance(body, dict):
            return _error(47001, "data format error")
        if not body.get("appid"):
            return _error(41002, "appid missing")
        if body["appid"] != APP_ID:
            return _error(40013, "invalid appid")
        if not body.get("secret"):
            return _error(41004, "appsecret missing")
        if body["secret"] != APP_SECRET:
            return _error(40125, "invalid appsecret")
        if body.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        if self.token_errcode is not None:
            return _error(self.token_errcode)
        with self._lock:
            if body.get("force_refresh") is True or self._current_token is None:
                self._issue()
            token = self._current_token
        return _json({"access_token": token, "expires_in": self.token_expires_in})

    # --- mini-program codes -------------------------------------------------------------------

    def wxacode(self, token: str | None, content_type: str, raw: bytes) -> Answer:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        body = parsed if isinstance(parsed, dict) else None
        with self._lock:
            self.wxacode_calls.append(WxacodeCall(token, content_type, body))
        failed = self._fault(self.wxacode_fault)
        if failed is not None:
            return failed
        if not token:
            return _error(41001, "access_token missing")
        with self._lock:
            if token != self._current_token:
                return _error(40001, "invalid credential, access_token is invalid or not latest")
            if self.expire_next is not None:
                errcode = self.expire_next
                self.expire_times -= 1
                if self.expire_times <= 0:
                    self.expire_next, self.expire_times = None, 1
                self._current_token = None  # the next stable_token call issues a new one
                return _error(errcode, "access_token expired")
        if self.wxacode_errcode is not None:
            return _error(self.wxacode_errcode)
        if body is None:
            return _error(40169, "invalid length for scene, or the data is not json string")
        scene = body.get("scene")
        if not isinstance(scene, str) or not 1 <= len(scene) <= 32:
            return _error(40169, "invalid length for scene, or the data is not json string")
        if scene == "badscene":
            return _error(40129, "invalid scene")
        if scene == "quota":
            return _error(45009, "reach max api daily quota limit")
        if body.get("page") == "pages/missing" and body.get("check_path", True) is not False:
            return _error(41030, "invalid page")
        return 200, wxacode_png(scene), "image/png"

    def __enter__(self) -> FakeWeChatServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
