"""The check-in hot path, served before FastAPI's routing and dependency machinery.

A science day brings thousands of scans to one venue within minutes; routing, dependency
solving and response validation cost more than the check-in itself. This ASGI middleware
answers a well-formed ``POST /api/v1/checkins`` directly: it reads the body, validates it
with the same schema, verifies the token with the same function and admits the same roles
(``WECHAT_ROLES``, those of the route's ``WeChatCaller``), reads the child a guardian scans
for from the query (``?student_id=``), runs the scan through the same function as the route
(:func:`scipass.checkin.self_scan.run_self_scan`), and builds the answer
(``CheckInRead.of_visit``) and the problems with the same functions.
Anything unusual (a body that does not validate, a missing or odd header, another role, a
bad token, a large body, a ``student_id`` that is not one id) is handed on untouched to the
FastAPI route ``checkin-create``, which answers it, so both paths give the same answers; the
route also documents the endpoint in OpenAPI.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scipass.checkin import self_scan as checkin_self_scan
from scipass.checkin.schemas import CheckInCreate, CheckInRead
from scipass.core import metrics
from scipass.core.auth import WECHAT_ROLES, Principal, decode_access_token
from scipass.core.errors import (
    DatabaseUnavailable,
    InternalError,
    ProblemError,
    database_unreachable,
    problem_response,
)
from scipass.core.idempotency import KEY_PATTERN
from scipass.core.inputs import MAX_ID

logger = logging.getLogger("scipass.checkin")

PATH = "/api/v1/checkins"
MAX_BODY = 4096  # a scan is a few hundred bytes; anything larger takes the ordinary route
KEY = re.compile(KEY_PATTERN)


class CheckinFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        metrics.note_route(scope, PATH)  # answered here or by the route: one template
        headers = _headers(scope)
        length = headers.get(b"content-length", b"")
        if (
            not length.isdigit()
            or int(length) > MAX_BODY
            or headers.get(b"content-type", b"").split(b";")[0].strip() != b"application/json"
        ):
            await self.app(scope, receive, send)
            return
        body, complete, more = await _read(receive)
        if not (complete and await self._answer(scope, headers, body, send)):
            await self.app(scope, replay(body, more, receive), send)

    async def _answer(
        self, scope: Scope, headers: dict[bytes, bytes], body: bytes, send: Send
    ) -> bool:
        """Answer the scan; False to hand it to the route (which answers any odd case)."""
        nonce = headers.get(b"idempotency-key", b"").decode("latin-1")
        bearer = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = bearer.partition(" ")
        if not KEY.fullmatch(nonce) or scheme.lower() != "bearer" or not token:
            return False
        try:
            data = CheckInCreate.model_validate_json(body)
        except ValidationError:
            return False
        app = scope["app"]
        state = app.state
        now = state.clock.now()
        try:
            actor: Principal = decode_access_token(state.settings, token.strip(), now=now)
        except ProblemError:
            return False
        if actor.role not in WECHAT_ROLES:
            return False
        plain, named = _student_id(scope.get("query_string", b""))
        if not plain:
            return False
        request = Request(scope)
        try:
            outcome, title = await checkin_self_scan.run_self_scan(
                state.commits,
                settings=state.settings,
                cache=state.checkin_cache,
                actor=actor,
                student_id=named,
                data=data,
                nonce=nonce,
                now=now,
            )
        except ProblemError as error:
            await problem_response(request, error)(scope, _no_body, send)
            return True
        except Exception as exc:
            request_id = scope.get("state", {}).get("request_id")
            if database_unreachable(exc):
                logger.warning("database unavailable on POST %s (request %s)", PATH, request_id)
                problem: ProblemError = DatabaseUnavailable()
            else:
                logger.exception("unhandled error on POST %s (request %s)", PATH, request_id)
                problem = InternalError("请求未能完成，请稍后再试", "The request failed")
            await problem_response(request, problem)(scope, _no_body, send)
            return True
        read = CheckInRead.of_visit(outcome.check_in, title, duplicate=not outcome.created)
        response = Response(
            read.model_dump_json().encode(),
            status_code=201 if outcome.created else 200,
            media_type="application/json",
        )
        await response(scope, _no_body, send)
        return True


def _student_id(query: bytes) -> tuple[bool, int | None]:
    """The ``student_id`` of a query string (parsed as Starlette parses it), or None without
    one; first, False when it is odd (named twice, not a plain id in range) and the route is
    to answer."""
    values = [
        value
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        if name == "student_id"
    ]
    if not values:
        return True, None
    value = values[0]
    if len(values) > 1 or not (value.isascii() and value.isdigit()) or len(value) > 16:
        return False, None
    number = int(value)
    return (True, number) if 1 <= number <= MAX_ID else (False, None)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The first value of each header, as Starlette reads them."""
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        found.setdefault(name, value)
    return found


async def _read(receive: Receive) -> tuple[bytes, bool, bool]:
    """The body read so far, whether it is all there within :data:`MAX_BODY`, and whether the
    client has more to send (a longer body than announced, or a disconnect, is left to the
    route)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False, False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
        if not more:
            return b"".join(chunks), size <= MAX_BODY, False
        if size > MAX_BODY:
            return b"".join(chunks), False, True


def replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """A ``receive`` that hands the route the body already read, then the rest as it comes."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replayed


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
