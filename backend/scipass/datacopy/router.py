"""Access and copy (PIPL art. 45): a pupil's data as JSON, the evidence files as a ZIP job."""

from __future__ import annotations

from fastapi import APIRouter, Response

from scipass.core.clock import ClockDep
from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.exports import attachment
from scipass.datacopy import collect, evidence
from scipass.datacopy.errors import CopyThroughGuardian
from scipass.datacopy.schemas import DataCopy
from scipass.jobs.schemas import JobRead
from scipass.roster.acting import ActingStudent
from scipass.roster.errors import StudentNotFound

router = APIRouter(tags=["data-copy"])

_WHO = (
    "家长为已关联的孩子申请（`student_id` 指明孩子；关联已解除或不是自己的孩子返回 404）；"
    "年满 14 周岁的学生可为本人申请。未满 14 周岁的学生由家长申请（返回 403 "
    "`data_copy_through_guardian`）；已满 14 周岁并绑定了自己微信的学生由本人申请"
    "（家长返回 403 `child_acts_for_self`）。"
)


@router.get(
    "/me/data-copy",
    name="my-data-copy",
    summary="下载孩子（或本人）的个人信息副本（JSON）",
    description="平台保存的该学生全部个人信息，一个 JSON 文件（《个人信息保护法》第四十五条）："
    "学籍名册、微信绑定与家长关联、同意记录（含历史）、到馆签到及扫码、写实记录及变更历史、"
    "证明材料说明、预约、竞赛报名、志愿服务、后备人才跟踪，以及查看或导出该学生信息的审计记录。"
    "不含任何其他学生的信息。在请求中直接生成；证明材料文件另用 `POST /me/data-copy/evidence` "
    "打包。每次下载记入审计日志（`child_data_copied`）。\n\n" + _WHO,
    responses=problem_responses(StudentNotFound, CopyThroughGuardian),
)
def my_data_copy(
    caller: ActingStudent, session: SessionDep, clock: ClockDep, response: Response
) -> DataCopy:
    document = collect.data_copy(session, principal=caller, now=clock.now())
    student_no = document["student"]["student_no"]
    response.headers.update(
        attachment(f"个人信息副本-{student_no}.json", f"data-copy-{student_no}.json")
    )
    return DataCopy.model_validate(document)


@router.post(
    "/me/data-copy/evidence",
    name="my-data-copy-evidence",
    summary="打包孩子（或本人）的证明材料文件（ZIP，后台任务）",
    description="该学生本人写实记录的全部证明材料文件打包为 ZIP，附 `manifest.json`"
    "（每个文件对应的记录、哈希、类型、大小；已隔离或缺失的文件注明原因）。"
    "在后台进程中生成，返回 202 和任务；用 `GET /jobs/{job_id}` 查询进度，完成后从 "
    "`download_url` 下载。完成时记入审计日志（`child_evidence_copied`）。\n\n" + _WHO,
    status_code=202,
    responses=problem_responses(StudentNotFound, CopyThroughGuardian),
)
def my_data_copy_evidence(caller: ActingStudent, session: SessionDep, clock: ClockDep) -> JobRead:
    job = evidence.queue_evidence_copy(session, principal=caller, now=clock.now())
    return JobRead.of(job)
