from scipass.core.errors import Conflict, NotFound, ValidationFailed


class VenueNotFound(NotFound):
    code = "venue_not_found"
    title_zh = "场馆不存在"
    title_en = "Venue not found"


class HoursInvalid(ValidationFailed):
    code = "hours_invalid"
    title_zh = "开放时间格式有误"
    title_en = "Opening hours are invalid"


class NoDraft(Conflict):
    code = "no_draft"
    title_zh = "没有待提交的场馆资料修改"
    title_en = "There is no profile change to submit"


class NotPendingReview(Conflict):
    code = "not_pending_review"
    title_zh = "该场馆资料不在待审核状态"
    title_en = "The venue profile is not waiting for review"


class ResourceNotFound(NotFound):
    code = "resource_not_found"
    title_zh = "可预约资源不存在"
    title_en = "Resource not found"


class ResourceExists(Conflict):
    code = "resource_exists"
    title_zh = "本场馆已有同名资源"
    title_en = "The venue already has a resource of that name"


class EditionExists(Conflict):
    code = "edition_exists"
    title_zh = "该地区本年度的科普地图已发布"
    title_en = "The directory of that region and year is already published"


class EditionNotFound(NotFound):
    code = "edition_not_found"
    title_zh = "科普地图版本不存在"
    title_en = "Directory edition not found"


class ReviewNoteRequired(ValidationFailed):
    code = "review_note_required"
    title_zh = "退回时请写明原因"
    title_en = "Give a reason when sending a profile back"
