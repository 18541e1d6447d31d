"""Renderers shared by every export: CSV for Excel (UTF-8 with BOM) and XLSX.

A cell that starts with ``= + - @`` (or a tab or carriage return) is what spreadsheet
programs evaluate as a formula; such cells are prefixed with an apostrophe so that a venue
name or a student's reflection can never run as a formula on a teacher's computer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from openpyxl import Workbook

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


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


def attachment(filename: str) -> dict[str, str]:
    """A Content-Disposition header that keeps a Chinese file name (RFC 6266 / 5987)."""
    ascii_name = filename.encode("ascii", "ignore").decode().strip(" .") or "download"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return {"Content-Disposition": disposition}
