"""Where evidence files live: under the keys ``evidence/<first two hex digits>/<sha256>``, the
tree that downloads are served from, and ``quarantine/`` (same layout), where files no longer
served are kept for an administrator to look at; in the app's file store
(:mod:`scipass.core.storage`, area ``uploads``): below ``SCIPASS_UPLOAD_DIR``, or in the S3
bucket that several hosts share. Files are named by their content, so writing one is idempotent
and a file is shared by every row that names it.

Because a file is shared, deleting one races with an upload of the same bytes for another row
(another pupil's photo): the deleter would find no row naming it while the upload has not yet
committed, and delete the file the upload then names. Both sides take the file's lock
(:func:`lock_file`: a PostgreSQL advisory lock on the hash, held to the end of the
transaction, so it holds across hosts; SQLite runs writers one at a time): the upload before it
writes the file, the deleter before it asks whether a row still names the file, and the deleter
takes the file out of the served tree while it holds the lock (:func:`remove_in_transaction`,
set aside and deleted at commit, put back on rollback). An upload that comes later then finds
no file and writes it again."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import text
from sqlmodel import Session

from scipass.core.config import Settings
from scipass.core.db import after_commit, after_rollback
from scipass.core.storage import UPLOADS, ObjectStore, read_all, read_chunks, store_for

logger = logging.getLogger("scipass.evidence")


# Other tables that name stored files by their hash (a competition entry's attachment is
# stored in the same tree): each registers how to ask whether it still names one, so that a
# file is deleted only when nothing names it any more.
FileUse = Callable[[Session, str], bool]
_USES: list[FileUse] = []


def register_use(use: FileUse) -> None:
    if use not in _USES:
        _USES.append(use)


def used_elsewhere(session: Session, sha256: str) -> bool:
    """Whether a table outside the evidence rows still names the file ``sha256``."""
    return any(use(session, sha256) for use in _USES)


# The class of the files' advisory locks (two-key form; its own key space, apart from the
# one-key locks of jobs and capacity).
_FILE_LOCK_CLASS = 0x5C1F


def lock_file(session: Session, sha256: str) -> None:
    """Hold the lock of the stored file ``sha256`` until the transaction ends (PostgreSQL; on
    SQLite the write transaction itself is exclusive). Take several in hash order."""
    if session.connection().dialect.name != "postgresql":
        return
    key = int.from_bytes(bytes.fromhex(sha256[:8]), "big", signed=True)
    session.exec(  # type: ignore[call-overload]
        text("SELECT pg_advisory_xact_lock(:class_id, :key)"),
        params={"class_id": _FILE_LOCK_CLASS, "key": key},
    )


def served_key(sha256: str) -> str:
    return f"evidence/{sha256[:2]}/{sha256}"


def quarantine_key(sha256: str) -> str:
    return f"quarantine/{sha256[:2]}/{sha256}"


def _store(settings: Settings) -> ObjectStore:
    return store_for(settings, UPLOADS)


def remove_in_transaction(session: Session, settings: Settings, keys: Iterable[str]) -> None:
    """Take files out of the served tree now, under the locks the caller holds: each is set
    aside, deleted once the transaction commits, put back if it rolls back."""
    files = _store(settings)
    moved: list[tuple[str, str]] = []
    for key in keys:
        folder, _, name = key.rpartition("/")
        aside = f"{folder}/.deleting-{uuid.uuid4().hex}-{name}"
        if files.move(key, aside):
            moved.append((key, aside))
    if moved:
        after_commit(session, lambda: remove(settings, [aside for _, aside in moved]))
        after_rollback(session, lambda: _put_back(files, moved))


def _put_back(files: ObjectStore, moved: list[tuple[str, str]]) -> None:
    for key, aside in moved:
        try:
            files.move(aside, key)  # the same bytes as any file written there meanwhile
        except Exception:
            logger.exception("could not put back %s", key)


def path_of(settings: Settings, sha256: str) -> Path:
    """The served file ``sha256`` in the local store (tests and an operator's look)."""
    return settings.upload_dir / served_key(sha256)


def quarantine_path_of(settings: Settings, sha256: str) -> Path:
    return settings.upload_dir / quarantine_key(sha256)


def store(settings: Settings, data: bytes, sha256: str) -> None:
    """Write ``data`` as the served file ``sha256`` (atomically; nothing when it exists). A full
    store raises :class:`~scipass.core.storage.InsufficientStorage` (507)."""
    files = _store(settings)
    key = served_key(sha256)
    if not files.exists(key):
        files.put(key, [data])


def open_served(settings: Settings, sha256: str) -> BinaryIO:
    """The served file ``sha256`` for reading (a streamed download); ``FileNotFoundError``."""
    return _store(settings).open(served_key(sha256))


def read_served(settings: Settings, sha256: str) -> bytes | None:
    """The served file ``sha256``'s bytes, or ``None`` when it is missing."""
    return read_all(_store(settings), served_key(sha256))


def quarantine(settings: Settings, sha256: str) -> None:
    """Copy the served file ``sha256`` into the quarantine; it is removed from the served
    tree only once the rows that no longer name it have committed (see :func:`remove`)."""
    files = _store(settings)
    target = quarantine_key(sha256)
    if files.exists(target):
        return
    try:
        stream = files.open(served_key(sha256))
    except FileNotFoundError:
        return
    files.put(target, read_chunks(stream))


def remove(settings: Settings, keys: Iterable[str]) -> None:
    """Remove files that no committed row serves any more (a failure is logged: the file is
    left behind, and nothing else goes wrong)."""
    files = _store(settings)
    for key in keys:
        try:
            files.delete(key)
        except Exception:
            logger.exception("could not remove %s", key)
