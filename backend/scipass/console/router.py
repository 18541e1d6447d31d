"""The staff console's routes, in the order they are matched (README, "Staff console")."""

from __future__ import annotations

from fastapi import APIRouter

from scipass.console import assets, forms, pages, venue


def routers() -> tuple[APIRouter, ...]:
    return (assets.router, pages.public, pages.router, forms.router, *venue.routers())
