"""Reading the audit log: the platform everywhere, a school its own, a bureau its region."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query

from scipass.audit import service as audit_service
from scipass.audit.schemas import AuditEntry
from scipass.core.callers import AuditReader
from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.pagination import Page, PageDep

router = APIRouter(tags=["audit"])


@router.get(
    "/audit-logs",
    name="audit-log-list",
    summary="审计日志",
    description="登录、名单导入、绑定与解绑、同意变更、导出等操作的记录，最新的在前。",
    responses=problem_responses(),
)
def list_audit_logs(
    caller: AuditReader,
    session: SessionDep,
    page: PageDep,
    action: Annotated[audit_service.Action | None, Query(description="操作类型")] = None,
) -> Page[AuditEntry]:
    rows, total = audit_service.list_entries(
        session, principal=caller, page=page, action=action.value if action else None
    )
    items = [
        AuditEntry(
            id=r.id or 0,
            at=r.at,
            action=r.action,
            actor=r.actor,
            actor_role=r.actor_role,
            object_type=r.object_type,
            object_id=r.object_id,
            school_id=r.school_id,
            client_ip=r.client_ip,
            detail=json.loads(r.detail),
        )
        for r in rows
    ]
    return Page[AuditEntry].of(items, total, page)
