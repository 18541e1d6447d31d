"""How a console route answers a problem: a browser asking for a page gets a page (the sign-in
page when it is not signed in), a script gets the problem as JSON, as the API would answer it.

Every console router uses :class:`ConsoleRoute`, so a page needs no try/except of its own."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute

from scipass.console import render
from scipass.console.calls import ApiProblem
from scipass.console.deps import ConsoleSignInRequired
from scipass.core.auth import PasswordChangeRequired
from scipass.core.errors import PROBLEM_MEDIA_TYPE, ProblemError


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiProblem as exc:
                if wants_json(request):
                    return JSONResponse(exc.problem, exc.status, media_type=PROBLEM_MEDIA_TYPE)
                return render.problem_page(request, exc.status, exc.problem)
            except ProblemError as exc:
                if wants_json(request):
                    raise  # the app's problem handler answers it
                if isinstance(exc, ConsoleSignInRequired) and request.method == "GET":
                    return render.to_sign_in(request)
                if isinstance(exc, PasswordChangeRequired) and request.method == "GET":
                    return RedirectResponse("/console/password", status_code=303)
                return render.problem_page(
                    request, exc.status, exc.to_problem("zh", request.url.path)
                )

        return route
