"""Queries on organisations."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.sql.expression import SelectOfScalar

from scipass.org.models import Region


def regions_query(*, parent_code: str | None, level: str | None) -> SelectOfScalar[Region]:
    query = select(Region)
    if parent_code is not None:
        query = query.where(Region.parent_code == parent_code)
    if level is not None:
        query = query.where(Region.level == level)
    return query
