from scipass.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class SlotNotFound(NotFound):
    code = "slot_not_found"
    title_zh = "预约时段不存在"
    title_en = "Time slot not found"


class SlotInvalid(ValidationFailed):
    code = "slot_invalid"
    title_zh = "预约时段设置有误"
    title_en = "The time slot is invalid"


class SlotCancelled(Conflict):
    code = "slot_cancelled"
    title_zh = "该时段已取消"
    title_en = "The time slot is cancelled"


class SlotInPast(Conflict):
    code = "slot_in_past"
    title_zh = "该时段已开始或已过去，不能预约"
    title_en = "The time slot has started or passed"


class OutsideOpeningHours(Conflict):
    code = "outside_opening_hours"
    title_zh = "该时段不在场馆开放时间内"
    title_en = "The time slot is outside the venue's opening hours"


class CapacityFull(Conflict):
    code = "capacity_full"
    title_zh = "名额已满"
    title_en = "No places left"


class StageNotServed(Conflict):
    code = "stage_not_served"
    title_zh = "该场馆（活动）不面向此学段"
    title_en = "The venue or activity does not serve this stage"


class AlreadyReserved(Conflict):
    code = "already_reserved"
    title_zh = "已预约过该时段"
    title_en = "Already reserved for this time slot"


class StudentOtherSchool(Forbidden):
    code = "student_other_school"
    title_zh = "只能为本校学生预约"
    title_en = "Only students of your own school can be reserved for"


class SchoolChannelReserved(Conflict):
    code = "school_channel_reserved"
    title_zh = "该时段为学校团体优先时段，暂不接受个人预约"
    title_en = "This slot is reserved for school groups until the cut-off"


class GroupEmpty(ValidationFailed):
    code = "group_empty"
    title_zh = "没有可预约的学生"
    title_en = "No students to reserve for"


class ReservationNotFound(NotFound):
    code = "reservation_not_found"
    title_zh = "预约不存在"
    title_en = "Reservation not found"


class ReservationNotActive(Conflict):
    code = "reservation_not_active"
    title_zh = "该预约已取消"
    title_en = "The reservation is already cancelled"


class ReservationNotConfirmed(Conflict):
    code = "reservation_not_confirmed"
    title_zh = "该团体预约未确认（候补中或已取消），不能签到"
    title_en = "The group reservation is not confirmed (waitlisted or cancelled)"


class CancelTooLate(Conflict):
    code = "cancel_too_late"
    title_zh = "时段已开始，不能取消预约"
    title_en = "The time slot has started; it can no longer be cancelled"
