"""HTTP for competition results: entering, uploading, public notice (公示), objections and
publication."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile

from scipass.competition import results as results_service
from scipass.competition import results_publish, results_upload
from scipass.competition.errors import RoundNotFound
from scipass.competition.results_errors import (
    NoNextRound,
    NothingToNotice,
    RegionQuotaReached,
    ResultEntryNotFound,
    ResultFileUnreadable,
    ResultLocked,
    ResultNotFound,
    ResultNoticeClosed,
    ResultNotNoticed,
    ResultObjectionDuplicate,
    ResultObjectionNotFound,
    ResultObjectionResolved,
    ResultUploadInvalid,
)
from scipass.competition.results_models import (
    AWARD_LABEL,
    Award,
    Result,
    ResultNotice,
    ResultObjection,
    ResultObjectionStatus,
)
from scipass.competition.results_schemas import (
    MemberName,
    ObjectionDecision,
    PublishRead,
    ResultNoticeRead,
    ResultObjectionCreate,
    ResultObjectionRead,
    ResultObjectionResolve,
    ResultRead,
    ResultWrite,
    RoundResultRow,
    RoundResults,
    UploadRead,
)
from scipass.core.callers import OrganiserOrBureau, SchoolStaff
from scipass.core.clock import ClockDep
from scipass.core.db import SessionDep
from scipass.core.deps import SettingsDep
from scipass.core.errors import PayloadTooLarge, problem_responses
from scipass.core.exports import XLSX_MEDIA_TYPE, attachment
from scipass.core.inputs import Id
from scipass.record import labels

router = APIRouter(tags=["competition-results"])

_BINARY = {"schema": {"type": "string", "format": "binary"}}


def result_read(result: Result) -> ResultRead:
    return ResultRead(
        id=result.id or 0,
        round_id=result.round_id,
        entry_id=result.entry_id,
        award=Award(result.award),
        award_label=AWARD_LABEL[Award(result.award)],
        advances=result.advances,
        status=result.status,
        notice_id=result.notice_id,
        entered_at=result.entered_at,
        published_at=result.published_at,
    )


def _notice_read(notice: ResultNotice) -> ResultNoticeRead:
    return ResultNoticeRead(
        id=notice.id or 0,
        round_id=notice.round_id,
        working_days=notice.working_days,
        starts_at=notice.starts_at,
        ends_at=notice.ends_at,
        result_count=notice.result_count,
    )


def _objection_read(objection: ResultObjection) -> ResultObjectionRead:
    return ResultObjectionRead(
        id=objection.id or 0,
        result_id=objection.result_id,
        notice_id=objection.notice_id,
        school_id=objection.school_id,
        raised_role=objection.raised_role,
        reason=objection.reason,
        raised_at=objection.raised_at,
        status=objection.status,
        resolution=objection.resolution,
        resolved_at=objection.resolved_at,
    )


@router.get(
    "/competition-rounds/{round_id}/results",
    name="competition-result-list",
    summary="本轮成绩",
    description="轮次的组织方看到本轮全部已录取的报名及其成绩（未录入的为空），含成员姓名、"
    "学校和班级；有报名在本轮的学校看到本轮公示中和已发布的成绩（姓名和学校，班级只显示本校"
    "学生的）。每次查看记入审计日志。",
    responses=problem_responses(RoundNotFound),
)
def list_results(
    round_id: Id, caller: OrganiserOrBureau, session: SessionDep, clock: ClockDep
) -> RoundResults:
    round_, rows = results_service.round_results(
        session, actor=caller, round_id=round_id, now=clock.now()
    )
    return RoundResults(
        round_id=round_.id or 0,
        round_name=round_.name,
        has_next_round=results_service.next_round(session, round_) is not None,
        region_quota=round_.region_quota,
        items=[
            RoundResultRow(
                entry_id=row.entry.id or 0,
                entry_number=row.entry.number,
                title=row.entry.title,
                school_id=row.school.id or 0,
                school_name=row.school.name,
                via=row.place.via,
                members=[
                    MemberName(
                        name=s.name,
                        class_label=labels.class_label(s.grade, s.class_name)
                        if row.show_class
                        else "",
                    )
                    for s in row.members
                ],
                result=result_read(row.result) if row.result else None,
            )
            for row in rows
        ],
    )


@router.put(
    "/competition-rounds/{round_id}/results/{entry_id}",
    name="competition-result-set",
    summary="录入或修改一条成绩",
    description="轮次的组织方为本轮已录取的报名录入奖项和是否晋级；公示前可修改。晋级占用"
    "学校所在区县晋级下一轮的名额（`region_quota`），改为不晋级时退回名额。",
    responses=problem_responses(
        RoundNotFound, ResultEntryNotFound, ResultLocked, NoNextRound, RegionQuotaReached
    ),
)
def set_result(
    round_id: Id,
    entry_id: Id,
    body: ResultWrite,
    caller: OrganiserOrBureau,
    session: SessionDep,
    clock: ClockDep,
) -> ResultRead:
    result = results_service.enter_result(
        session,
        actor=caller,
        round_id=round_id,
        data=results_service.ResultInput(
            entry_id=entry_id, award=body.award, advances=body.advances
        ),
        now=clock.now(),
    )
    return result_read(result)


@router.get(
    "/competition-rounds/{round_id}/results/template",
    name="competition-result-template",
    summary="下载成绩表模板（XLSX）",
    description="列出本轮已录取的报名（报名编号、名称、学校、成员），填写奖项和是否晋级后上传。",
    response_class=Response,
    responses={
        200: {"content": {XLSX_MEDIA_TYPE: _BINARY}},
        **problem_responses(RoundNotFound),
    },
)
def results_template(
    round_id: Id, caller: OrganiserOrBureau, session: SessionDep, clock: ClockDep
) -> Response:
    content = results_upload.template(session, actor=caller, round_id=round_id, now=clock.now())
    return Response(
        content,
        media_type=XLSX_MEDIA_TYPE,
        headers=attachment("竞赛成绩表.xlsx", f"competition-results-{round_id}.xlsx"),
    )


@router.post(
    "/competition-rounds/{round_id}/results/upload",
    name="competition-result-upload",
    summary="上传成绩表",
    description="上传填好的模板（XLSX）。整表要么全部录入，要么一条也不录入：任何一行有错"
    "（报名编号不在本轮、重复、奖项不认识、成绩已公示、最后一轮不能晋级、地区名额已满），"
    "返回 422 `competition_results_upload_invalid`，`errors` 列出每一行的行号、列和原因。",
    responses=problem_responses(
        RoundNotFound, ResultUploadInvalid, ResultFileUnreadable, PayloadTooLarge
    ),
)
def upload_results(
    round_id: Id,
    caller: OrganiserOrBureau,
    session: SessionDep,
    clock: ClockDep,
    file: Annotated[UploadFile, File(description="成绩表（XLSX）")],
) -> UploadRead:
    content = file.file.read(results_upload.MAX_BYTES + 1)
    if len(content) > results_upload.MAX_BYTES:
        raise PayloadTooLarge("成绩表不能超过 5 MB", "The results file exceeds 5 MB")
    entered = results_upload.upload(
        session, actor=caller, round_id=round_id, content=content, now=clock.now()
    )
    return UploadRead(entered=entered)


@router.post(
    "/competition-rounds/{round_id}/result-notices",
    name="competition-result-notice-open",
    summary="公示本轮成绩",
    description="把本轮全部待公示的成绩放入一次公示。公示期为本轮所在区划设置的工作日数"
    "（与写实记录公示相同，未设置为 5 个工作日），从次日起算。公示期内，报名所在学校可提出异议。",
    status_code=201,
    responses=problem_responses(RoundNotFound, NothingToNotice),
)
def open_notice(
    round_id: Id,
    caller: OrganiserOrBureau,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> ResultNoticeRead:
    notice = results_service.open_notice(
        session, actor=caller, settings=settings, round_id=round_id, now=clock.now()
    )
    return _notice_read(notice)


@router.post(
    "/competition-rounds/{round_id}/results/publish",
    name="competition-result-publish",
    summary="发布公示期满的成绩",
    description="公示期已满且没有未处理异议的成绩改为已发布：每名成员生成一条已确认的写实记录"
    "（获奖均生成；“参与”只在报名参加的最后一轮生成），晋级的报名进入下一轮名单。"
    "重复调用不会重复生成。后台任务也会定时发布。",
    responses=problem_responses(RoundNotFound),
)
def publish(
    round_id: Id, caller: OrganiserOrBureau, session: SessionDep, clock: ClockDep
) -> PublishRead:
    results_service.organised_round(session, actor=caller, round_id=round_id)
    done = results_publish.publish_due(session, now=clock.now(), actor=caller, round_id=round_id)
    return PublishRead(
        published=done.published,
        records=done.records,
        advanced=done.advanced,
        held=done.held,
        waiting=done.waiting,
    )


@router.post(
    "/competition-results/{result_id}/objections",
    name="competition-result-object",
    summary="对公示中的成绩提出异议",
    description="有报名参加本轮的学校的教职工在公示期内可对本轮任一成绩提出异议；"
    "异议未处理前该成绩不会发布。",
    status_code=201,
    responses=problem_responses(
        ResultNotFound, ResultNotNoticed, ResultNoticeClosed, ResultObjectionDuplicate
    ),
)
def object_to(
    result_id: Id,
    body: ResultObjectionCreate,
    caller: SchoolStaff,
    session: SessionDep,
    clock: ClockDep,
) -> ResultObjectionRead:
    objection = results_service.object_to(
        session, actor=caller, result_id=result_id, reason=body.reason, now=clock.now()
    )
    return _objection_read(objection)


@router.get(
    "/competition-rounds/{round_id}/result-objections",
    name="competition-result-objection-list",
    summary="本轮成绩收到的异议",
    responses=problem_responses(RoundNotFound),
)
def list_objections(
    round_id: Id,
    caller: OrganiserOrBureau,
    session: SessionDep,
    status: ResultObjectionStatus | None = None,
) -> list[ResultObjectionRead]:
    rows = results_service.objections_of(session, actor=caller, round_id=round_id, status=status)
    return [_objection_read(o) for o in rows]


@router.post(
    "/competition-result-objections/{result_objection_id}/resolution",
    name="competition-result-objection-resolve",
    summary="处理成绩异议",
    description="轮次的组织方处理异议。成立（uphold）：成绩退回为待公示，修改后重新公示；"
    "驳回（dismiss）：成绩在公示期满后发布。",
    responses=problem_responses(ResultObjectionNotFound, ResultObjectionResolved),
)
def resolve_objection(
    result_objection_id: Id,
    body: ResultObjectionResolve,
    caller: OrganiserOrBureau,
    session: SessionDep,
    clock: ClockDep,
) -> ResultObjectionRead:
    objection = results_service.resolve_objection(
        session,
        actor=caller,
        objection_id=result_objection_id,
        uphold=body.decision is ObjectionDecision.uphold,
        resolution=body.resolution,
        now=clock.now(),
    )
    return _objection_read(objection)
