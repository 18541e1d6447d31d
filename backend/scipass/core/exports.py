"""Renderers shared by every export: CSV for Excel (UTF-8 with BOM) and XLSX.

``csv_bytes``/``xlsx_bytes`` build a small file in memory; ``csv_chunks``/``xlsx_chunks`` turn
an iterator of rows of any length into the chunks of a streamed response, in flat memory.
XLSX is written by XlsxWriter in its constant-memory mode: each row goes to disk as soon as
the next one starts, as inline strings, in a temporary directory of the export's own that is
removed when the export ends, however it ends. On the rows of a record export it needs
about 0.6 of the CPU time of openpyxl's write-only mode, which wrote exports before issue 16
(bench/xlsx_writers.py compares the writers; bench/README.md has the figures). openpyxl
still reads roster uploads.

A cell that starts with ``= + - @`` (or a tab or carriage return) is what spreadsheet
programs evaluate as a formula; such cells are prefixed with an apostrophe so that a venue
name or a student's reflection can never run as a formula on a teacher's computer.

Every text cell is cleaned first (:func:`export_text`): the characters the input rule refuses
(:mod:`scipass.core.inputs`) are dropped, line breaks kept. Rows stored before that rule may
hold them, and one control character in one organisation's title must not break the file of
everyone who exports it (XLSX cannot hold C0 controls at all). An XLSX cell holds at most
32,767 characters: a longer text is cut there (and, should characters outside the BMP make
it longer than that in UTF-16, as Excel counts, XlsxWriter cuts it to fit). An empty text
leaves the XLSX cell empty.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from xlsxwriter import Workbook

from scipass.core.inputs import refused_pattern

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    return _defused(value) if isinstance(value, str) else value


def _defused(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


_REFUSED = refused_pattern(multiline=True)


def export_text(text: str) -> str:
    """``text`` without the characters no export may hold (line breaks kept, CR LF as LF)."""
    text = text.replace("\r\n", "\n")
    # Most cells are clean: finding nothing is cheaper than replacing nothing.
    return _REFUSED.sub("", text) if _REFUSED.search(text) is not None else text


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
    """A small XLSX file whose every cell is text (numbers too, as :func:`csv_bytes` has them)."""
    return b"".join(_xlsx_file(sheet_title, header, rows, cell=_text_cell))


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


XLSX_CELL_LIMIT = 32_767  # the characters an XLSX cell holds (Excel's limit)


def xlsx_cell(value: object) -> str | int | float:
    """Numbers stay numbers (a column of minutes sums in Excel); everything else is text."""
    if type(value) is str:  # most cells: as _text_cell would, one call shorter
        return _defused(export_text(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return _text_cell(value)


def _text_cell(value: object) -> str:
    return _defused(_text(value))


_XLSX_OPTIONS = {
    # One row in memory at a time, strings inline, rows written to a file as they come.
    "constant_memory": True,
    # Text stays text: no formula, link or number is ever made from a string.
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def xlsx_chunks(
    sheet_title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    chunk_size: int = 64 * 1024,
) -> Iterator[bytes]:
    """An XLSX file, written row by row to a temporary directory and then read back in
    chunks. A zip file is only complete at its end, so the first chunk comes when every row
    is written."""
    return _xlsx_file(sheet_title, header, rows, cell=xlsx_cell, chunk_size=chunk_size)


def _xlsx_file(
    sheet_title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    cell: Callable[[object], str | int | float],
    chunk_size: int = 64 * 1024,
) -> Iterator[bytes]:
    with tempfile.TemporaryDirectory(prefix="scipass-xlsx-") as directory:
        path = Path(directory) / "export.xlsx"
        workbook = Workbook(str(path), {**_XLSX_OPTIONS, "tmpdir": directory})
        sheet = workbook.add_worksheet(sheet_title[:31])
        try:
            _write_rows(sheet, header, rows, cell)
            workbook.close()
        except BaseException:
            # The rows written so far sit in an open file of XlsxWriter's, in the directory.
            with contextlib.suppress(Exception):
                sheet.row_data_fh.close()
            raise
        with path.open("rb") as output:
            while chunk := output.read(chunk_size):
                yield chunk


def xlsx_workbook(
    sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[object]]]],
) -> bytes:
    """An XLSX file of several sheets (title, header, rows), written with the same options
    and cell rules as :func:`xlsx_chunks`, for reports of a few sheets held in memory whole
    (a ledger); sheet titles are cut to Excel's 31 characters."""
    with tempfile.TemporaryDirectory(prefix="scipass-xlsx-") as directory:
        path = Path(directory) / "workbook.xlsx"
        workbook = Workbook(str(path), {**_XLSX_OPTIONS, "tmpdir": directory})
        for title, header, rows in sheets:
            sheet = workbook.add_worksheet(title[:31])
            for column, width in enumerate(_widths(header, rows)):
                sheet.set_column(column, column, width)
            _write_rows(sheet, header, rows, xlsx_cell)
        workbook.close()
        return path.read_bytes()


def _widths(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[float]:
    """Column widths that show the header and the first rows (a CJK character takes two),
    between 6 and 60 characters."""
    widths = [_display_width(str(title)) for title in header]
    for row in rows[:200]:
        for column, value in enumerate(row[: len(widths)]):
            widths[column] = max(widths[column], _display_width(str(value)))
    return [min(60.0, max(6.0, width + 2.0)) for width in widths]


def _display_width(text: str) -> int:
    return sum(2 if ord(character) > 0x2E7F else 1 for character in text)


def _write_rows(
    sheet: Any,  # an xlsxwriter Worksheet (XlsxWriter ships no type information)
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    cell: Callable[[object], str | int | float],
) -> None:
    write_string = sheet.write_string
    write_number = sheet.write_number
    for column, title in enumerate(header):
        write_string(0, column, title)
    for row_number, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            content = cell(value)
            if isinstance(content, str):
                if content:  # an empty cell, not an empty string
                    write_string(row_number, column, content[:XLSX_CELL_LIMIT])
            else:
                write_number(row_number, column, content)


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
