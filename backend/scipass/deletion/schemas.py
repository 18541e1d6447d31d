from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from scipass.deletion.models import DeletionRequest, DeletionStatus
from scipass.deletion.service import WILL_DELETE, WILL_KEEP


class DeletionRequestRead(BaseModel):
    id: int
    student_id: int
    status: DeletionStatus
    requested_at: datetime
    requested_by_role: str = Field(description="`guardian`（家长）或 `student`（学生本人）")
    due_at: datetime = Field(description="最迟执行日期（申请后 `SCIPASS_DELETION_PERIOD_DAYS` 天）")
    carried_out_at: datetime | None
    will_delete: list[str] = Field(description="将删除的信息")
    will_keep: list[str] = Field(description="不删除的信息及原因")

    @classmethod
    def of(cls, request: DeletionRequest) -> DeletionRequestRead:
        return cls(
            id=request.id or 0,
            student_id=request.student_id,
            status=DeletionStatus(request.status),
            requested_at=request.requested_at,
            requested_by_role=request.requested_by_role,
            due_at=request.due_at,
            carried_out_at=request.carried_out_at,
            will_delete=WILL_DELETE,
            will_keep=WILL_KEEP,
        )


class SchoolDeletionRequest(BaseModel):
    id: int
    student_id: int
    student_no: str
    name: str
    grade: int
    class_name: str
    status: DeletionStatus
    requested_at: datetime
    requested_by_role: str
    due_at: datetime
    carried_out_at: datetime | None
