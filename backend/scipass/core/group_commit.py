"""Group commit: concurrent units of work committed together, one transaction per batch.

A commit costs more than a check-in's few inserts (on SQLite it writes every page the inserts
touched to the WAL; on PostgreSQL it waits for the WAL flush). Units that arrive while a batch
runs wait for the next one, which takes them all (up to ``max_batch``), runs them in one
transaction and commits once. Each caller gets its own result or error after the commit:
nothing is answered before it is durable.

The interface, all of it explicit:

* a unit of work is a callable ``work(session, shared)``;
* ``await commits.run(work, kind)`` runs it; units of one :class:`BatchKind` share their
  batch's round trips: the kind reads for all of them before the first runs (``prepare``,
  which returns the state they share, or None when they cannot share: then they read and
  write on their own), each unit gets that state as its ``shared`` argument and may defer its
  writes into it, the kind writes what they deferred after the last one (``flush``) and
  completes each unit's result with what the flush wrote (``settle``). A unit without a kind
  gets ``shared=None``.

A lone unit is a batch of one, so a kind's path is the same whatever the traffic. When a
batch fails in a way that may leave half its writes (an error that does not keep its writes,
a database error, a :class:`BatchConflict` from a flush), it is rolled back and each unit runs
again alone, as a batch of one; if its flush still conflicts (a key another transaction took
meanwhile), it runs once more without the kind (``shared=None``), which decides every conflict
row by row. A unit must therefore be able to run again: it may not do anything but write
through its session (the check-in rate limit, for one, is counted by the caller, once).

:class:`GroupCommit` runs batches in worker threads (one on SQLite: one writer; several on
PostgreSQL, so that round trips to the server are not the pace). :class:`InlineCommit` runs
every unit alone, at once, for a database bound to a test's connection.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import anyio
from sqlmodel import Session

from scipass.core import metrics
from scipass.core.db import Database
from scipass.core.errors import ProblemError

logger = logging.getLogger("scipass.db")

T = TypeVar("T")
S = TypeVar("S")

Work = Callable[[Session, Any], T]


class BatchKind(Protocol[S]):
    """Units of one kind that share their batch's round trips (see the module's docstring)."""

    def prepare(self, session: Session, works: Sequence[Any]) -> S | None: ...

    def flush(self, session: Session, shared: S) -> None: ...

    def settle(self, result: Any, shared: S) -> Any: ...


class BatchConflict(Exception):
    """A flush could not write what its units deferred as they judged it: the batch runs
    again unit by unit."""


def run_alone(database: Database, work: Work[T], kind: BatchKind[Any] | None) -> T:
    """One unit in a transaction of its own: as a batch of one of its kind, and once more
    without the kind if its flush conflicts."""
    if kind is not None:
        try:
            return _batch_of_one(database, work, kind)
        except BatchConflict:
            logger.info("a lone unit's flush conflicted; it runs without sharing")
    with database.unit_of_work() as session:
        return work(session, None)


def _batch_of_one(database: Database, work: Work[T], kind: BatchKind[Any]) -> T:
    with database.unit_of_work() as session:
        shared = kind.prepare(session, [work])
        result = work(session, shared)
        if shared is None:
            return result
        kind.flush(session, shared)
        return kind.settle(result, shared)


class InlineCommit:
    """Every unit alone, at once, in a worker thread (a database bound to a test's
    connection, which only one session may use at a time: units awaited together, as a
    family scan's are, run one after another)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._one_at_a_time = threading.Lock()

    async def run(self, work: Work[T], kind: BatchKind[Any] | None = None) -> T:
        return await anyio.to_thread.run_sync(self._run, work, kind)

    def _run(self, work: Work[T], kind: BatchKind[Any] | None) -> T:
        with self._one_at_a_time:
            return run_alone(self._database, work, kind)

    def start(self) -> None:
        pass


class GroupCommit:
    """Commits concurrent units together; see the module's docstring."""

    def __init__(self, database: Database, *, workers: int = 1, max_batch: int = 64) -> None:
        self._database = database
        self._max_batch = max_batch
        self._workers = workers
        self._queue: queue.SimpleQueue[Unit] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._start = threading.Lock()

    async def run(self, work: Work[T], kind: BatchKind[Any] | None = None) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._ensure_threads()
        self._queue.put(Unit(work, kind, loop, future))
        return await future

    def start(self) -> None:
        """Start the worker threads before the first unit arrives."""
        self._ensure_threads()

    def _ensure_threads(self) -> None:
        if len(self._threads) == self._workers and all(t.is_alive() for t in self._threads):
            return
        with self._start:
            self._threads = [t for t in self._threads if t.is_alive()]
            while len(self._threads) < self._workers:
                thread = threading.Thread(
                    target=self._serve,
                    name=f"scipass-group-commit-{len(self._threads)}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.run_batch(batch)
            except Exception as exc:  # never leave a caller waiting
                logger.exception("group commit failed")
                for unit in batch:
                    unit.answer(False, exc)

    def run_batch(self, batch: list[Unit]) -> None:
        """Run ``batch`` in one transaction, or (when that fails) each unit alone, and hand
        every caller its result or error."""
        metrics.batch_size.observe(len(batch))
        outcomes = self._together(batch)
        if outcomes is None:  # a unit failed mid-way: the batch was undone, each runs alone
            metrics.batch_fallbacks.inc()
            outcomes = [self._alone(unit) for unit in batch]
        for unit, (ok, value) in zip(batch, outcomes, strict=True):
            unit.answer(ok, value)

    def _together(self, batch: list[Unit]) -> list[tuple[bool, Any]] | None:
        """All units in one transaction, committed once; None (rolled back) as soon as one
        fails in a way that may leave half its writes. A refusal that keeps its writes (a
        refused scan and its event) is a complete unit, like a success."""
        kind = batch[0].kind if all(u.kind is batch[0].kind for u in batch) else None
        outcomes: list[tuple[bool, Any]] = []
        session = self._database.session()
        try:
            shared = kind.prepare(session, [u.work for u in batch]) if kind else None
            for unit in batch:
                try:
                    outcomes.append((True, unit.work(session, shared)))
                except ProblemError as exc:
                    if not exc.keep_writes:
                        session.rollback()
                        return None
                    outcomes.append((False, exc))
                except Exception:
                    session.rollback()
                    return None
            if kind is not None and shared is not None:
                kind.flush(session, shared)
                outcomes = [
                    (ok, kind.settle(value, shared) if ok else value) for ok, value in outcomes
                ]
            session.commit()
        except Exception:
            logger.warning("a batch of %d units failed to commit; running each alone", len(batch))
            session.rollback()
            return None  # each unit alone shows whose fault it was
        finally:
            session.close()
        return outcomes

    def _alone(self, unit: Unit) -> tuple[bool, Any]:
        try:
            return True, run_alone(self._database, unit.work, unit.kind)
        except Exception as exc:  # problems and failures alike go back to their caller
            return False, exc


@dataclass(frozen=True, slots=True)
class Unit(Generic[T]):
    """A unit of work waiting for its batch, and where its answer goes."""

    work: Work[T]
    kind: BatchKind[Any] | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]

    def answer(self, ok: bool, value: Any) -> None:
        """Hand the result to the caller's event loop; a loop that has closed has no caller
        left."""
        try:
            self.loop.call_soon_threadsafe(_settle, self.future, ok, value)
        except RuntimeError:
            logger.warning("a unit of work finished after its event loop closed")


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # cancelled (the caller went away) or already answered
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def for_database(database: Database) -> GroupCommit | InlineCommit:
    """Group commit for a database of its own engine (one worker thread on SQLite, which has
    one writer; four on PostgreSQL); every unit inline for one bound to a test's connection."""
    if database.bound_to_connection:
        return InlineCommit(database)
    return GroupCommit(database, workers=1 if database.engine.dialect.name == "sqlite" else 4)
