"""Rendering console pages: Jinja templates (autoescaped), the headers every page carries, and
the pages that answer a problem (the problem's Chinese title and detail, never a stack)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from scipass.console.nav import ROLE_NAMES, nav
from scipass.core.clock import SHANGHAI
from scipass.core.config import Environment as Env

# Scripts, styles, images and connections from this origin only; no inline script or style
# (pages pass data to scripts in data- attributes), no framing, forms post here only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}


def _local(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time (ISO text or datetime, UTC) shown in Beijing time."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).strftime(fmt)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _input_time(value: Any) -> str:
    """A stored time as a ``datetime-local`` input's value, in Beijing time."""
    return _local(value, "%Y-%m-%dT%H:%M")


environment = Environment(
    loader=PackageLoader("scipass.console", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["local"] = _local
environment.globals.update(nav=nav, role_names=ROLE_NAMES)
environment.filters["input_time"] = _input_time
environment.filters["urlencode_query"] = lambda params: urlencode(
    {k: v for k, v in params.items() if v not in (None, "")}
)


def page(
    request: Request, template: str, *, status: int = 200, caller: Any = None, **context: Any
) -> HTMLResponse:
    settings = request.app.state.settings
    body = environment.get_template(template).render(
        request=request,
        me=caller,  # ("caller" is a word of Jinja's macros)
        flash=caller.flash if caller is not None else None,
        dev=settings.env in (Env.dev, Env.test),
        **context,
    )
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def problem_page(
    request: Request, status: int, problem: dict[str, Any], caller: Any = None
) -> HTMLResponse:
    return page(request, "error.html", status=status, caller=caller, problem=problem)


def to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/console/login?next={quote(target)}", status_code=303)
