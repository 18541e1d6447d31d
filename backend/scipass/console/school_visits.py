"""School staff's group visits: book a class into a venue's slot (the public directory, the
venue's slots, the pupils of a class ticked from the roster), the school's group reservations
(paged, with cancel), and checking a class in at the door on the day.

The page reads and writes only through the API as the signed-in teacher: the slots are the
public ones, the pupils the school's own roster, the reservation the API's group reservation
(its own checks: capacity, the school channel, a pupil of another school); the class check-in
is the API's ``group-checkin`` with a nonce the page makes, so a second submit of the same
ticks changes nothing.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from scipass.console import render
from scipass.console.calls import ApiProblem
from scipass.console.routing import ConsoleRoute
from scipass.console.school import GRADES, SchoolCaller, allowed, paging, query_of
from scipass.console.school_more import REFUSALS
from scipass.core.clock import local_date
from scipass.core.inputs import Id

router = APIRouter(prefix="/console/school", route_class=ConsoleRoute, include_in_schema=False)

RESERVATION_STATUSES = {"confirmed": "已确认", "waitlisted": "候补中", "cancelled": "已取消"}
SCAN_RESULTS = {"accepted": "已签到", "duplicate": "此前已签到", "refused": "未签到"}
DAYS_SHOWN = 7  # the slots of a week from the chosen day
MAX_PUPILS = 100  # one page of a class (the API's largest page)


def _day(request: Request, today: date) -> date:
    try:
        chosen = date.fromisoformat(request.query_params.get("from_date", ""))
    except ValueError:
        return today
    return max(chosen, today)


async def _venue_names(caller: Any, venues: list[dict[str, Any]], ids: set[int]) -> dict[int, str]:
    """The names of the venues ``ids``: the directory's, else the venue's own public page."""
    names = {v["id"]: v["name"] for v in venues}
    for venue_id in ids - set(names):
        try:
            names[venue_id] = (await caller.api.get("venue-get", venue_id=venue_id))["name"]
        except ApiProblem:
            names[venue_id] = f"场馆 {venue_id}"
    return names


@router.get("/visits", name="console-school-visits")
async def visits(request: Request, caller: SchoolCaller) -> HTMLResponse:
    today = local_date(request.app.state.clock.now())
    choice = query_of(request, ("venue_id", "grade", "class_name", "venue_q"))
    day = _day(request, today)
    directory = await caller.api.get(
        "venue-directory",
        params={"limit": 100, **({"q": choice["venue_q"]} if "venue_q" in choice else {})},
    )
    slots: list[dict[str, Any]] = []
    if choice.get("venue_id", "").isdigit():
        found = await caller.api.get(
            "slot-list",
            venue_id=choice["venue_id"],
            params={
                "from_date": day.isoformat(),
                "to_date": (day + timedelta(days=DAYS_SHOWN - 1)).isoformat(),
                "limit": 100,
            },
        )
        slots = [s for s in found["items"] if s["status"] == "open"]
    pupils: dict[str, Any] | None = None
    if choice.get("grade") and choice.get("class_name"):
        pupils = await caller.api.get(
            "student-list",
            params={
                "grade": choice["grade"],
                "class_name": choice["class_name"],
                "limit": MAX_PUPILS,
            },
        )
    status = query_of(request, ("status",))
    booked = await caller.api.get(
        "school-reservation-list", params={"kind": "group", **status, **paging(request)}
    )
    names = await _venue_names(caller, directory["items"], {r["venue_id"] for r in booked["items"]})
    return render.page(
        request,
        "school/visits.html",
        caller=caller,
        venue_options=[("", "请选择场馆")]
        + [(str(v["id"]), v["name"]) for v in directory["items"]],
        venue_names=names,
        choice=choice,
        day=day.isoformat(),
        today=today.isoformat(),
        slots=slots,
        pupils=pupils,
        page=booked,
        params={**choice, **status, "from_date": day.isoformat()},
        status_filter=status.get("status", ""),
        grades=GRADES,
        grade_names=dict(GRADES),
        statuses=RESERVATION_STATUSES,
        may=allowed(
            request.app, caller, "group-reservation-create", "reservation-cancel", "group-checkin"
        ),
    )


@router.get("/visits/{reservation_id}", name="console-school-visit")
async def visit(reservation_id: Id, request: Request, caller: SchoolCaller) -> HTMLResponse:
    found = await caller.api.get("group-reservation-members", reservation_id=reservation_id)
    reservation = found["reservation"]
    names = await _venue_names(caller, [], {reservation["venue_id"]})
    today = local_date(request.app.state.clock.now())
    return render.page(
        request,
        "school/visit.html",
        caller=caller,
        found=found,
        reservation=reservation,
        venue_name=names[reservation["venue_id"]],
        on_the_day=local_date(datetime.fromisoformat(reservation["starts_at"])) == today,
        statuses=RESERVATION_STATUSES,
        results=SCAN_RESULTS,
        refusals=REFUSALS,
        nonce=secrets.token_urlsafe(16),
        may=allowed(request.app, caller, "group-checkin"),
    )
