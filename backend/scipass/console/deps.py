"""Who is at the console: the session cookie read on every console request, the roles a page
admits, and the CSRF check of every request that changes something.

The session is read in a short transaction of its own, closed before the page calls the API
(:mod:`.calls`), so that a page never holds one turn at the database while waiting for another.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from scipass.account import service as account_service
from scipass.console import sessions
from scipass.console.calls import Api
from scipass.core.auth import PasswordChangeRequired, Principal, Role
from scipass.core.errors import Forbidden, Unauthorized

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class ConsoleSignInRequired(Unauthorized):
    """Answered as a redirect to the sign-in page to a browser (:mod:`.pages`)."""

    code = "console_sign_in_required"
    title_zh = "请先登录控制台"
    title_en = "Sign in to the console first"


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    title_zh = "页面已过期，请刷新后重试"
    title_en = "The page has expired; reload it and try again"


class ConsoleRoleForbidden(Forbidden):
    code = "role_forbidden"
    title_zh = "无权访问此页面"
    title_en = "Your role may not open this page"


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in staff member of one console request."""

    principal: Principal
    display_name: str
    session_id: int
    token: str  # the cookie's token
    flash: dict[str, Any] | None
    api: Api

    @property
    def csrf(self) -> str:
        return sessions.csrf_token(self.token)


def _read(request: Request, token: str) -> tuple[sessions.Signed, Principal] | None:
    app = request.app
    with app.state.db.unit_of_work() as session:
        signed = sessions.resolve(
            session, app.state.settings, token=token, now=app.state.clock.now()
        )
        if signed is None:
            return None
        return signed, account_service.principal_for_account(session, signed.account)


async def console_caller(request: Request) -> Caller:
    token = request.cookies.get(sessions.COOKIE)
    if not token or len(token) > 100:
        raise ConsoleSignInRequired()
    async with request.app.state.db.gate():
        found = await run_in_threadpool(_read, request, token)
    if found is None:
        raise ConsoleSignInRequired(
            "登录已过期，请重新登录", "Your session has ended; sign in again"
        )
    signed, principal = found
    if request.method not in SAFE_METHODS:
        await check_csrf(request, token)
    return Caller(
        principal=principal,
        display_name=signed.account.display_name,
        session_id=signed.session_id,
        token=token,
        flash=signed.flash,
        api=Api(request, principal),
    )


def same_origin(request: Request) -> bool:
    """Whether the request says it comes from a page of this site (or says nothing: the
    CSRF token decides then). The host is compared, not the scheme: behind a proxy that ends
    TLS the app may see plain HTTP while the browser's origin says https."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.url.netloc


async def check_csrf(request: Request, token: str) -> None:
    """A request that changes something carries the CSRF token of the session (a form field or
    the ``X-CSRF-Token`` header of a script) and comes from a page of this origin."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # Starlette keeps it for the route
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not same_origin(request) or not sessions.csrf_matches(token, sent):
        raise CsrfFailed()


ConsoleCaller = Annotated[Caller, Depends(console_caller)]


def console_require(
    *roles: Role, during_password_change: bool = False
) -> Callable[..., Awaitable[Caller]]:
    """A page's roles, as :func:`scipass.core.auth.require` declares an API route's: the
    access matrix reads both. A staff member still on an initial password is sent to change
    it (:mod:`.pages`)."""
    allowed = frozenset(roles)

    async def dependency(caller: ConsoleCaller) -> Caller:
        if caller.principal.role not in allowed:
            raise ConsoleRoleForbidden()
        if caller.principal.password_change_required and not during_password_change:
            raise PasswordChangeRequired()
        return caller

    dependency.__access__ = allowed  # type: ignore[attr-defined]  # a marker for declared_access
    dependency.__name__ = "console_require_" + "_".join(sorted(r.value for r in allowed))
    return dependency


STAFF_ROLES = (
    Role.school_staff,
    Role.school_admin,
    Role.venue_staff,
    Role.venue_admin,
    Role.bureau,
    Role.platform_admin,
)
AnyStaff = Annotated[Caller, Depends(console_require(*STAFF_ROLES))]
# The pages a staff member on an initial password may open: home (which sends them on) and
# the password page.
AnyStaffFirst = Annotated[
    Caller, Depends(console_require(*STAFF_ROLES, during_password_change=True))
]
