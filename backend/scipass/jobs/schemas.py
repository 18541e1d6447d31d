from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from scipass.jobs.models import Job, JobStatus


class JobRead(BaseModel):
    id: int
    kind: str = Field(description="任务类型，如 `record-export`（写实记录导出）")
    status: JobStatus = Field(
        description="`queued` 排队中，`running` 进行中，`done` 完成（可下载），"
        "`failed` 失败（见 `error_code`），`expired` 文件已过期删除"
    )
    progress_done: int = Field(description="已处理的行数")
    progress_total: int | None = Field(description="总行数（开始后可知）")
    attempts: int = Field(description="已尝试次数（处理进程意外退出后会重试）")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    row_count: int | None = Field(description="文件中的行数（完成后）")
    withheld_count: int | None = Field(
        default=None,
        description="写实记录导出（`record-export`）中，因未满 14 周岁且监护人未同意"
        "“评价导出”而未导出的记录数（完成后；其他任务为 null）",
    )
    error_code: str | None = Field(description="失败原因代码，如 `worker_lost`")
    expires_at: datetime | None = Field(description="文件保留到此时间，之后下载返回 410")
    download_url: str | None = Field(description="完成后的下载地址")

    @classmethod
    def of(cls, job: Job) -> JobRead:
        return cls(
            id=job.id or 0,
            kind=job.kind,
            status=JobStatus(job.status),
            progress_done=job.progress_done,
            progress_total=job.progress_total,
            attempts=job.attempts,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            row_count=job.row_count,
            withheld_count=job.withheld_count,
            error_code=job.error_code,
            expires_at=job.expires_at,
            download_url=(
                f"/api/v1/jobs/{job.id}/result" if job.status == JobStatus.done.value else None
            ),
        )
