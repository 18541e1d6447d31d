"""Signing in and out, the home page of each role, and changing an initial password."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from scipass.account import service as account_service
from scipass.account.errors import InvalidCredentials
from scipass.console import render, sessions
from scipass.console.deps import AnyStaffFirst, CsrfFailed, same_origin
from scipass.console.routing import ConsoleRoute
from scipass.core.auth import Role, public_access
from scipass.core.config import Environment
from scipass.core.deps import ClientAddress
from scipass.core.errors import ProblemError

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
public = APIRouter(
    prefix="/console",
    route_class=ConsoleRoute,
    include_in_schema=False,
    dependencies=[Depends(public_access)],
)

STAFF_ROLES = frozenset(
    {
        Role.school_staff,
        Role.school_admin,
        Role.venue_staff,
        Role.venue_admin,
        Role.bureau,
        Role.platform_admin,
    }
)


def _secure(request: Request) -> bool:
    return request.app.state.settings.env not in (Environment.dev, Environment.test)


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        secure=_secure(request),
        samesite="lax",
    )


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    hours = request.app.state.settings.console_session_hours
    _set_cookie(request, response, sessions.COOKIE, token, max_age=hours * 3600)


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of this site, nothing else."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console"


def _sign_in_page(
    request: Request, *, next_: str, error: dict[str, object] | None = None, status: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render.page(
        request,
        "login.html",
        status=status,
        next=next_,
        csrf=sessions.csrf_token(token),
        error=error,
    )
    _set_cookie(request, response, sessions.SIGN_IN_COOKIE, token, max_age=3600)
    return response


@public.get("/login", name="console-login")
async def sign_in_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _sign_in_page(request, next_=_safe_next(next))


def _authenticate(request: Request, username: str, password: str, address: str) -> str:
    app = request.app
    before = request.cookies.get(sessions.COOKIE)
    with app.state.db.unit_of_work() as session:
        now = app.state.clock.now()
        principal = account_service.authenticate(
            session,
            app.state.db,
            username=username,
            password=password,
            client_ip=address,
            now=now,
            channel="console",
        )
        if principal.role not in STAFF_ROLES or principal.account_id is None:
            raise InvalidCredentials()
        if before:  # a session this browser still holds (a shared tablet) ends, not lingers
            sessions.end(session, token=before)
        return sessions.start(session, app.state.settings, account_id=principal.account_id, now=now)


@public.post("/login", name="console-login-submit")
async def sign_in(
    request: Request,
    address: ClientAddress,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=128)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/console",
) -> Response:
    target = _safe_next(next)
    form_token = request.cookies.get(sessions.SIGN_IN_COOKIE, "")
    if not same_origin(request) or not sessions.csrf_matches(form_token, csrf_token):
        error = CsrfFailed().to_problem("zh")
        return _sign_in_page(request, next_=target, error=error, status=403)
    try:
        async with request.app.state.db.gate():
            token = await run_in_threadpool(_authenticate, request, username, password, address)
    except ProblemError as exc:
        return _sign_in_page(request, next_=target, error=exc.to_problem("zh"), status=exc.status)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token)
    response.delete_cookie(sessions.SIGN_IN_COOKIE, path="/console")
    return response


def _end(request: Request, token: str) -> None:
    with request.app.state.db.unit_of_work() as session:
        sessions.end(session, token=token)


@router.post("/logout", name="console-logout")
async def sign_out(request: Request, caller: AnyStaffFirst) -> Response:
    async with request.app.state.db.gate():
        await run_in_threadpool(_end, request, caller.token)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/console")
    return response


@router.get("", name="console-home")
async def home(request: Request, caller: AnyStaffFirst) -> Response:
    if caller.principal.password_change_required:
        return RedirectResponse("/console/password", status_code=303)
    return render.page(request, "home.html", caller=caller)


@router.get("/password", name="console-password")
async def password_page(request: Request, caller: AnyStaffFirst) -> Response:
    return render.page(request, "password.html", caller=caller)
