"""The venue's activities: the list (paged and filtered on the server), a new activity, one
activity's page (publish, cancel, its codes, poster, mini-program code, kiosk screen and
slots), its live arrivals, and the venue's slots."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from scipass.console import render
from scipass.console.venue.common import (
    LABELS,
    VenueCaller,
    may,
    passed,
    venue_router,
)
from scipass.core.inputs import Id

router = venue_router()

DateText = Annotated[str | None, Query(max_length=20)]
Limit = Annotated[int | None, Query(ge=1, le=100)]
Offset = Annotated[int | None, Query(ge=0)]


def _latest(codes: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    """The newest code of ``kind`` not revoked, if any."""
    usable = [c for c in codes if c["kind"] == kind and not c["revoked_at"]]
    return usable[-1] if usable else None


@router.get("/activities", name="console-venue-activities")
async def activities(
    request: Request,
    caller: VenueCaller,
    status: Annotated[str | None, Query(max_length=20)] = None,
    from_date: DateText = None,
    to_date: DateText = None,
    limit: Limit = None,
    offset: Offset = None,
) -> HTMLResponse:
    params = passed({"status": status, "from_date": from_date, "to_date": to_date})
    page = await caller.api.get(
        "managed-activity-list", params={**params, **passed({"limit": limit, "offset": offset})}
    )
    return render.page(
        request,
        "venue/activities.html",
        caller=caller,
        page=page,
        params=params,
        labels=LABELS,
        may_create=may(request, caller, "activity-create"),
    )


@router.get("/activities/new", name="console-venue-activity-new")
async def new_activity(request: Request, caller: VenueCaller) -> HTMLResponse:
    return render.page(request, "venue/activity_new.html", caller=caller, labels=LABELS)


@router.get("/activities/{activity_id}", name="console-venue-activity")
async def activity(request: Request, caller: VenueCaller, activity_id: Id) -> HTMLResponse:
    found = await caller.api.get("managed-activity-get", activity_id=activity_id)
    codes = (await caller.api.get("code-list", activity_id=activity_id, params={"limit": 100}))[
        "items"
    ]
    slots = await caller.api.get(
        "slot-list",
        venue_id=caller.principal.venue_id,
        params={"activity_id": activity_id, "from_date": found["starts_at"][:10], "limit": 100},
    )
    return render.page(
        request,
        "venue/activity.html",
        caller=caller,
        activity=found,
        static=_latest(codes, "static"),
        rotating=_latest(codes, "rotating"),
        slots=slots,
        labels=LABELS,
    )


@router.get("/activities/{activity_id}/arrivals", name="console-venue-arrivals")
async def arrivals(
    request: Request, caller: VenueCaller, activity_id: Id, day: DateText = None
) -> HTMLResponse:
    found = await caller.api.get("managed-activity-get", activity_id=activity_id)
    counts = await caller.api.get(
        "arrival-counts", activity_id=activity_id, params=passed({"day": day})
    )
    return render.page(
        request,
        "venue/arrivals.html",
        caller=caller,
        activity=found,
        counts=counts,
        day=day or "",
        labels=LABELS,
    )


@router.get("/slots", name="console-venue-slots")
async def slots(
    request: Request,
    caller: VenueCaller,
    from_date: DateText = None,
    to_date: DateText = None,
    limit: Limit = None,
    offset: Offset = None,
) -> HTMLResponse:
    params = passed({"from_date": from_date, "to_date": to_date})
    page = await caller.api.get(
        "slot-list",
        venue_id=caller.principal.venue_id,
        params={**params, **passed({"limit": limit, "offset": offset})},
    )
    return render.page(
        request, "venue/slots.html", caller=caller, page=page, params=params, labels=LABELS
    )
