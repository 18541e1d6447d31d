"""The one exporter of the job path: rows of a table, read from one snapshot, to a file in
the result store; then the audit entry, with the number of rows the file holds and how the
export ended.

A domain describes its export as a :class:`TableExport` built from a snapshot session (its
scope, masking and filters are the domain's, applied in that function as in its direct
export); this module does the rest the same way for every export: the snapshot
(:meth:`Database.snapshot_session`: count, rows and names agree), the writer (CSV for Excel
or XLSX, through :mod:`scipass.core.exports`, whose clean-cell rules apply to every cell),
progress reports every :data:`PROGRESS_ROWS` rows, the file written whole or not at all
(:class:`scipass.jobs.storage.ResultStore`), and the audit entries written after the snapshot
has ended, in a transaction of their own, for success and for failure alike.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session

from scipass.core.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, csv_chunks, xlsx_chunks
from scipass.jobs.queue import JobContext, JobResult

PROGRESS_ROWS = 1000


class FileFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


# Writes the audit entries of an export in the session given: (session, rows written, error
# name or None when the file is complete).
Audit = Callable[[Session, int, str | None], None]


@dataclass(frozen=True, slots=True)
class TableExport:
    """What a domain's export is: its header, its rows (read lazily from the snapshot), how
    many there are, its file names, and how it is audited."""

    header: Sequence[str]
    rows: Iterable[Sequence[object]]
    total: int
    filename: str
    plain_filename: str  # ASCII, for clients that cannot read filename*
    sheet_title: str
    audit: Audit


class _Counted:
    def __init__(self, rows: Iterable[Sequence[object]], context: JobContext, total: int):
        self._rows, self._context, self._total = rows, context, total
        self.count = 0

    def __iter__(self) -> Iterator[Sequence[object]]:
        for row in self._rows:
            yield row
            self.count += 1
            if self.count % PROGRESS_ROWS == 0:
                self._context.progress(self.count, self._total)


def run_table_export(
    context: JobContext, *, file_format: FileFormat, prepare: Callable[[Session], TableExport]
) -> JobResult:
    """Run one export job: ``prepare`` describes the export from the snapshot session."""
    database = context.database
    session = database.snapshot_session()
    spec: TableExport | None = None
    counted: _Counted | None = None
    failure: Exception | None = None
    try:
        spec = prepare(session)
        context.progress(0, spec.total)
        counted = _Counted(spec.rows, context, spec.total)
        chunks = (
            csv_chunks(spec.header, counted)
            if file_format is FileFormat.csv
            else xlsx_chunks(spec.sheet_title, spec.header, counted)
        )
        key = context.result_key(file_format.value)
        size = context.store.put(key, chunks)
    except Exception as exc:
        failure = exc
    finally:
        session.close()  # the snapshot ends before the audit entries are written
    if failure is not None:
        if spec is not None:
            with database.transaction() as audit_session:
                spec.audit(audit_session, counted.count if counted else 0, type(failure).__name__)
        raise failure
    assert spec is not None
    assert counted is not None
    with database.transaction() as audit_session:
        spec.audit(audit_session, counted.count, None)
    return JobResult(
        key=key,
        name=spec.filename,
        plain_name=spec.plain_filename,
        media_type=CSV_MEDIA_TYPE if file_format is FileFormat.csv else XLSX_MEDIA_TYPE,
        size=size,
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
    failure: Exception | None = None
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
        failure = exc
    finally:
        session.close()
    if failure is not None:
        if spec is not None:
            with database.transaction() as audit_session:
                spec.audit(audit_session, written, type(failure).__name__)
        raise failure
    assert spec is not None
    with database.transaction() as audit_session:
        spec.audit(audit_session, written, None)
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
