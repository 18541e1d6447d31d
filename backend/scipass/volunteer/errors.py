"""Errors of volunteering: each refusal of a sign-up has its own code and writes nothing."""

from scipass.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class RoleNotFound(NotFound):
    code = "volunteer_role_not_found"
    title_zh = "志愿岗位不存在"
    title_en = "Volunteer role not found"


class RoleInvalid(ValidationFailed):
    code = "volunteer_role_invalid"
    title_zh = "志愿岗位设置有误"
    title_en = "The volunteer role is invalid"


class ShiftNotFound(NotFound):
    code = "volunteer_shift_not_found"
    title_zh = "志愿服务班次不存在"
    title_en = "Volunteer shift not found"


class ShiftInvalid(ValidationFailed):
    code = "volunteer_shift_invalid"
    title_zh = "志愿服务班次设置有误"
    title_en = "The volunteer shift is invalid"


class ShiftCancelled(Conflict):
    code = "volunteer_shift_cancelled"
    title_zh = "该班次已取消"
    title_en = "The shift is already cancelled"


class ShiftFull(Conflict):
    code = "volunteer_shift_full"
    title_zh = "该班次名额已满"
    title_en = "The shift is full"


class SignupClosed(Conflict):
    """Past the sign-up cut-off, or the shift was cancelled (``reason`` says which)."""

    code = "volunteer_signup_closed"
    title_zh = "该班次已截止报名或已取消"
    title_en = "Sign-up for this shift is closed"


class TooYoung(Conflict):
    code = "volunteer_too_young"
    title_zh = "未达到该岗位要求的最低年龄"
    title_en = "Below the role's minimum age"


class WrongStage(Conflict):
    code = "volunteer_wrong_stage"
    title_zh = "该岗位不面向此学段"
    title_en = "The role does not suit this stage"


class ShiftOverlap(Conflict):
    code = "volunteer_shift_overlap"
    title_zh = "与已报名的班次时间重叠"
    title_en = "Overlaps a shift already signed up for"


class DailyHoursExceeded(Conflict):
    code = "volunteer_daily_hours_exceeded"
    title_zh = "当天志愿服务时长将超过该岗位的每日上限"
    title_en = "The day's volunteer hours would exceed the role's daily maximum"


class NotTrained(Conflict):
    code = "volunteer_not_trained"
    title_zh = "须先完成该岗位要求的前置岗位服务"
    title_en = "The role's prerequisite role must be served first"


class AlreadySignedUp(Conflict):
    code = "volunteer_already_signed_up"
    title_zh = "已报名该班次"
    title_en = "Already signed up for this shift"


class OwnSchoolOnly(Forbidden):
    code = "volunteer_own_school_only"
    title_zh = "只能为本校学生报名，学校组织的岗位只接受本校学生"
    title_en = "Only pupils of the school itself"


class SignupNotFound(NotFound):
    code = "volunteer_signup_not_found"
    title_zh = "志愿服务报名不存在"
    title_en = "Volunteer sign-up not found"


class SignupNotActive(Conflict):
    code = "volunteer_signup_not_active"
    title_zh = "该报名已取消或已结束"
    title_en = "The sign-up is no longer active"


class CancelTooLate(Conflict):
    code = "volunteer_cancel_too_late"
    title_zh = "已过取消期限"
    title_en = "Too late to cancel"


class ShiftNotOver(Conflict):
    code = "volunteer_shift_not_over"
    title_zh = "班次尚未结束，结束后才能确认服务时长"
    title_en = "The shift has not ended yet"


class ShiftStarted(Conflict):
    code = "volunteer_shift_started"
    title_zh = "班次已开始，不能再取消；未到岗的学生在确认时长时标记缺席"
    title_en = "The shift has started and can no longer be cancelled"


class MinutesReviewed(Conflict):
    code = "volunteer_minutes_reviewed"
    title_zh = "学校已审核该志愿服务记录，时长不能再改；请联系学校作废记录后重新确认"
    title_en = "The school has reviewed the record; its minutes can no longer change"


class MinutesInvalid(ValidationFailed):
    code = "volunteer_minutes_invalid"
    title_zh = "服务时长有误"
    title_en = "The minutes are invalid"


class CertificateNotFound(NotFound):
    code = "volunteer_certificate_not_found"
    title_zh = "志愿服务记录证明不存在"
    title_en = "Volunteer certificate not found"


class NothingToCertify(Conflict):
    code = "volunteer_nothing_to_certify"
    title_zh = "该期间没有可出具证明的服务记录（须已确认，且已在本单位公示满 7 天）"
    title_en = "No confirmed service past its publicity period in that period"


class CertificateExists(Conflict):
    code = "volunteer_certificate_exists"
    title_zh = "该期间已出具有效的证明"
    title_en = "A valid certificate for that period exists"
