"""Public organisation endpoints: the region tree the mini-program's pickers use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.pagination import Page, PageDep
from scipass.org import service as org_service
from scipass.org.errors import RegionNotFound
from scipass.org.models import RegionLevel
from scipass.org.schemas import RegionDetail, RegionRead

public_router = APIRouter(prefix="/regions", tags=["regions"])

RegionCode = Annotated[str, Path(pattern=r"^\d{6}$", description="GB/T 2260 六位行政区划代码")]


@public_router.get(
    "",
    name="region-list",
    summary="行政区划列表",
    description="按上级代码或层级筛选行政区划，供选择地区使用。无需登录。",
    responses=problem_responses(),
)
def list_regions(
    session: SessionDep,
    page: PageDep,
    parent_code: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="上级区划代码")
    ] = None,
    level: Annotated[RegionLevel | None, Query(description="层级")] = None,
) -> Page[RegionRead]:
    rows, total = org_service.list_regions(session, page=page, parent_code=parent_code, level=level)
    return Page[RegionRead].of(
        [RegionRead.model_validate(r, from_attributes=True) for r in rows], total, page
    )


@public_router.get(
    "/{region_code}",
    name="region-get",
    summary="行政区划详情",
    description="一个行政区划及其上级链与直接下级。无需登录。",
    responses=problem_responses(RegionNotFound),
)
def get_region(session: SessionDep, region_code: RegionCode) -> RegionDetail:
    region, ancestors, children = org_service.get_region(session, code=region_code)
    read = RegionRead.model_validate
    return RegionDetail(
        **read(region, from_attributes=True).model_dump(),
        ancestors=[read(r, from_attributes=True) for r in ancestors],
        children=[read(r, from_attributes=True) for r in children],
    )
