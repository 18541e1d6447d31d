"""Where files live: evidence files (:mod:`scipass.record.storage`) and job results
(:mod:`scipass.jobs.storage`) go through one small interface, :class:`ObjectStore`, with two
implementations chosen by ``SCIPASS_STORAGE``:

- ``local`` (the default): files under a directory (``SCIPASS_UPLOAD_DIR``,
  ``SCIPASS_JOB_RESULTS_DIR``), for one host;
- ``s3``: objects in an S3-compatible bucket (MinIO, Ceph, a cloud's object storage), through
  boto3, for several hosts serving one PostgreSQL: every host sees every file.

Keys are relative, ``/``-separated paths (``evidence/ab/<sha256>``). What every store keeps:

- a write is atomic: a reader never sees part of a file, and a write that fails (a full disk,
  a client that goes away mid-stream) leaves nothing visible and nothing behind. Locally the
  bytes go to a temporary file beside the target, synced, then renamed over it; in S3 an
  object appears only when its PUT (or multipart upload) completes, and a failed multipart
  upload is aborted;
- reads stream (:func:`read_chunks`), so a large export never sits in memory;
- a full disk is :class:`InsufficientStorage` (507 ``insufficient_storage``), an object store
  out of reach :class:`StorageUnavailable` (503 ``storage_unavailable``), never a 500.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, cast

from scipass.core.config import StorageKind
from scipass.core.errors import ProblemError, ServiceUnavailable

if TYPE_CHECKING:
    from scipass.core.config import Settings

logger = logging.getLogger("scipass.storage")

CHUNK = 64 * 1024
# A key: path segments of letters, digits and ``._-``, none of them ``.`` or ``..``.
_SEGMENT = r"(?!\.\.?(?:/|$))[A-Za-z0-9._-]{1,200}"
_KEY = re.compile(rf"^{_SEGMENT}(?:/{_SEGMENT}){{0,7}}$")
# What a full disk or an exhausted quota raises (a write, a sync, a rename of a directory).
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class InsufficientStorage(ProblemError):
    """The store is full (a local disk, a quota, an object store that refuses): nothing was
    stored, and nothing of the request was written."""

    status = 507
    code = "insufficient_storage"
    title_zh = "存储空间不足，文件未保存，请稍后再试或联系管理员"
    title_en = "Insufficient storage; the file was not stored"


class StorageUnavailable(ServiceUnavailable):
    """The object store cannot be reached (or fails) after the client's retries: nothing was
    stored or read, and the same request may be sent again after ``Retry-After`` seconds."""

    code = "storage_unavailable"
    title_zh = "文件存储暂时无法访问，请稍后重试"
    title_en = "The file store is unavailable; try again shortly"


class ObjectStore(Protocol):
    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store ``chunks`` under ``key`` atomically (replacing what was there); the size."""
        ...

    def exists(self, key: str) -> bool: ...

    def open(self, key: str) -> BinaryIO:
        """The stored bytes for reading (close it); ``FileNotFoundError`` when there are none."""
        ...

    def delete(self, key: str) -> bool:
        """Remove ``key``; whether there was one."""
        ...

    def move(self, source: str, target: str) -> bool:
        """Put ``source``'s bytes under ``target`` (replacing it) and remove ``source``;
        ``False`` when there is no ``source``."""
        ...


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


def read_chunks(stream: BinaryIO) -> Iterator[bytes]:
    """A stored file in chunks, closing it at the end (a streamed download)."""
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def read_all(store: ObjectStore, key: str) -> bytes | None:
    """The whole stored file (small files only: evidence), or ``None`` when it is missing."""
    try:
        stream = store.open(key)
    except FileNotFoundError:
        return None
    return b"".join(read_chunks(stream))


class LocalDirectory:
    """Files under one directory; a key is a path below it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        except OSError as error:
            raise _full_or(error) from error
        try:
            with os.fdopen(handle, "wb") as out:
                size = self._write(out, chunks)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException as error:
            Path(temporary).unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise _full_or(error) from error
            raise
        return size

    def _write(self, out: BinaryIO, chunks: Iterable[bytes]) -> int:
        size = 0
        for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
        return size

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def delete(self, key: str) -> bool:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            return False
        return True

    def move(self, source: str, target: str) -> bool:
        destination = self.path(target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(self.path(source), destination)
        except FileNotFoundError:
            return False
        return True


def _full_or(error: OSError) -> Exception:
    return InsufficientStorage() if error.errno in _FULL else error


class _ChunkReader(io.RawIOBase):
    """An iterable of byte chunks as a readable file, for boto3's streaming upload."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
            self.size += len(self._pending)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class S3Bucket:
    """Objects in one bucket, each key below ``prefix``. A PUT, or a multipart upload's
    completion, is what makes an object visible, so a write is whole or absent; boto3 aborts a
    multipart upload that fails. Every call goes through :func:`_answers`: a full store is
    :class:`InsufficientStorage`, one out of reach :class:`StorageUnavailable`."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        from boto3.s3.transfer import TransferConfig

        reader = _ChunkReader(chunks)
        with _answers():
            self.client.upload_fileobj(
                io.BufferedReader(reader, CHUNK),
                self.bucket,
                self._name(key),
                Config=TransferConfig(use_threads=False),
            )
        return reader.size

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        with _answers():
            try:
                self.client.head_object(Bucket=self.bucket, Key=self._name(key))
            except ClientError as error:
                if _missing(error):
                    return False
                raise
        return True

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        with _answers():
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
            except ClientError as error:
                if _missing(error):
                    raise FileNotFoundError(key) from error
                raise
        return cast(BinaryIO, answer["Body"])  # a botocore StreamingBody: read(n), close()

    def delete(self, key: str) -> bool:
        existed = self.exists(key)  # S3's DELETE does not tell
        if existed:
            with _answers():
                self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        return existed

    def move(self, source: str, target: str) -> bool:
        from botocore.exceptions import ClientError

        with _answers():
            try:
                self.client.copy_object(
                    Bucket=self.bucket,
                    Key=self._name(target),
                    CopySource={"Bucket": self.bucket, "Key": self._name(source)},
                )
            except ClientError as error:
                if _missing(error):
                    return False
                raise
            self.client.delete_object(Bucket=self.bucket, Key=self._name(source))
        return True


# What an S3-compatible service answers when it is full (MinIO: XMinioStorageFull), and when
# it is overloaded or failing (after boto3's own retries).
_FULL_CODES = frozenset({"XMinioStorageFull", "StorageFull"})
_BUSY_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"})


@contextmanager
def _answers() -> Iterator[None]:
    """Turn what an S3 call meets into the app's answers: a full store 507, a store out of
    reach (refused, timed out, the connection closed) or failing 503 with ``Retry-After``."""
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as Unreachable

    try:
        yield
    except ClientError as error:
        if _status(error) == 507 or _code(error) in _FULL_CODES:
            raise InsufficientStorage() from error
        if _status(error) in {500, 502, 503, 504} or _code(error) in _BUSY_CODES:
            logger.warning("object store failing: %s", error)
            raise StorageUnavailable() from error
        raise
    except (Unreachable, HTTPClientError) as error:
        logger.warning("object store out of reach: %s", error)
        raise StorageUnavailable() from error


def _code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: Any) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _missing(error: Any) -> bool:
    """Whether the object is absent (not the bucket: a missing bucket is an operator's error,
    raised as it is; a HEAD cannot tell the two apart)."""
    if _code(error) == "NoSuchBucket":
        return False
    return _status(error) == 404 or _code(error) in {"404", "NoSuchKey", "NotFound"}


@lru_cache(maxsize=8)
def s3_client(
    endpoint_url: str, region: str, access_key_id: str, secret_access_key: str, path_style: bool
) -> Any:
    """One boto3 client per configuration (thread-safe; building one costs tens of ms). Empty
    keys leave boto3 to its own credential chain (its environment variables, an instance
    role)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or None,
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        config=Config(
            s3={"addressing_style": "path" if path_style else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


# The areas the app stores files in: each a directory of its own locally, a key prefix in S3.
UPLOADS = "uploads"
JOB_RESULTS = "job-results"


def _local(settings: Settings, area: str) -> ObjectStore:
    root = settings.upload_dir if area == UPLOADS else settings.job_results_dir
    return LocalDirectory(Path(root))


def _s3(settings: Settings, area: str) -> ObjectStore:
    client = s3_client(
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_access_key_id,
        settings.s3_secret_access_key.get_secret_value(),
        settings.s3_path_style,
    )
    return S3Bucket(client, settings.s3_bucket, f"{settings.s3_prefix}{area}/")


# How each kind of store is built from the settings (a test puts a failing one in place).
BACKENDS: dict[StorageKind, Callable[[Settings, str], ObjectStore]] = {
    StorageKind.local: _local,
    StorageKind.s3: _s3,
}


def store_for(settings: Settings, area: str) -> ObjectStore:
    """The store of ``area`` (:data:`UPLOADS`, :data:`JOB_RESULTS`) that the settings name."""
    return BACKENDS[settings.storage](settings, area)
