"""HTTP for volunteer attendance, confirmed minutes, totals, exports and certificates (issue
18 points 4-7)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlmodel import Session

from scipass.checkin import codes
from scipass.checkin import issuing as checkin_issuing
from scipass.checkin import shifts as checkin_shifts
from scipass.checkin.dependencies import CacheDep, NonceHeader
from scipass.checkin.errors import REFUSALS, CodeKindInvalid, NotCheckedIn, ReplayedNonce
from scipass.checkin.models import ActivityCode, ScanResult
from scipass.checkin.schemas import BatchResult, CheckInCreate, CodeCreate, OfflineBatch, StaffScan
from scipass.core.auth import Principal, public_access
from scipass.core.callers import Organiser, OrganiserOrPlatform, SchoolStaff, VenueStaff
from scipass.core.clock import ClockDep
from scipass.core.db import AdmittedDep, SessionDep
from scipass.core.deps import DatabaseDep, SettingsDep
from scipass.core.errors import Forbidden, problem_responses
from scipass.core.exports import CSV_MEDIA_TYPE
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.jobs.errors import ExportTooLarge
from scipass.jobs.exporter import FileFormat
from scipass.jobs.schemas import JobRead
from scipass.roster.acting import ActingCanceller, ActingStudent
from scipass.roster.models import Student
from scipass.roster.visibility import shown_name
from scipass.volunteer import certificates as volunteer_certificates
from scipass.volunteer import hours as volunteer_hours
from scipass.volunteer import lists as volunteer_lists
from scipass.volunteer import minutes as volunteer_minutes
from scipass.volunteer.errors import (
    CertificateExists,
    CertificateNotFound,
    MinutesInvalid,
    MinutesReviewed,
    NothingToCertify,
    ShiftNotFound,
    ShiftNotOver,
)
from scipass.volunteer.models import SignupStatus, VolunteerSignup
from scipass.volunteer.schemas import (
    AttendanceRead,
    CertificateCheck,
    CertificateCreate,
    CertificateRead,
    MinutesConfirm,
    MyVolunteerHours,
    PupilTotal,
    ShiftCodeRead,
    ShiftScanRead,
)

public_router = APIRouter(tags=["volunteering"], dependencies=[Depends(public_access)])
router = APIRouter(tags=["volunteering"])

PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
By = Annotated[
    Literal["pupil", "shift"],
    Query(description="`pupil` 每名学生一行，`shift` 每个班次每名学生一行"),
]


def attendance_read(session: Session, signup: VolunteerSignup, viewer: Principal) -> AttendanceRead:
    student = session.get(Student, signup.student_id)
    return AttendanceRead(
        signup_id=signup.id or 0,
        shift_id=signup.shift_id,
        role_id=signup.role_id,
        student_id=signup.student_id,
        student_name=shown_name(
            viewer,
            student.name if student else "",
            school_id=signup.school_id,
            student_id=signup.student_id,
        ),
        status=SignupStatus(signup.status),
        arrived_at=signup.arrived_at,
        left_at=signup.left_at,
        confirmed_minutes=signup.confirmed_minutes,
        minutes_reason=signup.minutes_reason,
        confirmed_by=signup.confirmed_by,
        confirmed_at=signup.confirmed_at,
        record_id=signup.record_id,
        needs_minutes=signup.arrived_at is not None
        and signup.left_at is None
        and signup.confirmed_at is None,
    )


def _scan_read(
    session: Session, outcome: checkin_shifts.ShiftOutcome, viewer: Principal
) -> ShiftScanRead:
    base = attendance_read(session, outcome.signup, viewer)
    return ShiftScanRead(
        **base.model_dump(),
        direction=outcome.direction.value,
        duplicate=not outcome.created,
        walk_in=outcome.walk_in,
    )


def _code_read(
    settings: SettingsDep, code: ActivityCode, target: checkin_issuing.CodeTarget, now: datetime
) -> ShiftCodeRead:
    payload = checkin_issuing.code_payload(settings, code, now)
    return ShiftCodeRead(
        id=code.id or 0,
        shift_id=code.shift_id or 0,
        kind=code.kind,
        short_id=code.short_id,
        step_seconds=code.step_seconds,
        valid_until=code.valid_until,
        revoked_at=code.revoked_at,
        revoke_reason=code.revoke_reason,
        created_at=code.created_at,
        payload=payload,
        link=codes.link_for(target.link_base, payload),
        scene=codes.SCENE_PREFIX + code.short_id,
        kiosk_url=checkin_issuing.kiosk_url(settings, code, target),
    )


# --- codes and scans (point 4) -------------------------------------------------------------------


@router.post(
    "/volunteer-shifts/{shift_id}/codes",
    name="volunteer-shift-code-create",
    summary="为志愿服务班次发签到码",
    description="班次是独立的扫码对象：海报码（`static`）或大屏动态码（`rotating`），与活动码"
    "同样签名、校验。学生扫此码记录本班次的到岗与离岗，不产生参观签到和参观记录。"
    "海报码的图片、A4 海报和小程序码与活动码相同：`/codes/{id}/qr.png`、`qr.svg`、`poster.pdf`、"
    "`wxacode.png`；动态码的 `kiosk_url` 是班次的大屏页面（显示本班次已到岗人数）；"
    "作废用 `POST /codes/{id}/revoke`。",
    status_code=201,
    responses=problem_responses(ShiftNotFound, CodeKindInvalid),
)
def shift_code_create(
    shift_id: Id,
    body: CodeCreate,
    caller: Organiser,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> ShiftCodeRead:
    now = clock.now()
    code = checkin_shifts.create_code(
        session, settings=settings, actor=caller, shift_id=shift_id, data=body, now=now
    )
    _code, target = checkin_issuing.managed_code(
        session, settings=settings, actor=caller, code_id=code.id or 0, now=now
    )
    return _code_read(settings, code, target, now)


@router.get(
    "/volunteer-shifts/{shift_id}/codes",
    name="volunteer-shift-code-list",
    summary="志愿服务班次的签到码",
    responses=problem_responses(ShiftNotFound),
)
def shift_code_list(
    shift_id: Id,
    caller: Organiser,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    page: PageDep,
) -> Page[ShiftCodeRead]:
    now = clock.now()
    found = checkin_shifts.list_codes(session, actor=caller, shift_id=shift_id)
    if not found:
        return Page[ShiftCodeRead].sliced([], page)
    _code, target = checkin_issuing.managed_code(
        session, settings=settings, actor=caller, code_id=found[0].id or 0, now=now
    )
    return Page[ShiftCodeRead].sliced([_code_read(settings, c, target, now) for c in found], page)


@router.post(
    "/volunteer-attendance",
    name="volunteer-attendance-scan",
    summary="志愿者扫班次码到岗 / 离岗（家长可代孩子扫码）",
    description="扫描志愿服务班次的签到码：`direction=entry` 到岗，`exit` 离岗。与参观签到相同的"
    "签名码、时段（开始前 30 分钟至结束；离岗至结束后 30 分钟）、请求编号、频率限制，被拒绝的"
    "扫码也会留存。未报名该班次返回 `not_registered`（班次允许补位且有空余名额、符合报名条件时"
    "除外）。只记录本班次的出勤，不产生参观签到或参观记录；写实记录在场馆确认时长后生成。"
    "新记录返回 201，重复返回 200（`duplicate=true`）。",
    status_code=201,
    responses={
        200: {"model": ShiftScanRead, "description": "已记录过：返回已有记录"},
        **problem_responses(*REFUSALS, NotCheckedIn),
    },
)
def volunteer_scan(
    data: CheckInCreate,
    nonce: NonceHeader,
    response: Response,
    caller: ActingStudent,
    session: SessionDep,
    settings: SettingsDep,
    cache: CacheDep,
    clock: ClockDep,
) -> ShiftScanRead:
    outcome = checkin_shifts.self_scan(
        session,
        settings=settings,
        cache=cache,
        actor=caller,
        data=data,
        nonce=nonce,
        now=clock.now(),
    )
    if not outcome.created:
        response.status_code = 200
    return _scan_read(session, outcome, caller)


@router.post(
    "/volunteer-shifts/{shift_id}/staff-scans",
    name="volunteer-shift-staff-scan",
    summary="工作人员扫学生个人码记录到岗 / 离岗",
    description="组织方工作人员为本班次扫描学生的个人码；规则与扫班次码相同。",
    status_code=201,
    responses={
        200: {"model": ShiftScanRead, "description": "已记录过：返回已有记录"},
        **problem_responses(ShiftNotFound, *REFUSALS, NotCheckedIn, ReplayedNonce),
    },
)
def volunteer_staff_scan(
    shift_id: Id,
    data: StaffScan,
    response: Response,
    caller: Organiser,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> ShiftScanRead:
    outcome = checkin_shifts.staff_scan(
        session, settings=settings, actor=caller, shift_id=shift_id, data=data, now=clock.now()
    )
    if not outcome.created:
        response.status_code = 200
    return _scan_read(session, outcome, caller)


@router.post(
    "/volunteer-shifts/{shift_id}/offline-scans",
    name="volunteer-shift-offline-scans",
    summary="上传离线扫描的到岗 / 离岗",
    description="设备离线时扫描的学生个人码，联网后上传；每条按扫码时间判断并分别返回结果，"
    "重复上传不会重复记录。`force` 记录现场已发生、但不在时段内的扫码。",
    responses=problem_responses(ShiftNotFound),
)
def volunteer_offline_scans(
    shift_id: Id,
    data: OfflineBatch,
    caller: Organiser,
    database: DatabaseDep,
    _admitted: AdmittedDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> BatchResult:
    items = checkin_shifts.offline_batch(
        database, settings=settings, actor=caller, shift_id=shift_id, data=data, now=clock.now()
    )
    return BatchResult(
        accepted=sum(1 for i in items if i.result is ScanResult.accepted),
        duplicate=sum(1 for i in items if i.result is ScanResult.duplicate),
        refused=sum(1 for i in items if i.result is ScanResult.refused),
        items=items,
    )


# --- minutes (point 5) ----------------------------------------------------------------------------


@router.get(
    "/volunteer-shifts/{shift_id}/attendance",
    name="volunteer-shift-attendance",
    summary="班次的出勤与确认时长",
    description="每个报名一行：到岗、离岗、确认的时长和确认人。场馆只见脱敏姓名。",
    responses=problem_responses(ShiftNotFound),
)
def shift_attendance(
    shift_id: Id, caller: OrganiserOrPlatform, session: SessionDep, page: PageDep
) -> Page[AttendanceRead]:
    rows, total = volunteer_lists.list_for_shift(
        session, actor=caller, shift_id=shift_id, limit=page.limit, offset=page.offset
    )
    return Page[AttendanceRead].of([attendance_read(session, s, caller) for s in rows], total, page)


@router.post(
    "/volunteer-shifts/{shift_id}/minutes",
    name="volunteer-shift-minutes-confirm",
    summary="班次结束后确认志愿服务时长",
    description="默认按到岗至离岗、限于班次时间、按 30 分钟计，当天合计不超过所服务岗位中最低的"
    "每日上限；未到岗标记缺席。到岗后未扫离岗码的学生没有默认时长（只计实际服务时间），保持待确认"
    "（`needs_minutes`），须在 `items` 中填写时长和原因。`items` 只列出要改动的学生：改时长须"
    "写原因（记入审计日志），或标记缺席。确认即生成志愿服务写实记录（思想品德，证明人为确认的"
    "工作人员与本单位）。重复确认不会重复生成。学校审核后时长不能再改（`volunteer_minutes_reviewed`）。",
    responses=problem_responses(ShiftNotFound, ShiftNotOver, MinutesInvalid, MinutesReviewed),
)
def confirm_minutes(
    shift_id: Id, body: MinutesConfirm, caller: Organiser, session: SessionDep, clock: ClockDep
) -> list[AttendanceRead]:
    signups = volunteer_minutes.confirm_shift(
        session, actor=caller, shift_id=shift_id, items=body.items, now=clock.now()
    )
    return [attendance_read(session, s, caller) for s in signups]


# --- totals and exports (point 6) ---------------------------------------------------------------


@router.get(
    "/me/volunteer-hours",
    name="my-volunteer-hours",
    summary="我的志愿服务时长（按学期、学年）",
    description="已确认的时长与次数；家长代孩子查看时带 `student_id`。",
)
def my_volunteer_hours(caller: ActingStudent, session: SessionDep) -> MyVolunteerHours:
    return volunteer_hours.student_totals(session, student_id=caller.student_id or 0)


@router.get(
    "/volunteer-hours/school",
    name="school-volunteer-hours",
    summary="本校学生志愿服务时长汇总",
    description="按学年（默认本学年）汇总本校学生已确认的时长，`min_hours` 只列出达到该时长的"
    "学生（如 24）。查看记入审计日志。",
)
def school_volunteer_hours(
    caller: SchoolStaff,
    session: SessionDep,
    clock: ClockDep,
    page: PageDep,
    school_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    min_hours: Annotated[float, Query(ge=0, le=10000)] = 0,
) -> Page[PupilTotal]:
    items = volunteer_hours.school_totals(
        session, actor=caller, school_year=school_year, min_hours=min_hours, now=clock.now()
    )
    return Page[PupilTotal].sliced(items, page)


@router.get(
    "/volunteer-hours/export",
    name="volunteer-hours-export",
    summary="导出本单位的志愿服务时长（CSV / XLSX）",
    description="按学生（`by=pupil`）或按班次（`by=shift`）：时长（分钟，权威值）与小时、岗位、"
    "班次、确认人、确认时间；CSV 为 UTF-8 带 BOM。姓名按查看者权限脱敏，导出记入审计日志。"
    "超过 `SCIPASS_EXPORT_SYNC_ROW_LIMIT` 行时返回 `export_too_large`，请改用 "
    "`POST /volunteer-hours/exports`。",
    response_class=Response,
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}, XLSX: {}}},
        **problem_responses(ExportTooLarge),
    },
)
def volunteer_hours_export(
    caller: Organiser,
    database: DatabaseDep,
    _admitted: AdmittedDep,
    clock: ClockDep,
    settings: SettingsDep,
    by: By = "shift",
    from_date: date | None = None,
    to_date: date | None = None,
    format: Annotated[FileFormat, Query(description="文件格式")] = FileFormat.csv,
) -> Response:
    export = volunteer_hours.export_now(
        database,
        clock,
        actor=caller,
        where=volunteer_hours.HoursFilter(by=by, from_date=from_date, to_date=to_date),
        file_format=format,
        row_limit=settings.export_sync_row_limit,
    )
    return Response(export.content, media_type=format.media_type, headers=export.headers)


@router.post(
    "/volunteer-hours/exports",
    name="volunteer-hours-export-job",
    summary="提交志愿服务时长导出任务（任意行数）",
    description="与 `GET /volunteer-hours/export` 相同的内容，在后台生成；用 `GET /jobs/{job_id}` "
    "查询进度并下载。",
    status_code=202,
)
def volunteer_hours_export_job(
    caller: Organiser,
    session: SessionDep,
    clock: ClockDep,
    by: By = "shift",
    from_date: date | None = None,
    to_date: date | None = None,
    format: Annotated[FileFormat, Query(description="文件格式")] = FileFormat.csv,
) -> JobRead:
    job = volunteer_hours.queue_export(
        session,
        actor=caller,
        where=volunteer_hours.HoursFilter(by=by, from_date=from_date, to_date=to_date),
        file_format=format,
        now=clock.now(),
    )
    return JobRead.of(job)


@router.get(
    "/volunteer-hours/national.csv",
    name="volunteer-hours-national-export",
    summary="按全国志愿服务信息系统的字段导出一名学生的服务时长",
    description="本场馆已确认的班次，每个一行，供在中国志愿服务网补录时长；SciPass 不保存证件"
    "号码，证件类型与号码两列留空由场馆补填。记入审计日志。",
    response_class=Response,
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}},
        **problem_responses(ExportTooLarge),
    },
)
def volunteer_hours_national(
    student_id: Id,
    caller: VenueStaff,
    database: DatabaseDep,
    _admitted: AdmittedDep,
    clock: ClockDep,
    settings: SettingsDep,
    from_date: date | None = None,
    to_date: date | None = None,
) -> Response:
    if caller.venue_id is None:
        raise Forbidden("只有场馆可以导出", "Only a venue exports these")
    export = volunteer_hours.national_export_now(
        database,
        clock,
        actor=caller,
        where=volunteer_hours.HoursFilter(
            by="shift", from_date=from_date, to_date=to_date, student_id=student_id
        ),
        row_limit=settings.export_sync_row_limit,
    )
    return Response(export.content, media_type=CSV_MEDIA_TYPE, headers=export.headers)


# --- certificates (point 7) ---------------------------------------------------------------------


@router.post(
    "/volunteer-certificates",
    name="volunteer-certificate-create",
    summary="出具志愿服务记录证明",
    description="场馆为一名学生出具某期间的证明（民发〔2015〕149号的各项内容）：只计本场馆已确认、"
    "确认后在本单位公示满 7 天、写实记录仍有效的班次。证明编号不可猜测，证明上的二维码可公开"
    "核验。出具记入审计日志。其中任一记录作废后证明随之作废，可重新出具。",
    status_code=201,
    responses=problem_responses(Forbidden, NothingToCertify, CertificateExists),
)
def certificate_create(
    body: CertificateCreate,
    caller: VenueStaff,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> CertificateRead:
    certificate = volunteer_certificates.issue(
        session, settings=settings, actor=caller, data=body, now=clock.now()
    )
    return volunteer_certificates.read_of(
        settings, volunteer_certificates.shown(session, certificate)
    )


@router.get(
    "/volunteer-certificates/{certificate_id}",
    name="volunteer-certificate-get",
    summary="志愿服务记录证明",
    description="出具的场馆、学生本人（或家长）、学生所在学校可查看。",
    responses=problem_responses(CertificateNotFound),
)
def certificate_get(
    certificate_id: Id, caller: ActingCanceller, session: SessionDep, settings: SettingsDep
) -> CertificateRead:
    certificate = volunteer_certificates.readable(
        session, actor=caller, certificate_id=certificate_id
    )
    return volunteer_certificates.read_of(
        settings, volunteer_certificates.shown(session, certificate)
    )


@router.get(
    "/volunteer-certificates/{certificate_id}/pdf",
    name="volunteer-certificate-pdf",
    summary="下载志愿服务记录证明（PDF）",
    response_class=Response,
    responses={200: {"content": PDF}, **problem_responses(CertificateNotFound)},
)
def certificate_pdf(
    certificate_id: Id, caller: ActingCanceller, session: SessionDep, settings: SettingsDep
) -> Response:
    certificate = volunteer_certificates.readable(
        session, actor=caller, certificate_id=certificate_id
    )
    content = volunteer_certificates.pdf(
        settings, volunteer_certificates.shown(session, certificate)
    )
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="certificate-{certificate.id}.pdf"'},
    )


@public_router.get(
    "/volunteer-certificates/verify/{number}",
    name="volunteer-certificate-verify",
    summary="核验志愿服务记录证明",
    description="证明上的二维码打开此地址。返回 `valid`（有效）、`voided`（已作废）或 `unknown`"
    "（查无此证），只给出脱敏姓名。无需登录。",
)
def certificate_verify(
    number: Annotated[str, Path(min_length=1, max_length=40)],
    session: SessionDep,
) -> CertificateCheck:
    return volunteer_certificates.check(session, number)
