"""Renderers shared by every export: CSV for Excel (UTF-8 with BOM) and XLSX.

``csv_bytes``/``xlsx_bytes`` build a small file in memory; ``csv_chunks``/``xlsx_chunks`` turn
an iterator of rows of any length into the chunks of a streamed response, in flat memory
(XLSX goes through an anonymous temporary file, which the system removes when it is closed).

A cell that starts with ``= + - @`` (or a tab or carriage return) is what spreadsheet
programs evaluate as a formula; such cells are prefixed with an apostrophe so that a venue
name or a student's reflection can never run as a formula on a teacher's computer.

Every text cell is cleaned first (:func:`export_text`): the characters the input rule refuses
(:mod:`scipass.core.inputs`) are dropped, line breaks kept. Rows stored before that rule may
hold them, and one control character in one organisation's title must not break the file of
everyone who exports it (XLSX cannot hold C0 controls at all).
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import quote

from openpyxl import Workbook

from scipass.core.inputs import refused_pattern

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def export_text(text: str) -> str:
    """``text`` without the characters no export may hold (line breaks kept, CR LF as LF)."""
    return refused_pattern(multiline=True).sub("", text.replace("\r\n", "\n"))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return export_text(str(value))


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(_text(value)) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(sheet_title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title[:31])
    sheet.append(list(header))
    for row in rows:
        sheet.append([safe_cell(_text(value)) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_chunks(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, rows_per_chunk: int = 500
) -> Iterator[bytes]:
    """A CSV file for Excel (UTF-8 with BOM), as chunks of ``rows_per_chunk`` rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    pending = 0
    for row in rows:
        writer.writerow([safe_cell(_text(value)) for value in row])
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode("utf-8")


def _xlsx_cell(value: object) -> object:
    """Numbers stay numbers (a column of minutes sums in Excel); everything else is text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return safe_cell(_text(value))


def xlsx_chunks(
    sheet_title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    chunk_size: int = 64 * 1024,
) -> Iterator[bytes]:
    """An XLSX file, written row by row (openpyxl write-only) to a temporary file and then
    read back in chunks. A zip file is only complete at its end, so the first chunk comes
    when every row is written."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title[:31])
    with tempfile.TemporaryFile(suffix=".xlsx") as output:
        try:
            sheet.append(list(header))
            for row in rows:
                sheet.append([_xlsx_cell(value) for value in row])
            workbook.save(output)
        except BaseException:
            # openpyxl keeps the rows written so far in a file of its own until it saves.
            writer = getattr(sheet, "_writer", None)
            if writer is not None and not sheet.closed:
                with contextlib.suppress(Exception):
                    sheet.close()
                with contextlib.suppress(Exception):
                    writer.cleanup()
            raise
        output.seek(0)
        while chunk := output.read(chunk_size):
            yield chunk


def attachment(
    filename: str, fallback: str | None = None, *, inline: bool = False
) -> dict[str, str]:
    """A Content-Disposition header (RFC 6266): ``filename*`` carries the Chinese name in
    UTF-8 (RFC 8187), which every current browser and WeChat's viewer use; ``filename`` an
    ASCII name that keeps the meaning for the others, such as ``record-file-<学号>.pdf``
    (``fallback``, required when ``filename`` is not ASCII)."""
    if fallback is None:
        if not filename.isascii():
            raise ValueError(f"{filename!r} needs an ASCII fallback name")
        fallback = filename
    plain = re.sub(r"[^A-Za-z0-9._-]+", "-", fallback).strip("-.") or "download"
    kind = "inline" if inline else "attachment"
    encoded = quote(filename, safe="")
    return {"Content-Disposition": f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{encoded}"}
