"""Competition errors: each refusal has its own stable code, and none writes anything."""

from pydantic import BaseModel, Field

from scipass.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Problem,
    ProblemError,
    ValidationFailed,
)

# --- catalogue and whitelist ----------------------------------------------------------------


class CompetitionNotFound(NotFound):
    code = "competition_not_found"
    title_zh = "竞赛不存在"
    title_en = "Competition not found"


class EditionNotFound(NotFound):
    code = "competition_edition_not_found"
    title_zh = "该届竞赛不存在"
    title_en = "Competition edition not found"


class RoundNotFound(NotFound):
    code = "competition_round_not_found"
    title_zh = "竞赛轮次不存在"
    title_en = "Competition round not found"


class DivisionNotFound(NotFound):
    code = "competition_division_not_found"
    title_zh = "竞赛组别不存在"
    title_en = "Competition division not found"


class WhitelistNotFound(NotFound):
    code = "whitelist_not_found"
    title_zh = "白名单或白名单条目不存在"
    title_en = "Whitelist or whitelist entry not found"


class CompetitionExists(Conflict):
    code = "competition_exists"
    title_zh = "同名的竞赛、白名单或条目已存在"
    title_en = "A competition, list or entry of that name already exists"


class EditionExists(Conflict):
    code = "competition_edition_exists"
    title_zh = "该竞赛本学年已有一届（每学年至多举办一次）"
    title_en = "The competition already has an edition this school year"


class CompetitionInvalid(ValidationFailed):
    code = "competition_invalid"
    title_zh = "竞赛信息有误"
    title_en = "The competition data is invalid"


class WhitelistCellError(BaseModel):
    line: int = Field(description="行号，与 Excel 显示的一致（表头为第 1 行）")
    column: str = Field(description="列名，如 `竞赛名称`")
    reason: str = Field(description="原因")


class WhitelistProblem(Problem):
    """``whitelist_import_invalid``: every bad cell of the file, by line and column."""

    errors: list[WhitelistCellError] | None = Field(  # type: ignore[assignment]  # narrows Problem.errors
        default=None, description="每一处错误"
    )


class WhitelistImportInvalid(ValidationFailed):
    problem_model = WhitelistProblem
    code = "whitelist_import_invalid"
    title_zh = "白名单文件有误，未导入任何条目"
    title_en = "The whitelist file has errors; nothing was imported"


class WhitelistFileUnreadable(BadRequest):
    code = "whitelist_file_unreadable"
    title_zh = "无法读取白名单文件，请上传 XLSX"
    title_en = "The whitelist file cannot be read; upload an XLSX file"


# --- entries ------------------------------------------------------------------------------


class EntryNotFound(NotFound):
    code = "competition_entry_not_found"
    title_zh = "报名不存在"
    title_en = "Competition entry not found"


class MemberNotFound(NotFound):
    code = "competition_member_not_found"
    title_zh = "队员或指导教师不存在"
    title_en = "Member or advisor not found"


class EntryStateInvalid(Conflict):
    code = "competition_entry_state_invalid"
    title_zh = "报名当前状态不能进行此操作"
    title_en = "The entry's state does not allow this"


class OutsideWindow(Conflict):
    code = "competition_outside_window"
    title_zh = "不在报名时间内"
    title_en = "Outside the registration window"


class DivisionMismatch(ValidationFailed):
    code = "competition_division_mismatch"
    title_zh = "该组别不适合此学生的学段或年级"
    title_en = "The division does not fit the student's stage or grade"


class TeamTooSmall(ValidationFailed):
    code = "competition_team_too_small"
    title_zh = "队伍人数不足"
    title_en = "The team has too few members"


class TeamTooLarge(Conflict):
    code = "competition_team_too_large"
    title_zh = "队伍人数已满"
    title_en = "The team has too many members"


class AlreadyEntered(Conflict):
    code = "competition_already_entered"
    title_zh = "该学生已在本届同一组别的另一份报名中"
    title_en = "The student is already in another entry of this edition and division"


class SchoolQuotaReached(Conflict):
    code = "competition_school_quota_reached"
    title_zh = "本校在该轮次的推荐名额已满"
    title_en = "The school's quota for this round is used up"


class NotWhitelisted(Forbidden):
    code = "competition_not_whitelisted"
    title_zh = "本校只允许参加白名单内的竞赛，该竞赛不在白名单内"
    title_en = "The school allows whitelisted competitions only"


class AttachmentTypeInvalid(ProblemError):
    status = 415
    code = "competition_attachment_type_invalid"
    title_zh = "附件只接受 PDF、JPEG 或 PNG 文件"
    title_en = "The attachment must be a PDF, JPEG or PNG file"


class AttachmentTooLarge(PayloadTooLarge):
    code = "competition_attachment_too_large"
    title_zh = "附件超过本届竞赛允许的大小"
    title_en = "The attachment is larger than the edition allows"


class EntryFieldMissing(ValidationFailed):
    code = "competition_entry_field_missing"
    title_zh = "提交前请填写本届竞赛要求的全部报名信息"
    title_en = "Fill in every field the edition requires before submitting"


class InvitationInvalid(NotFound):
    code = "competition_invitation_invalid"
    title_zh = "邀请码不存在"
    title_en = "Unknown invitation code"


class InvitationExpired(Conflict):
    code = "competition_invitation_expired"
    title_zh = "邀请码已过期，请队长重新生成"
    title_en = "The invitation code has expired"


class InvitationUsed(Conflict):
    code = "competition_invitation_used"
    title_zh = "邀请码已被使用，请队长重新生成"
    title_en = "The invitation code has been used"


class AdvisorInvalid(ValidationFailed):
    code = "competition_advisor_invalid"
    title_zh = "指导教师须为本校教职工，且不超过组别允许的人数"
    title_en = "Advisors are staff of the school, within the division's maximum"
