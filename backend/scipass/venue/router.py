"""The venue directory (科普地图): public listing and editions; venue profiles and review."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session

from scipass.core.auth import public_access
from scipass.core.callers import (
    BureauCaller,
    BureauOrPlatform,
    JobOwner,
    StaffCaller,
    VenueAdmin,
)
from scipass.core.clock import ClockDep, local_date
from scipass.core.db import SessionDep
from scipass.core.deps import DatabaseDep, SettingsDep
from scipass.core.errors import BadRequest, Forbidden, problem_responses
from scipass.core.exports import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    attachment,
)
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.jobs.errors import ExportTooLarge
from scipass.jobs.exporter import FileFormat
from scipass.jobs.schemas import JobRead
from scipass.org.errors import OrganisationExists, OutsideRegion, RegionNotFound
from scipass.org.models import Stage, Venue, VenueKind, decode_stages
from scipass.venue import edition_exports, hours
from scipass.venue import service as venue_service
from scipass.venue.errors import (
    EditionExists,
    EditionNotFound,
    HoursInvalid,
    NoDraft,
    NotPendingReview,
    ResourceExists,
    ResourceNotFound,
    ReviewNoteRequired,
    VenueNotFound,
)
from scipass.venue.models import DirectoryEdition, VenueResource
from scipass.venue.schemas import (
    DirectoryItem,
    EditionCreate,
    EditionDetail,
    EditionRead,
    HoursExceptionRead,
    HoursExceptionWrite,
    PendingReview,
    ResourceRead,
    ResourceWrite,
    ReviewDecision,
    VenueDetail,
    VenueProfile,
    VenueProfileState,
)

public_router = APIRouter(tags=["venues"], dependencies=[Depends(public_access)])
router = APIRouter(tags=["venues"])


def _item(venue: Venue, distance: int | None = None) -> DirectoryItem:
    return DirectoryItem(
        id=venue.id or 0,
        name=venue.name,
        kind=VenueKind(venue.kind),
        region_code=venue.region_code,
        address=venue.address,
        longitude=venue.longitude,
        latitude=venue.latitude,
        phone=venue.phone,
        is_free=venue.is_free,
        stages=decode_stages(venue.stages),
        reservation_required=venue.reservation_required,
        hours_summary=hours.summary(venue.weekly_hours),
        distance_m=distance,
    )


def resource_read(resource: VenueResource) -> ResourceRead:
    return ResourceRead(
        id=resource.id or 0,
        venue_id=resource.venue_id,
        name=resource.name,
        kind=resource.kind,
        description=resource.description,
        value_yuan=resource.value_yuan,
        capacity=resource.capacity,
        active=resource.active,
        major_instrument=venue_service.is_major(resource),
    )


def _state(venue: Venue) -> VenueProfileState:
    return VenueProfileState(
        venue_id=venue.id or 0,
        live=venue_service.live_profile(venue),
        listed=venue.listed,
        approved_at=venue.approved_at,
        draft=VenueProfile.model_validate(venue.draft) if venue.draft else None,
        review_status=venue.review_status,
        review_note=venue.review_note,
        submitted_at=venue.submitted_at,
        reviewed_at=venue.reviewed_at,
    )


@public_router.get(
    "/venues",
    name="venue-directory",
    summary="科普地图：场馆列表",
    description="已审核列入科普地图的场馆。可按地区（含下级）、类型、学段、某日是否开放、"
    "关键词筛选；给出 `longitude`/`latitude`（GCJ-02）时按距离由近到远排序。无需登录。",
    responses=problem_responses(BadRequest),
)
def directory(
    session: SessionDep,
    page: PageDep,
    region_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    kind: VenueKind | None = None,
    stage: Stage | None = None,
    open_on: Annotated[date | None, Query(description="该日（北京时间）有开放时段")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=50, description="关键词")] = None,
    longitude: Annotated[float | None, Query(ge=73, le=136)] = None,
    latitude: Annotated[float | None, Query(ge=3, le=54)] = None,
) -> Page[DirectoryItem]:
    if (longitude is None) != (latitude is None):
        raise BadRequest("经度和纬度须同时提供", "Give both longitude and latitude")
    near = (longitude, latitude) if longitude is not None and latitude is not None else None
    rows, total = venue_service.directory(
        session,
        page=page,
        region_code=region_code,
        kind=kind,
        stage=stage,
        open_on=open_on,
        q=q,
        near=near,
    )
    return Page[DirectoryItem].of([_item(v, d) for v, d in rows], total, page)


@public_router.get(
    "/venues/{venue_id}",
    name="venue-get",
    summary="科普地图：场馆详情",
    description="服务内容、设施条件、开放时间（含今天起的特殊日期）与可预约资源。无需登录。",
    responses=problem_responses(VenueNotFound),
)
def venue_detail(venue_id: Id, session: SessionDep, clock: ClockDep) -> VenueDetail:
    venue = venue_service.public_venue(session, venue_id)
    return _detail(session, venue, local_date(clock.now()))


def _detail(session: Session, venue: Venue, today: date) -> VenueDetail:
    exceptions = venue_service.exceptions_from(session, venue_id=venue.id or 0, since=today)
    return VenueDetail(
        **_item(venue).model_dump(),
        services=venue.services,
        facilities=venue.facilities,
        fee_note=venue.fee_note,
        weekly_hours=venue.weekly_hours,
        photos=venue.photos,
        hours_exceptions=[
            HoursExceptionRead.model_validate(e, from_attributes=True) for e in exceptions
        ],
        resources=[
            resource_read(r) for r in venue_service.list_resources(session, venue_id=venue.id or 0)
        ],
    )


@router.get(
    "/venues/{venue_id}/profile",
    name="venue-profile-get",
    summary="场馆资料与审核状态",
    description="本场馆工作人员、辖区教育局可见：当前生效的资料、待审核的修改与审核意见。",
    responses=problem_responses(VenueNotFound),
)
def get_profile(venue_id: Id, caller: StaffCaller, session: SessionDep) -> VenueProfileState:
    return _state(venue_service.venue_for_staff(session, actor=caller, venue_id=venue_id))


@router.put(
    "/venues/{venue_id}/profile-draft",
    name="venue-profile-draft-save",
    summary="保存场馆资料修改（草稿）",
    description="保存后需提交，由辖区教育局审核通过才会在科普地图中生效。",
    responses=problem_responses(VenueNotFound, Forbidden, HoursInvalid, RegionNotFound),
)
def save_draft(
    venue_id: Id, body: VenueProfile, caller: VenueAdmin, session: SessionDep, clock: ClockDep
) -> VenueProfileState:
    venue = venue_service.save_draft(
        session, actor=caller, venue_id=venue_id, data=body, now=clock.now()
    )
    return _state(venue)


@router.post(
    "/venues/{venue_id}/profile-draft/submit",
    name="venue-profile-draft-submit",
    summary="提交场馆资料审核",
    responses=problem_responses(VenueNotFound, Forbidden, NoDraft),
)
def submit_draft(
    venue_id: Id, caller: VenueAdmin, session: SessionDep, clock: ClockDep
) -> VenueProfileState:
    return _state(
        venue_service.submit_draft(session, actor=caller, venue_id=venue_id, now=clock.now())
    )


@router.get(
    "/venue-reviews",
    name="venue-review-list",
    summary="待审核的场馆资料",
    description="本辖区内已提交、等待审核的场馆资料修改。",
    responses=problem_responses(),
)
def pending_reviews(
    caller: BureauOrPlatform, session: SessionDep, page: PageDep
) -> Page[PendingReview]:
    return Page[PendingReview].sliced(
        [
            PendingReview(
                venue_id=v.id or 0,
                name=(v.draft or {}).get("name", v.name),
                region_code=v.region_code,
                submitted_at=v.submitted_at,
                listed=v.listed,
            )
            for v in venue_service.list_pending(session, actor=caller)
        ],
        page,
    )


@router.post(
    "/venues/{venue_id}/profile-review",
    name="venue-profile-review",
    summary="审核场馆资料",
    description="通过后资料生效并列入科普地图；退回须写明原因。",
    responses=problem_responses(
        VenueNotFound, NotPendingReview, ReviewNoteRequired, OutsideRegion, OrganisationExists
    ),
)
def review(
    venue_id: Id,
    body: ReviewDecision,
    caller: BureauOrPlatform,
    session: SessionDep,
    clock: ClockDep,
) -> VenueProfileState:
    venue = venue_service.review(
        session, actor=caller, venue_id=venue_id, decision=body, now=clock.now()
    )
    return _state(venue)


@router.put(
    "/venues/{venue_id}/hours-exceptions/{on_date}",
    name="venue-hours-exception-set",
    summary="设置特殊开放日或闭馆日",
    description="`periods` 为空表示当天闭馆。特殊日期属于日常运营，无需审核，立即生效。",
    responses=problem_responses(VenueNotFound, Forbidden, HoursInvalid),
)
def set_exception(
    venue_id: Id,
    on_date: date,
    body: HoursExceptionWrite,
    caller: VenueAdmin,
    session: SessionDep,
) -> HoursExceptionRead:
    row = venue_service.set_exception(
        session, actor=caller, venue_id=venue_id, day=on_date, data=body
    )
    return HoursExceptionRead.model_validate(row, from_attributes=True)


@router.delete(
    "/venues/{venue_id}/hours-exceptions/{on_date}",
    name="venue-hours-exception-delete",
    summary="取消特殊日期",
    status_code=204,
    responses=problem_responses(VenueNotFound, Forbidden),
)
def delete_exception(
    venue_id: Id, on_date: date, caller: VenueAdmin, session: SessionDep
) -> Response:
    venue_service.delete_exception(session, actor=caller, venue_id=venue_id, day=on_date)
    return Response(status_code=204)


@router.get(
    "/venues/{venue_id}/resources",
    name="venue-resource-list",
    summary="场馆的可预约资源（含停用的）",
    responses=problem_responses(VenueNotFound),
)
def list_resources(
    venue_id: Id, caller: StaffCaller, session: SessionDep, page: PageDep
) -> Page[ResourceRead]:
    venue_service.venue_for_staff(session, actor=caller, venue_id=venue_id)
    rows = venue_service.list_resources(session, venue_id=venue_id, active_only=False)
    return Page[ResourceRead].sliced([resource_read(r) for r in rows], page)


@router.post(
    "/venues/{venue_id}/resources",
    name="venue-resource-create",
    summary="新增可预约资源",
    description="实验室、单台 50 万元以上的科学仪器、球幕影院场次等，各有自己的预约时段。",
    status_code=201,
    responses=problem_responses(VenueNotFound, Forbidden, ResourceExists),
)
def create_resource(
    venue_id: Id, body: ResourceWrite, caller: VenueAdmin, session: SessionDep, clock: ClockDep
) -> ResourceRead:
    return resource_read(
        venue_service.create_resource(
            session, actor=caller, venue_id=venue_id, data=body, now=clock.now()
        )
    )


@router.put(
    "/venues/{venue_id}/resources/{resource_id}",
    name="venue-resource-update",
    summary="修改可预约资源",
    responses=problem_responses(VenueNotFound, Forbidden, ResourceNotFound, ResourceExists),
)
def update_resource(
    venue_id: Id, resource_id: Id, body: ResourceWrite, caller: VenueAdmin, session: SessionDep
) -> ResourceRead:
    return resource_read(
        venue_service.update_resource(
            session, actor=caller, venue_id=venue_id, resource_id=resource_id, data=body
        )
    )


# --- editions ---------------------------------------------------------------------------------


def _edition(edition: DirectoryEdition) -> EditionRead:
    return EditionRead.model_validate(edition, from_attributes=True)


@router.post(
    "/directory-editions",
    name="directory-edition-publish",
    summary="发布本年度科普地图",
    description="把本辖区当前列入科普地图的场馆冻结为一个年度版本；同一地区同一年只能发布一次。",
    status_code=201,
    responses=problem_responses(EditionExists, RegionNotFound),
)
def publish_edition(
    body: EditionCreate, caller: BureauCaller, session: SessionDep, clock: ClockDep
) -> EditionRead:
    edition = venue_service.publish_edition(
        session, actor=caller, year=body.year, title=body.title, now=clock.now()
    )
    return _edition(edition)


@public_router.get(
    "/directory-editions",
    name="directory-edition-list",
    summary="已发布的科普地图版本",
    responses=problem_responses(),
)
def list_editions(
    session: SessionDep,
    page: PageDep,
    region_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    year: Annotated[int | None, Query(ge=2020, le=2100)] = None,
) -> Page[EditionRead]:
    rows, total = venue_service.list_editions(
        session, page=page, region_code=region_code, year=year
    )
    return Page[EditionRead].of([_edition(e) for e in rows], total, page)


@public_router.get(
    "/directory-editions/{edition_id}",
    name="directory-edition-get",
    summary="科普地图版本（含全部场馆）",
    responses=problem_responses(EditionNotFound),
)
def get_edition(edition_id: Id, session: SessionDep) -> EditionDetail:
    edition = venue_service.get_edition(session, edition_id)
    return EditionDetail(**_edition(edition).model_dump(), entries=edition.entries)


@public_router.get(
    "/directory-editions/{edition_id}/export",
    name="directory-edition-export",
    summary="导出科普地图版本",
    description="`format`：`xlsx`（Excel）、`csv`（UTF-8 带 BOM，Excel 可直接打开）或 `json`。"
    "XLSX 与 CSV 最多 `SCIPASS_EXPORT_SYNC_ROW_LIMIT` 个场馆（默认 5000），更多时返回 422 "
    "`export_too_large`，请登录后改用 `POST /directory-editions/{edition_id}/exports`。",
    response_class=Response,
    responses={
        200: {
            "content": {XLSX_MEDIA_TYPE: {}, CSV_MEDIA_TYPE: {}, "application/json": {}},
            "headers": {
                "X-Row-Count": {"description": "场馆数（XLSX、CSV）", "schema": {"type": "integer"}}
            },
        },
        **problem_responses(EditionNotFound, ExportTooLarge),
    },
)
def export_edition(
    edition_id: Id,
    session: SessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
    format: Literal["xlsx", "csv", "json"] = "xlsx",
) -> Response:
    if format == "json":
        edition = venue_service.get_edition(session, edition_id)
        body = EditionDetail(**_edition(edition).model_dump(), entries=edition.entries)
        plain = f"directory-{edition.region_code}-{edition.year}.json"
        return Response(
            body.model_dump_json(),
            media_type="application/json",
            headers=attachment(f"{edition.title}.json", plain),
        )
    export = edition_exports.edition_export_now(
        database,
        edition_id=edition_id,
        file_format=FileFormat(format),
        row_limit=settings.export_sync_row_limit,
    )
    media_type = export.file_format.media_type
    return Response(export.content, media_type=media_type, headers=export.headers)


@router.post(
    "/directory-editions/{edition_id}/exports",
    name="directory-edition-export-job",
    summary="提交科普地图版本导出任务（任意场馆数）",
    description="与 `GET /directory-editions/{edition_id}/export` 的 XLSX、CSV 相同的内容，"
    "在后台进程中生成，返回 202 和任务；用 `GET /jobs/{job_id}` 查询进度，完成后下载。",
    status_code=202,
    responses=problem_responses(EditionNotFound),
)
def export_edition_job(
    edition_id: Id,
    caller: JobOwner,
    session: SessionDep,
    clock: ClockDep,
    format: Annotated[FileFormat, Query(description="文件格式")] = FileFormat.xlsx,
) -> JobRead:
    job = edition_exports.queue_edition_export(
        session, actor=caller, edition_id=edition_id, file_format=format, now=clock.now()
    )
    return JobRead.of(job)
