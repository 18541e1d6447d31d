"""HTTP for issuing codes: activity codes and their images, poster and mini-program code;
personal codes and printed cards; the keys and revocations venue devices read."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Response

from scipass.activity.errors import ActivityNotFound
from scipass.checkin import cards as checkin_cards
from scipass.checkin import codes, render
from scipass.checkin import issuing as checkin_issuing
from scipass.checkin.errors import (
    ActivityCodeNotFound,
    CodeKindInvalid,
    PersonalCardNotFound,
)
from scipass.checkin.models import ActivityCode
from scipass.checkin.models import PersonalCard as IssuedCard
from scipass.checkin.schemas import (
    ActivityCodeRead,
    CodeCreate,
    PersonalCard,
    PersonalCardRead,
    PersonalCodeRead,
    PublicKeyRead,
    PublicKeys,
    RevokeCode,
    RevokedPersonalCodes,
)
from scipass.core.auth import public_access
from scipass.core.callers import OrganiserOrPlatform, SchoolStaff
from scipass.core.clock import ClockDep
from scipass.core.config import Settings
from scipass.core.db import SessionDep
from scipass.core.deps import DatabaseDep, SettingsDep, WeChatDep
from scipass.core.errors import problem_responses
from scipass.core.exports import attachment
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.roster.acting import ActingStudent
from scipass.roster.errors import StudentNotFound
from scipass.wechat.errors import (
    WeChatMisconfigured,
    WeChatQuotaExceeded,
    WeChatUnavailable,
    WxacodePageInvalid,
    WxacodeSceneInvalid,
)

router = APIRouter(tags=["checkins"])
public_router = APIRouter(tags=["checkins"], dependencies=[Depends(public_access)])


PNG = {"image/png": {"schema": {"type": "string", "format": "binary"}}}


SVG = {"image/svg+xml": {"schema": {"type": "string"}}}


PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}


@router.post(
    "/me/personal-code",
    name="personal-code-create",
    summary="生成我的个人码（供工作人员扫描）",
    description="个人码由服务器用 Ed25519 签名，几分钟内有效；场馆设备用公开的公钥离线验证。"
    "没有位置授权或不便自助扫码时，请工作人员扫描此码。"
    "家长可在自己的手机上出示孩子的个人码（带 `student_id`）。",
)
def personal_code_create(
    actor: ActingStudent, settings: SettingsDep, clock: ClockDep
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


def _code_read(
    settings: Settings, code: ActivityCode, target: checkin_issuing.CodeTarget, now: datetime
) -> ActivityCodeRead:
    payload = checkin_issuing.code_payload(settings, code, now)
    return ActivityCodeRead(
        id=code.id or 0,
        activity_id=code.activity_id,
        shift_id=code.shift_id,
        kind=code.kind,
        short_id=code.short_id,
        payload=payload,
        link=codes.link_for(target.link_base, payload),
        scene=codes.SCENE_PREFIX + code.short_id,
        step_seconds=code.step_seconds or None,
        valid_until=code.valid_until,
        revoked_at=code.revoked_at,
        revoke_reason=code.revoke_reason,
        created_at=code.created_at,
        kiosk_url=checkin_issuing.kiosk_url(settings, code, target),
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
    _code, target = checkin_issuing.managed_code(
        session, settings=settings, actor=actor, code_id=code.id or 0, now=now
    )
    return _code_read(settings, code, target, now)


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
    now = clock.now()
    found = checkin_issuing.list_codes(session, actor=actor, activity_id=activity_id)
    if not found:
        return Page[ActivityCodeRead].sliced([], page)
    _code, target = checkin_issuing.managed_code(
        session, settings=settings, actor=actor, code_id=found[0].id or 0, now=now
    )
    return Page[ActivityCodeRead].sliced(
        [_code_read(settings, code, target, now) for code in found], page
    )


@router.post(
    "/codes/{code_id}/revoke",
    name="code-revoke",
    summary="作废签到码",
    description="活动码与志愿服务班次码（`shift_id`）都在这里作废，由活动或班次的组织方操作。"
    "作废后扫码返回 `code_revoked`，被拒绝的扫码照常留存；重复作废返回码的现状。记入审计日志。",
    responses=problem_responses(ActivityCodeNotFound),
)
def code_revoke(
    code_id: Id,
    data: RevokeCode,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> ActivityCodeRead:
    now = clock.now()
    code, target = checkin_issuing.revoke_code(
        session,
        settings=settings,
        actor=actor,
        code_id=code_id,
        reason=data.reason,
        now=now,
    )
    return _code_read(settings, code, target, now)


def _static(
    session: SessionDep,
    settings: SettingsDep,
    actor: OrganiserOrPlatform,
    code_id: Id,
    clock: ClockDep,
) -> tuple[ActivityCode, checkin_issuing.CodeTarget, str]:
    return checkin_issuing.printable_code(
        session, settings=settings, actor=actor, code_id=code_id, now=clock.now()
    )


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
    code, _target, link = _static(session, settings, actor, code_id, clock)
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
    code, _target, link = _static(session, settings, actor, code_id, clock)
    return Response(
        render.qr_svg(link), media_type="image/svg+xml", headers=attachment(f"{code.short_id}.svg")
    )


@router.get(
    "/codes/{code_id}/poster.pdf",
    name="code-poster",
    summary="A4 签到海报（PDF）",
    description="活动码为“活动签到码”海报，志愿服务班次码为“志愿服务签到码”海报（到岗、离岗）。"
    "动态码、已作废的码、活动或班次已取消或已结束的码返回 `code_kind_invalid`。",
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
    code, target, link = _static(session, settings, actor, code_id, clock)
    pdf = checkin_issuing.poster(settings, code, target, link)
    return Response(
        pdf,
        media_type="application/pdf",
        headers=attachment(f"签到海报-{code.short_id}.pdf", f"poster-{code.short_id}.pdf"),
    )


@router.get(
    "/codes/{code_id}/wxacode.png",
    name="code-wxacode",
    summary="小程序码（PNG）",
    description="海报码对应的微信小程序码，`scene` 为 `c=<短编号>`，由服务器解析；活动码打开"
    "签到页（`SCIPASS_WECHAT_CHECKIN_PAGE`），志愿服务班次码打开志愿者扫码页"
    "（`SCIPASS_WECHAT_VOLUNTEER_PAGE`），扫码后提交到 `POST /volunteer-attendance`。"
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
