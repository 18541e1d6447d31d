"""Issuing codes: static poster codes and rotating screen codes of an activity, their
images and A4 poster, the kiosk page's state, the mini-program code fetched from WeChat
(once, stored), and revocation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from scipass.activity import access as activity_access
from scipass.activity.models import Activity, ActivityStatus
from scipass.audit import service as audit_service
from scipass.checkin import codes, render
from scipass.checkin.door import organised_activity
from scipass.checkin.errors import (
    ActivityCodeNotFound,
    CodeKindInvalid,
    KioskTokenInvalid,
)
from scipass.checkin.models import (
    ActivityCode,
    CheckIn,
    CodeKind,
    WxaCodeImage,
)
from scipass.checkin.rules import (
    EXIT_GRACE,
)
from scipass.checkin.schemas import (
    CodeCreate,
)
from scipass.checkin.views import (
    ActivityView,
    ScanCache,
    insert_row,
)
from scipass.core import pdf_fonts
from scipass.core.auth import Principal
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.db import Database, flush_unique
from scipass.core.errors import Conflict
from scipass.record import append as record_append
from scipass.wechat.client import WeChat


def create_code(
    session: Session,
    *,
    settings: Settings,
    actor: Principal,
    activity_id: int,
    data: CodeCreate,
    now: datetime,
) -> ActivityCode:
    activity = organised_activity(session, actor=actor, activity_id=activity_id)
    if activity.status not in (ActivityStatus.draft, ActivityStatus.published):
        raise CodeKindInvalid("活动已结束或已取消，不能再发码", "The activity is over or cancelled")
    for _attempt in range(3):
        code = ActivityCode(
            activity_id=activity.id or 0,
            kind=data.kind.value,
            short_id=codes.new_short_id(),
            step_seconds=(data.step_seconds or settings.rotating_step_seconds)
            if data.kind is CodeKind.rotating
            else 0,
            valid_until=data.valid_until,
            created_by=actor.subject,
            created_at=now,
        )
        session.add(code)
        try:
            flush_unique(session, Conflict())
        except Conflict:  # a short id drawn twice: 40 bits make this rare
            session.expunge(code)
            continue
        return code
    raise Conflict("请重试", "Try again")


def managed_code(
    session: Session, *, actor: Principal, code_id: int
) -> tuple[ActivityCode, Activity]:
    code = session.get(ActivityCode, code_id)
    if code is None or code.activity_id is None:  # a shift's code: volunteer/attendance.py
        raise ActivityCodeNotFound()
    activity = session.get(Activity, code.activity_id)
    if activity is None or not activity_access.may_manage(actor, activity):
        raise ActivityCodeNotFound()
    return code, activity


def list_codes(session: Session, *, actor: Principal, activity_id: int) -> list[ActivityCode]:
    activity = organised_activity(session, actor=actor, activity_id=activity_id)
    return list(
        session.exec(
            select(ActivityCode)
            .where(ActivityCode.activity_id == activity.id)
            .order_by(col(ActivityCode.id))
        ).all()
    )


def revoke_code(
    session: Session,
    *,
    cache: ScanCache,
    actor: Principal,
    code_id: int,
    reason: str,
    now: datetime,
) -> ActivityCode:
    code, _activity = managed_code(session, actor=actor, code_id=code_id)
    session.execute(
        update(ActivityCode)
        .where(col(ActivityCode.id) == code.id, col(ActivityCode.revoked_at).is_(None))
        .values(revoked_at=now, revoked_by=actor.subject, revoke_reason=reason.strip()[:200])
        .execution_options(synchronize_session=False)
    )
    session.refresh(code)
    audit_service.record(
        session,
        action=audit_service.Action.code_revoked,
        at=now,
        actor=actor,
        object_type="activity_code",
        object_id=code.id,
        school_id=actor.school_id,
        reason=code.revoke_reason,
    )
    cache.forget()
    return code


def code_payload(settings: Settings, code: ActivityCode, now: datetime) -> str:
    ring = settings.code_keyring
    if code.kind == CodeKind.rotating:
        return codes.rotating_payload(
            ring, code.short_id, codes.rotating_step(now, code.step_seconds)
        )
    return codes.static_payload(ring, code.short_id)


def kiosk_url(settings: Settings, code: ActivityCode, activity: Activity) -> str | None:
    if code.kind != CodeKind.rotating:
        return None
    expires = code.valid_until or (activity.ends_at + EXIT_GRACE)
    token = codes.kiosk_token(settings.code_keyring, code.id or 0, expires)
    return f"/kiosk/{activity.id}?token={token}"


@dataclass(frozen=True, slots=True)
class KioskState:
    title: str
    place: str
    organiser: str
    link: str
    step: int
    step_seconds: int
    step_ends_at: datetime
    checked_in: int
    ends_at: datetime


def kiosk_state(
    session: Session, *, settings: Settings, activity_id: int, token: str, now: datetime
) -> KioskState:
    """What a venue screen shows now: the current rotating code and today's count."""
    try:
        code_id = codes.parse_kiosk_token(settings.code_keyring, token, now=now)
    except codes.CodeRejected:
        raise KioskTokenInvalid() from None
    code = session.get(ActivityCode, code_id)
    if (
        code is None
        or code.activity_id != activity_id
        or code.kind != CodeKind.rotating
        or code.revoked_at is not None
    ):
        raise KioskTokenInvalid()
    activity = session.get(Activity, activity_id)
    assert activity is not None
    if activity.status == ActivityStatus.cancelled:
        raise KioskTokenInvalid("活动已取消，签到码已停用", "The activity was cancelled")
    if activity.status == ActivityStatus.finished:
        raise KioskTokenInvalid("活动已结束，签到码已停用", "The activity has ended")
    step = codes.rotating_step(now, code.step_seconds)
    checked_in = session.exec(
        select(func.count())
        .select_from(CheckIn)
        .where(CheckIn.activity_id == activity_id, CheckIn.day == local_date(now))
    ).one()
    return KioskState(
        title=activity.title,
        place=activity.place_name,
        organiser=record_append.facts_for_activity(session, activity).organiser_name,
        link=codes.link_for(
            settings.code_link_base,
            codes.rotating_payload(settings.code_keyring, code.short_id, step),
        ),
        step=step,
        step_seconds=code.step_seconds,
        step_ends_at=codes.step_start(step + 1, code.step_seconds),
        checked_in=int(checked_in),
        ends_at=activity.ends_at,
    )


def poster(
    session: Session, settings: Settings, code: ActivityCode, activity: Activity, link: str
) -> bytes:
    """The A4 poster of a static code, in Chinese."""
    facts = record_append.facts_for_activity(session, activity)
    view = ActivityView.of(session, activity)
    return render.poster_pdf(
        render.Poster(
            title=activity.title,
            organiser=facts.organiser_name,
            place=activity.place_name,
            valid_from=view.opens_at,
            valid_until=min(code.valid_until or view.closes_at, view.closes_at),
            link=link,
            short_id=code.short_id,
        ),
        font=pdf_fonts.chinese_font(settings),
    )


def wxacode_png(
    database: Database,
    wechat: WeChat,
    *,
    settings: Settings,
    actor: Principal,
    code_id: int,
    now: datetime,
) -> tuple[bytes, str]:
    """The mini-program code of a static code as PNG, and what it is: ``wxacode`` (fetched from
    WeChat once, then kept) or ``link`` (the plain link QR, when WeChat is not configured).

    WeChat is called outside any transaction, so a slow answer holds no database lock; two
    first requests may both call WeChat, and the first stored image wins."""
    env = settings.wechat_env_version
    with database.read_only_session() as session:
        code, _activity = managed_code(session, actor=actor, code_id=code_id)
        if code.kind != CodeKind.static or code.revoked_at is not None:
            raise CodeKindInvalid(
                "只有有效的海报码可以生成小程序码",
                "Only a valid static code has a mini-program code",
            )
        stored = session.exec(
            select(WxaCodeImage.png).where(
                WxaCodeImage.code_id == code.id, WxaCodeImage.env_version == env
            )
        ).first()
        short_id = code.short_id
        link = codes.link_for(
            settings.code_link_base, codes.static_payload(settings.code_keyring, short_id)
        )
    if stored is not None:
        return stored, "wxacode"
    if not wechat.configured:
        return render.qr_png(link), "link"
    png = wechat.get_unlimited_qrcode(
        scene=codes.SCENE_PREFIX + short_id,
        page=settings.wechat_checkin_page,
        env_version=env,
        check_path=env == "release",
    )
    with database.transaction() as session:
        insert_row(
            session,
            WxaCodeImage,
            {
                "code_id": code_id,
                "env_version": env,
                "page": settings.wechat_checkin_page,
                "png": png,
                "created_at": now,
            },
            ["code_id", "env_version"],
        )
        kept = session.exec(
            select(WxaCodeImage.png).where(
                WxaCodeImage.code_id == code_id, WxaCodeImage.env_version == env
            )
        ).one()
    return kept, "wxacode"
