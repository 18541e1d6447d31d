"""Liveness and readiness for load balancers and the container's HEALTHCHECK."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from scipass.core import migrations
from scipass.core.auth import public_access
from scipass.core.errors import ServiceUnavailable

logger = logging.getLogger("scipass.health")

# How long /readyz waits for the change listener to connect once the database answers.
_LISTEN_WAIT_SECONDS = 2.0

router = APIRouter(tags=["health"], dependencies=[Depends(public_access)])


class Health(BaseModel):
    status: str


@router.get("/healthz", name="health-live", summary="进程存活")
def healthz() -> Health:
    return Health(status="ok")


class DatabaseNotReady(ServiceUnavailable):
    code = "database_not_ready"
    title_zh = "数据库未就绪"
    title_en = "Database not ready"


@router.get(
    "/readyz",
    name="health-ready",
    summary="可以接收请求",
    description=(
        "数据库可以连接且已迁移到最新版本、（PostgreSQL）本进程已在监听数据变更通知时为 200，"
        "否则为 503。"
    ),
    responses={503: {"description": "`database_not_ready`（数据库未就绪）"}},
)
def readyz(request: Request) -> Health:
    try:
        with request.app.state.db.engine.connect() as connection:
            ready = migrations.is_at_head(connection)
    except SQLAlchemyError as exc:
        logger.warning("readiness: database unreachable: %s", exc.__class__.__name__)
        raise DatabaseNotReady("无法连接数据库", "The database cannot be reached") from None
    if not ready:
        raise DatabaseNotReady("数据库尚未迁移到最新版本", "The database is not migrated to head")
    listener = getattr(request.app.state, "listener", None)
    if listener is not None and not listener.listening.is_set():
        # PostgreSQL: without LISTEN this process would not hear of a revoked code or a
        # cancelled activity. The database answers, so ask the listener to reconnect now
        # rather than at the end of its back-off, and give it a moment.
        listener.wake()
        if not listener.listening.wait(_LISTEN_WAIT_SECONDS):
            raise DatabaseNotReady(
                "尚未开始监听数据变更通知", "Not yet listening for changes (LISTEN)"
            )
    return Health(status="ready")
