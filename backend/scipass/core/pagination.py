"""Page-number-free pagination: ``limit`` (hard maximum) and ``offset``, with the total."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

MAX_PAGE_SIZE = 100

T = TypeVar("T")


class PageParams(BaseModel):
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="每页条数")] = 20,
    offset: Annotated[int, Query(ge=0, description="跳过的条数")] = 0,
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
