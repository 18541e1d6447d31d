from scipass.core.errors import Conflict, NotFound, ProblemError


class JobNotFound(NotFound):
    """Another organisation's job, or none: they look alike."""

    code = "job_not_found"
    title_zh = "任务不存在"
    title_en = "Job not found"


class JobNotDone(Conflict):
    code = "job_not_done"
    title_zh = "任务尚未完成，请稍后再查询"
    title_en = "The job has not finished"


class JobResultGone(ProblemError):
    status = 410
    code = "job_result_gone"
    title_zh = "导出文件已过期删除，请重新导出"
    title_en = "The result has expired and was deleted; run the export again"
