"""Engines, sessions and the one place that commits.

One unit of work per request: :func:`get_session` opens a session, the route and its services
flush, and the session is committed after the route returns but *before* the response is
sent (the dependency is declared with ``scope="function"``), so a failing commit answers a
problem instead of a 200 whose row is lost. Nothing outside this module calls ``commit``.

SQLite gets WAL, foreign keys and a busy timeout on every connection, and real transactions:
pysqlite's own transaction handling is switched off and SQLAlchemy emits ``BEGIN IMMEDIATE``,
so savepoints work and a transaction takes the write lock when it starts. A deferred
transaction that reads and then writes fails at once (``SQLITE_BUSY_SNAPSHOT``, no busy wait)
whenever another writer committed in between; taking the lock up front makes concurrent
writers queue for up to the busy timeout instead. SQLite is the embedded engine; PostgreSQL,
with row-level concurrency, is the production one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, Request
from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    Insert,
    Integer,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import SessionTransaction, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

from scipass.core.errors import ProblemError, ServiceUnavailable
from scipass.core.replica import primary_position, wait_for_replay

logger = logging.getLogger("scipass.db")
T = TypeVar("T")

# Stable constraint names on both engines, so migrations can address them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Execution option of a connection that only reads (see :meth:`Database.read_only_session`).
READ_ONLY_OPTION = "scipass_read_only"


# Every primary and foreign key: 64-bit (why: ``scipass.core.inputs``). SQLite's INTEGER is
# 64-bit already, and only a column declared INTEGER becomes the rowid that numbers new rows.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """An instant stored in UTC and always read back as an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class WriterQueue:
    """The write lock of a SQLite engine, handed to waiting writers in the order they came.

    ``threading.Lock`` and ``Semaphore`` let a thread that releases and at once acquires again
    go ahead of the threads already waiting. A bulk write committed in steps
    (:mod:`scipass.checkin.door`) does just that between two steps, and the pupils' scans
    waiting for the writer (group commit's thread) must go first: :meth:`release` hands the
    lock straight to the longest waiting writer, and a newcomer queues behind it."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiting: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds behind those already waiting."""
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        if turn.acquire(timeout=timeout):
            return True  # handed over by release
        with self._mutex:
            try:
                self._waiting.remove(turn)
            except ValueError:  # handed over as the wait ran out: ours after all
                return True
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().release()  # still held: now by that writer
            else:
                self._held = False

    @property
    def waiting(self) -> int:
        """How many writers wait for the lock."""
        with self._mutex:
            return len(self._waiting)


def make_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, busy_timeout_ms: int = 5000
) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True
        )

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # SQLite has one writer at a time. Writers of this process queue for it in order
    # (WriterQueue) instead of polling the file lock with the busy handler's growing sleeps,
    # which under a crowd (a class scanning at once) starves some requests past the busy
    # timeout. Other processes still meet the file lock and its busy timeout.
    writer = WriterQueue()
    wait_seconds = max(busy_timeout_ms / 1000, 1.0) * 6

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            # Each statement commits on its own: a migration's autocommit block, which
            # switches foreign keys off or on (only possible outside a transaction).
            return
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            # A long read (a streamed export) takes a deferred transaction instead: in WAL
            # mode it reads one snapshot and never holds the write lock writers queue for.
            connection.exec_driver_sql("BEGIN")
            return
        if not writer.acquire(timeout=wait_seconds):
            raise ServiceUnavailable("系统繁忙，请稍后再试", "Busy; try again shortly")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.release()
            raise
        connection.info["sqlite_writer"] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection: Connection) -> None:
        if connection.info.pop("sqlite_writer", False):
            writer.release()

    return engine


# In ``session.info`` of the sessions of a Database with a read replica.
HAS_REPLICA = "scipass.has_replica"


class Database:
    """An engine and the session factory the app uses; and, when one is set, a read replica
    for exports and dashboards (:mod:`scipass.core.replica`), waited for
    ``replica_wait_seconds`` at most."""

    def __init__(
        self,
        engine: Engine,
        bind: Engine | Connection | None = None,
        *,
        replica: Engine | None = None,
        replica_wait_seconds: float = 10.0,
    ) -> None:
        self.engine = engine
        options: dict[str, Any] = {"class_": Session, "expire_on_commit": False}
        if bind is not None and isinstance(bind, Connection):
            # Tests: every commit releases a savepoint of a transaction that is rolled back.
            options["join_transaction_mode"] = "create_savepoint"
        if replica is not None:
            options["info"] = {HAS_REPLICA: True}  # a queued job notes the WAL position
        self.sessionmaker = sessionmaker(bind=bind if bind is not None else engine, **options)
        self.replica = replica
        self.replica_wait_seconds = replica_wait_seconds
        self._replica_sessions = (
            sessionmaker(bind=replica, class_=Session, expire_on_commit=False)
            if replica is not None
            else None
        )
        # A test's database is bound to one connection that sessions use in turn.
        self.bound_to_connection = isinstance(bind, Connection)
        pool = engine.pool
        connections = (pool.size() if isinstance(pool, QueuePool) else 5) + max(
            getattr(pool, "_max_overflow", 0), 0
        )
        # Group commit (core/group_commit.py) runs one batch at a time on SQLite, four on
        # PostgreSQL. Requests stay below the worker threads (40 by default), so that a
        # request holding a lock always finds a thread to finish on, and leave a connection
        # to each commit worker.
        workers = 1 if engine.dialect.name == "sqlite" else 4
        self.admissions = max(1, min(connections - workers, 30))
        self._gates: dict[int, anyio.Semaphore] = {}

    def gate(self) -> anyio.Semaphore:
        """How many requests may use the database at once (one per event loop)."""
        loop = id(asyncio.get_running_loop())
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = anyio.Semaphore(self.admissions)
        return gate

    @classmethod
    def from_settings(cls, settings: Any) -> Database:
        replica = (
            make_engine(
                settings.replica_database_url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
            )
            if settings.replica_database_url
            else None
        )
        return cls(
            make_engine(
                settings.database_url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            ),
            replica=replica,
            replica_wait_seconds=settings.replica_wait_seconds,
        )

    def dispose(self) -> None:
        """Close the pools' connections (the primary's and the replica's)."""
        self.engine.dispose()
        if self.replica is not None:
            self.replica.dispose()

    def primary_position(self) -> str | None:
        """The primary's WAL position now (PostgreSQL; ``None`` on SQLite)."""
        with self.engine.connect() as connection:
            return primary_position(connection)

    def session(self) -> Session:
        return self.sessionmaker()

    def read_only_session(self) -> Session:
        """A session for a long read outside a request, such as an export that streams after
        the request's session has closed. On SQLite it does not take the write lock, so
        check-ins go on while it reads; it must never write."""
        session = self.session()
        session.connection(execution_options={READ_ONLY_OPTION: True})
        return session

    def snapshot_session(self, *, after: str | None = None) -> Session:
        """A read-only session whose reads all see one snapshot: a count, the rows and what
        is derived from them agree (an export's header, audit entry and file). On PostgreSQL a
        ``REPEATABLE READ`` transaction; on SQLite the deferred read transaction of
        :meth:`read_only_session`, one snapshot in WAL mode. It must never write.

        With a read replica, the snapshot is the replica's, taken once the replica has
        replayed the primary's WAL position ``after`` (a queued job's, from when it was
        queued) or, without one, the primary's position now; :class:`ReplicaBehind` when it
        does not get there in ``replica_wait_seconds``."""
        options: dict[str, Any] = {READ_ONLY_OPTION: True}
        if self.replica is not None and self._replica_sessions is not None:
            position = after or self.primary_position()
            if position is not None:
                wait_for_replay(self.replica, position, timeout=self.replica_wait_seconds)
            session: Session = self._replica_sessions()
            options["isolation_level"] = "REPEATABLE READ"
        else:
            session = self.session()
            if self.engine.dialect.name == "postgresql" and not self.bound_to_connection:
                options["isolation_level"] = "REPEATABLE READ"
        session.connection(execution_options=options)
        return session

    def reporting_session(self) -> Session:
        """A read-only session for a dashboard's figures: on the read replica when one is set
        (not waited for: the figures may be as old as the replica's lag), otherwise
        :meth:`read_only_session` on the primary. It must never write."""
        if self._replica_sessions is not None:
            return self._replica_sessions()
        return self.read_only_session()

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A request's transaction: commit when the work succeeds, or when it fails with a
        problem that keeps its writes (a refused scan's event); roll back otherwise. The
        session dependency uses it, so does a hot-path route that runs its whole service
        call in one worker-thread hop, and so does a bulk write for each of its steps."""
        session = self.session()
        try:
            yield session
        except ProblemError as exc:
            if exc.keep_writes:
                session.commit()
            else:
                session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise
        else:
            session.commit()
        finally:
            session.close()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work outside a request (CLI, scheduled jobs): commit on success."""
        session = self.session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


@lru_cache(maxsize=64)
def _insert_ignoring(
    table: Table, conflict: tuple[str, ...], dialect: str, where: str | None
) -> Insert:
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(table)
        .on_conflict_do_nothing(
            index_elements=list(conflict), index_where=text(where) if where else None
        )
        .returning(table.c.id)
    )


def insert_ignoring(
    session: Session, table: Table, conflict: tuple[str, ...], *, where: str | None = None
) -> Insert:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING RETURNING id`` for ``table``, built once
    per dialect: execute it with the row's values as parameters. ``where`` names the partial
    unique index's condition when the conflict is on one. Building a statement costs ten
    times more than running it, which matters on the check-in path."""
    return _insert_ignoring(table, conflict, session.get_bind().dialect.name, where)


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction has committed, never when it rolls back:
    work outside the database that must follow the commit, such as removing a file that the
    committed rows no longer name. Releasing a savepoint is not the commit. A failing action is
    logged; the commit stands."""
    pending = True

    def committed(_session: Session) -> None:
        nonlocal pending
        if pending and not session.in_nested_transaction():
            pending = False
            try:
                action()
            except Exception:
                logger.exception("an action after commit failed")

    def ended(_session: Session, transaction: SessionTransaction) -> None:
        nonlocal pending
        if transaction.parent is None:  # committed (and run above) or rolled back
            pending = False

    event.listen(session, "after_commit", committed)
    event.listen(session, "after_transaction_end", ended)


def after_rollback(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` when the session's transaction ends without committing (the counterpart
    of :func:`after_commit`): undo work outside the database done inside the transaction, such
    as putting back a file set aside. A failing action is logged."""
    state = {"committed": False, "pending": True}

    def committed(_session: Session) -> None:
        if not session.in_nested_transaction():
            state["committed"] = True

    def ended(_session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None and state["pending"]:
            state["pending"] = False
            if not state["committed"]:
                try:
                    action()
                except Exception:
                    logger.exception("an action after rollback failed")

    event.listen(session, "after_commit", committed)
    event.listen(session, "after_transaction_end", ended)


def flush_unique(session: Session, error: ProblemError) -> None:
    """Flush in a savepoint; a unique or check constraint that refuses it raises ``error``
    (the duplicate, the taken name) and leaves the rest of the transaction intact."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise error from None


async def admit(request: Request) -> AsyncIterator[None]:
    """Wait for a turn at the database in the event loop, not in a worker thread.

    A sync route holds a worker thread while it waits for a connection or a lock, and FastAPI
    needs another worker thread to validate the response of the request that holds the lock
    before its session commits. With every worker thread waiting, that request could never
    finish (a crowd reserving one slot did exactly this); queuing here keeps threads free."""
    async with request.app.state.db.gate():
        yield


def get_session(
    request: Request, _admitted: Annotated[None, Depends(admit, scope="function")]
) -> Iterator[Session]:
    with request.app.state.db.unit_of_work() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

# A turn at the database for a route that opens its transactions itself, through
# Database.unit_of_work (a bulk write committed in steps).
AdmittedDep = Annotated[None, Depends(admit, scope="function")]


def _reading(session: Session) -> Iterator[Session]:
    """A session that only reads, handed to a route and ended after it."""
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def get_read_only_session(
    request: Request, _admitted: Annotated[None, Depends(admit, scope="function")]
) -> Iterator[Session]:
    """A session for a route that only reads and is called often (a venue screen polling):
    on SQLite it never takes the write lock that check-ins queue for."""
    yield from _reading(request.app.state.db.read_only_session())


ReadOnlySessionDep = Annotated[Session, Depends(get_read_only_session, scope="function")]


def get_reporting_session(
    request: Request, _admitted: Annotated[None, Depends(admit, scope="function")]
) -> Iterator[Session]:
    """A read for a dashboard (:meth:`Database.reporting_session`): on the read replica when
    one is set."""
    yield from _reading(request.app.state.db.reporting_session())


ReportingSessionDep = Annotated[Session, Depends(get_reporting_session, scope="function")]
