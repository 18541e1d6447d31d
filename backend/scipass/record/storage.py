"""Where evidence files live: ``<upload_dir>/evidence/<first two hex digits>/<sha256>``, the
tree that downloads are served from, and ``<upload_dir>/quarantine/`` (same layout), where
files no longer served are kept for an administrator to look at. Files are named by their
content, so writing one is idempotent and a file is shared by every row that names it."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlmodel import Session

from scipass.core.config import Settings

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
