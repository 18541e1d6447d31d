"""The bureau's compliance pages: the region's dashboard (the rules' table and three charts),
a school's drill-down, and the ledger (工作台账) exported by a form of the dashboard.

Both pages read the API as the signed-in officer: ``GET /compliance`` (its region, or a region
below it; the platform names one) and ``GET /schools/{id}/compliance`` (a school of the
region; another region's school is the API's 404)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from scipass.console import render
from scipass.console.calls import ApiProblem
from scipass.console.compliance_view import SORTS, STATE_NAMES, dashboard
from scipass.console.deps import Caller, console_require
from scipass.console.routing import ConsoleRoute
from scipass.core.auth import Role
from scipass.policy.reviews import AREA_NAMES

router = APIRouter(prefix="/console/bureau", route_class=ConsoleRoute, include_in_schema=False)

BureauPage = Annotated[Caller, Depends(console_require(Role.bureau, Role.platform_admin))]
SEMESTERS = (("", "当前学期"), ("autumn", "第一学期（秋季）"), ("spring", "第二学期（春季）"))
PAGE_SIZE = 20


def number(value: str | None, default: int, *, low: int = 0, high: int = 10_000) -> int:
    """A paging parameter of a console page (out of range: the default)."""
    try:
        found = int(value or "")
    except ValueError:
        return default
    return found if low <= found <= high else default


def term_params(request: Request) -> dict[str, str]:
    """The term (and region) a page asks the API for, as the officer chose them; the API
    checks them."""
    query = request.query_params
    return {
        k: query[k] for k in ("region_code", "school_year", "semester") if query.get(k, "").strip()
    }


async def region_choices(caller: Caller) -> list[tuple[str, str]]:
    """The regions an officer may look at, for a select rather than a code to type: a
    bureau's own region and those directly below it; for the platform, every province and
    city (from the public region list)."""
    own = caller.principal.region_code
    if own is not None:
        below = await caller.api.get("region-list", params={"parent_code": own, "limit": 100})
        return [("", "本局辖区")] + [(r["code"], r["name"]) for r in below["items"]]
    choices: list[tuple[str, str]] = [("", "请选择地区")]
    for level in ("province", "city"):
        found = await caller.api.get("region-list", params={"level": level, "limit": 100})
        choices += [(r["code"], r["name"]) for r in found["items"]]
    return choices


@router.get("/compliance", name="console-bureau-compliance")
async def compliance_page(request: Request, caller: BureauPage) -> HTMLResponse:
    query = request.query_params
    asked = term_params(request)
    answer = await caller.api.send("GET", caller.api.path("region-compliance"), params=asked)
    filters = {
        "rule": query.get("rule", ""),
        "district": query.get("district", ""),
        "area": query.get("area", ""),
        "state": query.get("state", ""),
        "sort": query.get("sort", "") if query.get("sort") in SORTS else "missed",
    }
    context: dict[str, Any] = {
        "asked": asked,
        "filters": filters,
        "semesters": SEMESTERS,
        "sorts": SORTS,
        "state_names": STATE_NAMES,
        "area_names": AREA_NAMES,
        "regions": await region_choices(caller),
    }
    if not answer.ok:
        problem = answer.problem or {"title": "无法读取达标情况", "status": answer.status}
        if answer.status >= 500:
            raise ApiProblem(answer.status, problem)
        # A choice the API refuses (or a region the platform has yet to name) is shown beside
        # the choices, so that the officer can change them.
        status = 200 if problem.get("code") == "region_code_required" else answer.status
        return render.page(
            request,
            "bureau/compliance.html",
            caller=caller,
            status=status,
            problem=problem,
            region=None,
            **context,
        )
    region = answer.json()
    board = dashboard(
        region,
        rule=filters["rule"] or None,
        district=filters["district"] or None,
        area=filters["area"] or None,
        state=filters["state"] or None,
        sort=filters["sort"],
    )
    limit = number(query.get("limit"), PAGE_SIZE, low=1, high=100)
    offset = number(query.get("offset"), 0, high=len(board.schools))
    page = {"total": len(board.schools), "limit": limit, "offset": offset}
    return render.page(
        request,
        "bureau/compliance.html",
        caller=caller,
        problem=None,
        region=region,
        board=board,
        schools=board.schools[offset : offset + limit],
        page=page,
        **context,
    )


@router.get("/schools/{school_id}", name="console-bureau-school")
async def school_page(request: Request, school_id: int, caller: BureauPage) -> HTMLResponse:
    asked = term_params(request)
    asked.pop("region_code", None)
    found = await caller.api.get("school-compliance", params=asked, school_id=school_id)
    back = {**term_params(request)}
    first = found["rules"][0] if found["rules"] else {}
    return render.page(
        request,
        "bureau/school.html",
        caller=caller,
        school=found,
        district=first.get("district_name", ""),
        area=AREA_NAMES.get(first.get("area", ""), first.get("area", "")),
        back=back,
        state_names=STATE_NAMES,
    )
