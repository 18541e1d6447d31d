"""Tell every serving process that something it may keep a copy of has changed, through
PostgreSQL's ``LISTEN``/``NOTIFY`` on the database every instance already shares.

A writer calls :func:`send` inside its transaction: PostgreSQL delivers a ``NOTIFY`` when the
transaction commits, and never for one rolled back, so a process hears of a change only once
it is visible. Each serving process runs one :class:`Listener`: a background thread with a
connection of its own (outside the pool) that ``LISTEN``\\ s and hands each message to the
process's handler. When that connection drops, messages may have been missed meanwhile: the
listener reconnects and calls ``on_reset`` (drop every copy) before it hands on messages again.
It tries again after 1 s, doubling to 30 s while the server stays away (``/readyz`` wakes it
sooner), and logs an outage once when it begins and once when it is over. ``/readyz`` is not
ready while the listener is not listening (scipass.health.router): a process that could miss a
revocation is not sent requests.

The process that made the change does not wait for its own listener: :func:`send` also hands
the message, after the commit, to the receivers it registered with :func:`hear_locally` (each
app's scan cache). On SQLite, one process and no listener, that is the whole delivery.
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


# Who in this process hears its own changes (held weakly: an app that is gone is not kept).
_local: list[weakref.ref[Receiver]] = []


def hear_locally(receiver: Receiver) -> None:
    """Have ``receiver.changed(message)`` called after each commit of this process that sent
    a message."""
    _local[:] = [ref for ref in _local if ref() is not None]
    _local.append(weakref.ref(receiver))


def send(session: Session, kind: str, name: object) -> None:
    """Announce that ``name`` of ``kind`` (``code``, ``activity``...) changed, as the message
    ``kind:name``, when the session's transaction commits: to this process's receivers
    (:func:`hear_locally`) at once, and on PostgreSQL to every process's listener."""
    message = f"{kind}:{name}"
    receivers = list(_local)
    session.connection()  # in the transaction the change is part of (begun if need be)

    def deliver() -> None:
        for ref in receivers:
            if (receiver := ref()) is not None:
                receiver.changed(message)

    after_commit(session, deliver)
    if session.get_bind().dialect.name != "postgresql":
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
        max_retry_seconds: float = 30.0,
    ) -> None:
        # The engine's own connection arguments (host, user, TLS...), for a connection that
        # no pool hands out and that nothing else uses.
        self._connect_args = engine.dialect.create_connect_args(engine.url)
        self._on_message, self._on_reset = on_message, on_reset
        self._retry, self._max_retry = retry_seconds, max_retry_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()  # try to reconnect now (set by stop and by wake)
        self._down_since: float | None = None  # when the outage being waited out began
        self.listening = threading.Event()  # set while LISTEN is in force
        self._thread = threading.Thread(target=self._run, name="scipass-listen", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: the thread ends, closing its connection, within a fraction of a
        second (not waited for: an app built per test would wait for each)."""
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Reconnect now rather than at the end of the current pause (the server is back)."""
        self._wake.set()

    def _run(self) -> None:
        pause = self._retry
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # a dropped connection, a restarting server: try again
                if self._down_since is None:  # once per outage, not once per attempt
                    self._down_since = time.monotonic()
                    logger.warning(
                        "listening for changes failed (%s); reconnecting", type(exc).__name__
                    )
                else:
                    logger.debug("listening for changes failed again (%s)", type(exc).__name__)
            if self.listening.is_set():  # it had been listening: the first retry is quick
                self.listening.clear()
                pause = self._retry
            self._wake.wait(pause)
            self._wake.clear()
            pause = min(pause * 2, self._max_retry)

    def _listening(self) -> None:
        """LISTEN is in force (again): log the end of an outage."""
        self.listening.set()
        if self._down_since is not None:
            logger.info(
                "listening for changes again after %.0f s", time.monotonic() - self._down_since
            )
            self._down_since = None

    def _listen(self) -> None:
        args, kwargs = self._connect_args
        options = {**kwargs, "autocommit": True, "application_name": APPLICATION_NAME}
        with psycopg.connect(*args, **options) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            # Whatever was kept before now may have missed a message: drop it all.
            self._on_reset()
            self._listening()
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
