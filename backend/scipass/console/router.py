"""The staff console's routes, in the order they are matched (README, "Staff console")."""

from __future__ import annotations

from fastapi import APIRouter

from scipass.console import (
    assets,
    bureau_catalogue,
    bureau_compliance,
    bureau_venues,
    door,
    forms,
    pages,
    school,
    school_files,
    school_more,
    school_visits,
    venue,
)


def routers() -> tuple[APIRouter, ...]:
    return (
        assets.router,
        pages.public,
        pages.router,
        forms.router,
        door.router,
        school.router,
        school_files.router,
        school_more.router,
        bureau_compliance.router,
        bureau_venues.router,
        bureau_catalogue.router,
        *venue.routers(),
        school_visits.router,
    )
