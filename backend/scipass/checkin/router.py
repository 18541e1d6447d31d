"""Check-in over HTTP: codes for venues, scans for students and staff, lists for organisers."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from scipass.activity.errors import ActivityNotFound
from scipass.checkin import cards as checkin_cards
from scipass.checkin import codes, render
from scipass.checkin import door as checkin_door
from scipass.checkin import issuing as checkin_issuing
from scipass.checkin import lists as checkin_lists
from scipass.checkin import self_scan as checkin_self_scan
from scipass.checkin import views as checkin_views
from scipass.checkin import visits as checkin_visits
from scipass.checkin.errors import (
    REFUSALS,
    ActivityCodeNotFound,
    CheckInNotFound,
    CodeKindInvalid,
    CorrectionInvalid,
    NotCheckedIn,
    PersonalCardNotFound,
)
from scipass.checkin.models import ActivityCode, ScanEvent, ScanResult, ScanSource
from scipass.checkin.models import PersonalCard as IssuedCard
from scipass.checkin.schemas import (
    ActivityCodeRead,
    AttendeeCounts,
    AttendeePage,
    AttendeeRead,
    BatchResult,
    CheckInCorrected,
    CheckInCorrection,
    CheckInCreate,
    CheckInRead,
    CodeCreate,
    GroupCheckIn,
    ItemResult,
    OfflineBatch,
    PersonalCard,
    PersonalCardRead,
    PersonalCodeRead,
    PublicKeyRead,
    PublicKeys,
    PupilScanRead,
    RevokeCode,
    RevokedPersonalCodes,
    ScanEventRead,
    StaffScan,
)
from scipass.core.auth import public_access
from scipass.core.callers import OrganiserOrPlatform, Scanner, SchoolStaff, StudentCaller
from scipass.core.clock import ClockDep
from scipass.core.db import SessionDep
from scipass.core.deps import DatabaseDep, SettingsDep, WeChatDep
from scipass.core.errors import problem_responses
from scipass.core.exports import CSV_MEDIA_TYPE, attachment, csv_chunks
from scipass.core.idempotency import KEY_PATTERN
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.reservation.errors import ReservationNotFound
from scipass.roster.errors import StudentNotFound
from scipass.roster.visibility import shown_name
from scipass.wechat.errors import (
    WeChatMisconfigured,
    WeChatQuotaExceeded,
    WeChatUnavailable,
    WxacodePageInvalid,
    WxacodeSceneInvalid,
)

router = APIRouter(tags=["checkins"])
public_router = APIRouter(tags=["checkins"], dependencies=[Depends(public_access)])

NonceHeader = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="客户端为这次扫码生成的随机编号；网络重试时带同一个值，返回第一次的结果",
    ),
]
PNG = {"image/png": {"schema": {"type": "string", "format": "binary"}}}
SVG = {"image/svg+xml": {"schema": {"type": "string"}}}
PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}


async def _cache(request: Request) -> checkin_views.ScanCache:
    cache = getattr(request.app.state, "checkin_cache", None)
    if cache is None:
        cache = request.app.state.checkin_cache = checkin_views.ScanCache()
    return cache


CacheDep = Annotated[checkin_views.ScanCache, Depends(_cache)]


@router.post(
    "/checkins",
    name="checkin-create",
    summary="学生扫码签到 / 签退",
    description="学生扫描场馆的签到码（海报码、大屏动态码或小程序码）。依次检查："
    + "、".join(f"`{cls.code}`" for cls in REFUSALS)
    + "，每种失败都有自己的错误代码，被拒绝的扫码也会留存以便场馆复核。"
    "签退（`direction=exit`）没有签到记录时返回 `not_checked_in`。\n\n"
    "新签到返回 201，并生成一条待确认的写实记录；已签到（或已签退）返回 200 和已有记录"
    "（`duplicate=true`），不会重复计数。网络重试请带同一个 `Idempotency-Key`。",
    status_code=201,
    responses={
        200: {"model": CheckInRead, "description": "已签到过：返回已有记录"},
        **problem_responses(*REFUSALS, NotCheckedIn),
    },
)
async def checkin_create(
    data: CheckInCreate,
    nonce: NonceHeader,
    response: Response,
    actor: Scanner,
    settings: SettingsDep,
    request: Request,
    cache: CacheDep,
    clock: ClockDep,
) -> CheckInRead:
    # Well-formed scans are answered by the fast path (checkin/fastpath.py) before routing;
    # this route answers the rest, through the same function.
    outcome, title = await checkin_self_scan.run_self_scan(
        request.app.state.commits,
        settings=settings,
        cache=cache,
        actor=actor,
        data=data,
        nonce=nonce,
        now=clock.now(),
    )
    if not outcome.created:
        response.status_code = 200
    return CheckInRead.of_visit(outcome.check_in, title, duplicate=not outcome.created)


@router.get("/me/checkins", name="checkin-list-own", summary="我的签到")
def checkin_list_own(actor: StudentCaller, session: SessionDep, page: PageDep) -> Page[CheckInRead]:
    rows, total, (name, label) = checkin_lists.list_own(session, actor=actor, page=page)
    items = [CheckInRead.of_visit(c, t) for c, t in rows]
    for item in items:
        item.student_name, item.class_label = name, label
    return Page[CheckInRead].of(items, total, page)


@router.post(
    "/me/personal-code",
    name="personal-code-create",
    summary="生成我的个人码（供工作人员扫描）",
    description="个人码由服务器用 Ed25519 签名，几分钟内有效；场馆设备用公开的公钥离线验证。"
    "没有位置授权或不便自助扫码时，请工作人员扫描此码。",
)
def personal_code_create(
    actor: StudentCaller, settings: SettingsDep, clock: ClockDep
) -> PersonalCodeRead:
    expires = clock.now() + timedelta(seconds=settings.personal_code_ttl_seconds)
    payload = checkin_cards.personal_code(
        settings, student_id=actor.student_id or 0, expires_at=expires
    )
    return PersonalCodeRead(payload=payload, expires_at=expires, key_id=payload.split(".")[1])


@router.post(
    "/students/{student_id}/personal-card",
    name="personal-card-create",
    summary="为没有手机的学生签发可打印的个人码",
    responses=problem_responses(StudentNotFound),
)
def personal_card_create(
    student_id: Id,
    data: PersonalCard,
    actor: SchoolStaff,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> PersonalCodeRead:
    payload, card = checkin_cards.personal_card(
        session,
        settings=settings,
        actor=actor,
        student_id=student_id,
        valid_days=data.valid_days,
        now=clock.now(),
    )
    return PersonalCodeRead(
        payload=payload, expires_at=card.expires_at, key_id=payload.split(".")[1], card_id=card.id
    )


def _card_read(card: IssuedCard) -> PersonalCardRead:
    return PersonalCardRead(
        id=card.id or 0,
        student_id=card.student_id,
        expires_at=card.expires_at,
        issued_at=card.issued_at,
        revoked_at=card.revoked_at,
        revoke_reason=card.revoke_reason,
    )


@router.get(
    "/students/{student_id}/personal-cards",
    name="personal-card-list",
    summary="学生的个人码卡片（含已挂失的）",
    responses=problem_responses(StudentNotFound),
)
def personal_card_list(
    student_id: Id, actor: SchoolStaff, session: SessionDep, page: PageDep
) -> Page[PersonalCardRead]:
    cards = checkin_cards.list_personal_cards(session, actor=actor, student_id=student_id)
    return Page[PersonalCardRead].sliced([_card_read(card) for card in cards], page)


@router.post(
    "/personal-cards/{card_id}/revoke",
    name="personal-card-revoke",
    summary="挂失个人码卡片",
    description="卡片丢失时由本校挂失：此后工作人员扫这张卡会被拒绝（`code_revoked`），"
    "之后上传的离线扫码若发生在挂失之后也会被拒绝；场馆设备从 `/personal-code-revocations` "
    "获取挂失名单。重复挂失返回卡片现状。挂失记入审计日志。",
    responses=problem_responses(PersonalCardNotFound),
)
def personal_card_revoke(
    card_id: Id, data: RevokeCode, actor: SchoolStaff, session: SessionDep, clock: ClockDep
) -> PersonalCardRead:
    card = checkin_cards.revoke_personal_card(
        session, actor=actor, card_id=card_id, reason=data.reason, now=clock.now()
    )
    return _card_read(card)


@public_router.get(
    "/personal-code-revocations",
    name="personal-code-revocations",
    summary="已挂失的个人码卡片（场馆设备离线验证用）",
)
def personal_code_revocations(session: SessionDep, clock: ClockDep) -> RevokedPersonalCodes:
    now = clock.now()
    return RevokedPersonalCodes(
        nonces=checkin_cards.revoked_personal_codes(session, now=now), generated_at=now
    )


@public_router.get(
    "/personal-code-keys",
    name="personal-code-keys",
    summary="个人码验签公钥（场馆设备离线验证用）",
)
def personal_code_keys(settings: SettingsDep) -> PublicKeys:
    keys = codes.personal_keys(settings.personal_code_keys.get_secret_value())
    return PublicKeys(
        format=PublicKeys.model_fields["format"].description or "",
        keys=[
            PublicKeyRead(
                key_id=kid.upper(),
                algorithm="Ed25519",
                public_key=codes.b64url(keys.public_raw(kid)),
                active=kid == keys.active_kid,
            )
            for kid in keys.private
        ],
    )


# --- codes -------------------------------------------------------------------------------------


def _code_read(settings, code: ActivityCode, activity, now: datetime) -> ActivityCodeRead:
    payload = checkin_issuing.code_payload(settings, code, now)
    return ActivityCodeRead(
        id=code.id or 0,
        activity_id=code.activity_id,
        kind=code.kind,  # type: ignore[arg-type]
        short_id=code.short_id,
        payload=payload,
        link=codes.link_for(settings.code_link_base, payload),
        scene=codes.SCENE_PREFIX + code.short_id,
        step_seconds=code.step_seconds or None,
        valid_until=code.valid_until,
        revoked_at=code.revoked_at,
        revoke_reason=code.revoke_reason,
        created_at=code.created_at,
        kiosk_url=checkin_issuing.kiosk_url(settings, code, activity),
    )


@router.post(
    "/activities/{activity_id}/codes",
    name="code-create",
    summary="为活动发签到码（海报码 / 大屏动态码）",
    status_code=201,
    responses=problem_responses(ActivityNotFound, CodeKindInvalid),
)
def code_create(
    activity_id: Id,
    data: CodeCreate,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> ActivityCodeRead:
    now = clock.now()
    code = checkin_issuing.create_code(
        session, settings=settings, actor=actor, activity_id=activity_id, data=data, now=now
    )
    _code, activity = checkin_issuing.managed_code(session, actor=actor, code_id=code.id or 0)
    return _code_read(settings, code, activity, now)


@router.get(
    "/activities/{activity_id}/codes",
    name="code-list",
    summary="活动的签到码",
    responses=problem_responses(ActivityNotFound),
)
def code_list(
    activity_id: Id,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    page: PageDep,
) -> Page[ActivityCodeRead]:
    found = checkin_issuing.list_codes(session, actor=actor, activity_id=activity_id)
    if not found:
        return Page[ActivityCodeRead].sliced([], page)
    _code, activity = checkin_issuing.managed_code(session, actor=actor, code_id=found[0].id or 0)
    return Page[ActivityCodeRead].sliced(
        [_code_read(settings, code, activity, clock.now()) for code in found], page
    )


@router.post(
    "/codes/{code_id}/revoke",
    name="code-revoke",
    summary="作废签到码",
    responses=problem_responses(ActivityCodeNotFound),
)
def code_revoke(
    code_id: Id,
    data: RevokeCode,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    settings: SettingsDep,
    cache: CacheDep,
    clock: ClockDep,
) -> ActivityCodeRead:
    now = clock.now()
    code = checkin_issuing.revoke_code(
        session, cache=cache, actor=actor, code_id=code_id, reason=data.reason, now=now
    )
    _code, activity = checkin_issuing.managed_code(session, actor=actor, code_id=code_id)
    return _code_read(settings, code, activity, now)


def _static(
    session: SessionDep,
    settings: SettingsDep,
    actor: OrganiserOrPlatform,
    code_id: Id,
    clock: ClockDep,
):
    code, activity = checkin_issuing.managed_code(session, actor=actor, code_id=code_id)
    if code.kind != "static":
        raise CodeKindInvalid(
            "动态码只在大屏上显示，不能打印", "Rotating codes are shown on screens"
        )
    if code.revoked_at is not None:
        raise CodeKindInvalid("签到码已作废", "The code has been revoked")
    payload = checkin_issuing.code_payload(settings, code, clock.now())
    return code, activity, codes.link_for(settings.code_link_base, payload)


@router.get(
    "/codes/{code_id}/qr.png",
    name="code-png",
    summary="海报码图片（PNG）",
    response_class=Response,
    responses={200: {"content": PNG}, **problem_responses(ActivityCodeNotFound, CodeKindInvalid)},
)
def code_png(
    code_id: Id,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Response:
    code, _activity, link = _static(session, settings, actor, code_id, clock)
    return Response(
        render.qr_png(link), media_type="image/png", headers=attachment(f"{code.short_id}.png")
    )


@router.get(
    "/codes/{code_id}/qr.svg",
    name="code-svg",
    summary="海报码图片（SVG，可无损放大）",
    response_class=Response,
    responses={200: {"content": SVG}, **problem_responses(ActivityCodeNotFound, CodeKindInvalid)},
)
def code_svg(
    code_id: Id,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Response:
    code, _activity, link = _static(session, settings, actor, code_id, clock)
    return Response(
        render.qr_svg(link), media_type="image/svg+xml", headers=attachment(f"{code.short_id}.svg")
    )


@router.get(
    "/codes/{code_id}/poster.pdf",
    name="code-poster",
    summary="A4 签到海报（PDF）",
    response_class=Response,
    responses={200: {"content": PDF}, **problem_responses(ActivityCodeNotFound, CodeKindInvalid)},
)
def code_poster(
    code_id: Id,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Response:
    code, activity, link = _static(session, settings, actor, code_id, clock)
    pdf = checkin_issuing.poster(session, settings, code, activity, link)
    return Response(
        pdf,
        media_type="application/pdf",
        headers=attachment(f"签到海报-{code.short_id}.pdf", f"poster-{code.short_id}.pdf"),
    )


@router.get(
    "/codes/{code_id}/wxacode.png",
    name="code-wxacode",
    summary="小程序码（PNG）",
    description="海报码对应的微信小程序码，`scene` 为 `c=<短编号>`，由服务器解析。"
    "第一次请求时向微信生成并保存，之后直接返回保存的图片。未配置微信时返回同一签到码的普通链接二维码"
    "（响应头 `X-Code-Kind: link`），同样可以用微信扫码打开小程序。",
    response_class=Response,
    responses={
        200: {"content": PNG},
        **problem_responses(
            ActivityCodeNotFound,
            CodeKindInvalid,
            WeChatUnavailable,
            WeChatMisconfigured,
            WeChatQuotaExceeded,
            WxacodePageInvalid,
            WxacodeSceneInvalid,
        ),
    },
)
def code_wxacode(
    code_id: Id,
    actor: OrganiserOrPlatform,
    database: DatabaseDep,
    wechat: WeChatDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Response:
    png, kind = checkin_issuing.wxacode_png(
        database, wechat, settings=settings, actor=actor, code_id=code_id, now=clock.now()
    )
    return Response(png, media_type="image/png", headers={"X-Code-Kind": kind})


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
    "重试请带同一个 `nonce`，已处理的学生不会重复签到。",
    responses=problem_responses(ReservationNotFound),
)
def group_checkin(
    reservation_id: Id,
    data: GroupCheckIn,
    actor: SchoolStaff,
    session: SessionDep,
    clock: ClockDep,
) -> BatchResult:
    return _batch(
        checkin_door.group_checkin(
            session, actor=actor, reservation_id=reservation_id, data=data, now=clock.now()
        )
    )


@router.post(
    "/activities/{activity_id}/offline-scans",
    name="offline-scan-upload",
    summary="上传离线扫码（最多 1000 条）",
    description="场馆设备离线时扫描的学生个人码，联网后上传。每条带设备生成的 `nonce` 和扫码时间；"
    "同一批再次上传不会改变任何数据，返回与第一次相同的结果。`force=true` 表示扫码已在现场发生，"
    "签到时段、人数、预约不符也记录（结果中的 `warnings` 列出被跳过的检查）；"
    "签名、有效期和学生身份仍须有效。",
    responses=problem_responses(ActivityNotFound),
)
def offline_scan_upload(
    activity_id: Id,
    data: OfflineBatch,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> BatchResult:
    return _batch(
        checkin_door.offline_batch(
            session,
            settings=settings,
            actor=actor,
            activity_id=activity_id,
            data=data,
            now=clock.now(),
        )
    )


# --- lists -------------------------------------------------------------------------------------

DayQuery = Annotated[date | None, Query(description="日期（北京时间）")]
StatusQuery = Annotated[
    str | None, Query(pattern="^(open|closed)$", description="`open` 未签退，`closed` 已签退")
]
SourceQuery = Annotated[ScanSource | None, Query(description="签到方式")]


@router.get(
    "/activities/{activity_id}/checkins",
    name="attendee-list",
    summary="活动的到场学生（组织方）",
    responses=problem_responses(ActivityNotFound),
)
def attendee_list(
    activity_id: Id,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    page: PageDep,
    clock: ClockDep,
    day: DayQuery = None,
    status: StatusQuery = None,
    source: SourceQuery = None,
) -> AttendeePage:
    rows, total, counts = checkin_lists.list_attendees(
        session,
        actor=actor,
        activity_id=activity_id,
        day=day,
        status=status,
        source=source.value if source else None,
        page=page,
    )
    schools = checkin_lists.school_names(session, {s.school_id for _c, s in rows})
    checkin_lists.audit_view(
        session,
        actor=actor,
        activity_id=activity_id,
        what="attendees",
        rows=len(rows),
        now=clock.now(),
    )
    return AttendeePage(
        counts=AttendeeCounts(**counts),
        total=total,
        limit=page.limit,
        offset=page.offset,
        items=[
            AttendeeRead(
                check_in_id=c.id or 0,
                student_id=s.id or 0,
                student_name=shown_name(actor, s.name, school_id=s.school_id, student_id=s.id),
                school_name=schools.get(s.school_id, ""),
                grade=s.grade,
                class_name=s.class_name,
                day=c.day,
                source=c.source,  # type: ignore[arg-type]
                entered_at=c.entered_at,
                exited_at=c.exited_at,
                closed_by=c.closed_by,  # type: ignore[arg-type]
                minutes=c.minutes,
            )
            for c, s in rows
        ],
    )


@router.get(
    "/activities/{activity_id}/checkins.csv",
    name="attendee-export",
    summary="导出到场学生（CSV）",
    description="每次到访一行，含签到与签退时间（北京时间）、方式和时长；UTF-8 带 BOM。"
    "导出记入审计日志。",
    response_class=StreamingResponse,
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}},
        **problem_responses(ActivityNotFound),
    },
)
def attendee_export(
    activity_id: Id,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    clock: ClockDep,
    day: DayQuery = None,
) -> StreamingResponse:
    header, rows = checkin_lists.attendee_export(
        session, actor=actor, activity_id=activity_id, day=day, now=clock.now()
    )
    return StreamingResponse(
        csv_chunks(header, rows),
        media_type=CSV_MEDIA_TYPE,
        headers={
            **attachment(f"到场学生-{activity_id}.csv", f"attendees-activity-{activity_id}.csv"),
            "X-Row-Count": str(len(rows)),
        },
    )


@router.get(
    "/activities/{activity_id}/scan-events",
    name="scan-event-list",
    summary="扫码记录（可只看被拒绝的）",
    description="每一次扫码尝试，含被拒绝的原因代码，便于场馆复核代签、异地签到。",
    responses=problem_responses(ActivityNotFound),
)
def scan_event_list(
    activity_id: Id,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    page: PageDep,
    clock: ClockDep,
    result: Annotated[ScanResult | None, Query(description="`refused` 只看被拒绝的")] = None,
) -> Page[ScanEventRead]:
    rows, total = checkin_lists.list_scan_events(
        session, actor=actor, activity_id=activity_id, result=result, page=page
    )
    checkin_lists.audit_view(
        session,
        actor=actor,
        activity_id=activity_id,
        what="scan_events",
        rows=len(rows),
        now=clock.now(),
    )
    return Page[ScanEventRead](
        total=total,
        limit=page.limit,
        offset=page.offset,
        items=[
            ScanEventRead(
                **_event_fields(e),
                student_name=shown_name(actor, n, school_id=e.school_id, student_id=e.student_id)
                if n
                else None,
            )
            for e, n in rows
        ],
    )


def _event_fields(event: ScanEvent) -> dict[str, object]:
    """What every list of scan events shows of one (names are the caller's to decide)."""
    return {
        "id": event.id or 0,
        "server_time": event.server_time,
        "scan_time": event.scan_time,
        "direction": event.direction,
        "source": event.source,
        "result": event.result,
        "reason": event.reason,
        "distance_m": event.distance_m,
        "forced": event.forced,
    }


@router.get(
    "/school-scan-events",
    name="school-scan-event-list",
    summary="本校学生的扫码记录（可只看被拒绝的）",
    description="本校学生在各场馆、各活动的每一次扫码尝试，最新的在前，含被拒绝的原因代码："
    "学校据此复核异地签到、代签，并帮助扫码总失败的学生。只含本校学生；查看记入审计日志。",
    responses=problem_responses(),
)
def school_scan_event_list(
    actor: SchoolStaff,
    session: SessionDep,
    page: PageDep,
    clock: ClockDep,
    result: Annotated[ScanResult | None, Query(description="`refused` 只看被拒绝的")] = None,
    reason: Annotated[
        str | None,
        Query(pattern=r"^[a-z_]{1,40}$", description="拒绝原因代码，如 `out_of_geofence`"),
    ] = None,
    student_id: Annotated[Id | None, Query(description="只看这名学生")] = None,
    from_date: Annotated[
        date | None,
        Query(description="服务器收到扫码的日期（北京时间）在此日及以后；离线扫码按上传日期"),
    ] = None,
    to_date: Annotated[
        date | None, Query(description="服务器收到扫码的日期（北京时间）在此日及以前，含当天")
    ] = None,
) -> Page[PupilScanRead]:
    rows, total = checkin_lists.list_school_scan_events(
        session,
        actor=actor,
        result=result,
        reason=reason,
        student_id=student_id,
        since=from_date,
        until=to_date,
        page=page,
    )
    checkin_lists.audit_view(
        session,
        actor=actor,
        activity_id=None,
        what="school_scan_events",
        rows=len(rows),
        now=clock.now(),
        result=result.value if result else None,
        reason=reason,
        student_id=student_id,
        from_date=from_date.isoformat() if from_date else None,
        to_date=to_date.isoformat() if to_date else None,
    )
    return Page[PupilScanRead](
        total=total,
        limit=page.limit,
        offset=page.offset,
        items=[
            PupilScanRead(
                **_event_fields(row.event),
                student_name=row.student_name,
                student_id=row.event.student_id,
                class_name=row.class_name,
                activity_id=row.event.activity_id,
                activity_title=row.activity_title,
                organiser_name=row.organiser_name,
            )
            for row in rows
        ],
    )


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
