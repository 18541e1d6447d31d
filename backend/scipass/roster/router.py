"""Rosters for school staff; binding for WeChat users."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from scipass.account import service as account_service
from scipass.account.schemas import Tokens
from scipass.consent import service as consent_service
from scipass.core.callers import SchoolAdmin, SchoolStaff, WeChatCaller
from scipass.core.clock import ClockDep, local_date
from scipass.core.config import Settings
from scipass.core.db import SessionDep
from scipass.core.deps import SettingsDep
from scipass.core.errors import PayloadTooLarge, problem_responses
from scipass.core.exports import attachment, csv_bytes
from scipass.core.inputs import GradeFilter, Id
from scipass.core.pagination import Page, PageDep
from scipass.roster import binding_slips, importer
from scipass.roster import service as roster_service
from scipass.roster.errors import (
    AlreadyBound,
    AlreadyLinked,
    BindingInvalid,
    BindingRateLimited,
    GuardianLinkNotFound,
    RoleConflict,
    RosterFileUnreadable,
    RosterImportConflict,
    RosterInvalid,
    StudentNotFound,
)
from scipass.roster.models import Student
from scipass.roster.schemas import (
    GuardianBinding,
    GuardianRead,
    ImportResult,
    StudentBinding,
    StudentCodes,
    StudentRead,
    TemplateFormat,
)

router = APIRouter(tags=["roster"])
me_router = APIRouter(prefix="/me", tags=["binding"])

ClassName = Annotated[str | None, Query(max_length=20, description="班级，如 2班")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _read(student: Student, *, today: date, guardians: int) -> StudentRead:
    return StudentRead(
        id=student.id or 0,
        student_no=student.student_no,
        name=student.name,
        gender=student.gender,
        stage=student.stage,
        grade=student.grade,
        grade_label=importer.grade_label(student.stage, student.grade),
        class_name=student.class_name,
        birth_month=student.birth_month.strftime("%Y-%m"),
        under_14=consent_service.is_under_14(student.birth_month, today),
        bound=student.wechat_user_id is not None,
        bound_at=student.bound_at,
        guardian_count=guardians,
    )


@router.get(
    "/roster/template",
    name="roster-template",
    summary="下载名单模板",
    description="CSV（UTF-8 带 BOM，Excel 可直接打开）或 XLSX，含示例行与填写说明。",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}, **problem_responses()},
)
def roster_template(
    caller: SchoolStaff, format: Annotated[TemplateFormat, Query()] = TemplateFormat.xlsx
) -> Response:
    if format is TemplateFormat.csv:
        return Response(
            importer.template_csv(),
            media_type="text/csv; charset=utf-8",
            headers=attachment("学生名单模板.csv", "roster-template.csv"),
        )
    return Response(
        importer.template_xlsx(),
        media_type=XLSX,
        headers=attachment("学生名单模板.xlsx", "roster-template.xlsx"),
    )


@router.post(
    "/roster/import",
    name="roster-import",
    summary="导入学生名单",
    description="上传 CSV（UTF-8 或 GB18030）或 XLSX。任何一行有错则整批不导入，"
    "并列出每个错误的行号、列和原因；按学号新增或更新，返回新增、更新、未变化的人数。",
    responses=problem_responses(
        RosterInvalid, RosterFileUnreadable, RosterImportConflict, PayloadTooLarge
    ),
)
def import_roster(
    caller: SchoolAdmin,
    session: SessionDep,
    clock: ClockDep,
    file: Annotated[UploadFile, File(description="名单文件")],
) -> ImportResult:
    content = file.file.read(importer.MAX_BYTES + 1)
    if len(content) > importer.MAX_BYTES:
        raise PayloadTooLarge("名单文件不能超过 10 MB", "The roster file exceeds 10 MB")
    summary = roster_service.import_roster(
        session, actor=caller, content=content, now=clock.now(), filename=file.filename or ""
    )
    return ImportResult(
        created=summary.created, updated=summary.updated, unchanged=summary.unchanged
    )


@router.get("/students", name="student-list", summary="本校学生", responses=problem_responses())
def list_students(
    caller: SchoolStaff,
    session: SessionDep,
    clock: ClockDep,
    page: PageDep,
    grade: GradeFilter = None,
    class_name: ClassName = None,
    q: Annotated[str | None, Query(max_length=30, description="姓名或学号开头")] = None,
    bound: Annotated[bool | None, Query(description="是否已绑定微信")] = None,
) -> Page[StudentRead]:
    rows, total = roster_service.list_students(
        session, actor=caller, page=page, grade=grade, class_name=class_name, q=q, bound=bound
    )
    counts = roster_service.guardian_counts(session, [s.id for s in rows if s.id is not None])
    today = local_date(clock.now())
    items = [_read(s, today=today, guardians=counts.get(s.id or 0, 0)) for s in rows]
    roster_service.audit_viewed(session, actor=caller, now=clock.now(), rows=len(items))
    return Page[StudentRead].of(items, total, page)


@router.get(
    "/students/{student_id}",
    name="student-get",
    summary="学生详情",
    responses=problem_responses(StudentNotFound),
)
def get_student(
    student_id: Id, caller: SchoolStaff, session: SessionDep, clock: ClockDep
) -> StudentRead:
    student = roster_service.get_student_for_staff(session, actor=caller, student_id=student_id)
    counts = roster_service.guardian_counts(session, [student_id])
    roster_service.audit_viewed(
        session, actor=caller, now=clock.now(), rows=1, student_id=student_id
    )
    return _read(student, today=local_date(clock.now()), guardians=counts.get(student_id, 0))


@router.get(
    "/roster/binding-codes",
    name="roster-binding-codes",
    summary="下载绑定码",
    description="按班级（或年级、全校）下载学生绑定码与家长绑定码："
    "`format=csv`（默认，UTF-8 带 BOM）或 `format=pdf`（A4 通知条，每页 10 人，"
    "裁开发给学生和家长）。"
    "已使用的家长码、未绑定学生已使用的学生码会自动换新。下载记入审计日志。",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}, "application/pdf": {}}},
        **problem_responses(),
    },
)
def binding_codes(
    caller: SchoolAdmin,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    grade: GradeFilter = None,
    class_name: ClassName = None,
    format: Annotated[
        Literal["csv", "pdf"], Query(description="csv 或 pdf（打印用通知条）")
    ] = "csv",
) -> Response:
    students = roster_service.codes_for_export(
        session, actor=caller, grade=grade, class_name=class_name, now=clock.now()
    )
    if format == "pdf":
        return Response(
            binding_slips.pdf(settings, students),
            media_type="application/pdf",
            headers=attachment("绑定码通知条.pdf", "binding-codes.pdf"),
        )
    data = csv_bytes(
        ["学号", "姓名", "年级", "班级", "学生绑定码", "家长绑定码", "学生绑定状态"],
        (
            [
                s.student_no,
                s.name,
                importer.grade_label(s.stage, s.grade),
                s.class_name,
                s.binding_code or "",
                s.guardian_code or "",
                "已绑定" if s.wechat_user_id else "未绑定",
            ]
            for s in students
        ),
    )
    return StreamingResponse(
        iter([data]),
        media_type="text/csv; charset=utf-8",
        headers=attachment("绑定码.csv", "binding-codes.csv"),
    )


@router.post(
    "/students/{student_id}/codes",
    name="student-codes-renew",
    summary="重新生成绑定码",
    description="作废该学生现有的绑定码（未绑定时）和家长绑定码，生成新的。",
    responses=problem_responses(StudentNotFound),
)
def renew_codes(
    student_id: Id, caller: SchoolAdmin, session: SessionDep, clock: ClockDep
) -> StudentCodes:
    student = roster_service.renew_codes(
        session, actor=caller, student_id=student_id, now=clock.now()
    )
    return StudentCodes.model_validate(student, from_attributes=True)


@router.post(
    "/students/{student_id}/unbind",
    name="student-unbind",
    summary="解除学生与微信的绑定",
    description="例如学生换了手机或绑错了人。会生成新的学生绑定码。",
    responses=problem_responses(StudentNotFound),
)
def unbind(
    student_id: Id, caller: SchoolAdmin, session: SessionDep, clock: ClockDep
) -> StudentCodes:
    student = roster_service.unbind_student(
        session, actor=caller, student_id=student_id, now=clock.now()
    )
    return StudentCodes.model_validate(student, from_attributes=True)


@router.get(
    "/students/{student_id}/guardians",
    name="student-guardian-list",
    summary="学生的家长绑定",
    responses=problem_responses(StudentNotFound),
)
def list_guardians(
    student_id: Id, caller: SchoolStaff, session: SessionDep, page: PageDep
) -> Page[GuardianRead]:
    return Page[GuardianRead].sliced(
        [
            GuardianRead.model_validate(link, from_attributes=True)
            for link in roster_service.list_guardians(session, actor=caller, student_id=student_id)
        ],
        page,
    )


@router.delete(
    "/students/{student_id}/guardians/{link_id}",
    name="student-guardian-unlink",
    summary="解除家长绑定",
    status_code=204,
    responses=problem_responses(StudentNotFound, GuardianLinkNotFound),
)
def unlink_guardian(
    student_id: Id, link_id: Id, caller: SchoolAdmin, session: SessionDep, clock: ClockDep
) -> Response:
    roster_service.unlink_guardian(
        session, actor=caller, student_id=student_id, link_id=link_id, now=clock.now()
    )
    return Response(status_code=204)


def _fresh_tokens(session: Session, settings: Settings, caller_id: Id, now: datetime) -> Tokens:
    principal = account_service.principal_for_wechat_user(session, caller_id)
    pair = account_service.issue_tokens(session, settings, principal, now=now)
    return Tokens(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        refresh_expires_in=pair.refresh_expires_in,
        role=principal.role,
    )


@me_router.post(
    "/student-binding",
    name="me-student-bind",
    summary="绑定学生身份",
    description="用学校、学号和学校发放的一次性绑定码，把当前微信绑定到名单中的学生。"
    "一个微信只能绑定一名学生。成功后返回新令牌（角色为 student）。",
    responses=problem_responses(BindingInvalid, AlreadyBound, RoleConflict, BindingRateLimited),
)
def bind_student(
    body: StudentBinding,
    caller: WeChatCaller,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Tokens:
    now = clock.now()
    roster_service.bind_student(
        session,
        actor=caller,
        school_id=body.school_id,
        student_no=body.student_no,
        code=body.code,
        now=now,
    )
    assert caller.wechat_user_id is not None
    return _fresh_tokens(session, settings, caller.wechat_user_id, now)


@me_router.post(
    "/guardian-links",
    name="me-guardian-link",
    summary="家长绑定孩子",
    description="用学校、学号和家长绑定码绑定孩子。成功后返回新令牌（角色为 guardian）。",
    responses=problem_responses(BindingInvalid, AlreadyLinked, RoleConflict, BindingRateLimited),
)
def link_guardian(
    body: GuardianBinding,
    caller: WeChatCaller,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Tokens:
    now = clock.now()
    roster_service.link_guardian(
        session,
        actor=caller,
        school_id=body.school_id,
        student_no=body.student_no,
        code=body.code,
        relation=body.relation.value,
        now=now,
    )
    assert caller.wechat_user_id is not None
    return _fresh_tokens(session, settings, caller.wechat_user_id, now)
