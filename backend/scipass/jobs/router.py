"""Jobs over HTTP: status and progress of a queued job, and its result once done."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from scipass.core.callers import JobOwner
from scipass.core.clock import ClockDep
from scipass.core.db import SessionDep
from scipass.core.deps import SettingsDep
from scipass.core.errors import problem_responses
from scipass.core.exports import attachment
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.core.storage import StorageUnavailable
from scipass.jobs import service as job_service
from scipass.jobs.errors import JobNotDone, JobNotFound, JobResultGone
from scipass.jobs.schemas import JobRead
from scipass.jobs.storage import read_chunks, store_for

router = APIRouter(tags=["jobs"])


@router.get("/jobs", name="job-list", summary="我的后台任务", responses=problem_responses())
def list_jobs(caller: JobOwner, session: SessionDep, page: PageDep) -> Page[JobRead]:
    rows, total = job_service.list_jobs(session, actor=caller, page=page)
    return Page[JobRead].of([JobRead.of(j) for j in rows], total, page)


@router.get(
    "/jobs/{job_id}",
    name="job-get",
    summary="后台任务的状态与进度",
    description="提交任务的人和本单位管理员可查看；其他人返回 404。完成后给出 `download_url`。",
    responses=problem_responses(JobNotFound),
)
def get_job(job_id: Id, caller: JobOwner, session: SessionDep) -> JobRead:
    return JobRead.of(job_service.get(session, actor=caller, job_id=job_id))


@router.get(
    "/jobs/{job_id}/result",
    name="job-result",
    summary="下载后台任务的结果文件",
    description="任务完成后可下载，保留 `SCIPASS_JOB_RESULT_TTL_HOURS` 小时（默认 24），"
    "过期后返回 410 `job_result_gone`；未完成返回 409 `job_not_done`。",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "结果文件",
            "headers": {
                "X-Row-Count": {"description": "文件中的行数", "schema": {"type": "integer"}},
                "X-Withheld-Count": {
                    "description": "写实记录导出中，因未满 14 周岁且监护人未同意“评价导出”"
                    "而略去的记录数（其他任务没有此项）",
                    "schema": {"type": "integer"},
                },
            },
        },
        **problem_responses(JobNotFound, JobNotDone, JobResultGone, StorageUnavailable),
    },
)
def job_result(
    job_id: Id, caller: JobOwner, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> StreamingResponse:
    job, stream = job_service.open_result(
        session, actor=caller, store=store_for(settings), job_id=job_id, now=clock.now()
    )
    headers = attachment(job.result_name or "result", job.result_plain_name or "result")
    if job.row_count is not None:
        headers["X-Row-Count"] = str(job.row_count)
    if job.withheld_count is not None:
        headers["X-Withheld-Count"] = str(job.withheld_count)
    return StreamingResponse(
        read_chunks(stream),
        media_type=job.result_media_type or "application/octet-stream",
        headers=headers,
    )
