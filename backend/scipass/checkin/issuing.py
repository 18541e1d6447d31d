"""Issuing codes: static poster codes and rotating screen codes of an activity or of a
volunteer shift, their images and A4 poster, the kiosk page's state, the mini-program code
fetched from WeChat (once, stored), and revocation.

A code names one scan target, an activity or a volunteer shift (``activity_code``: exactly one
of ``activity_id`` and ``shift_id``). What the code opens is read once into a
:class:`CodeTarget` (title, place, organiser, window, link base, mini-program page, whether its
codes still work), so that one set of routes (``/codes/{id}/revoke``, ``qr.png``, ``qr.svg``,
``poster.pdf``, ``wxacode.png``, the kiosk) serves both. Who manages a code is who manages its
target: the activity's organiser (:func:`scipass.activity.access.may_manage`), or the shift's
(:func:`scipass.volunteer.roles.shift_for_staff`); anyone else gets 404
``activity_code_not_found``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

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
    CODE,
    ActivityView,
    insert_row,
)
from scipass.core import notify, pdf_fonts
from scipass.core.auth import Principal
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.db import Database, flush_unique
from scipass.core.errors import Conflict
from scipass.org.organiser import organiser_name, organiser_of
from scipass.volunteer import attendance as volunteer_attendance
from scipass.volunteer import roles as volunteer_roles
from scipass.volunteer.errors import ShiftNotFound
from scipass.volunteer.models import ShiftStatus, VolunteerShift
from scipass.wechat.client import WeChat

# --- what a code opens -------------------------------------------------------------------------


class TargetKind(StrEnum):
    activity = "activity"
    shift = "shift"


@dataclass(frozen=True, slots=True)
class CodeTarget:
    """What a code opens, an activity or a volunteer shift, as its poster, images, kiosk
    screen and mini-program code need it. ``closed_zh``/``closed_en`` say why its codes no
    longer work (cancelled, finished or over), empty while they do."""

    kind: TargetKind
    id: int
    title: str
    place: str
    organiser: str
    opens_at: datetime  # arrival scans are taken from
    closes_at: datetime  # arrival scans are taken until (the poster's end)
    ends_at: datetime  # the target's end
    scans_until: datetime  # leaving scans are taken until (the kiosk token's default expiry)
    link_base: str  # the prefix of its codes' links
    page: str  # the mini-program page its mini-program code opens
    closed_zh: str = ""
    closed_en: str = ""

    @property
    def usable(self) -> bool:
        return not self.closed_zh

    @property
    def kiosk_path(self) -> str:
        if self.kind is TargetKind.shift:
            return f"/kiosk/shifts/{self.id}"
        return f"/kiosk/{self.id}"

    @property
    def poster_words(self) -> render.PosterWords:
        return render.SHIFT_WORDS if self.kind is TargetKind.shift else render.ACTIVITY_WORDS


def activity_target(session: Session, settings: Settings, activity: Activity) -> CodeTarget:
    view = ActivityView.of(session, activity)
    closed = {
        ActivityStatus.cancelled: ("活动已取消，签到码已停用", "The activity was cancelled"),
        ActivityStatus.finished: ("活动已结束，签到码已停用", "The activity has ended"),
    }.get(ActivityStatus(activity.status), ("", ""))
    return CodeTarget(
        kind=TargetKind.activity,
        id=activity.id or 0,
        title=activity.title,
        place=activity.place_name,
        organiser=view.facts.organiser_name,
        opens_at=view.opens_at,
        closes_at=view.closes_at,
        ends_at=activity.ends_at,
        scans_until=activity.ends_at + EXIT_GRACE,
        link_base=settings.code_link_base,
        page=settings.wechat_checkin_page,
        closed_zh=closed[0],
        closed_en=closed[1],
    )


def shift_target(
    session: Session, settings: Settings, shift: VolunteerShift, now: datetime
) -> CodeTarget:
    """A shift's target: its window is the attendance window
    (:func:`scipass.volunteer.attendance.judge_window`); it is over once leaving scans end."""
    scans_until = shift.ends_at + volunteer_attendance.EXIT_GRACE
    closed = ("", "")
    if shift.status == ShiftStatus.cancelled:
        closed = ("班次已取消，签到码已停用", "The shift was cancelled")
    elif now > scans_until:
        closed = ("班次已结束，签到码已停用", "The shift has ended")
    return CodeTarget(
        kind=TargetKind.shift,
        id=shift.id or 0,
        title=volunteer_roles.shift_title(session, shift),
        place=shift.place,
        organiser=organiser_name(session, organiser_of(shift)),
        opens_at=shift.starts_at - volunteer_attendance.OPENS_BEFORE,
        closes_at=shift.ends_at,
        ends_at=shift.ends_at,
        scans_until=scans_until,
        link_base=settings.shift_link_base,
        page=settings.wechat_volunteer_page,
        closed_zh=closed[0],
        closed_en=closed[1],
    )


def target_of(
    session: Session, settings: Settings, code: ActivityCode, now: datetime
) -> CodeTarget:
    """What ``code`` opens (no access check)."""
    if code.shift_id is not None:
        shift = session.get(VolunteerShift, code.shift_id)
        assert shift is not None
        return shift_target(session, settings, shift, now)
    activity = session.get(Activity, code.activity_id)
    assert activity is not None
    return activity_target(session, settings, activity)


def managed_code(
    session: Session, *, settings: Settings, actor: Principal, code_id: int, now: datetime
) -> tuple[ActivityCode, CodeTarget]:
    """A code the caller manages, with what it opens: an activity's for the activity's
    organiser, a shift's for the shift's organiser's staff; 404 otherwise."""
    code = session.get(ActivityCode, code_id)
    if code is None:
        raise ActivityCodeNotFound()
    if code.shift_id is not None:
        try:
            shift = volunteer_roles.shift_for_staff(session, actor=actor, shift_id=code.shift_id)
        except ShiftNotFound:
            raise ActivityCodeNotFound() from None
        return code, shift_target(session, settings, shift, now)
    activity = session.get(Activity, code.activity_id)
    if activity is None or not activity_access.may_manage(actor, activity):
        raise ActivityCodeNotFound()
    return code, activity_target(session, settings, activity)


# --- issuing and revoking ----------------------------------------------------------------------


def insert_code(
    session: Session,
    *,
    settings: Settings,
    actor: Principal,
    data: CodeCreate,
    now: datetime,
    activity_id: int | None = None,
    shift_id: int | None = None,
) -> ActivityCode:
    """A new code of an activity or a shift (exactly one), with a fresh short id."""
    for _attempt in range(3):
        code = ActivityCode(
            activity_id=activity_id,
            shift_id=shift_id,
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
        except Conflict:  # pragma: no cover - a short id drawn twice: 40 bits make this rare
            session.expunge(code)
            continue
        return code
    raise Conflict("请重试", "Try again")  # pragma: no cover


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
    return insert_code(
        session, settings=settings, actor=actor, data=data, now=now, activity_id=activity.id
    )


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
    settings: Settings,
    actor: Principal,
    code_id: int,
    reason: str,
    now: datetime,
) -> tuple[ActivityCode, CodeTarget]:
    code, target = managed_code(session, settings=settings, actor=actor, code_id=code_id, now=now)
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
    # Every process's copy once this commits (dropped before, a scan reading meanwhile would
    # keep the code not yet revoked).
    notify.send(session, CODE, code.short_id)
    return code, target


# --- what a code shows -------------------------------------------------------------------------


def code_payload(settings: Settings, code: ActivityCode, now: datetime) -> str:
    ring = settings.code_keyring
    if code.kind == CodeKind.rotating:
        return codes.rotating_payload(
            ring, code.short_id, codes.rotating_step(now, code.step_seconds)
        )
    return codes.static_payload(ring, code.short_id)


def code_link(settings: Settings, code: ActivityCode, now: datetime) -> str:
    """What the code shows: the static link, or a rotating code's link of this step; a
    shift's under ``SCIPASS_SHIFT_LINK_BASE``, an activity's under ``SCIPASS_CODE_LINK_BASE``."""
    base = settings.shift_link_base if code.shift_id is not None else settings.code_link_base
    return codes.link_for(base, code_payload(settings, code, now))


def kiosk_url(settings: Settings, code: ActivityCode, target: CodeTarget) -> str | None:
    """A rotating code's kiosk page, its token valid until the code's ``valid_until`` or
    the end of its target's leaving scans."""
    if code.kind != CodeKind.rotating:
        return None
    expires = code.valid_until or target.scans_until
    token = codes.kiosk_token(settings.code_keyring, code.id or 0, expires)
    return f"{target.kiosk_path}?token={token}"


@dataclass(frozen=True, slots=True)
class KioskState:
    kind: TargetKind
    title: str
    place: str
    organiser: str
    link: str
    step: int
    step_seconds: int
    step_ends_at: datetime
    checked_in: int  # an activity's check-ins today, or the pupils who arrived at a shift
    ends_at: datetime


def kiosk_state(
    session: Session,
    *,
    settings: Settings,
    kind: TargetKind,
    target_id: int,
    token: str,
    now: datetime,
) -> KioskState:
    """What a screen by the door shows now: the current rotating code of an activity (and
    today's check-ins) or of a volunteer shift (and the pupils who arrived). The token must be
    of a rotating code of this very target, not revoked, whose target still takes scans."""
    try:
        code_id = codes.parse_kiosk_token(settings.code_keyring, token, now=now)
    except codes.CodeRejected:
        raise KioskTokenInvalid() from None
    code = session.get(ActivityCode, code_id)
    named = (code.shift_id if kind is TargetKind.shift else code.activity_id) if code else None
    if (
        code is None
        or named != target_id
        or code.kind != CodeKind.rotating
        or code.revoked_at is not None
    ):
        raise KioskTokenInvalid()
    target = target_of(session, settings, code, now)
    if not target.usable:
        raise KioskTokenInvalid(target.closed_zh, target.closed_en)
    step = codes.rotating_step(now, code.step_seconds)
    return KioskState(
        kind=kind,
        title=target.title,
        place=target.place,
        organiser=target.organiser,
        link=code_link(settings, code, now),
        step=step,
        step_seconds=code.step_seconds,
        step_ends_at=codes.step_start(step + 1, code.step_seconds),
        checked_in=_arrivals(session, target, now),
        ends_at=target.ends_at,
    )


def _arrivals(session: Session, target: CodeTarget, now: datetime) -> int:
    if target.kind is TargetKind.shift:
        return volunteer_attendance.arrived_count(session, target.id)
    checked_in = session.exec(
        select(func.count())
        .select_from(CheckIn)
        .where(CheckIn.activity_id == target.id, CheckIn.day == local_date(now))
    ).one()
    return int(checked_in)


# --- printing and the mini-program code -------------------------------------------------------


def printable_code(
    session: Session, *, settings: Settings, actor: Principal, code_id: int, now: datetime
) -> tuple[ActivityCode, CodeTarget, str]:
    """A static code the caller manages that still works, what it opens, and its link: what
    its images, poster and mini-program code show. A rotating code is only shown on a screen;
    a revoked code, or one whose activity or shift is cancelled or over, is not printed."""
    code, target = managed_code(session, settings=settings, actor=actor, code_id=code_id, now=now)
    if code.kind != CodeKind.static:
        raise CodeKindInvalid(
            "动态码只在大屏上显示，没有海报、图片和小程序码",
            "A rotating code is shown on screens only: no poster, image or mini-program code",
        )
    if code.revoked_at is not None:
        raise CodeKindInvalid("签到码已作废", "The code has been revoked")
    if not target.usable:
        raise CodeKindInvalid(target.closed_zh, target.closed_en)
    return code, target, code_link(settings, code, now)


def poster(settings: Settings, code: ActivityCode, target: CodeTarget, link: str) -> bytes:
    """The A4 poster of a static code, in Chinese, in its target's words."""
    until = min(code.valid_until or target.closes_at, target.closes_at)
    return render.poster_pdf(
        render.Poster(
            title=target.title,
            organiser=target.organiser,
            place=target.place,
            valid_from=target.opens_at,
            valid_until=max(until, target.opens_at),  # a code cut short before its window
            link=link,
            short_id=code.short_id,
            words=target.poster_words,
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
    Its scene is ``c=<short id>`` whatever the target; the page is the target's: check-in's
    (``SCIPASS_WECHAT_CHECKIN_PAGE``) or the volunteer scan's (``SCIPASS_WECHAT_VOLUNTEER_PAGE``).

    WeChat is called outside any transaction, so a slow answer holds no database lock; two
    first requests may both call WeChat, and the first stored image wins."""
    env = settings.wechat_env_version
    with database.read_only_session() as session:
        code, target, link = printable_code(
            session, settings=settings, actor=actor, code_id=code_id, now=now
        )
        stored = session.exec(
            select(WxaCodeImage.png).where(
                WxaCodeImage.code_id == code.id, WxaCodeImage.env_version == env
            )
        ).first()
        short_id = code.short_id
    if stored is not None:
        return stored, "wxacode"
    if not wechat.configured:
        return render.qr_png(link), "link"
    png = wechat.get_unlimited_qrcode(
        scene=codes.SCENE_PREFIX + short_id,
        page=target.page,
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
                "page": target.page,
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
