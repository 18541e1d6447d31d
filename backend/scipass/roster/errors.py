from pydantic import BaseModel, Field

from scipass.core.errors import (
    BadRequest,
    Conflict,
    NotFound,
    Problem,
    RateLimited,
    ValidationFailed,
)


class RosterCellError(BaseModel):
    line: int = Field(description="行号，与 Excel 显示的一致（表头为第 1 行）")
    column: str = Field(description="列名，如 `学号`")
    reason: str = Field(description="原因")


class RosterProblem(Problem):
    """``roster_invalid``: every bad cell of the file, by line and column."""

    errors: list[RosterCellError] | None = Field(  # type: ignore[assignment]  # narrows Problem.errors
        default=None, description="每一处错误"
    )


class RosterInvalid(ValidationFailed):
    problem_model = RosterProblem
    code = "roster_invalid"
    title_zh = "名单有误，未导入任何数据"
    title_en = "The roster has errors; nothing was imported"


class RosterFileUnreadable(BadRequest):
    code = "roster_file_unreadable"
    title_zh = "无法读取名单文件"
    title_en = "The roster file cannot be read"


class RosterImportConflict(Conflict):
    code = "roster_import_conflict"
    title_zh = "另一份名单正在导入，请稍后重试"
    title_en = "Another import ran at the same time; try again"


class StudentNotFound(NotFound):
    code = "student_not_found"
    title_zh = "学生不存在"
    title_en = "Student not found"


class BindingInvalid(BadRequest):
    code = "binding_invalid"
    title_zh = "学校、学号或绑定码不正确"
    title_en = "School, student number or binding code is wrong"
    keep_writes = True  # the attempt is counted against brute force


class BindingRateLimited(RateLimited):
    code = "binding_rate_limited"
    title_zh = "绑定尝试次数过多，请稍后再试"
    title_en = "Too many binding attempts"
    keep_writes = True


class AlreadyBound(Conflict):
    code = "already_bound"
    title_zh = "该微信账号已绑定学生"
    title_en = "This WeChat account is already bound to a student"


class RoleConflict(Conflict):
    code = "role_conflict"
    title_zh = "学生账号不能作为家长绑定，家长账号也不能绑定为学生"
    title_en = "A student account cannot be a guardian and vice versa"


class AlreadyLinked(Conflict):
    code = "already_linked"
    title_zh = "已经绑定过该学生"
    title_en = "Already linked to this student"


class GuardianLinkNotFound(NotFound):
    code = "guardian_link_not_found"
    title_zh = "家长绑定关系不存在"
    title_en = "Guardian link not found"
