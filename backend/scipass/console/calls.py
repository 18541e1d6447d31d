"""The console's way to the services: every page and form calls the JSON API in the same
process, as the signed-in staff member.

A console request carries the staff member's session cookie; the API admits bearer tokens only.
:class:`Api` mints a short-lived access token for the session's principal (the same claims the
API's own login gives) and sends the call straight into the app's ASGI stack, with the
browser's address, so that every rule, scope check, audit entry and problem is the API's own.
The token never leaves the process. Only the operations named in :mod:`.operations` can be
called, by their route names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from starlette.routing import NoMatchFound

from scipass.console import operations
from scipass.core.auth import Principal, issue_access_token

INTERNAL_BASE = "http://console.internal"


@dataclass(slots=True)
class Answer:
    """What the API answered."""

    status: int
    headers: httpx.Headers
    content: bytes

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def problem(self) -> dict[str, Any] | None:
        if self.ok or self.media_type not in {"application/problem+json", "application/json"}:
            return None
        found: dict[str, Any] = self.json()
        return found


@dataclass(slots=True)
class ApiProblem(Exception):
    """An API call a page needed failed; the page shows the problem instead."""

    status: int
    problem: dict[str, Any] = field(default_factory=dict)


class Api:
    def __init__(self, request: Request, principal: Principal) -> None:
        self._request = request
        self._principal = principal

    @property
    def app(self) -> FastAPI:
        app: FastAPI = self._request.app
        return app

    def path(self, name: str, **path_params: Any) -> str:
        operations.check(name)
        try:
            return self.app.url_path_for(name, **{k: str(v) for k, v in path_params.items()})
        except (NoMatchFound, AssertionError, ValueError):
            # a parameter the route lacks, or a value its convertor refuses (a slash, not a
            # number); check_path refuses the rest (an escape, a dot segment) when it is sent
            raise ApiProblem(404, {"title": "页面不存在", "code": "not_found"}) from None

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json_body: Any = None,
        content: bytes | None = None,
        files: Any = None,
        data: Any = None,
        accept: str | None = None,
    ) -> Answer:
        """One call to the API at ``path`` (a path the operations allow)."""
        operations.check_path(self.app, method, path)
        settings = self.app.state.settings
        token, _ = issue_access_token(settings, self._principal, now=self.app.state.clock.now())
        headers = {"authorization": f"Bearer {token}", "accept-language": "zh-CN"}
        if accept:
            headers["accept"] = accept
        if content is not None:
            headers["content-type"] = "application/json"
        # the console request's own id (the caller's or the one the middleware gave it), so
        # that the API's log lines and problems name the request the browser saw
        request_id = getattr(self._request.state, "request_id", None)
        if request_id:
            headers["x-request-id"] = request_id
        client = self._request.client
        transport = httpx.ASGITransport(
            app=self.app, client=(client.host, client.port) if client else ("127.0.0.1", 0)
        )
        async with httpx.AsyncClient(
            transport=transport, base_url=INTERNAL_BASE, trust_env=False
        ) as http:
            response = await http.request(
                method,
                path,
                params=params,
                json=json_body,
                content=content,
                files=files,
                data=data,
                headers=headers,
            )
        return Answer(response.status_code, response.headers, response.content)

    async def get(self, name: str, *, params: Any = None, **path_params: Any) -> Any:
        """The JSON of a GET a page needs; a problem stops the page (:class:`ApiProblem`)."""
        answer = await self.send("GET", self.path(name, **path_params), params=params)
        if not answer.ok:
            raise ApiProblem(answer.status, answer.problem or {})
        return answer.json()
