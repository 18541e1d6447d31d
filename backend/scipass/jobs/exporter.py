"""The one exporter: every bulk export, queued as a job or answered directly, goes from the
rows of one snapshot through one writer to a file, and is audited when it ends.

A domain describes its export as a :class:`TableExport` built from a snapshot session (its
scope, masking and filters are the domain's, applied in that function); this module does the
rest the same way for every export:

* the snapshot (:meth:`Database.snapshot_session`): the count, the rows and the names agree;
* the writer (CSV for Excel or XLSX, through :mod:`scipass.core.exports`, whose clean-cell
  rules apply to every cell);
* the audit entries, written after the snapshot has ended, in a transaction of their own,
  with the number of rows the file holds and how the export ended (``None``, or the error);
* on the job path (:func:`run_table_export`): progress every :data:`PROGRESS_ROWS` rows and
  the file written whole or not at all (:class:`scipass.jobs.storage.ResultStore`);
* on the direct path (:func:`export_directly`): at most ``row_limit`` rows, judged on the
  snapshot's count (more is refused with ``export_too_large``, which names the job endpoint,
  and writes nothing), the file made whole before its first byte is sent, so the count
  header, the audit entry and the file agree and a broken read never reaches a client as a
  short file.

Public data (a directory edition) is not about anyone: its ``audit`` is ``None``.
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session

from scipass.core.db import Database
from scipass.core.exports import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    attachment,
    csv_chunks,
    xlsx_chunks,
)
from scipass.jobs.errors import too_large
from scipass.jobs.queue import JobContext, JobResult

logger = logging.getLogger("scipass.exports")

PROGRESS_ROWS = 1000


class FileFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"

    @property
    def media_type(self) -> str:
        return CSV_MEDIA_TYPE if self is FileFormat.csv else XLSX_MEDIA_TYPE


# Writes the audit entries of an export in the session given: (session, rows written, error
# name or None when the file is complete).
Audit = Callable[[Session, int, str | None], None]


@dataclass(frozen=True, slots=True)
class TableExport:
    """What a domain's export is: its header, its rows (read lazily from the snapshot), how
    many there are, its file names, and how it is audited (``None``: public data)."""

    header: Sequence[str]
    rows: Iterable[Sequence[object]]
    total: int
    filename: str
    plain_filename: str  # ASCII, for clients that cannot read filename*
    sheet_title: str
    audit: Audit | None


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A direct export, made whole: the answer's body and headers."""

    content: bytes
    file_format: FileFormat
    filename: str
    plain_filename: str
    row_count: int

    @property
    def headers(self) -> dict[str, str]:
        return {
            **attachment(self.filename, self.plain_filename),
            "X-Row-Count": str(self.row_count),
        }


class _Counted:
    """Rows passed through, counted as they go (how far a broken export got), with a
    progress report every :data:`PROGRESS_ROWS` rows when ``report`` is given."""

    def __init__(
        self,
        rows: Iterable[Sequence[object]],
        total: int,
        report: Callable[[int, int], None] | None = None,
    ) -> None:
        self._rows, self._total, self._report = rows, total, report
        self.count = 0

    def __iter__(self) -> Iterator[Sequence[object]]:
        for row in self._rows:
            yield row
            self.count += 1
            if self._report is not None and self.count % PROGRESS_ROWS == 0:
                self._report(self.count, self._total)


def _chunks(spec: TableExport, file_format: FileFormat, rows: _Counted) -> Iterator[bytes]:
    if file_format is FileFormat.csv:
        return csv_chunks(spec.header, rows)
    return xlsx_chunks(spec.sheet_title, spec.header, rows)


def _audit(database: Database, audit: Audit | None, written: int, error: str | None) -> None:
    if audit is None:
        return
    with database.transaction() as audit_session:
        audit(audit_session, written, error)


def _audit_failure(database: Database, audit: Audit | None, written: int, error: str) -> None:
    """The failure's entry; the database may be what broke the export, and the error that
    broke it is the one to raise, so a failure to write this entry is only logged."""
    try:
        _audit(database, audit, written, error)
    except Exception:
        logger.exception("could not log a failed export (%s)", error)


def run_table_export(
    context: JobContext, *, file_format: FileFormat, prepare: Callable[[Session], TableExport]
) -> JobResult:
    """Run one export job: ``prepare`` describes the export from the snapshot session."""
    database = context.database
    session = database.snapshot_session()
    spec: TableExport | None = None
    counted: _Counted | None = None
    try:
        spec = prepare(session)
        context.progress(0, spec.total)
        counted = _Counted(spec.rows, spec.total, context.progress)
        key = context.result_key(file_format.value)
        size = context.store.put(key, _chunks(spec, file_format, counted))
    except Exception as exc:
        session.close()  # the snapshot ends before the audit entries are written
        if spec is not None:
            written = counted.count if counted else 0
            _audit_failure(database, spec.audit, written, type(exc).__name__)
        raise
    session.close()
    _audit(database, spec.audit, counted.count, None)
    return JobResult(
        key=key,
        name=spec.filename,
        plain_name=spec.plain_filename,
        media_type=file_format.media_type,
        size=size,
        row_count=counted.count,
    )


def export_directly(
    database: Database,
    *,
    file_format: FileFormat,
    prepare: Callable[[Session], TableExport],
    row_limit: int,
    job_endpoint: str,
) -> ExportFile:
    """Answer an export in the request: the same description, snapshot, writer and audit as
    its job, for at most ``row_limit`` rows (``job_endpoint`` makes larger ones). Problems
    raised by ``prepare`` (out of scope, not found) and a refusal for size write nothing."""
    session = database.snapshot_session()
    try:
        spec = prepare(session)
        if spec.total > row_limit:
            raise too_large(row_limit, job_endpoint)
        counted = _Counted(spec.rows, spec.total)
        try:
            content = b"".join(_chunks(spec, file_format, counted))
        except Exception as exc:
            session.close()
            _audit_failure(database, spec.audit, 0, type(exc).__name__)  # none was sent
            raise
    finally:
        session.close()
    _audit(database, spec.audit, counted.count, None)
    return ExportFile(
        content=content,
        file_format=file_format,
        filename=spec.filename,
        plain_filename=spec.plain_filename,
        row_count=counted.count,
    )


@dataclass(frozen=True, slots=True)
class BundleExport:
    """An export of many files (a class's 科技实践档案 as PDFs) as one ZIP: the files, made
    lazily from the snapshot as ``(name inside the ZIP, content)``, how many, its names and
    how it is audited (``Audit`` gets the number of files written)."""

    files: Iterable[tuple[str, bytes]]
    total: int
    filename: str
    plain_filename: str
    audit: Audit


def run_bundle_export(
    context: JobContext, *, prepare: Callable[[Session], BundleExport]
) -> JobResult:
    """Run one bundle job: the files into a ZIP (built in a temporary file, so memory stays
    flat), the ZIP into the result store, the audit entry after the snapshot."""
    database = context.database
    session = database.snapshot_session()
    spec: BundleExport | None = None
    written = 0
    try:
        spec = prepare(session)
        context.progress(0, spec.total)
        with tempfile.TemporaryFile() as scratch:
            with zipfile.ZipFile(scratch, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
                used: set[str] = set()
                for name, content in spec.files:
                    bundle.writestr(_unique(name, used), content)
                    written += 1
                    context.progress(written, spec.total)
            scratch.seek(0)
            key = context.result_key("zip")
            size = context.store.put(key, iter(lambda: scratch.read(64 * 1024), b""))
    except Exception as exc:
        session.close()
        if spec is not None:
            _audit_failure(database, spec.audit, written, type(exc).__name__)
        raise
    session.close()
    _audit(database, spec.audit, written, None)
    return JobResult(
        key=key,
        name=spec.filename,
        plain_name=spec.plain_filename,
        media_type="application/zip",
        size=size,
        row_count=written,
    )


def _unique(name: str, used: set[str]) -> str:
    """``name``, or ``name (2)`` … when a file of that name is in the ZIP already (two pupils
    of one name)."""
    stem, dot, suffix = name.rpartition(".")
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{stem} ({n}){dot}{suffix}" if dot else f"{name} ({n})"
    used.add(candidate)
    return candidate
