"""Tell every serving process that something it may keep a copy of has changed, through
PostgreSQL's ``LISTEN``/``NOTIFY`` on the database every instance already shares.

A writer calls :func:`send` inside its transaction: PostgreSQL delivers a ``NOTIFY`` when the
transaction commits, and never for one rolled back, so a process hears of a change only once
it is visible. Each serving process runs one :class:`Listener`: a background thread with a
connection of its own (outside the pool) that ``LISTEN``\\ s and hands each message to the
process's handler. When that connection drops, messages may have been missed meanwhile: the
listener reconnects and calls ``on_reset`` (drop every copy) before it hands on messages again.

SQLite has one serving process and no listener: there :func:`send` hands the message, after
the commit, to the receivers the process registered with :func:`hear_locally` (each app's
scan cache), so a change reaches the copies on either engine.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Protocol

import psycopg
from sqlalchemy import Engine, text
from sqlmodel import Session

from scipass.core.db import after_commit

logger = logging.getLogger("scipass.notify")

CHANNEL = "scipass_changed"
APPLICATION_NAME = "scipass-listen"  # the listener's connection in pg_stat_activity
# How often the listener wakes to see whether it is stopped (a poll of its socket, no query).
_WAKE_SECONDS = 0.2
# How long the listener waits for a message before it checks that its connection is alive.
_IDLE_CHECK_SECONDS = 5.0


class Receiver(Protocol):
    def changed(self, message: str) -> None: ...


# SQLite's one process: who hears its changes (held weakly: an app that is gone is not kept).
_local: list[weakref.ref[Receiver]] = []


def hear_locally(receiver: Receiver) -> None:
    """Have ``receiver.changed(message)`` called after each commit that sent a message, on an
    engine without ``LISTEN`` (SQLite, one process)."""
    _local[:] = [ref for ref in _local if ref() is not None]
    _local.append(weakref.ref(receiver))


def send(session: Session, kind: str, name: object) -> None:
    """Announce that ``name`` of ``kind`` (``code``, ``activity``...) changed, as the message
    ``kind:name``, when the session's transaction commits: to every process's listener on
    PostgreSQL, to this process's receivers (:func:`hear_locally`) on SQLite."""
    message = f"{kind}:{name}"
    if session.get_bind().dialect.name != "postgresql":
        receivers = list(_local)
        session.connection()  # in the transaction the change is part of (begun if need be)

        def deliver() -> None:
            for ref in receivers:
                if (receiver := ref()) is not None:
                    receiver.changed(message)

        after_commit(session, deliver)
        return
    session.execute(
        text("SELECT pg_notify(:channel, :message)"), {"channel": CHANNEL, "message": message}
    )


class Listener:
    """``LISTEN`` on :data:`CHANNEL` from a thread of its own until :meth:`stop`, calling
    ``on_message`` with each message and ``on_reset`` on each (re)connection."""

    def __init__(
        self,
        engine: Engine,
        *,
        on_message: Callable[[str], None],
        on_reset: Callable[[], None],
        retry_seconds: float = 1.0,
    ) -> None:
        # The engine's own connection arguments (host, user, TLS...), for a connection that
        # no pool hands out and that nothing else uses.
        self._connect_args = engine.dialect.create_connect_args(engine.url)
        self._on_message, self._on_reset = on_message, on_reset
        self._retry = retry_seconds
        self._stop = threading.Event()
        self.listening = threading.Event()  # set while LISTEN is in force
        self._thread = threading.Thread(target=self._run, name="scipass-listen", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: the thread ends, closing its connection, within a fraction of a
        second (not waited for: an app built per test would wait for each)."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # a dropped connection, a restarting server: try again
                logger.warning("listening for changes failed (%s); reconnecting", exc)
            self.listening.clear()
            self._stop.wait(self._retry)

    def _listen(self) -> None:
        args, kwargs = self._connect_args
        options = {**kwargs, "autocommit": True, "application_name": APPLICATION_NAME}
        with psycopg.connect(*args, **options) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            # Whatever was kept before now may have missed a message: drop it all.
            self._on_reset()
            self.listening.set()
            checked = time.monotonic()
            while not self._stop.is_set():
                for notice in connection.notifies(timeout=_WAKE_SECONDS):
                    try:
                        self._on_message(notice.payload)
                    except Exception:
                        logger.exception("handling change %r failed", notice.payload)
                if time.monotonic() - checked > _IDLE_CHECK_SECONDS:
                    connection.execute("SELECT 1")  # a dead connection raises here
                    checked = time.monotonic()
