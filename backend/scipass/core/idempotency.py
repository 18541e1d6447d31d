"""Idempotency keys: one rule for every write that takes an ``Idempotency-Key`` header.

A phone on a weak connection sends a write again when it saw no answer. With the same key
and the same request, the retry answers what the first one did and writes nothing more. The
same key with a different request (another path, such as another slot, or another body) is
the client's mistake and answers 409 ``idempotency_key_reused``, writing nothing.

A key belongs to its caller. The request it was first used for is kept as a fingerprint: the
method, the path and the body as canonical JSON, hashed. :func:`claim` records a new key and
its fingerprint with one ``INSERT … ON CONFLICT DO NOTHING``, in the request's transaction: a
concurrent request with the same key waits for the first one's commit, then finds its
fingerprint. A request that fails rolls its key back with everything else, so its retry runs
afresh. Keys are kept ``SCIPASS_IDEMPOTENCY_RETENTION_DAYS`` (7 by default; the
``purge-idempotency-keys`` job), far longer than any phone retries.

Check-in (``POST /checkins``, the hot path) applies the same rule to the keys it keeps on its
scan events, with the same answer, instead of a second write per scan. The two stores see each
other: a scan looks for its key here too, and :func:`claim` asks the stores registered with
:func:`register_key_store` (check-in's, by ``create_app``), so a key is one request's across
every path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import Column, Index, String, delete
from sqlmodel import Field, Session, SQLModel, col, select

from scipass.core.config import Settings
from scipass.core.db import IdType, UTCDateTime, insert_ignoring
from scipass.core.errors import Conflict
from scipass.core.jobs import Jobs

KEY_PATTERN = r"^[!-~]{8,64}$"  # 8 to 64 visible ASCII characters: a UUID, a base64 nonce


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    title_zh = "该幂等键已用于另一个请求"
    title_en = "This idempotency key was used for another request"


class IdempotencyKeyRecord(SQLModel, table=True):
    """A key a caller has used, and the request it was used for."""

    __tablename__ = "idempotency_key"
    __table_args__ = (
        Index("uq_idempotency_key_subject_key", "subject", "key", unique=True),
        Index("ix_idempotency_key_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    subject: str = Field(sa_column=Column(String(40), nullable=False))
    key: str = Field(sa_column=Column(String(64), nullable=False))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


@dataclass(frozen=True, slots=True)
class Idempotency:
    """A request's key and the fingerprint of the request."""

    key: str
    fingerprint: str


_KEY_DESCRIPTION = (
    "客户端为这次请求生成的幂等键（如 UUID）；网络重试时带同一个键，"
    "返回第一次的结果，不会重复创建。同一个键用于另一个请求（路径或内容不同）返回 409 "
    "`idempotency_key_reused`"
)


async def idempotency(
    request: Request,
    key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", pattern=KEY_PATTERN, description=_KEY_DESCRIPTION),
    ] = None,
) -> Idempotency | None:
    """The request's key with its fingerprint, or None without a key."""
    if key is None:
        return None
    return Idempotency(key=key, fingerprint=await _fingerprint(request))


async def required_idempotency(
    request: Request,
    key: Annotated[
        str, Header(alias="Idempotency-Key", pattern=KEY_PATTERN, description=_KEY_DESCRIPTION)
    ],
) -> Idempotency:
    """The request's key with its fingerprint, for a write that requires a key."""
    return Idempotency(key=key, fingerprint=await _fingerprint(request))


async def _fingerprint(request: Request) -> str:
    """The request a key is used for: method, path with query, and body as canonical JSON,
    hashed."""
    body = await request.body()  # already read and kept by FastAPI for the body parameter
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except ValueError:
        canonical = body.hex()
    # The query names the child a guardian acts for (``?student_id=``): part of the request.
    query = "&".join(sorted(f"{k}={v}" for k, v in request.query_params.multi_items()))
    target = f"{request.url.path}?{query}" if query else request.url.path
    described = f"{request.method} {target}\n{canonical}"
    return hashlib.sha256(described.encode()).hexdigest()


IdempotencyDep = Annotated[Idempotency | None, Depends(idempotency)]
RequiredIdempotencyDep = Annotated[Idempotency, Depends(required_idempotency)]


# Other places a caller's keys are kept: (session, subject, key) -> whether the key is used.
KeyStore = Callable[[Session, str, str], bool]
_KEY_STORES: list[KeyStore] = []


def register_key_store(store: KeyStore) -> None:
    """Make :func:`claim` refuse keys that ``store`` already holds (once per store)."""
    if store not in _KEY_STORES:
        _KEY_STORES.append(store)


def claim(
    session: Session, *, subject: str, idempotency: Idempotency | None, now: datetime
) -> bool:
    """True when the request is to be carried out (no key, or a new one, now recorded);
    False when the same request came with this key before (the caller answers what it did
    then). Raises :class:`IdempotencyKeyReused` when the key was used for another request."""
    if idempotency is None:
        return True
    table = IdempotencyKeyRecord.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
    inserted = session.execute(
        insert_ignoring(session, table, ("subject", "key")),
        {
            "subject": subject,
            "key": idempotency.key,
            "fingerprint": idempotency.fingerprint,
            "created_at": now,
        },
    ).first()
    if inserted is not None:
        if any(store(session, subject, idempotency.key) for store in _KEY_STORES):
            raise IdempotencyKeyReused()
        return True
    first = session.exec(
        select(IdempotencyKeyRecord.fingerprint).where(
            IdempotencyKeyRecord.subject == subject, IdempotencyKeyRecord.key == idempotency.key
        )
    ).one()
    if first != idempotency.fingerprint:
        raise IdempotencyKeyReused()
    return False


def purge(session: Session, now: datetime, settings: Settings) -> int:
    """Forget the keys older than ``SCIPASS_IDEMPOTENCY_RETENTION_DAYS``; returns how many
    (the ``purge-idempotency-keys`` job)."""
    before = now - timedelta(days=settings.idempotency_retention_days)
    result = session.exec(
        delete(IdempotencyKeyRecord).where(col(IdempotencyKeyRecord.created_at) < before)
    )
    return int(result.rowcount or 0)


def register_jobs(jobs: Jobs) -> None:
    jobs.register("purge-idempotency-keys", purge)
