"""A guardian scans once for several linked children at the door (``POST /checkins/family``).

Each child's scan is the self-scan of :mod:`scipass.checkin.self_scan`, unchanged: the link
read on every scan, the child's rules, consents and rate, the child's own visit, record and
scan event, the guardian as operator. The scans run as units of group commit awaited together,
so they usually share one batch; each has its own answer, and one child's refusal (consent,
stage, capacity, link) leaves the others' visits standing.

The request's ``Idempotency-Key`` is claimed for the whole request first
(:func:`scipass.core.idempotency.claim`: the same key with other children or another code
answers 409 ``idempotency_key_reused``), then each child's scan takes a key of its own derived
from it (:func:`child_key`). A retry of the request therefore replays each child's first scan
and answers each child's first result again, and identical requests racing each other make
one visit per child, whatever the engine.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlmodel import Session

from scipass.checkin.models import ScanEvent, ScanResult
from scipass.checkin.schemas import FamilyCheckIn
from scipass.checkin.self_scan import run_self_scan
from scipass.checkin.views import ScanCache
from scipass.checkin.visits import Outcome
from scipass.core import idempotency as core_idempotency
from scipass.core.auth import Principal
from scipass.core.config import Settings
from scipass.core.errors import ProblemError
from scipass.core.group_commit import GroupCommit, InlineCommit

# How long a scan event's key may be (its column).
NONCE_LENGTH: int = ScanEvent.__table__.c.nonce.type.length  # type: ignore[attr-defined]  # SQLModel declares no __table__


def child_key(key: str, student_id: int) -> str:
    """The key of one child's scan in a family scan sent with ``key``: ``<key>:<student id>``,
    or, where that would not fit the scan event's column, a digest of the key in its place."""
    derived = f"{key}:{student_id}"
    if len(derived) <= NONCE_LENGTH:
        return derived
    return f"{hashlib.sha256(key.encode()).hexdigest()[:40]}:{student_id}"


@dataclass(frozen=True, slots=True)
class ChildScan:
    """One child's result in a family scan: the visit and its activity's title, or the
    problem that refused the scan."""

    student_id: int
    result: ScanResult
    visit: tuple[Outcome, str] | None = None
    refusal: ProblemError | None = None


def _claim(
    session: Session,
    shared: Any,
    *,
    subject: str,
    idempotency: core_idempotency.Idempotency,
    now: datetime,
) -> bool:
    """Group commit's unit that claims the request's key (it writes, so on SQLite it runs in
    the one writer's turn)."""
    return core_idempotency.claim(session, subject=subject, idempotency=idempotency, now=now)


async def family_scan(
    commits: GroupCommit | InlineCommit,
    *,
    settings: Settings,
    cache: ScanCache,
    guardian: Principal,
    data: FamilyCheckIn,
    idempotency: core_idempotency.Idempotency,
    now: datetime,
) -> list[ChildScan]:
    """Scan ``data.code`` for each of ``data.student_ids``, in their order. Raises only what
    concerns the whole request (its key used for another request, a database failure)."""
    await commits.run(partial(_claim, subject=guardian.subject, idempotency=idempotency, now=now))
    answers = await asyncio.gather(
        *(
            run_self_scan(
                commits,
                settings=settings,
                cache=cache,
                actor=guardian,
                student_id=student_id,
                data=data,
                nonce=child_key(idempotency.key, student_id),
                now=now,
            )
            for student_id in data.student_ids
        ),
        return_exceptions=True,
    )
    results: list[ChildScan] = []
    for student_id, answer in zip(data.student_ids, answers, strict=True):
        if isinstance(answer, ProblemError):
            results.append(ChildScan(student_id, ScanResult.refused, refusal=answer))
        elif isinstance(answer, BaseException):
            raise answer  # not a refusal: the request fails, and its retry replays the rest
        else:
            outcome = answer[0]
            results.append(
                ChildScan(student_id, outcome.first_result or outcome.result, visit=answer)
            )
    return results
