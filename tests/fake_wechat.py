"""A fake WeChat server: a real HTTP server on loopback that answers like api.weixin.qq.com.

``/sns/jscode2session`` behaves according to the ``js_code``:
``ok-<x>`` logs in as openid ``o-<x>`` (with a unionid and a session_key, which must never reach
our clients); ``busy-<x>`` answers -1 once, then succeeds; ``busyall`` always -1; ``bad`` 40029;
``limit`` 45011; ``risky`` 40226; ``http500`` HTTP 500; ``slow`` sleeps past the client
timeout; ``garbage`` a body that is not JSON.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

APP_ID = "wx-test-app"
APP_SECRET = "test-app-secret-0123456789abcdef"
SESSION_KEY = "NEVER-SEND-THIS-SESSION-KEY"


class FakeWeChatServer:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.slow_seconds = 0.8
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

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

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

    def __enter__(self) -> FakeWeChatServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
