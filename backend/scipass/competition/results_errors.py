"""Errors of competition results: each refusal has its own stable code, and none writes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from scipass.core.errors import BadRequest, Conflict, NotFound, Problem, ValidationFailed


class ResultEntryNotFound(NotFound):
    code = "competition_result_entry_not_found"
    title_zh = "该报名不在本轮已录取的名单中"
    title_en = "The entry is not among the round's accepted entries"


class ResultNotFound(NotFound):
    code = "competition_result_not_found"
    title_zh = "竞赛成绩不存在"
    title_en = "Competition result not found"


class ResultObjectionNotFound(NotFound):
    code = "competition_result_objection_not_found"
    title_zh = "成绩异议不存在"
    title_en = "Result objection not found"


class ResultLocked(Conflict):
    code = "competition_result_locked"
    title_zh = "成绩已进入公示或已发布，不能修改"
    title_en = "The result is in a public notice or published and cannot change"


class NoNextRound(Conflict):
    code = "competition_no_next_round"
    title_zh = "本轮是最后一轮，没有可晋级的下一轮"
    title_en = "This is the edition's last round; there is no next round to advance to"


class RegionQuotaReached(Conflict):
    code = "competition_region_quota_reached"
    title_zh = "该地区晋级下一轮的名额已满"
    title_en = "The region's places in the next round are taken"


class NothingToNotice(Conflict):
    code = "competition_results_nothing_to_notice"
    title_zh = "本轮没有待公示的成绩"
    title_en = "The round has no draft results to put on notice"


class ResultNotNoticed(Conflict):
    code = "competition_result_not_noticed"
    title_zh = "该成绩不在公示中"
    title_en = "The result is not on notice"


class ResultNoticeClosed(Conflict):
    code = "competition_result_notice_closed"
    title_zh = "公示期已结束，不能再提出异议"
    title_en = "The notice period has ended; objections are closed"


class ResultObjectionDuplicate(Conflict):
    code = "competition_result_objection_duplicate"
    title_zh = "您对该成绩已有一条未处理的异议"
    title_en = "You already have an open objection to this result"


class ResultObjectionResolved(Conflict):
    code = "competition_result_objection_resolved"
    title_zh = "该异议已处理"
    title_en = "The objection was already resolved"


class ResultRowError(BaseModel):
    line: int = Field(description="行号，与 Excel 显示的一致（表头为第 1 行）")
    column: str = Field(description="列名，如 `奖项`")
    reason: str = Field(description="原因")


class ResultUploadProblem(Problem):
    """``competition_results_upload_invalid``: every bad row of the file, by line."""

    errors: list[ResultRowError] | None = Field(  # type: ignore[assignment]  # narrows Problem.errors
        default=None, description="每一处错误"
    )


class ResultUploadInvalid(ValidationFailed):
    problem_model = ResultUploadProblem
    code = "competition_results_upload_invalid"
    title_zh = "成绩表有误，未录入任何成绩"
    title_en = "The results file has errors; nothing was entered"


class ResultFileUnreadable(BadRequest):
    code = "competition_results_file_unreadable"
    title_zh = "无法读取成绩表文件"
    title_en = "The results file cannot be read"
