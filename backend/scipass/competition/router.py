"""The competition catalogue and the whitelist: bureaus manage, everyone signed in reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile

from scipass.competition import catalogue, reads, whitelist_io
from scipass.competition.errors import (
    CompetitionExists,
    CompetitionInvalid,
    CompetitionNotFound,
    EditionExists,
    EditionNotFound,
    WhitelistFileUnreadable,
    WhitelistImportInvalid,
    WhitelistNotFound,
)
from scipass.competition.schemas import (
    CompetitionCreate,
    CompetitionRead,
    CompetitionWhitelistSet,
    DivisionCreate,
    DivisionRead,
    EditionCreate,
    EditionRead,
    RoundCreate,
    RoundRead,
    WhitelistCreate,
    WhitelistEntryCreate,
    WhitelistEntryRead,
    WhitelistImportResult,
    WhitelistRead,
)
from scipass.core.callers import AnyUser, BureauCaller
from scipass.core.clock import ClockDep
from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.exports import XLSX_MEDIA_TYPE, attachment
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep

router = APIRouter(tags=["competitions"])


# --- whitelist ------------------------------------------------------------------------------


@router.get(
    "/competition-whitelists",
    name="whitelist-list",
    summary="竞赛白名单列表",
    description="全国名单（随系统提供，注明来源文件）和各地教育局的地方名单。",
    responses=problem_responses(),
)
def list_whitelists(caller: AnyUser, session: SessionDep, page: PageDep) -> Page[WhitelistRead]:
    rows = catalogue.list_whitelists(session)
    return Page[WhitelistRead].sliced([reads.whitelist_read(w, n) for w, n in rows], page)


@router.post(
    "/competition-whitelists",
    name="whitelist-create",
    summary="新增地方白名单",
    description="教育局或科协新增本地区的竞赛名单（如市级备案的全国、省级竞赛和本市竞赛），"
    "写明来源文件和覆盖的学年。",
    status_code=201,
    responses=problem_responses(CompetitionInvalid, CompetitionExists),
)
def create_whitelist(
    body: WhitelistCreate, caller: BureauCaller, session: SessionDep, clock: ClockDep
) -> WhitelistRead:
    whitelist = catalogue.create_whitelist(session, actor=caller, data=body, now=clock.now())
    return reads.whitelist_read(whitelist, 0)


@router.get(
    "/competition-whitelists/{whitelist_id}/entries",
    name="whitelist-entries",
    summary="白名单条目",
    responses=problem_responses(WhitelistNotFound),
)
def whitelist_entries(
    whitelist_id: Id, caller: AnyUser, session: SessionDep, page: PageDep
) -> Page[WhitelistEntryRead]:
    whitelist = catalogue.get_whitelist(session, whitelist_id)
    items = [
        reads.whitelist_entry_read(e) for e in catalogue.entries_of(session, whitelist.id or 0)
    ]
    return Page[WhitelistEntryRead].sliced(items, page)


@router.post(
    "/competition-whitelists/{whitelist_id}/entries",
    name="whitelist-entry-create",
    summary="新增白名单条目",
    description="只能在本局的地方名单中新增；全国名单由系统提供。",
    status_code=201,
    responses=problem_responses(WhitelistNotFound, CompetitionExists),
)
def create_whitelist_entry(
    whitelist_id: Id,
    body: WhitelistEntryCreate,
    caller: BureauCaller,
    session: SessionDep,
    clock: ClockDep,
) -> WhitelistEntryRead:
    entry = catalogue.add_entry(
        session, actor=caller, whitelist_id=whitelist_id, data=body, now=clock.now()
    )
    return reads.whitelist_entry_read(entry)


@router.post(
    "/competition-whitelists/{whitelist_id}/import",
    name="whitelist-import",
    summary="导入白名单条目（XLSX）",
    description="列：序号、竞赛名称、主办单位、面向学段（小学、初中、普通高中、中职，用顿号分隔）、"
    "备注。任何一行有误则整批不导入，并逐行列出错误；名单中已有的同名条目保持不变。",
    responses=problem_responses(
        WhitelistNotFound, WhitelistImportInvalid, WhitelistFileUnreadable, CompetitionExists
    ),
)
def import_whitelist(
    whitelist_id: Id,
    caller: BureauCaller,
    session: SessionDep,
    clock: ClockDep,
    file: Annotated[UploadFile, File(description="XLSX 文件")],
) -> WhitelistImportResult:
    content = file.file.read(whitelist_io.MAX_BYTES + 1)
    imported, unchanged = whitelist_io.import_entries(
        session, actor=caller, whitelist_id=whitelist_id, content=content, now=clock.now()
    )
    return WhitelistImportResult(imported=imported, unchanged=unchanged)


@router.get(
    "/competition-whitelists/{whitelist_id}/export",
    name="whitelist-export",
    summary="导出白名单（XLSX）",
    description="与导入相同的列，可修改后导入地方名单。",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}, **problem_responses(WhitelistNotFound)},
)
def export_whitelist(whitelist_id: Id, caller: AnyUser, session: SessionDep) -> Response:
    whitelist = catalogue.get_whitelist(session, whitelist_id)
    return Response(
        whitelist_io.export(session, whitelist),
        media_type=XLSX_MEDIA_TYPE,
        headers=attachment("竞赛白名单.xlsx", f"whitelist-{whitelist.id}.xlsx"),
    )


# --- competitions ---------------------------------------------------------------------------


@router.post(
    "/competitions",
    name="competition-create",
    summary="新增竞赛",
    description="教育局或科协管理本地区的竞赛：须选择对应的白名单条目，或明确标记为未列入白名单"
    "（`not_whitelisted: true`）。",
    status_code=201,
    responses=problem_responses(CompetitionInvalid, CompetitionExists, WhitelistNotFound),
)
def create_competition(
    body: CompetitionCreate, caller: BureauCaller, session: SessionDep, clock: ClockDep
) -> CompetitionRead:
    competition = catalogue.create_competition(session, actor=caller, data=body, now=clock.now())
    return reads.competition_read(session, competition)


@router.get(
    "/competitions",
    name="competition-list",
    summary="竞赛列表",
    description="`region_code` 给出时只列该地区、其上级和下级地区的竞赛。结果不作为招生入学依据。",
    responses=problem_responses(),
)
def list_competitions(
    caller: AnyUser,
    session: SessionDep,
    page: PageDep,
    region_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> Page[CompetitionRead]:
    rows, total = catalogue.list_competitions(
        session, region_code=region_code, offset=page.offset, limit=page.limit
    )
    return Page[CompetitionRead].of([reads.competition_read(session, c) for c in rows], total, page)


@router.get(
    "/competitions/{competition_id}",
    name="competition-get",
    summary="竞赛详情",
    description="含各届、轮次（承办方、报名时间、名额）和组别。",
    responses=problem_responses(CompetitionNotFound),
)
def get_competition(competition_id: Id, caller: AnyUser, session: SessionDep) -> CompetitionRead:
    competition = catalogue.get_competition(session, competition_id)
    return reads.competition_read(session, competition, full=True)


@router.put(
    "/competitions/{competition_id}/whitelist",
    name="competition-whitelist-set",
    summary="设置竞赛的白名单条目",
    description="对应一个白名单条目，或明确标记为未列入白名单。",
    responses=problem_responses(CompetitionNotFound, CompetitionInvalid, WhitelistNotFound),
)
def set_whitelist(
    competition_id: Id,
    body: CompetitionWhitelistSet,
    caller: BureauCaller,
    session: SessionDep,
    clock: ClockDep,
) -> CompetitionRead:
    competition = catalogue.set_whitelist(
        session, actor=caller, competition_id=competition_id, data=body, now=clock.now()
    )
    return reads.competition_read(session, competition)


@router.post(
    "/competitions/{competition_id}/editions",
    name="competition-edition-create",
    summary="新增一届",
    description="每学年至多一届；规定报名须填写的信息和附件大小上限。",
    status_code=201,
    responses=problem_responses(CompetitionNotFound, EditionExists),
)
def create_edition(
    competition_id: Id,
    body: EditionCreate,
    caller: BureauCaller,
    session: SessionDep,
    clock: ClockDep,
) -> EditionRead:
    edition = catalogue.create_edition(
        session, actor=caller, competition_id=competition_id, data=body, now=clock.now()
    )
    return reads.edition_read(session, edition)


@router.post(
    "/competition-editions/{edition_id}/rounds",
    name="competition-round-create",
    summary="新增轮次",
    description="如校级选拔、县级、市级、省级。承办方为学校、场馆或教育局/科协；"
    "全国性主办单位由承办本地轮次的教育局代表。每轮有报名时间、每校推荐名额和每个地区晋级名额。",
    status_code=201,
    responses=problem_responses(EditionNotFound, CompetitionInvalid, CompetitionExists),
)
def create_round(
    edition_id: Id, body: RoundCreate, caller: BureauCaller, session: SessionDep, clock: ClockDep
) -> RoundRead:
    round_ = catalogue.create_round(
        session, actor=caller, edition_id=edition_id, data=body, now=clock.now()
    )
    return reads.round_read(session, round_)


@router.post(
    "/competition-editions/{edition_id}/divisions",
    name="competition-division-create",
    summary="新增组别",
    description="按学段（和年级）分组；个人或团队，团队人数上下限，指导教师人数上限。",
    status_code=201,
    responses=problem_responses(EditionNotFound, CompetitionInvalid, CompetitionExists),
)
def create_division(
    edition_id: Id,
    body: DivisionCreate,
    caller: BureauCaller,
    session: SessionDep,
    clock: ClockDep,
) -> DivisionRead:
    division = catalogue.create_division(
        session, actor=caller, edition_id=edition_id, data=body, now=clock.now()
    )
    return reads.division_read(division)
