"""Where job results (export files) are kept: a small interface, so that several hosts can
later share one store (an object store, a shared volume); today a local directory.

A result is written under a key chosen by the queue; it becomes visible only when complete
(written to a temporary name, then renamed), so a reader never sees half a file and a worker
that dies mid-write leaves only a temporary file behind.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
CHUNK = 64 * 1024


class ResultStore(Protocol):
    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store ``chunks`` under ``key``; the size written."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The stored result for reading; ``FileNotFoundError`` when it is gone."""
        ...

    def delete(self, key: str) -> bool:
        """Remove a result; whether there was one."""
        ...


class LocalDirectory:
    """Results as files in one directory (``SCIPASS_JOB_RESULTS_DIR``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a result key: {key!r}")
        return self.root / key

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        target = self._path(key)
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".part-")
        size = 0
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return size

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> bool:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            return False
        return True


def store_for(settings: Any) -> ResultStore:
    """The result store the settings name (``SCIPASS_JOB_RESULTS_DIR``)."""
    return LocalDirectory(Path(settings.job_results_dir))


def read_chunks(stream: BinaryIO) -> Iterator[bytes]:
    """A stored result in chunks, closing it at the end (a streamed download)."""
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk
