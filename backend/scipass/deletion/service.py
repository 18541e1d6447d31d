"""Deletion requests: recorded and acknowledged here, carried out by
:mod:`scipass.deletion.jobs`.

Who asks: a guardian for a linked child (family mode, :data:`scipass.roster.acting.ActingStudent`:
another family's child is 404), or a pupil of 14 and over for themselves; a pupil under 14 asks
through the guardian (:class:`DeletionThroughGuardian`). One request is open per pupil (a
partial unique index): asking again answers the open one and records nothing new.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.consent.service import is_under_14
from scipass.core.auth import Principal, Role
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.db import insert_ignoring
from scipass.deletion.errors import DeletionRequestNotFound, DeletionThroughGuardian
from scipass.deletion.models import OPEN, DeletionRequest, DeletionStatus
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import Student

# What a request deletes and what it keeps (the answer, the README and the notice say the same).
WILL_DELETE = [
    "微信绑定与 openid 对应关系：学生本人的微信账号绑定，以及家长与该学生的关联",
    "设备与网络地址：审计日志中该学生及代其操作的家长的客户端 IP 地址",
    "位置信息：签到扫码时保存的位置、精度和与场馆的距离",
    "尚未归档的写实记录：撤回，并删除其中的个人内容（心得体会、证明材料文件）",
    "不被任何已归档记录需要的证明材料文件",
]
WILL_KEEP = [
    "已归档的写实记录及其证明材料：学校依法保存综合素质评价档案（学校自身的法定义务）",
    "学校的学籍名册条目（学号、姓名、年级班级等，由学校管理）",
    "签到扫码的结果和时间（不含位置），以及审计日志条目本身（不含 IP 地址）",
    "同意记录：证明曾取得监护人同意的凭据",
    "删除日志：删除了哪类信息、多少条、何时、为何删除，不含被删除的内容",
]


_TABLE: Table = DeletionRequest.__table__  # type: ignore[attr-defined]  # SQLModel sets it


def request_deletion(
    session: Session, *, principal: Principal, now: datetime, settings: Settings
) -> tuple[DeletionRequest, bool]:
    """Record ``principal``'s request to delete the pupil's data (or answer the open one);
    the request, and whether it is new."""
    student = session.get(Student, principal.student_id) if principal.student_id else None
    if student is None or student.id is None:
        raise StudentNotFound()
    if principal.role is Role.student and is_under_14(student.birth_month, local_date(now)):
        raise DeletionThroughGuardian()
    new_id = (
        session.connection()
        .execute(
            insert_ignoring(session, _TABLE, ("student_id",), where=OPEN),
            {
                "student_id": student.id,
                "school_id": student.school_id,
                "requested_by": principal.subject,
                "requested_by_role": principal.role.value,
                "requested_at": now,
                "due_at": now + timedelta(days=settings.deletion_period_days),
                "status": DeletionStatus.pending.value,
                "carried_out_at": None,
            },
        )
        .scalar_one_or_none()
    )
    if new_id is not None:
        audit_service.record(
            session,
            action=audit_service.Action.deletion_requested,
            at=now,
            actor=principal,
            object_type="student",
            object_id=student.id,
            school_id=student.school_id,
            request_id=int(new_id),
        )
    return latest(session, student.id), new_id is not None


def latest(session: Session, student_id: int) -> DeletionRequest:
    """The pupil's latest request (the open one, if any)."""
    found = session.exec(
        select(DeletionRequest)
        .where(DeletionRequest.student_id == student_id)
        .order_by(col(DeletionRequest.id).desc())
        .limit(1)
    ).first()
    if found is None:
        raise DeletionRequestNotFound()
    return found


def of_school(
    session: Session, *, school_id: int, status: DeletionStatus | None
) -> list[tuple[DeletionRequest, Student]]:
    """A school's pupils' requests, newest first."""
    query = (
        select(DeletionRequest, Student)
        .join(Student, col(Student.id) == DeletionRequest.student_id)
        .where(DeletionRequest.school_id == school_id)
        .order_by(col(DeletionRequest.requested_at).desc(), col(DeletionRequest.id).desc())
    )
    if status is not None:
        query = query.where(DeletionRequest.status == status.value)
    return [(request, student) for request, student in session.exec(query).all()]
