"""Records to confirm: the venue's pending records (谁组织谁记录), confirmed or rejected with a
reason one by one (the API's organiser decision), optionally of one activity."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from scipass.console import render
from scipass.console.venue.common import LABELS, VenueCaller, passed, venue_router
from scipass.core.inputs import Id
from scipass.record.labels import CATEGORY, ROLE

router = venue_router()


@router.get("/records", name="console-venue-records")
async def records(
    request: Request,
    caller: VenueCaller,
    activity_id: Id | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    offset: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    params = passed({"activity_id": activity_id})
    page = await caller.api.get(
        "record-list",
        params={"status": "pending", **params, **passed({"limit": limit, "offset": offset})},
    )
    activity = (
        await caller.api.get("managed-activity-get", activity_id=activity_id)
        if activity_id
        else None
    )
    return render.page(
        request,
        "venue/records.html",
        caller=caller,
        page=page,
        params=params,
        activity=activity,
        labels=LABELS,
        categories=CATEGORY,
        roles=ROLE,
    )
