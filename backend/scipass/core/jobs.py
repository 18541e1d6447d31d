"""Scheduled jobs: plain functions of (session, now, settings) that the worker (``scipass
worker``, :mod:`scipass.jobs.worker`) runs every ``SCIPASS_JOBS_INTERVAL_SECONDS``, each once
per interval across all workers and hosts and in its own transaction, and that have a CLI
command each for cron or a manual run. The API process runs none.

Each domain registers its own jobs (a ``register_jobs(jobs)`` in its service); the app
(``scipass.main.scheduled_jobs``) asks every domain, so this module knows no domain.

Every job still decides by conditional updates and unique constraints, never by what it read
earlier, so a manual run beside the worker is safe too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from scipass.core.clock import Clock
from scipass.core.config import Settings
from scipass.core.db import Database

logger = logging.getLogger("scipass.jobs")

Job = Callable[[Session, datetime, Settings], int]


class Jobs:
    """The scheduled jobs the domains registered, by name, in the order they run."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def register(self, name: str, job: Job) -> None:
        if name in self._jobs:
            raise ValueError(f"job {name!r} is registered twice")
        self._jobs[name] = job

    def names(self) -> list[str]:
        return list(self._jobs)

    def run(self, name: str, session: Session, now: datetime, settings: Settings) -> int:
        """Run one job in ``session`` (the caller's transaction); how much it did."""
        return self._jobs[name](session, now, settings)

    def run_once(self, db: Database, clock: Clock, settings: Settings) -> dict[str, int]:
        """Run every job once, each in its own transaction; a failing job is logged and does
        not stop the others."""
        done: dict[str, int] = {}
        for name, job in self._jobs.items():
            try:
                with db.transaction() as session:
                    done[name] = job(session, clock.now(), settings)
            except Exception:
                logger.exception("job %s failed", name)
        return done
