"""The one exporter: every bulk export, queued as a job or answered directly, goes from the
rows of one snapshot through one writer to a file, and is audited when it ends.

A domain describes its export as a :class:`TableExport` built from a snapshot session (its
scope, masking and filters are the domain's, applied in that function); this module does the
rest the same way for every export:

* the snapshot (:meth:`Database.snapshot_session`): the count, the rows and the names agree;
  on the read replica when one is set, once it has replayed the primary's position of when
  the export was asked for (a job's ``primary_lsn``; :mod:`scipass.core.replica`);
* the writer (CSV for Excel or XLSX, through :mod:`scipass.core.exports`, whose clean-cell
  rules apply to every cell);
* the audit entries, written after the snapshot has ended, in a transaction of their own on
  the primary, with the number of rows the file holds and how the export ended (``None``, or
  the error);
* on the job path (:func:`run_table_export`): progress every :data:`PROGRESS_ROWS` rows and
  the file written whole or not at all (:class:`scipass.jobs.storage.ResultStore`);
* on the direct path (:func:`export_directly`): at most ``row_limit`` rows, judged on the
  snapshot's count (more is refused with ``export_too_large``, which names the job endpoint,
  and writes nothing), the file made whole before its first byte is sent, so the count
  header, the audit entry and the file agree and a broken read never reaches a client as a
  short file.

Public data (a directory edition) is not about anyone: its ``audit`` is ``None``.

Consent for exports to the 综评 platform (issue 20 point 1; PIPL art. 31): an export of pupils'
records that leaves SciPass for the evaluation platform, the school's and the region's bulk
record exports, is described as a :class:`PupilRecordsExport` instead of a
:class:`TableExport`, and this module leaves out every row about a pupil whose age needs the
guardian's ``record_export`` consent (under 14) and who has none in force (judged by
:func:`scipass.consent.service.lacks_consent_clause`, the check-in's rule). Leaving out, not
marking: a marked row still carries the pupil's name and record to the school's computer and
on to the platform, which is exactly what the guardian has not agreed to, and a mark is easily
lost in a spreadsheet; a missing row is noticed, because the school's review screen lists the
pupils left out (:func:`withheld_students`) and the count is in the answer's
``X-Withheld-Count`` header (:attr:`ExportFile.headers`), in a job's progress and result, and
in the export's audit entry (:class:`Withheld`). The consent notice says so.

The school's ZIP of many pupils' 科技实践档案 PDFs (job ``record-files``) is such a bulk export
of records too (:class:`PupilFilesExport`): the same pupils are left out, counted the same way.

Not exports to the 综评 platform, so not filtered: a pupil's own records exported by the pupil
(the family's own copy), one pupil's own 科技实践档案 PDF (the family's or the pupil's file),
a venue's attendee lists (what the venue needs to run its own session), directory
editions (public data about no one), volunteer hours (for the venue and the national volunteer
system, under the ``volunteering`` consent) and compliance figures (counts without names).
They stay :class:`TableExport` / :class:`BundleExport`.
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from scipass.consent import service as consent_service
from scipass.consent.models import Purpose
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
from scipass.roster.models import Student

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


# The consent an export to the 综评 platform needs for a pupil under 14.
EXPORT_PURPOSE = Purpose.record_export


@dataclass(frozen=True, slots=True)
class Withheld:
    """What an export of pupils' records left out: the rows, and the pupils they are about."""

    rows: int
    students: int

    def describe(self) -> dict[str, int]:
        """As written to the audit entry and the job's result."""
        return {"withheld_rows": self.rows, "withheld_students": self.students}


# The audit entries of an export of pupils' records: as :data:`Audit`, and what was withheld.
PupilAudit = Callable[[Session, int, str | None, Withheld], None]


@dataclass(frozen=True, slots=True)
class PupilRecordsExport:
    """An export of pupils' records to the 综评 platform, which needs ``record_export``
    consent: as :class:`TableExport`, but the rows are as the domain read them, each about
    one pupil (``student_of``) and written as ``cells`` gives, and ``students`` selects the
    student id of every row (one per row, the same scope and filter), from which the pupils
    left out and their rows are counted before the first row is read. ``total`` counts every
    row, withheld or not; ``today`` judges the pupils' ages."""

    header: Sequence[str]
    rows: Iterable[Any]
    student_of: Callable[[Any], int]
    cells: Callable[[Any], Sequence[object]]
    students: Select[*tuple[Any, ...]]
    total: int
    today: date
    filename: str
    plain_filename: str
    sheet_title: str
    audit: PupilAudit


Prepared = TableExport | PupilRecordsExport


def withheld_students(
    students: Select[*tuple[Any, ...]], *, today: date
) -> Select[*tuple[Any, ...]]:
    """The pupils among ``students`` (a query of student ids, one per row of an export) whose
    rows an export to the 综评 platform leaves out, each once with the number of its rows:
    ``(student_id, rows)``. Other columns of :class:`Student` may be added by the caller."""
    listed = students.subquery()
    return (
        sa_select(col(Student.id).label("student_id"), func.count().label("rows"))
        .select_from(listed)
        .join(Student, col(Student.id) == listed.c[0])
        .where(
            consent_service.lacks_consent_clause(
                col(Student.id), col(Student.birth_month), EXPORT_PURPOSE, today
            )
        )
        .group_by(col(Student.id))
    )


def _consented(session: Session, spec: Prepared) -> tuple[TableExport, Withheld | None]:
    """``spec`` as the file is written: for pupils' records, without the rows of the pupils
    :func:`withheld_students` names, counted, and the count handed to its audit."""
    if isinstance(spec, TableExport):
        return spec, None
    query = withheld_students(spec.students, today=spec.today)
    blocked: dict[int, int] = {int(sid): int(n) for sid, n in session.execute(query)}
    withheld = Withheld(rows=sum(blocked.values()), students=len(blocked))
    audit = spec.audit

    def audit_with_count(audit_session: Session, written: int, error: str | None) -> None:
        audit(audit_session, written, error, withheld)

    rows = (spec.cells(row) for row in spec.rows if spec.student_of(row) not in blocked)
    table = TableExport(
        header=spec.header,
        rows=rows,
        total=spec.total - withheld.rows,
        filename=spec.filename,
        plain_filename=spec.plain_filename,
        sheet_title=spec.sheet_title,
        audit=audit_with_count,
    )
    return table, withheld


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A direct export, made whole: the answer's body and headers (``withheld``: what an
    export of pupils' records left out, ``None`` for other exports)."""

    content: bytes
    file_format: FileFormat
    filename: str
    plain_filename: str
    row_count: int
    withheld: Withheld | None = None

    @property
    def headers(self) -> dict[str, str]:
        headers = {
            **attachment(self.filename, self.plain_filename),
            "X-Row-Count": str(self.row_count),
        }
        if self.withheld is not None:
            headers["X-Withheld-Count"] = str(self.withheld.rows)
            headers["X-Withheld-Students"] = str(self.withheld.students)
        return headers


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
    context: JobContext, *, file_format: FileFormat, prepare: Callable[[Session], Prepared]
) -> JobResult:
    """Run one export job: ``prepare`` describes the export from the snapshot session. The
    rows an export of pupils' records withholds are counted in the result and the audit."""
    database = context.database
    session = database.snapshot_session(after=context.primary_lsn)
    spec: TableExport | None = None
    withheld: Withheld | None = None
    counted: _Counted | None = None
    try:
        spec, withheld = _consented(session, prepare(session))
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
        withheld_count=withheld.rows if withheld is not None else None,
    )


def export_directly(
    database: Database,
    *,
    file_format: FileFormat,
    prepare: Callable[[Session], Prepared],
    row_limit: int,
    job_endpoint: str,
) -> ExportFile:
    """Answer an export in the request: the same description, snapshot, writer and audit as
    its job, for at most ``row_limit`` rows (``job_endpoint`` makes larger ones; the rows an
    export of pupils' records withholds do not count). Problems raised by ``prepare`` (out of
    scope, not found) and a refusal for size write nothing."""
    session = database.snapshot_session()
    try:
        spec, withheld = _consented(session, prepare(session))
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
        withheld=withheld,
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


@dataclass(frozen=True, slots=True)
class PupilFilesExport:
    """Pupils' files leaving SciPass in bulk (a class's 科技实践档案 PDFs as one ZIP), which
    needs ``record_export`` consent as :class:`PupilRecordsExport` does: each file is one
    pupil's, ``files`` yields ``(student id, make)`` (``make`` renders it, called only for a
    pupil not withheld), ``students`` selects the student id of every file (one per file),
    ``total`` counts every file, withheld or not."""

    files: Iterable[tuple[int, Callable[[], tuple[str, bytes]]]]
    students: Select[*tuple[Any, ...]]
    total: int
    today: date
    filename: str
    plain_filename: str
    audit: PupilAudit


def _consented_files(
    session: Session, spec: BundleExport | PupilFilesExport
) -> tuple[BundleExport, Withheld | None]:
    """:func:`_consented` for a bundle: without the files of the pupils that
    :func:`withheld_students` names (one file a pupil: the rows are the pupils)."""
    if isinstance(spec, BundleExport):
        return spec, None
    query = withheld_students(spec.students, today=spec.today)
    blocked = {int(sid) for sid, _ in session.execute(query)}
    withheld = Withheld(rows=len(blocked), students=len(blocked))
    audit = spec.audit

    def audit_with_count(audit_session: Session, written: int, error: str | None) -> None:
        audit(audit_session, written, error, withheld)

    bundle = BundleExport(
        files=(make() for student_id, make in spec.files if student_id not in blocked),
        total=spec.total - withheld.rows,
        filename=spec.filename,
        plain_filename=spec.plain_filename,
        audit=audit_with_count,
    )
    return bundle, withheld


def run_bundle_export(
    context: JobContext, *, prepare: Callable[[Session], BundleExport | PupilFilesExport]
) -> JobResult:
    """Run one bundle job: the files into a ZIP (built in a temporary file, so memory stays
    flat), the ZIP into the result store, the audit entry after the snapshot. The files a
    :class:`PupilFilesExport` withholds are counted in the result and the audit."""
    database = context.database
    session = database.snapshot_session(after=context.primary_lsn)
    spec: BundleExport | None = None
    withheld: Withheld | None = None
    written = 0
    try:
        spec, withheld = _consented_files(session, prepare(session))
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
        withheld_count=withheld.rows if withheld is not None else None,
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
