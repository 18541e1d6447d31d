from scipass.core.errors import Forbidden


class CopyThroughGuardian(Forbidden):
    """A pupil under 14 asks for the copy through a guardian (PIPL art. 31: a child's
    personal information is the guardian's to decide on, and to receive)."""

    code = "data_copy_through_guardian"
    title_zh = "未满 14 周岁的学生，请由家长（监护人）申请个人信息副本"
    title_en = "A pupil under 14 asks for the copy of their data through a guardian"
