"""School staff's pages: what the school's records pages share, then records review (one by one
and in bulk) and public notices (公示) with their objections.

Every page reads the API as the signed-in teacher or school admin; the school is the API's
scope (the caller's own), never a parameter of the page. Which forms a page offers follows the
API's own access declarations (:func:`allowed`): a form whose operation the caller's role may
not call is not shown, and the API refuses it anyway.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, routing
from fastapi.responses import HTMLResponse

from scipass.console import render
from scipass.console.deps import Caller, console_require
from scipass.console.routing import ConsoleRoute
from scipass.core.auth import Role, declared_access
from scipass.core.inputs import Id
from scipass.record import errors as record_errors
from scipass.record import labels

router = APIRouter(prefix="/console/school", route_class=ConsoleRoute, include_in_schema=False)

SchoolCaller = Annotated[Caller, Depends(console_require(Role.school_staff, Role.school_admin))]

GRADES: list[tuple[str, str]] = [("", "全部年级")] + [
    (str(n), labels.grade(n)) for n in range(1, 13)
]
STATUSES: list[tuple[str, str]] = [(s.value, text) for s, text in labels.STATUS.items()]
CATEGORIES: list[tuple[str, str]] = [(c.value, text) for c, text in labels.CATEGORY.items()]
SEMESTERS: list[tuple[str, str]] = [("", "全部学期"), *labels.SEMESTER.items()]

# The codes a bulk review answers per record, shown in Chinese (their titles are the API's).
ITEM_PROBLEMS = {
    cls.code: cls.title_zh
    for cls in (
        record_errors.RecordNotFound,
        record_errors.RecordStateInvalid,
        record_errors.StudentConfirmationRequired,
        record_errors.AttesterCannotReview,
        record_errors.ReasonRequired,
    )
}


def allowed(app: FastAPI, caller: Caller, *names: str) -> dict[str, bool]:
    """Whether ``caller``'s role may call each API operation, by the operation's own access
    declaration (the console adds no rule: this only decides which forms a page shows)."""
    wanted = set(names)
    found = dict.fromkeys(names, False)
    for context in routing.iter_route_contexts(app.routes):
        route = context.original_route
        if context.name in wanted and isinstance(route, routing.APIRoute):
            access = declared_access(route.dependant)
            found[context.name] = isinstance(access, frozenset) and caller.principal.role in access
    return found


def query_of(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """The page's filters (those named) as the API's query, empty ones left out."""
    return {name: value for name in names if (value := request.query_params.get(name, "").strip())}


def paging(request: Request) -> dict[str, str]:
    return query_of(request, ("limit", "offset"))


# --- records review ---------------------------------------------------------------------------

RECORD_FILTERS = ("status", "grade", "class_name", "category", "school_year", "semester")


@router.get("/records", name="console-school-records")
async def records(request: Request, caller: SchoolCaller) -> HTMLResponse:
    filters = query_of(request, RECORD_FILTERS)
    if "status" not in request.query_params:
        filters["status"] = "confirmed"  # the organiser confirmed: waiting for the school
    elif request.query_params["status"] == "all":
        filters.pop("status")
    found = await caller.api.get("record-list", params={**filters, **paging(request)})
    params = {**filters, "status": request.query_params.get("status", filters.get("status", ""))}
    return render.page(
        request,
        "school/records.html",
        caller=caller,
        page=found,
        params=params,
        filters=filters,
        grades=GRADES,
        statuses=[("all", "全部状态"), *STATUSES],
        categories=[("", "全部类别"), *CATEGORIES],
        status_label=dict(STATUSES),
        category_label=dict(CATEGORIES),
        item_problems=ITEM_PROBLEMS,
        may=allowed(request.app, caller, "record-review-bulk", "notice-open"),
    )


@router.get("/records/{record_id}", name="console-school-record")
async def record(record_id: Id, request: Request, caller: SchoolCaller) -> HTMLResponse:
    found = await caller.api.get("record-get", record_id=record_id)
    history = await caller.api.get("record-history", record_id=record_id)
    return render.page(
        request,
        "school/record.html",
        caller=caller,
        record=found,
        history=history["items"],
        status_label=dict(STATUSES),
        category_label=dict(CATEGORIES),
        dimension_label={d.value: text for d, text in labels.DIMENSION.items()},
        role_label={r.value: text for r, text in labels.ROLE.items()},
        may=allowed(request.app, caller, "record-review"),
    )


# --- public notices and objections ------------------------------------------------------------


@router.get("/notices", name="console-school-notices")
async def notices(request: Request, caller: SchoolCaller) -> HTMLResponse:
    found = await caller.api.get("notice-list", params=paging(request))
    objection_filter = query_of(request, ("objection_status",))
    objections = await caller.api.get(
        "objection-list",
        params={"status": objection_filter.get("objection_status", "open"), "limit": 100},
    )
    return render.page(
        request,
        "school/notices.html",
        caller=caller,
        page=found,
        params={},
        objections=objections,
        objection_status=objection_filter.get("objection_status", "open"),
        grades=GRADES,
        semesters=SEMESTERS,
        may=allowed(request.app, caller, "notice-open", "objection-resolve"),
    )


@router.get("/notices/{notice_id}", name="console-school-notice")
async def notice(notice_id: Id, request: Request, caller: SchoolCaller) -> HTMLResponse:
    entries = await caller.api.get("notice-entries", notice_id=notice_id, params=paging(request))
    return render.page(
        request,
        "school/notice.html",
        caller=caller,
        notice_id=notice_id,
        page=entries,
        params={},
    )
