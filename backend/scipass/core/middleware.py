"""Plain ASGI middleware (cheaper per request than ``BaseHTTPMiddleware``)."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import time

import anyio
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: TID251
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scipass.core import logs, metrics
from scipass.core.auth import current_principal_of
from scipass.core.config import Settings
from scipass.core.errors import PayloadTooLarge, ProblemError, Unauthorized, problem_response

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give each request an id (the caller's ``X-Request-ID`` when sane) and echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if _SAFE_ID.match(incoming) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        token = logs.request_id.set(request_id)  # for every line the request logs
        await self.app(scope, receive, send_with_id)
        # Not on an exception: the error handler, outside every middleware (Starlette's
        # ServerErrorMiddleware), logs it with the id; the request's task ends with it.
        logs.request_id.reset(token)


class Observe:
    """Times each request and, after its answer, writes the access log line (``scipass.access``
    at INFO: method, route template, path, status, duration) and, when metrics are on, counts
    it by route template (:mod:`scipass.core.metrics`). With metrics on it also answers
    ``GET /metrics``, before routing (so it is no API route and not in the OpenAPI
    document), to a scraper that sends ``SCIPASS_METRICS_TOKEN`` as a bearer token when one
    is set. Inside :class:`RequestIdMiddleware`, so the lines carry the request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes = metrics.RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings: Settings = scope["app"].state.settings
        count = settings.metrics_enabled
        if count and scope["path"] == metrics.PATH and scope["method"] in ("GET", "HEAD"):
            await _metrics(scope, send, settings)
            return
        log = logs.access_logger.isEnabledFor(logging.INFO)
        if not (count or log):
            await self.app(scope, receive, send)
            return
        status = 500  # unless an answer started
        started = time.perf_counter()

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            seconds = time.perf_counter() - started
            method, route = scope["method"], self._routes.of(scope)
            if count:
                metrics.observe_request(method, route, status, seconds)
            if log:
                logs.access_logger.info(
                    "%s %s %d %.1f ms",
                    method,
                    scope["path"],
                    status,
                    seconds * 1000,
                    extra={
                        "method": method,
                        "route": route,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                    },
                )


async def _metrics(scope: Scope, send: Send, settings: Settings) -> None:
    token = settings.metrics_token.get_secret_value()
    if token:
        sent = Headers(scope=scope).get("authorization", "")
        scheme, _, value = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            await _answer(
                scope, send, Unauthorized("需要指标访问令牌", "A metrics token is required")
            )
            return
    body, media_type = await anyio.to_thread.run_sync(metrics.exposition)
    await Response(body, media_type=media_type)(scope, _nothing, send)


class BodyTooLarge(StarletteHTTPException):
    """A request body grew past its limit while it was being read. An HTTPException, so
    that FastAPI's body parsing passes it on to the problem handler (413)."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class BodyLimits:
    """Bodies are refused before they are parsed: 413 ``payload_too_large`` when the declared
    length passes the limit (nothing is read), or as soon as the bytes read pass it (a body
    without a length). JSON and every other body: ``SCIPASS_MAX_BODY_BYTES`` (1 MB); a
    multipart upload: ``SCIPASS_MAX_UPLOAD_BYTES`` (the routes then hold each file to its own
    limit, an evidence file to ``SCIPASS_EVIDENCE_MAX_BYTES``).

    An upload is also authenticated here, before a byte of it is read: without a valid access
    token the answer is 401 at once, however large the upload (routes authenticate only after
    FastAPI has parsed the body). Which role may upload is still the route's decision.

    FastAPI has body limits of its own (``max_body_size``), but answers them with a body that
    is not a problem document; this keeps the one error shape of the contract.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = scope["app"].state.settings
        headers = Headers(scope=scope)
        upload = headers.get("content-type", "").lower().startswith("multipart/")
        limit = settings.max_upload_bytes if upload else settings.max_body_bytes
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _answer(scope, send, _too_large(limit))
            return
        if upload and scope["path"].startswith("/api/"):
            try:
                await current_principal_of(scope)
            except ProblemError as refused:
                await _answer(scope, send, refused)
                return

        read = 0
        started = False

        async def limited() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    raise BodyTooLarge()
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except BodyTooLarge:
            if started:
                raise
            await _answer(scope, send, _too_large(limit))


def _too_large(limit: int) -> ProblemError:
    megabytes = f"{limit / 1024 / 1024:.0f}"
    return PayloadTooLarge(
        f"请求内容不能超过 {megabytes} MB",
        f"The request body exceeds {megabytes} MB",
        limit_bytes=limit,
    )


async def _answer(scope: Scope, send: Send, error: ProblemError) -> None:
    """Answer with ``error`` without reading the body (the connection is not reused)."""
    response = problem_response(Request(scope), error)
    response.headers["Connection"] = "close"
    await response(scope, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
