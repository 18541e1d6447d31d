"""Organisations: the public region tree and school list; administration of regions,
bureaus, schools and venues."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from scipass.core.auth import public_access
from scipass.core.callers import BureauOrPlatform, PlatformAdmin, SchoolAdmin, SchoolStaff
from scipass.core.clock import ClockDep
from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.org import service as org_service
from scipass.org.errors import (
    OrganisationExists,
    OrganisationNotFound,
    OutsideRegion,
    ParentRegionInvalid,
    RegionExists,
    RegionNotFound,
    SchoolFlagsInvalid,
)
from scipass.org.models import Bureau, RegionLevel, School, Venue, decode_stages
from scipass.org.schemas import (
    BureauCreate,
    BureauRead,
    RegionCreate,
    RegionDetail,
    RegionRead,
    SchoolCreate,
    SchoolFlagsUpdate,
    SchoolRead,
    SchoolSettingsRead,
    SchoolSettingsUpdate,
    VenueCreate,
    VenueRead,
)

public_router = APIRouter(tags=["organisations"], dependencies=[Depends(public_access)])
router = APIRouter(tags=["organisations"])

RegionCode = Annotated[str, Path(pattern=r"^\d{6}$", description="GB/T 2260 六位行政区划代码")]
RegionFilter = Annotated[
    str | None, Query(pattern=r"^\d{6}$", description="行政区划代码（含下级区划）")
]


def school_read(school: School) -> SchoolRead:
    return SchoolRead(
        id=school.id or 0,
        name=school.name,
        region_code=school.region_code,
        stages=decode_stages(school.stages),
        area=school.area,
        remote=school.remote,
        main_urban_district=school.main_urban_district,
        address=school.address,
    )


@public_router.get(
    "/regions",
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
    items = [RegionRead.model_validate(r, from_attributes=True) for r in rows]
    return Page[RegionRead].of(items, total, page)


@public_router.get(
    "/regions/{region_code}",
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


@public_router.get(
    "/schools",
    name="school-list",
    summary="学校列表",
    description="按地区（含下级）和名称查找学校，供学生绑定时选择学校。无需登录。",
    responses=problem_responses(),
)
def list_schools(
    session: SessionDep,
    page: PageDep,
    region_code: RegionFilter = None,
    q: Annotated[str | None, Query(max_length=50, description="校名包含")] = None,
) -> Page[SchoolRead]:
    rows, total = org_service.list_schools(session, page=page, region_code=region_code, q=q)
    return Page[SchoolRead].of([school_read(s) for s in rows], total, page)


@router.post(
    "/regions",
    name="region-create",
    summary="新增行政区划",
    status_code=201,
    responses=problem_responses(RegionExists, ParentRegionInvalid),
)
def create_region(
    body: RegionCreate, caller: PlatformAdmin, session: SessionDep, clock: ClockDep
) -> RegionRead:
    region = org_service.create_region(session, data=body, actor=caller, now=clock.now())
    return RegionRead.model_validate(region, from_attributes=True)


@router.get("/bureaus", name="bureau-list", summary="教育局列表", responses=problem_responses())
def list_bureaus(caller: BureauOrPlatform, session: SessionDep, page: PageDep) -> Page[BureauRead]:
    return Page[BureauRead].sliced(
        [
            BureauRead.model_validate(b, from_attributes=True)
            for b in org_service.list_bureaus(session, actor=caller)
        ],
        page,
    )


@router.post(
    "/bureaus",
    name="bureau-create",
    summary="新增教育局",
    status_code=201,
    responses=problem_responses(RegionNotFound, OrganisationExists),
)
def create_bureau(
    body: BureauCreate, caller: PlatformAdmin, session: SessionDep, clock: ClockDep
) -> BureauRead:
    bureau: Bureau = org_service.create_bureau(session, data=body, actor=caller, now=clock.now())
    return BureauRead.model_validate(bureau, from_attributes=True)


@router.post(
    "/schools",
    name="school-create",
    summary="新增学校",
    description="平台管理员可在任何地区新增；教育局只能在本辖区新增。",
    status_code=201,
    responses=problem_responses(
        RegionNotFound, OrganisationExists, OutsideRegion, SchoolFlagsInvalid
    ),
)
def create_school(
    body: SchoolCreate, caller: BureauOrPlatform, session: SessionDep, clock: ClockDep
) -> SchoolRead:
    return school_read(org_service.create_school(session, data=body, actor=caller, now=clock.now()))


@router.patch(
    "/schools/{school_id}",
    name="school-flags-update",
    summary="修改学校属性（城乡、边远地区、主城区）",
    description="学校所在地区（或上级地区）的教育局、平台管理员修改政策规则所读的学校属性："
    "`area` 城市或农村，`remote` 边远地区，`main_urban_district` 城市主城区（只能是城市学校）。"
    "只改请求中给出的项，每次修改记入审计日志（修改前后的值）。辖区外的学校返回 403。",
    responses=problem_responses(OrganisationNotFound, OutsideRegion, SchoolFlagsInvalid),
)
def update_school_flags(
    school_id: Id,
    body: SchoolFlagsUpdate,
    caller: BureauOrPlatform,
    session: SessionDep,
    clock: ClockDep,
) -> SchoolRead:
    school = org_service.update_school_flags(
        session, actor=caller, school_id=school_id, data=body, now=clock.now()
    )
    return school_read(school)


def school_settings_read(school: School) -> SchoolSettingsRead:
    return SchoolSettingsRead(
        school_id=school.id or 0,
        teacher_attestation=school.teacher_attestation,
        whitelisted_competitions_only=school.whitelisted_competitions_only,
    )


@router.get(
    "/schools/{school_id}/settings",
    name="school-settings-get",
    summary="本校设置",
    description="本校教职工查看本校设置（如是否开启教师代为确认）；其他学校返回 404。",
    responses=problem_responses(OrganisationNotFound),
)
def get_school_settings(
    school_id: Id, caller: SchoolStaff, session: SessionDep
) -> SchoolSettingsRead:
    return school_settings_read(org_service.own_school(session, actor=caller, school_id=school_id))


@router.patch(
    "/schools/{school_id}/settings",
    name="school-settings-update",
    summary="修改本校设置",
    description="学校管理员修改本校设置；只改请求中给出的项，每次修改记入审计日志（修改前后的值）。"
    "其他学校返回 404。\n\n"
    "`teacher_attestation`（教师代为确认）：默认关闭。开启后，本校教职工可为没有绑定微信、"
    "也没有已绑定家长的学生代为确认写实记录，须写明原因，记录标注“教师代为确认”。\n\n"
    "`whitelisted_competitions_only`（只参加白名单竞赛，004 二.10）：默认关闭。开启后，"
    "本校学生不能报名未列入白名单的竞赛（403 `competition_not_whitelisted`）。",
    responses=problem_responses(OrganisationNotFound),
)
def update_school_settings(
    school_id: Id,
    body: SchoolSettingsUpdate,
    caller: SchoolAdmin,
    session: SessionDep,
    clock: ClockDep,
) -> SchoolSettingsRead:
    school = org_service.update_school_settings(
        session, actor=caller, school_id=school_id, data=body, now=clock.now()
    )
    return school_settings_read(school)


@router.post(
    "/venues",
    name="venue-create",
    summary="新增场馆",
    description="平台管理员可在任何地区新增；教育局只能在本辖区新增。",
    status_code=201,
    responses=problem_responses(RegionNotFound, OrganisationExists, OutsideRegion),
)
def create_venue(
    body: VenueCreate, caller: BureauOrPlatform, session: SessionDep, clock: ClockDep
) -> VenueRead:
    venue: Venue = org_service.create_venue(session, data=body, actor=caller, now=clock.now())
    return VenueRead.model_validate(venue, from_attributes=True)
