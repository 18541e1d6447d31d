"""The venue staff's pages of the console (issue 21, point 2)."""

from __future__ import annotations

from fastapi import APIRouter

from scipass.console.venue import activities, exports, profile, records, volunteering


def routers() -> tuple[APIRouter, ...]:
    return (
        activities.router,
        records.router,
        profile.router,
        exports.router,
        volunteering.router,
    )
