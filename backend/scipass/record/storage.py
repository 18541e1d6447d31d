"""Where evidence files live: ``<upload_dir>/evidence/<first two hex digits>/<sha256>``, the
tree that downloads are served from, and ``<upload_dir>/quarantine/`` (same layout), where
files no longer served are kept for an administrator to look at. Files are named by their
content, so writing one is idempotent and a file is shared by every row that names it.

Because a file is shared, deleting one races with an upload of the same bytes for another row
(another pupil's photo): the deleter would find no row naming it while the upload has not yet
committed, and unlink the file the upload then names. Both sides take the file's lock
(:func:`lock_file`: a PostgreSQL advisory lock on the hash, held to the end of the
transaction; SQLite runs writers one at a time): the upload before it writes the file, the
deleter before it asks whether a row still names the file, and the deleter takes the file out
of the served tree while it holds the lock (:func:`remove_in_transaction`, set aside and deleted
at commit, put back on rollback). An upload that comes later then finds no file and writes it
again."""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from scipass.core.config import Settings
from scipass.core.db import after_commit, after_rollback

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


def remove_in_transaction(session: Session, paths: Iterable[Path]) -> None:
    """Take files out of the served tree now, under the locks the caller holds: each is set
    aside, deleted once the transaction commits, put back if it rolls back."""
    moved: list[tuple[Path, Path]] = []
    for path in paths:
        aside = path.with_name(f".deleting-{uuid.uuid4().hex}-{path.name}")
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            continue
        moved.append((path, aside))
    if moved:
        after_commit(session, lambda: remove(aside for _, aside in moved))
        after_rollback(session, lambda: _put_back(moved))


def _put_back(moved: list[tuple[Path, Path]]) -> None:
    for path, aside in moved:
        try:
            os.replace(aside, path)  # the same bytes as any file written there meanwhile
        except OSError:
            logger.exception("could not put back %s", path)


def path_of(settings: Settings, sha256: str) -> Path:
    return settings.upload_dir / "evidence" / sha256[:2] / sha256


def quarantine_path_of(settings: Settings, sha256: str) -> Path:
    return settings.upload_dir / "quarantine" / sha256[:2] / sha256


def store(settings: Settings, data: bytes, sha256: str) -> None:
    """Write ``data`` as the served file ``sha256`` (atomically; nothing when it exists)."""
    _write(path_of(settings, sha256), data)


def quarantine(settings: Settings, sha256: str) -> None:
    """Copy the served file ``sha256`` into the quarantine; it is removed from the served
    tree only once the rows that no longer name it have committed (see :func:`remove`)."""
    source = path_of(settings, sha256)
    if source.is_file():
        _write(quarantine_path_of(settings, sha256), source.read_bytes())


def remove(paths: Iterable[Path]) -> None:
    """Remove files that no committed row serves any more (a failure is logged: the file is
    left behind, and nothing else goes wrong)."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            logger.exception("could not remove %s", path)


def _write(target: Path, data: bytes) -> None:
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
