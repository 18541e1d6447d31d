"""Forms and scripts reach the API through two console routes, and only these:

* ``POST /console/do/{operation}`` — a form of a console page. Its fields become the
  operation's request: ``path.<name>`` and ``query.<name>`` fill the path and the query, every
  other field the JSON body, read through the operation's own body model (a list field takes
  every value sent, a check box is true when ticked, an empty field is left out, a time without
  a zone is Beijing time, ``<name>:json`` is a JSON value, a list of objects comes from fields
  ``<name>.0.<field>``, ``<name>.1.<field>``, ... read through its item model). A form of a
  file upload goes on as multipart. ``_next`` is the page to go to afterwards, ``_form`` names
  the form on its page. Without JavaScript the browser is sent back with the outcome (a
  problem, and what was typed but passwords) shown once; a script (``Accept:
  application/json``) gets the outcome as JSON. A file the operation answers (a PDF, a
  spreadsheet) is downloaded.
* ``/console/api/v1/{path}`` — what the console's scripts ask (a scan, the live counts, a job's
  progress), passed to the same path of the API and answered as the API answers.

Both check the CSRF token (:mod:`.deps`) and allow only the operations of :mod:`.operations`.
"""

from __future__ import annotations

import json
import re
import types
import typing
from datetime import datetime
from typing import Any, Union

from fastapi import APIRouter, Request, routing
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import AwareDatetime, BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from scipass.console import operations, sessions
from scipass.console.calls import Answer
from scipass.console.deps import AnyStaffFirst
from scipass.console.pages import set_session_cookie
from scipass.console.routing import ConsoleRoute, wants_json

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

PASSED_HEADERS = (
    "content-type",
    "content-disposition",
    "retry-after",
    "x-row-count",
    "x-withheld-count",
    "x-withheld-students",
    "x-code-kind",
)
CONTROL = {"csrf_token", "_next", "_form", "_done"}
RENEWS_SESSION = frozenset({"auth-password-change"})  # a new password: a new session


def _safe_next(value: str | None) -> str | None:
    if value and value.startswith("/console") and not value.startswith("//"):
        return value
    return None


def _back(request: Request, form: FormData) -> str:
    referer = request.headers.get("referer", "")
    base = f"{request.url.scheme}://{request.url.netloc}"
    if referer.startswith(base + "/console"):
        return referer[len(base) :]
    return _safe_next(str(form.get("_next") or "")) or "/console"


def _body_model(app: Any, name: str) -> type[BaseModel] | None:
    for context in routing.iter_route_contexts(app.routes):
        route = context.original_route
        if context.name == name and isinstance(route, routing.APIRoute):
            params = route.dependant.body_params
            if len(params) == 1:
                annotation = _unwrap(params[0].field_info.annotation)  # an optional body
                if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                    return annotation
    return None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → ``X``; Annotated[...] → its type."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return annotation


def _scalar(annotation: Any, value: str) -> Any:
    timed = annotation in (datetime, AwareDatetime)
    if timed and "T" in value and not value.endswith("Z") and "+" not in value:
        return value + ("+08:00" if len(value) > 16 else ":00+08:00")
    return value


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The item model of ``list[Model]``, if the list holds objects."""
    args = typing.get_args(annotation)
    item = _unwrap(args[0]) if len(args) == 1 else None
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


def _items(model: type[BaseModel], form: FormData, key: str) -> list[dict[str, Any]]:
    """A list of objects from fields named ``<key>.<index>.<field>``: one object per index, in
    the indexes' order, each read through ``model``; an object with every field empty is left
    out (so the API's error for ``<key>.<n>`` counts the objects sent)."""
    pattern = re.compile(re.escape(key) + r"\.(\d+)\.")
    indexes = sorted({int(m.group(1)) for k in form if (m := pattern.match(k))})
    found = (body_of(model, form, f"{key}.{index}.") for index in indexes)
    return [item for item in found if item]


def body_of(model: type[BaseModel] | None, form: FormData, prefix: str = "") -> dict[str, Any]:
    """The JSON body a form's fields make for ``model``."""
    body: dict[str, Any] = {}
    if model is None:
        return body
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or name)
        raw_json = form.get(key + ":json")
        if isinstance(raw_json, str) and raw_json.strip():
            try:
                body[name] = json.loads(raw_json)
            except ValueError:
                body[name] = raw_json  # the API names the field that is not what it takes
            continue
        annotation = _unwrap(info.annotation)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested = body_of(annotation, form, key + ".")
            if nested:
                body[name] = nested
        elif origin is list and (item_model := _model_of(annotation)) is not None:
            items = _items(item_model, form, key)
            if items:
                body[name] = items
        elif origin in (list, set, frozenset, tuple):
            if key in form:
                body[name] = [v for v in form.getlist(key) if isinstance(v, str) and v != ""]
        elif annotation is bool:
            values = form.getlist(key)
            if values:
                body[name] = values[-1] in ("on", "true", "1", "yes")
        else:
            value = form.get(key)
            if isinstance(value, str) and value.strip() != "":
                body[name] = _scalar(annotation, value.strip())
    return body


def _typed(form: FormData) -> dict[str, str]:
    """What was typed into a form, to put back after a problem (never a password)."""
    return {
        key: value
        for key, value in form.multi_items()
        if isinstance(value, str) and key not in CONTROL and "password" not in key
    }


def _passed(answer: Answer) -> Response:
    headers = {k: v for k, v in answer.headers.items() if k.lower() in PASSED_HEADERS}
    # pupils' data, downloaded or read by a script: kept out of caches, never sniffed as a page
    headers.update({"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
    return Response(answer.content, status_code=answer.status, headers=headers)


def _flash(request: Request, session_id: int, flash: dict[str, Any]) -> None:
    with request.app.state.db.unit_of_work() as session:
        sessions.set_flash(session, session_id=session_id, flash=flash)


def _renew(request: Request, account_id: int) -> tuple[str, int]:
    app = request.app
    with app.state.db.unit_of_work() as session:
        return sessions.renew(
            session, app.state.settings, account_id=account_id, now=app.state.clock.now()
        )


@router.post("/do/{operation}", name="console-do")
async def do(operation: str, request: Request, caller: AnyStaffFirst) -> Response:
    operations.check(operation)
    form = await request.form()
    path_params = {k[5:]: v for k, v in form.multi_items() if k.startswith("path.")}
    query = [(k[6:], v) for k, v in form.multi_items() if k.startswith("query.")]
    path = caller.api.path(operation, **path_params)
    method = next(iter(operations.methods(request.app, operation)))
    uploads = {k: v for k, v in form.multi_items() if isinstance(v, UploadFile)}
    if uploads:
        files = {k: (v.filename or k, await v.read(), v.content_type) for k, v in uploads.items()}
        data = {
            k: v
            for k, v in form.multi_items()
            if isinstance(v, str) and k not in CONTROL and not k.startswith(("path.", "query."))
        }
        answer = await caller.api.send(method, path, params=query, files=files, data=data)
    else:
        model = _body_model(request.app, operation)
        body = body_of(model, form) if model is not None else None
        answer = await caller.api.send(method, path, params=query, json_body=body)
    next_page = _safe_next(str(form.get("_next") or ""))
    downloaded = answer.ok and answer.media_type not in ("application/json", "")
    session_id, renewed = caller.session_id, None
    if answer.ok and operation in RENEWS_SESSION and caller.principal.account_id is not None:
        # the password changed: the account's other sessions end, this one starts anew
        async with request.app.state.db.gate():
            renewed, session_id = await run_in_threadpool(
                _renew, request, caller.principal.account_id
            )
    if wants_json(request):
        if not answer.ok or downloaded:
            return _passed(answer)
        result = answer.json() if answer.content else None
        reply = JSONResponse({"ok": True, "next": next_page, "result": result})
        if renewed:
            set_session_cookie(request, reply, renewed)
        return reply
    if downloaded:
        return _passed(answer)
    flash: dict[str, Any] = {"form": str(form.get("_form") or operation)}
    if answer.ok:
        flash["done"] = str(form.get("_done") or "已完成")
        target = next_page or _back(request, form)
    else:
        flash["problem"] = answer.problem or {"title": "操作失败", "status": answer.status}
        flash["values"] = _typed(form)
        target = _back(request, form)
    async with request.app.state.db.gate():
        await run_in_threadpool(_flash, request, session_id, flash)
    response = RedirectResponse(target, status_code=303)
    if renewed:
        set_session_cookie(request, response, renewed)
    return response


@router.api_route(
    "/api/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], name="console-api"
)
async def relay(path: str, request: Request, caller: AnyStaffFirst) -> Response:
    target = f"/api/v1/{path}"
    body = await request.body()
    answer = await caller.api.send(
        request.method,
        target,
        params=list(request.query_params.multi_items()),
        content=body or None,  # as sent: the API answers a body that is not JSON itself
        accept=request.headers.get("accept"),
    )
    return _passed(answer)
