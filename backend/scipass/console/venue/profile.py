"""The venue's directory profile: the live one, the draft edited and saved, and submitted for
the bureau's review (the venue API's draft and submit routes; only a venue admin may)."""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import HTMLResponse

from scipass.console import render
from scipass.console.venue.common import LABELS, VenueCaller, may, venue_router
from scipass.venue.service import KIND_LABELS

router = venue_router()

REVIEW_STATUS = {"draft": "草稿未提交", "pending": "待教育局审核", "rejected": "已退回"}
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


@router.get("/profile", name="console-venue-profile")
async def profile(request: Request, caller: VenueCaller) -> HTMLResponse:
    state = await caller.api.get("venue-profile-get", venue_id=caller.principal.venue_id)
    shown = state["draft"] or state["live"] or {}
    hours = shown.get("weekly_hours") or {str(d): [] for d in range(1, 8)}
    return render.page(
        request,
        "venue/profile.html",
        caller=caller,
        state=state,
        shown=shown,
        hours_json=json.dumps(hours, ensure_ascii=False, indent=1),
        photos_json=json.dumps(shown.get("photos") or []),
        may_edit=may(request, caller, "venue-profile-draft-save"),
        labels=LABELS,
        venue_kinds=KIND_LABELS,
        review_status=REVIEW_STATUS,
        weekdays=WEEKDAYS,
    )
