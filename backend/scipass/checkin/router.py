"""Check-in over HTTP: codes for venues, scans for students and staff, lists for organisers."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from scipass.activity.errors import ActivityNotFound
from scipass.checkin import door as checkin_door
from scipass.checkin import family as checkin_family
from scipass.checkin import lists as checkin_lists
from scipass.checkin import self_scan as checkin_self_scan
from scipass.checkin import visits as checkin_visits
from scipass.checkin.dependencies import CacheDep, NonceHeader
from scipass.checkin.errors import (
    REFUSALS,
    CheckInNotFound,
    ChildNotLinked,
    ChildScansForSelf,
    CorrectionInvalid,
    NotCheckedIn,
)
from scipass.checkin.models import ScanResult
from scipass.checkin.schemas import (
    BatchResult,
    CheckInCorrected,
    CheckInCorrection,
    CheckInCreate,
    CheckInRead,
    FamilyCheckIn,
    FamilyItem,
    FamilyResult,
    GroupCheckIn,
    ItemResult,
    OfflineBatch,
    StaffScan,
)
from scipass.core.callers import GuardianCaller, OrganiserOrPlatform, SchoolStaff, WeChatCaller
from scipass.core.clock import ClockDep
from scipass.core.db import AdmittedDep, SessionDep
from scipass.core.deps import SettingsDep
from scipass.core.errors import preferred_language, problem_responses
from scipass.core.idempotency import IdempotencyKeyReused, RequiredIdempotencyDep
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.reservation.errors import ReservationNotConfirmed, ReservationNotFound
from scipass.roster.acting import ActingStudent, ChildParam, StudentIdRequired

router = APIRouter(tags=["checkins"])


@router.post(
    "/checkins",
    name="checkin-create",
    summary="学生扫码签到 / 签退（家长可代孩子扫码）",
    description="学生扫描场馆的签到码（海报码、大屏动态码或小程序码）。依次检查："
    + "、".join(f"`{cls.code}`" for cls in REFUSALS)
    + "，每种失败都有自己的错误代码，被拒绝的扫码也会留存以便场馆复核。"
    "签退（`direction=exit`）没有签到记录时返回 `not_checked_in`。\n\n"
    "新签到返回 201，并生成一条待确认的写实记录；已签到（或已签退）返回 200 和已有记录"
    "（`duplicate=true`），不会重复计数。网络重试请带同一个 `Idempotency-Key`。\n\n"
    "**家长代扫**：监护人用自己的微信为已关联的孩子扫码，须带 `?student_id=<孩子的学生 ID>`"
    "（不带返回 422 `student_id_required`）。每次扫码都核对关联：未关联或已解除关联的孩子返回 "
    "404 `student_not_found`；已满 14 周岁且绑定了自己微信的孩子须本人扫码（403 "
    "`child_acts_for_self`）；这两种情况不留存扫码记录。其余规则（签到码、时段、同意、学段、"
    "预约、人数、位置、频率）与孩子本人扫码相同：同意与位置授权看孩子本人的，频率按孩子计；"
    "签到和写实记录属于孩子，扫码记录与记录历史中写明由家长代为操作。",
    status_code=201,
    responses={
        200: {"model": CheckInRead, "description": "已签到过：返回已有记录"},
        **problem_responses(
            *REFUSALS, NotCheckedIn, StudentIdRequired, ChildNotLinked, ChildScansForSelf
        ),
    },
)
async def checkin_create(
    data: CheckInCreate,
    nonce: NonceHeader,
    response: Response,
    actor: WeChatCaller,
    settings: SettingsDep,
    request: Request,
    cache: CacheDep,
    clock: ClockDep,
    student_id: ChildParam = None,
) -> CheckInRead:
    # Well-formed scans are answered by the fast path (checkin/fastpath.py) before routing;
    # this route answers the rest, through the same function.
    outcome, title = await checkin_self_scan.run_self_scan(
        request.app.state.commits,
        settings=settings,
        cache=cache,
        actor=actor,
        student_id=student_id,
        data=data,
        nonce=nonce,
        now=clock.now(),
    )
    if not outcome.created:
        response.status_code = 200
    return CheckInRead.of_visit(outcome.check_in, title, duplicate=not outcome.created)


@router.post(
    "/checkins/family",
    name="checkin-family",
    summary="家长一次为多个孩子扫码签到 / 签退",
    description="监护人带几个孩子到场时，扫一次码为每个已关联的孩子分别签到（或签退），"
    "`student_ids` 列出 1–10 个孩子。每个孩子的检查与单独扫码（`POST /checkins?student_id=`）"
    "完全相同，各有自己的签到记录、写实记录和结果：一个孩子被拒绝（如未获监护人同意、学段不符、"
    "人数已满、未关联）不影响其他孩子。结果按请求顺序逐个列出："
    "`accepted` 新签到，`duplicate` 此前已签到，`refused` 被拒绝（`code` 为与单独扫码相同的"
    "错误代码，`title` 为原因）；另给出三种结果的数目。\n\n"
    "必须带 `Idempotency-Key`：网络重试时带同一个键，每个孩子返回与第一次相同的结果，"
    "不会重复签到；同一个键用于另一个请求（孩子或签到码不同）返回 409 "
    "`idempotency_key_reused`。",
    responses=problem_responses(IdempotencyKeyReused),
)
async def checkin_family_scan(
    data: FamilyCheckIn,
    idempotency: RequiredIdempotencyDep,
    actor: GuardianCaller,
    settings: SettingsDep,
    request: Request,
    cache: CacheDep,
    clock: ClockDep,
) -> FamilyResult:
    scans = await checkin_family.family_scan(
        request.app.state.commits,
        settings=settings,
        cache=cache,
        guardian=actor,
        data=data,
        idempotency=idempotency,
        now=clock.now(),
    )
    lang = preferred_language(request)
    items = []
    for scan in scans:
        item = FamilyItem(student_id=scan.student_id, result=scan.result)
        if scan.refusal is not None:
            item.code = scan.refusal.code
            item.title = scan.refusal.to_problem(lang)["title"]
        if scan.visit is not None:
            outcome, title = scan.visit
            duplicate = scan.result is ScanResult.duplicate
            item.check_in = CheckInRead.of_visit(outcome.check_in, title, duplicate=duplicate)
        items.append(item)
    return FamilyResult(
        accepted=sum(i.result is ScanResult.accepted for i in items),
        duplicate=sum(i.result is ScanResult.duplicate for i in items),
        refused=sum(i.result is ScanResult.refused for i in items),
        items=items,
    )


@router.get("/me/checkins", name="checkin-list-own", summary="我的签到")
def checkin_list_own(actor: ActingStudent, session: SessionDep, page: PageDep) -> Page[CheckInRead]:
    rows, total, (name, label) = checkin_lists.list_own(session, actor=actor, page=page)
    items = [CheckInRead.of_visit(c, t) for c, t in rows]
    for item in items:
        item.student_name, item.class_label = name, label
    return Page[CheckInRead].of(items, total, page)


# --- codes -------------------------------------------------------------------------------------


# --- staff scans, groups, offline --------------------------------------------------------------


@router.post(
    "/activities/{activity_id}/staff-scans",
    name="staff-scan",
    summary="工作人员扫学生个人码签到 / 签退",
    status_code=201,
    responses={200: {"model": CheckInRead}, **problem_responses(ActivityNotFound, *REFUSALS)},
)
def staff_scan(
    activity_id: Id,
    data: StaffScan,
    response: Response,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> CheckInRead:
    outcome = checkin_door.staff_scan(
        session,
        settings=settings,
        actor=actor,
        activity_id=activity_id,
        data=data,
        now=clock.now(),
    )
    if not outcome.created:
        response.status_code = 200
    title = checkin_lists.activity_title(session, None, outcome.check_in.activity_id)
    read = CheckInRead.of_visit(outcome.check_in, title, duplicate=not outcome.created)
    read.student_name, read.class_label = checkin_lists.who(
        session, actor, outcome.check_in.student_id
    )
    return read


def _batch(items: list[ItemResult]) -> BatchResult:
    return BatchResult(
        accepted=sum(i.result == ScanResult.accepted for i in items),
        duplicate=sum(i.result == ScanResult.duplicate for i in items),
        refused=sum(i.result == ScanResult.refused for i in items),
        items=items,
    )


@router.post(
    "/reservations/{reservation_id}/checkins",
    name="group-checkin",
    summary="教师为团体预约的到场学生签到",
    description="逐个学生给出结果；不在该团体预约中的学生（含外校学生）被拒绝（`not_registered`）。"
    "重试请带同一个 `nonce`，已处理的学生不会重复签到。\n\n"
    f"学生按每 {checkin_door.CHUNK} 人一批提交，期间学生自己的扫码不必等整个班级签完。"
    "请求中途失败（网络中断、服务重启）时，已提交的学生保持签到；用同一个 `nonce` 重试，"
    "已处理的学生返回与第一次相同的结果，其余学生继续签到。候补中或已取消的团体预约不能签到"
    "（`reservation_not_confirmed`）。",
    responses=problem_responses(ReservationNotFound, ReservationNotConfirmed),
)
def group_checkin(
    reservation_id: Id,
    data: GroupCheckIn,
    actor: SchoolStaff,
    _admitted: AdmittedDep,
    request: Request,
    clock: ClockDep,
) -> BatchResult:
    return _batch(
        checkin_door.group_checkin(
            request.app.state.db,
            actor=actor,
            reservation_id=reservation_id,
            data=data,
            now=clock.now(),
        )
    )


@router.post(
    "/activities/{activity_id}/offline-scans",
    name="offline-scan-upload",
    summary="上传离线扫码（最多 1000 条）",
    description="场馆设备离线时扫描的学生个人码，联网后上传。每条带设备生成的 `nonce` 和扫码时间；"
    "同一批再次上传不会改变任何数据，返回与第一次相同的结果。`force=true` 表示扫码已在现场发生，"
    "签到时段、人数、预约不符也记录（结果中的 `warnings` 列出被跳过的检查）；"
    "签名、有效期和学生身份仍须有效。\n\n"
    f"扫码按每 {checkin_door.CHUNK} 条一批提交，期间学生自己的扫码不必等整批处理完。"
    "上传中途失败（网络中断、服务重启）时，已提交的条目保留；再次上传同一批，"
    "已处理的条目按各自的 `nonce` 返回第一次的结果（`force` 条目的 `warnings` 只在第一次返回），"
    "其余条目继续处理。",
    responses=problem_responses(ActivityNotFound),
)
def offline_scan_upload(
    activity_id: Id,
    data: OfflineBatch,
    actor: OrganiserOrPlatform,
    _admitted: AdmittedDep,
    request: Request,
    settings: SettingsDep,
    clock: ClockDep,
) -> BatchResult:
    return _batch(
        checkin_door.offline_batch(
            request.app.state.db,
            settings=settings,
            actor=actor,
            activity_id=activity_id,
            data=data,
            now=clock.now(),
        )
    )


# --- lists -------------------------------------------------------------------------------------


@router.patch(
    "/checkins/{check_in_id}",
    name="checkin-correct",
    summary="更正到访时间或时长（组织方，须填原因）",
    responses=problem_responses(CheckInNotFound, CorrectionInvalid),
)
def checkin_correct(
    check_in_id: Id,
    data: CheckInCorrection,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    clock: ClockDep,
) -> CheckInCorrected:
    corrected = checkin_visits.correct(
        session, actor=actor, check_in_id=check_in_id, data=data, now=clock.now()
    )
    check_in = corrected.check_in
    title = checkin_lists.activity_title(session, None, check_in.activity_id)
    return CheckInCorrected(
        **CheckInRead.of_visit(check_in, title).model_dump(),
        record_updated=corrected.record_updated,
        record_status=corrected.record_status,
    )
