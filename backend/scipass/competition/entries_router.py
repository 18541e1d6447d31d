"""Entries and teams: a pupil (or a guardian for the pupil) or the school registers, forms the
team, fills in the fields, submits and withdraws."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import StreamingResponse

from scipass.competition import attachments, entries, reads, review, submission
from scipass.competition.errors import (
    AdvisorInvalid,
    AlreadyEntered,
    AttachmentTooLarge,
    AttachmentTypeInvalid,
    CompetitionInvalid,
    DivisionMismatch,
    DivisionNotFound,
    EntryFieldMissing,
    EntryNotFound,
    EntryStateInvalid,
    InvitationExpired,
    InvitationInvalid,
    InvitationUsed,
    MemberNotFound,
    NotWhitelisted,
    OutsideWindow,
    RoundNotFound,
    TeamTooLarge,
    TeamTooSmall,
)
from scipass.competition.schemas import (
    AdvisorAdd,
    EntryCreate,
    EntryRead,
    EntryUpdate,
    InvitationAccept,
    InvitationRead,
    MemberAdd,
)
from scipass.consent.errors import ConsentRequired
from scipass.core.auth import SCHOOL_ROLES
from scipass.core.callers import SchoolStaff
from scipass.core.clock import ClockDep
from scipass.core.db import SessionDep
from scipass.core.deps import SettingsDep
from scipass.core.errors import problem_responses
from scipass.core.exports import attachment
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.core.storage import InsufficientStorage, StorageUnavailable, read_chunks
from scipass.record.errors import EvidencePdfActiveContent, EvidenceTooComplex, EvidenceUnreadable
from scipass.roster.acting import ActingEntrant, ActingEntryReader, ActingStudent
from scipass.roster.errors import StudentNotFound

router = APIRouter(tags=["competition-entries"])

_JOINING = (OutsideWindow, DivisionMismatch, TeamTooLarge, AlreadyEntered, ConsentRequired)


@router.post(
    "/competition-rounds/{round_id}/entries",
    name="competition-entry-create",
    summary="报名",
    description="学生本人（或家长代孩子）报名，本人为队长；团队赛再用邀请码邀请队友。"
    "本校教师也可为本校学生统一报名（学校统一报名，适用于没有手机的小学生）：给出 `student_ids`"
    "（第一位为队长）和指导教师。未满 14 周岁的学生须监护人同意“活动记录”用途。"
    "学校开启“只参加白名单竞赛”时，未列入白名单的竞赛返回 403 `competition_not_whitelisted`。",
    status_code=201,
    responses=problem_responses(
        RoundNotFound,
        DivisionNotFound,
        NotWhitelisted,
        TeamTooSmall,
        StudentNotFound,
        CompetitionInvalid,
        AdvisorInvalid,
        *_JOINING,
    ),
)
def create_entry(
    round_id: Id, body: EntryCreate, caller: ActingEntrant, session: SessionDep, clock: ClockDep
) -> EntryRead:
    entry = entries.create(session, actor=caller, round_id=round_id, data=body, now=clock.now())
    return reads.entry_read(session, entry)


@router.get(
    "/competition-entries",
    name="competition-entry-list",
    summary="竞赛报名列表",
    description="学生（或家长代孩子）看本人参加的报名及其状态；本校教师看本校学生的报名，"
    "可按 `edition_id` 筛选。",
    responses=problem_responses(),
)
def list_entries(
    caller: ActingEntrant,
    session: SessionDep,
    page: PageDep,
    edition_id: Annotated[Id | None, Query()] = None,
) -> Page[EntryRead]:
    if caller.role in SCHOOL_ROLES:
        rows, total = review.entries_of_school(
            session,
            school_id=caller.school_id or 0,
            edition_id=edition_id,
            offset=page.offset,
            limit=page.limit,
        )
        return Page[EntryRead].of([reads.entry_read(session, e) for e in rows], total, page)
    own = [
        e
        for e in review.entries_of_student(session, caller.student_id or 0)
        if edition_id is None or e.edition_id == edition_id
    ]
    return Page[EntryRead].sliced([reads.entry_read(session, e) for e in own], page)


@router.get(
    "/competition-entries/{entry_id}",
    name="competition-entry-get",
    summary="报名详情",
    description="队员（或家长）和本校教师可看。",
    responses=problem_responses(EntryNotFound),
)
def get_entry(entry_id: Id, caller: ActingEntrant, session: SessionDep) -> EntryRead:
    return reads.entry_read(
        session, entries.visible_entry(session, actor=caller, entry_id=entry_id)
    )


@router.patch(
    "/competition-entries/{entry_id}",
    name="competition-entry-update",
    summary="填写报名信息",
    description="队长（或家长代孩子）或本校教师在提交前填写作品/项目名称和简介。",
    responses=problem_responses(EntryNotFound, EntryStateInvalid),
)
def update_entry(
    entry_id: Id, body: EntryUpdate, caller: ActingEntrant, session: SessionDep, clock: ClockDep
) -> EntryRead:
    entry = entries.update_fields(
        session, actor=caller, entry_id=entry_id, data=body, now=clock.now()
    )
    return reads.entry_read(session, entry)


@router.put(
    "/competition-entries/{entry_id}/attachment",
    name="competition-entry-attach",
    summary="上传报名附件",
    description="PDF、JPEG 或 PNG（按文件内容判断，不看扩展名），不超过本届规定的大小；"
    "图片去除拍摄地点等元数据后保存。再次上传替换原附件。",
    responses=problem_responses(
        EntryNotFound,
        EntryStateInvalid,
        AttachmentTypeInvalid,
        AttachmentTooLarge,
        EvidenceUnreadable,
        EvidencePdfActiveContent,
        EvidenceTooComplex,
        InsufficientStorage,
        StorageUnavailable,
    ),
)
def attach(
    entry_id: Id,
    caller: ActingEntrant,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    file: Annotated[UploadFile, File(description="附件")],
) -> EntryRead:
    entry = attachments.attach(
        session,
        actor=caller,
        settings=settings,
        entry_id=entry_id,
        data=file.file.read(attachments.READ_LIMIT),
        filename=file.filename,
        now=clock.now(),
    )
    return reads.entry_read(session, entry)


@router.get(
    "/competition-entries/{entry_id}/attachment",
    name="competition-entry-attachment",
    summary="下载报名附件",
    description="队员（或家长代孩子）、本校教师，以及报名已送达其轮次的承办方"
    "（学校、场馆、教育局或科协）可下载。",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}},
        **problem_responses(EntryNotFound, StorageUnavailable),
    },
)
def get_attachment(
    entry_id: Id, caller: ActingEntryReader, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    stream, entry = attachments.open_file(
        session, actor=caller, settings=settings, entry_id=entry_id
    )
    media_type = entry.attachment_media_type or "application/pdf"
    extension = media_type.rsplit("/", 1)[-1]
    headers = {
        **attachment(entry.attachment_name or "附件", f"entry-{entry_id}.{extension}"),
        "X-Content-Type-Options": "nosniff",
    }
    if entry.attachment_size is not None:
        headers["Content-Length"] = str(entry.attachment_size)
    return StreamingResponse(read_chunks(stream), media_type=media_type, headers=headers)


@router.post(
    "/competition-entries/{entry_id}/invitations",
    name="competition-invitation-create",
    summary="生成邀请码",
    description="队长（或家长代孩子）为团队赛生成邀请码发给本校队友；30 分钟内有效，只能使用一次。",
    status_code=201,
    responses=problem_responses(EntryNotFound, EntryStateInvalid),
)
def invite(
    entry_id: Id, caller: ActingEntrant, session: SessionDep, clock: ClockDep
) -> InvitationRead:
    code, expires_at = entries.invite(session, actor=caller, entry_id=entry_id, now=clock.now())
    return InvitationRead(code=code, expires_at=expires_at)


@router.post(
    "/competition-invitations/accept",
    name="competition-invitation-accept",
    summary="用邀请码加入队伍",
    description="学生（或家长代孩子）输入队长给的邀请码加入队伍。未满 14 周岁须监护人同意"
    "“活动记录”用途。",
    responses=problem_responses(
        InvitationInvalid,
        InvitationExpired,
        InvitationUsed,
        EntryStateInvalid,
        CompetitionInvalid,
        *_JOINING,
    ),
)
def accept_invitation(
    body: InvitationAccept, caller: ActingStudent, session: SessionDep, clock: ClockDep
) -> EntryRead:
    entry = entries.accept_invitation(session, actor=caller, code=body.code, now=clock.now())
    return reads.entry_read(session, entry)


@router.post(
    "/competition-entries/{entry_id}/members",
    name="competition-member-add",
    summary="添加队员",
    description="本校教师把本校学生加入队伍，适用于没有手机的学生。学生队员须用队长的邀请码加入，"
    "队长不能直接添加。",
    status_code=201,
    responses=problem_responses(EntryNotFound, EntryStateInvalid, StudentNotFound, *_JOINING),
)
def add_member(
    entry_id: Id, body: MemberAdd, caller: SchoolStaff, session: SessionDep, clock: ClockDep
) -> EntryRead:
    entry = entries.add_member(
        session, actor=caller, entry_id=entry_id, student_id=body.student_id, now=clock.now()
    )
    return reads.entry_read(session, entry)


@router.delete(
    "/competition-entries/{entry_id}/members/{member_id}",
    name="competition-member-remove",
    summary="移除队员",
    description="提交前，队长（或家长代孩子）或本校教师可移除队员（队长除外）。",
    responses=problem_responses(EntryNotFound, MemberNotFound, EntryStateInvalid),
)
def remove_member(
    entry_id: Id, member_id: Id, caller: ActingEntrant, session: SessionDep, clock: ClockDep
) -> EntryRead:
    entry = entries.remove_member(
        session, actor=caller, entry_id=entry_id, member_id=member_id, now=clock.now()
    )
    return reads.entry_read(session, entry)


@router.post(
    "/competition-entries/{entry_id}/advisors",
    name="competition-advisor-add",
    summary="添加指导教师",
    description="本校教职工账号，不超过组别规定的人数。",
    status_code=201,
    responses=problem_responses(EntryNotFound, EntryStateInvalid, AdvisorInvalid),
)
def add_advisor(
    entry_id: Id, body: AdvisorAdd, caller: ActingEntrant, session: SessionDep, clock: ClockDep
) -> EntryRead:
    entry = entries.add_advisor(
        session, actor=caller, entry_id=entry_id, account_id=body.account_id, now=clock.now()
    )
    return reads.entry_read(session, entry)


@router.delete(
    "/competition-entries/{entry_id}/advisors/{advisor_id}",
    name="competition-advisor-remove",
    summary="移除指导教师",
    responses=problem_responses(EntryNotFound, MemberNotFound, EntryStateInvalid),
)
def remove_advisor(
    entry_id: Id, advisor_id: Id, caller: ActingEntrant, session: SessionDep, clock: ClockDep
) -> EntryRead:
    entry = entries.remove_advisor(
        session, actor=caller, entry_id=entry_id, advisor_id=advisor_id, now=clock.now()
    )
    return reads.entry_read(session, entry)


@router.post(
    "/competition-entries/{entry_id}/submit",
    name="competition-entry-submit",
    summary="提交报名",
    description="在报名时间内提交给学校审核推荐：检查队伍人数和本届要求填写的信息"
    "（缺少的项在 `fields` 中列出）。",
    responses=problem_responses(
        EntryNotFound,
        EntryStateInvalid,
        OutsideWindow,
        TeamTooSmall,
        TeamTooLarge,
        EntryFieldMissing,
    ),
)
def submit(entry_id: Id, caller: ActingEntrant, session: SessionDep, clock: ClockDep) -> EntryRead:
    entry = submission.submit(session, actor=caller, entry_id=entry_id, now=clock.now())
    return reads.entry_read(session, entry)


@router.post(
    "/competition-entries/{entry_id}/withdraw",
    name="competition-entry-withdraw",
    summary="撤回报名",
    description="报名截止前可撤回：队员可另行报名，已占用的学校推荐名额释放。",
    responses=problem_responses(EntryNotFound, EntryStateInvalid, OutsideWindow),
)
def withdraw(
    entry_id: Id, caller: ActingEntrant, session: SessionDep, clock: ClockDep
) -> EntryRead:
    entry = submission.withdraw(session, actor=caller, entry_id=entry_id, now=clock.now())
    return reads.entry_read(session, entry)
