from scipass.core.errors import Conflict, NotFound, ProblemError, ValidationFailed


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


class ExportTooLarge(ValidationFailed):
    """A direct (streamed) export of more rows than ``SCIPASS_EXPORT_SYNC_ROW_LIMIT``: the
    problem names the job endpoint that makes it in the worker (``job_endpoint``)."""

    code = "export_too_large"
    title_zh = "导出的数据过多，请改用后台导出任务"
    title_en = "Too many rows for a direct export; queue an export job"


def too_large(limit: int, job_endpoint: str) -> ExportTooLarge:
    return ExportTooLarge(
        f"超过 {limit} 行的导出请用 POST {job_endpoint} 生成（后台任务），完成后下载",
        f"Exports of over {limit} rows run as a job: POST {job_endpoint}",
        limit=limit,
        job_endpoint=job_endpoint,
    )
