"""Exports: an activity's attendees and the venue's volunteer hours, as CSV or XLSX, straight
from the API (a download) or as the API's job, which the page polls (venue.js) and lists."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from scipass.console import render
from scipass.console.venue.common import LABELS, VenueCaller, venue_router
from scipass.core.inputs import Id

router = venue_router()


@router.get("/exports", name="console-venue-exports")
async def exports(
    request: Request, caller: VenueCaller, activity_id: Id | None = None
) -> HTMLResponse:
    activities = await caller.api.get("managed-activity-list", params={"limit": 100})
    jobs = await caller.api.get("job-list", params={"limit": 10})
    return render.page(
        request,
        "venue/exports.html",
        caller=caller,
        activities=activities["items"],
        activity_id=activity_id,
        jobs=jobs["items"],
        labels=LABELS,
    )
