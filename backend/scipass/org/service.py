"""Use cases on organisations. Services flush, never commit."""

from __future__ import annotations

from sqlmodel import Session, select

from scipass.core.pagination import PageParams
from scipass.org import repository
from scipass.org.errors import RegionNotFound
from scipass.org.models import Region


def list_regions(
    session: Session, *, page: PageParams, parent_code: str | None = None, level: str | None = None
) -> tuple[list[Region], int]:
    query = repository.regions_query(parent_code=parent_code, level=level)
    total = repository.count(session, query)
    rows = session.exec(query.order_by(Region.code).limit(page.limit).offset(page.offset)).all()
    return list(rows), total


def get_region(session: Session, *, code: str) -> tuple[Region, list[Region], list[Region]]:
    """A region, its ancestors (top first) and its direct children."""
    region = session.get(Region, code)
    if region is None:
        raise RegionNotFound(f"没有代码为 {code} 的行政区划", f"No region with code {code}")
    ancestors: list[Region] = []
    parent_code = region.parent_code
    while parent_code is not None and len(ancestors) < 5:
        parent = session.get(Region, parent_code)
        if parent is None:
            break
        ancestors.insert(0, parent)
        parent_code = parent.parent_code
    children = session.exec(
        select(Region).where(Region.parent_code == code).order_by(Region.code)
    ).all()
    return region, ancestors, list(children)
