"""Deletion requests (PIPL art. 47; 《儿童个人信息网络保护规定》 art. 20): asked by a guardian or
a pupil of 14 and over, seen by the school, carried out by a scheduled job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from scipass.core.callers import SchoolStaff
from scipass.core.clock import ClockDep
from scipass.core.db import SessionDep
from scipass.core.deps import SettingsDep
from scipass.core.errors import problem_responses
from scipass.core.pagination import Page, PageDep
from scipass.deletion import service
from scipass.deletion.errors import DeletionRequestNotFound, DeletionThroughGuardian
from scipass.deletion.models import DeletionStatus
from scipass.deletion.schemas import DeletionRequestRead, SchoolDeletionRequest
from scipass.roster.acting import ActingStudent, ChildActsForSelf
from scipass.roster.errors import StudentNotFound

router = APIRouter(tags=["deletion"])

_WHO = (
    "家长为已关联的孩子申请（`student_id` 指明孩子；关联已解除或不是自己的孩子返回 404）；"
    "年满 14 周岁的学生可为本人申请。未满 14 周岁的学生由家长申请（返回 403 "
    "`deletion_through_guardian`）。"
)


@router.post(
    "/me/deletion-request",
    name="my-deletion-request-create",
    status_code=201,
    summary="申请删除孩子（或本人）的个人信息",
    description="记录删除申请并答复：申请、最迟执行日期，以及将删除和不删除的信息"
    "（《个人信息保护法》第四十七条，《儿童个人信息网络保护规定》第二十条）。"
    "后台任务在下一次运行时执行（最迟在 `due_at` 之前）：删除微信绑定与家长关联、网络地址、"
    "位置信息和不被已归档记录需要的证明材料文件；尚未归档的写实记录撤回并删除心得体会和证明材料；"
    "已归档的写实记录保留（学校依法保存综合素质评价档案）。每个学生同时只有一个未执行的申请："
    "再次申请返回该申请（200）。只撤回某一项同意请用同意接口。\n\n" + _WHO,
    responses=problem_responses(StudentNotFound, DeletionThroughGuardian, ChildActsForSelf),
)
def create_deletion_request(
    caller: ActingStudent,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
) -> DeletionRequestRead:
    request, new = service.request_deletion(
        session, principal=caller, now=clock.now(), settings=settings
    )
    if not new:
        response.status_code = 200
    return DeletionRequestRead.of(request)


@router.get(
    "/me/deletion-request",
    name="my-deletion-request",
    summary="孩子（或本人）最近的删除申请",
    description="最近一次删除申请及其状态。执行后家长与孩子的关联已删除，家长不能再查看。\n\n"
    + _WHO,
    responses=problem_responses(StudentNotFound, DeletionRequestNotFound, ChildActsForSelf),
)
def my_deletion_request(caller: ActingStudent, session: SessionDep) -> DeletionRequestRead:
    return DeletionRequestRead.of(service.latest(session, caller.student_id or 0))


@router.get(
    "/deletion-requests",
    name="school-deletion-requests",
    summary="本校学生的删除申请",
    description="本校学生（或其家长）提出的删除申请，最新的在前；可按状态筛选。",
)
def school_deletion_requests(
    caller: SchoolStaff,
    session: SessionDep,
    page: PageDep,
    status: Annotated[DeletionStatus | None, Query(description="只看此状态的申请")] = None,
) -> Page[SchoolDeletionRequest]:
    rows = service.of_school(session, school_id=caller.school_id or 0, status=status)
    return Page[SchoolDeletionRequest].sliced(
        [
            SchoolDeletionRequest(
                id=request.id or 0,
                student_id=request.student_id,
                student_no=student.student_no,
                name=student.name,
                grade=student.grade,
                class_name=student.class_name,
                status=DeletionStatus(request.status),
                requested_at=request.requested_at,
                requested_by_role=request.requested_by_role,
                due_at=request.due_at,
                carried_out_at=request.carried_out_at,
            )
            for request, student in rows
        ],
        page,
    )
