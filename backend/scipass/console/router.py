"""The staff console's routes, in the order they are matched (README, "Staff console")."""

from __future__ import annotations

from fastapi import APIRouter

from scipass.console import (
    assets,
    door,
    forms,
    pages,
    school,
    school_files,
    school_more,
    school_visits,
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
        school_visits.router,
    )
