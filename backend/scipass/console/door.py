"""The door scanner (门口扫码): a venue worker reads pupils' personal codes with the tablet's
camera, or types one in, for one of today's activities.

The page only lists the activities and carries the data its script needs; everything else
is ``static/door.js``: the code is verified in the browser (Ed25519 against the published
keys, the revocation list, the expiry) so that a verdict shows at once and the page keeps
working offline; online, the scan then goes to the API's staff scan and the server's answer
replaces the local verdict; offline, it is queued on the device and uploaded as an offline
batch when the network returns. The service worker (``static/sw.js``) keeps this page, its
scripts and the keys for an offline reload.

The page is a GET form (``?activity_id=``): each activity's scanner has an address of its
own, which the service worker keeps once it has been opened online.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from scipass.console import render
from scipass.console.deps import Caller, console_require
from scipass.console.routing import ConsoleRoute
from scipass.core.auth import Role
from scipass.core.clock import local_date
from scipass.core.pagination import MAX_PAGE_SIZE

router = APIRouter(prefix="/console/door", route_class=ConsoleRoute, include_in_schema=False)

DoorStaff = Annotated[Caller, Depends(console_require(Role.venue_staff, Role.venue_admin))]
MAX_PAGES = 10  # a venue's published activities read, MAX_PAGE_SIZE at a time


def _today(activity: dict[str, Any], now: datetime) -> bool:
    """Whether ``activity`` runs on the Beijing day of ``now`` (from its first to last day)."""
    starts = local_date(datetime.fromisoformat(activity["starts_at"]))
    ends = local_date(datetime.fromisoformat(activity["ends_at"]))
    return starts <= local_date(now) <= ends


async def _todays_activities(caller: Caller, now: datetime) -> list[dict[str, Any]]:
    """The caller's published activities running today, earliest first (the API's list,
    shown for today: which activities the caller may scan for stays the API's to say)."""
    found: list[dict[str, Any]] = []
    for number in range(MAX_PAGES):
        page = await caller.api.get(
            "managed-activity-list",
            params={
                "status": "published",
                "limit": MAX_PAGE_SIZE,
                "offset": number * MAX_PAGE_SIZE,
            },
        )
        found.extend(a for a in page["items"] if _today(a, now))
        if page["offset"] + page["limit"] >= page["total"]:
            break
    return sorted(found, key=lambda a: (a["starts_at"], a["id"]))


@router.get("", name="console-door")
async def door_page(
    request: Request,
    caller: DoorStaff,
    activity_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    now = request.app.state.clock.now()
    activities = await _todays_activities(caller, now)
    chosen = next((a for a in activities if a["id"] == activity_id), None)
    if chosen is None and activity_id is None and len(activities) == 1:
        chosen = activities[0]
    return render.page(
        request,
        "door/scanner.html",
        caller=caller,
        activities=activities,
        chosen=chosen,
        asked=activity_id,
        now=now,
    )
