"""Check-in problems. The refusals of a scan (DESIGN.md "Codes and check-in", in the order
they are checked) keep their scan event: the request commits the refused :class:`ScanEvent`
before the problem is answered, so venues can review refused scans."""

from __future__ import annotations

from typing import Any

from scipass.core.errors import (
    NotFound,
    ProblemError,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from scipass.core.idempotency import IdempotencyKeyReused
from scipass.roster.acting import ChildActsForSelf
from scipass.roster.errors import StudentNotFound


class ScanRefused(ProblemError):
    """A refused scan; the refused scan event is kept."""

    keep_writes = True


class CodeInvalid(ScanRefused):
    status = 400
    code = "code_invalid"
    title_zh = "无效的签到码，请扫描场馆现场展示的二维码"
    title_en = "This is not a valid check-in code"


class CodeExpired(ScanRefused):
    status = 400
    code = "code_expired"
    title_zh = "签到码已过期，请重新扫描现场的最新二维码"
    title_en = "The code has expired; scan the current one"


class CodeRevoked(ScanRefused):
    status = 400
    code = "code_revoked"
    title_zh = "该签到码已作废"
    title_en = "The code has been revoked"


class NotStarted(ScanRefused):
    status = 409
    code = "not_started"
    title_zh = "活动尚未开始签到"
    title_en = "Check-in has not opened yet"


class WindowClosed(ScanRefused):
    status = 409
    code = "window_closed"
    title_zh = "活动签到时间已过"
    title_en = "Check-in has closed"


class StudentUnbound(ScanRefused):
    status = 403
    code = "student_unbound"
    title_zh = "请先绑定学生身份再签到"
    title_en = "Bind your student identity before checking in"


class OtherSchool(ScanRefused):
    status = 403
    code = "other_school"
    title_zh = "本活动仅限主办学校的学生参加"
    title_en = "This activity is for the organising school's pupils only"


class ScanConsentRequired(ScanRefused):
    status = 403
    code = "consent_required"
    title_zh = "需要监护人同意记录参与活动后才能签到"
    title_en = "A guardian's consent is required first"


class Ineligible(ScanRefused):
    status = 403
    code = "ineligible"
    title_zh = "该活动不面向你所在的学段"
    title_en = "This activity is not open to your stage"


class NotRegistered(ScanRefused):
    status = 403
    code = "not_registered"
    title_zh = "该活动须提前预约或报名，未找到你的预约"
    title_en = "This activity needs a reservation or registration first"


class ScanCapacityFull(ScanRefused):
    status = 409
    code = "capacity_full"
    title_zh = "活动人数已满"
    title_en = "The activity is full"


class LocationRequired(ScanRefused):
    status = 422
    code = "location_required"
    title_zh = "该活动签到需要位置信息；无法提供位置时请请工作人员扫描你的个人码"
    title_en = "This check-in needs your location; otherwise ask staff to scan your personal code"


class LocationInaccurate(ScanRefused):
    status = 422
    code = "location_inaccurate"
    title_zh = "定位误差过大，请到开阔处重新定位后再试"
    title_en = "The location is not accurate enough"


class OutOfGeofence(ScanRefused):
    status = 403
    code = "out_of_geofence"
    title_zh = "你不在活动现场范围内"
    title_en = "You are outside the activity's area"


class ReplayedNonce(ScanRefused):
    status = 409
    code = "replayed_nonce"
    title_zh = "该请求编号已用于另一次扫码"
    title_en = "This nonce was already used for another scan"


class ScanKeyReused(ScanRefused):
    """A student's ``Idempotency-Key`` already used for another scan: the rule of
    :mod:`scipass.core.idempotency`, judged in DESIGN's place for replays, and kept as a
    refused scan event like any refusal."""

    status = 409
    code = IdempotencyKeyReused.code
    title_zh = IdempotencyKeyReused.title_zh
    title_en = IdempotencyKeyReused.title_en


class NonceRace(ReplayedNonce):
    """The nonce's first request committed while this one was under way: nothing is kept."""

    keep_writes = False


class ScanRateLimited(ScanRefused, RateLimited):
    status = 429
    code = "rate_limited"
    title_zh = "扫码过于频繁，请稍后再试"
    title_en = "Too many scans; try again shortly"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("retry_after", 60)
        super().__init__(*args, **kwargs)


class NotCheckedIn(ScanRefused):
    status = 409
    code = "not_checked_in"
    title_zh = "还没有签到记录，不能签退"
    title_en = "No check-in to close"


class ChildNotLinked(StudentNotFound):
    """A guardian's scan for a child without a live link (another family's child, a revoked
    link, no such pupil): 404 as :mod:`scipass.roster.acting` answers it, and no scan event,
    since the scan is nobody's the guardian may name. Raised by a scan's unit before it
    writes anything, so the other scans of its batch keep theirs."""

    keep_writes = True


class ChildScansForSelf(ChildActsForSelf):
    """A guardian's scan for a pupil of 14 or over with a binding of their own (the pupil
    scans); no scan event. Raised before the unit writes anything, like
    :class:`ChildNotLinked`."""

    keep_writes = True


# In the order DESIGN.md checks them; a batch item reports the first that applies.
REFUSALS: tuple[type[ScanRefused], ...] = (
    CodeInvalid,
    CodeExpired,
    CodeRevoked,
    NotStarted,
    WindowClosed,
    StudentUnbound,
    OtherSchool,
    ScanConsentRequired,
    Ineligible,
    NotRegistered,
    ScanCapacityFull,
    LocationRequired,
    LocationInaccurate,
    OutOfGeofence,
    ReplayedNonce,
    ScanKeyReused,
    ScanRateLimited,
)


class PersonalCardNotFound(NotFound):
    code = "personal_card_not_found"
    title_zh = "个人码卡片不存在"
    title_en = "Personal card not found"


class ActivityCodeNotFound(NotFound):
    code = "activity_code_not_found"
    title_zh = "签到码不存在"
    title_en = "Code not found"


class CodeKindInvalid(ValidationFailed):
    code = "code_kind_invalid"
    title_zh = "该类型的签到码不支持此操作"
    title_en = "This kind of code does not support this"


class KioskTokenInvalid(Unauthorized):
    code = "kiosk_token_invalid"
    title_zh = "大屏链接无效、已过期或签到码已作废，请在管理后台重新打开"
    title_en = "The kiosk link is invalid, expired or its code was revoked"


class CheckInNotFound(NotFound):
    code = "check_in_not_found"
    title_zh = "签到记录不存在"
    title_en = "Check-in not found"


class CorrectionInvalid(ValidationFailed):
    code = "check_in_correction_invalid"
    title_zh = "签到更正不合法"
    title_en = "Invalid check-in correction"


class ScanTimeInvalid(ScanRefused):
    status = 400
    code = "scan_time_invalid"
    title_zh = "扫码时间不合理（晚于服务器时间或过早）"
    title_en = "The scan time is in the future or too old"


_ALL_REFUSALS: tuple[type[ScanRefused], ...] = (*REFUSALS, NotCheckedIn, ScanTimeInvalid)
REFUSAL_BY_CODE: dict[str, type[ScanRefused]] = {cls.code: cls for cls in _ALL_REFUSALS}
