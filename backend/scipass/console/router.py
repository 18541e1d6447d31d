"""The staff console's routes, in the order they are matched (README, "Staff console")."""

from __future__ import annotations

from fastapi import APIRouter

from scipass.console import assets, door, forms, pages


def routers() -> tuple[APIRouter, ...]:
    return (assets.router, pages.public, pages.router, door.router, forms.router)
