"""Tell every serving process that something it may keep a copy of has changed, through
PostgreSQL's ``LISTEN``/``NOTIFY`` on the database every instance already shares.

A writer calls :func:`send` inside its transaction: PostgreSQL delivers a ``NOTIFY`` when the
transaction commits, and never for one rolled back, so a process hears of a change only once
it is visible. Each serving process runs one :class:`Listener`: a background thread with a
connection of its own (outside the pool) that ``LISTEN``\\ s and hands each message to the
process's handler. When that connection drops, messages may have been missed meanwhile: the
listener reconnects and calls ``on_reset`` (drop every copy) before it hands on messages again.

SQLite has one serving process, which changes its own copies directly: :func:`send` does
nothing there, and no listener runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from sqlalchemy import Engine, text
from sqlmodel import Session

logger = logging.getLogger("scipass.notify")

CHANNEL = "scipass_changed"
APPLICATION_NAME = "scipass-listen"  # the listener's connection in pg_stat_activity
# How often the listener wakes to see whether it is stopped (a poll of its socket, no query).
_WAKE_SECONDS = 0.2
# How long the listener waits for a message before it checks that its connection is alive.
_IDLE_CHECK_SECONDS = 5.0


def send(session: Session, kind: str, name: object) -> None:
    """Announce that ``name`` of ``kind`` (``code``, ``activity``...) changed, to every
    process's listener, as the message ``kind:name``, when the session's transaction commits
    (PostgreSQL); nothing on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        text("SELECT pg_notify(:channel, :message)"),
        {"channel": CHANNEL, "message": f"{kind}:{name}"},
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
