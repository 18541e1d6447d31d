"""Scheduled jobs: plain functions of (session, now) that `scipass serve` runs at start-up
and then every ``SCIPASS_JOBS_INTERVAL_SECONDS``, each in its own transaction, and that have
a CLI command each for cron or a manual run.

With several workers or servers, each runs the jobs; that is safe because every job decides
by conditional updates and unique constraints, never by what it read earlier.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import anyio
from sqlmodel import Session

from scipass.core.clock import Clock
from scipass.core.db import Database

logger = logging.getLogger("scipass.jobs")

Job = Callable[[Session, datetime], int]


def _archive_records(session: Session, now: datetime) -> int:
    from scipass.record import service as record_service

    return record_service.archive_due(session, now=now)


def _close_visits(session: Session, now: datetime) -> int:
    from scipass.checkin import service as checkin_service

    return checkin_service.close_due_visits(session, now=now)


def _purge_telemetry(session: Session, now: datetime) -> int:
    from scipass.checkin import service as checkin_service
    from scipass.core.config import get_settings

    days = get_settings().telemetry_retention_days
    return checkin_service.purge_telemetry(session, before=now - timedelta(days=days))


def _purge_idempotency_keys(session: Session, now: datetime) -> int:
    from scipass.core import idempotency

    return idempotency.purge(session, now=now)


def _clean_evidence(session: Session, now: datetime) -> int:
    from scipass.core.config import get_settings
    from scipass.record import evidence_cleanup

    return evidence_cleanup.clean_stored(session, settings=get_settings(), now=now)


JOBS: dict[str, Job] = {
    "close-visits": _close_visits,
    "archive-records": _archive_records,
    "purge-telemetry": _purge_telemetry,
    "purge-idempotency-keys": _purge_idempotency_keys,
    "clean-evidence": _clean_evidence,
}


def run_once(db: Database, clock: Clock) -> dict[str, int]:
    """Run every job once; a failing job is logged and does not stop the others."""
    done: dict[str, int] = {}
    for name, job in JOBS.items():
        try:
            with db.transaction() as session:
                done[name] = job(session, clock.now())
        except Exception:
            logger.exception("job %s failed", name)
    return done


async def run_forever(db: Database, clock: Clock, interval_seconds: float) -> None:
    while True:
        done = await anyio.to_thread.run_sync(run_once, db, clock)
        if any(done.values()):
            logger.info("jobs done: %s", done)
        await asyncio.sleep(interval_seconds)
