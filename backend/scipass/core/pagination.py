"""Page-number-free pagination: ``limit`` (hard maximum) and ``offset``, with the total.

Every list answers the one envelope :class:`Page`: ``{items, total, limit, offset}``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, func
from sqlmodel import Session, select

from scipass.core.inputs import Offset

MAX_PAGE_SIZE = 100

T = TypeVar("T")


class PageParams(BaseModel):
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="每页条数")] = 20,
    offset: Annotated[Offset, Query(description="跳过的条数")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="符合条件的总条数")
    limit: int
    offset: int

    @classmethod
    def of(cls, items: list[T], total: int, page: PageParams) -> Page[T]:
        return cls(items=items, total=total, limit=page.limit, offset=page.offset)

    @classmethod
    def sliced(cls, items: Sequence[T], page: PageParams) -> Page[T]:
        """A page of a short list read whole (an activity's codes, a record's history)."""
        return cls.of(list(items[page.offset : page.offset + page.limit]), len(items), page)


def count_rows(session: Session, query: Select[*tuple[Any, ...]]) -> int:
    """How many rows ``query`` selects (ignoring its order, limit and offset)."""
    inner = query.order_by(None).limit(None).offset(None).subquery()
    return int(session.exec(select(func.count()).select_from(inner)).one())
