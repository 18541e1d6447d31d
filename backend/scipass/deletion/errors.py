from scipass.core.errors import Forbidden, NotFound


class DeletionThroughGuardian(Forbidden):
    """A pupil under 14 asks through a guardian (PIPL art. 31: a child's personal information
    is the guardian's to decide on)."""

    code = "deletion_through_guardian"
    title_zh = "未满 14 周岁的学生，请由家长（监护人）申请删除个人信息"
    title_en = "A pupil under 14 asks for deletion through a guardian"


class DeletionRequestNotFound(NotFound):
    code = "deletion_request_not_found"
    title_zh = "没有删除申请"
    title_en = "No deletion request"
