"""A whitelist as an XLSX file: export, and import all-or-nothing.

Columns: 序号, 竞赛名称, 主办单位, 面向学段, 备注 (the first row is the header; 面向学段 lists
小学、初中、普通高中、中职, separated by 、 or commas). An import reads every row before writing
anything: one bad row imports none, and every bad cell is reported with its line (as Excel
shows it) and column. An entry already on the list (same name) is left as it is.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from openpyxl import load_workbook
from sqlmodel import Session

from scipass.competition import catalogue
from scipass.competition.errors import (
    CompetitionExists,
    WhitelistCellError,
    WhitelistFileUnreadable,
    WhitelistImportInvalid,
)
from scipass.competition.models import Whitelist, WhitelistEntry
from scipass.core.auth import Principal
from scipass.core.db import flush_unique
from scipass.core.exports import xlsx_bytes
from scipass.core.inputs import first_refused
from scipass.org.models import Stage, decode_stages, encode_stages

COLUMNS = ("序号", "竞赛名称", "主办单位", "面向学段", "备注")
MAX_ROWS = 2_000
MAX_BYTES = 5 * 1024 * 1024
STAGE_NAMES = {
    "小学": Stage.primary,
    "初中": Stage.junior,
    "普通高中": Stage.senior,
    "高中": Stage.senior,
    "中职": Stage.vocational,
}
STAGE_LABELS = {Stage.primary: "小学", Stage.junior: "初中", Stage.senior: "普通高中"}
STAGE_LABELS[Stage.vocational] = "中职"
_SEPARATORS = re.compile(r"[、，,;；/\s]+")


def export(session: Session, whitelist: Whitelist) -> bytes:
    rows = [
        [
            entry.number or "",
            entry.name,
            entry.organiser,
            "、".join(STAGE_LABELS[s] for s in decode_stages(entry.stages)),
            entry.note,
        ]
        for entry in catalogue.entries_of(session, whitelist.id or 0)
    ]
    return xlsx_bytes("白名单", COLUMNS, rows)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows(content: bytes) -> list[tuple[int, list[str]]]:
    if len(content) > MAX_BYTES or content[:4] != b"PK\x03\x04":
        raise WhitelistFileUnreadable()
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise WhitelistFileUnreadable() from None
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for line, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if line > MAX_ROWS + 1:
                raise WhitelistFileUnreadable(f"一次最多导入 {MAX_ROWS} 行")
            rows.append((line, [_cell(value) for value in row]))
        return rows
    finally:
        workbook.close()


def _parse(content: bytes) -> tuple[list[WhitelistEntry], list[WhitelistCellError]]:
    entries: list[WhitelistEntry] = []
    errors: list[WhitelistCellError] = []
    positions: dict[str, int] | None = None
    seen: dict[str, int] = {}
    for line, cells in _rows(content):
        if not any(cells):
            continue
        if positions is None:
            positions = {name: i for i, name in enumerate(cells) if name in COLUMNS}
            missing = [name for name in COLUMNS[1:4] if name not in positions]
            if missing:
                return [], [
                    WhitelistCellError(line=line, column=m, reason="缺少该列") for m in missing
                ]
            continue

        def cell(
            name: str, _cells: list[str] = cells, _positions: dict[str, int] = positions
        ) -> str:
            index = _positions.get(name)
            return _cells[index] if index is not None and index < len(_cells) else ""

        bad: list[WhitelistCellError] = []
        number: int | None = None
        if cell("序号"):
            if cell("序号").isdigit() and 1 <= int(cell("序号")) <= 10_000:
                number = int(cell("序号"))
            else:
                bad.append(WhitelistCellError(line=line, column="序号", reason="应为正整数"))
        for column, limit in (("竞赛名称", 200), ("主办单位", 200), ("备注", 200)):
            text = cell(column)
            if column != "备注" and not text:
                bad.append(WhitelistCellError(line=line, column=column, reason="不能为空"))
            elif len(text) > limit:
                bad.append(WhitelistCellError(line=line, column=column, reason=f"最多 {limit} 字"))
            elif first_refused(text) is not None:
                bad.append(WhitelistCellError(line=line, column=column, reason="含有不允许的字符"))
        name = cell("竞赛名称")
        if name and name in seen:
            bad.append(
                WhitelistCellError(line=line, column="竞赛名称", reason=f"与第 {seen[name]} 行重复")
            )
        seen.setdefault(name, line)
        labels = [part for part in _SEPARATORS.split(cell("面向学段")) if part]
        unknown = [label for label in labels if label not in STAGE_NAMES]
        if not labels or unknown:
            bad.append(
                WhitelistCellError(
                    line=line,
                    column="面向学段",
                    reason="应为 小学、初中、普通高中、中职 中的一项或几项",
                )
            )
        if bad:
            errors.extend(bad)
            continue
        entries.append(
            WhitelistEntry(
                whitelist_id=0,
                number=number,
                name=name,
                organiser=cell("主办单位"),
                stages=encode_stages([STAGE_NAMES[label] for label in labels]),
                note=cell("备注"),
                created_at=datetime.min.replace(tzinfo=UTC),
            )
        )
    if positions is None:
        raise WhitelistFileUnreadable("文件是空的")
    return entries, errors


def import_entries(
    session: Session, *, actor: Principal, whitelist_id: int, content: bytes, now: datetime
) -> tuple[int, int]:
    """Add the file's entries to a bureau's list: (imported, already there)."""
    whitelist = catalogue.own_whitelist(session, actor=actor, whitelist_id=whitelist_id)
    entries, errors = _parse(content)
    if errors:
        raise WhitelistImportInvalid(errors=[e.model_dump() for e in errors])
    existing = {e.name for e in catalogue.entries_of(session, whitelist.id or 0)}
    new = [e for e in entries if e.name not in existing]
    for entry in new:
        entry.whitelist_id = whitelist.id or 0
        entry.created_at = now
        session.add(entry)
    # an import at the same time may have added one of these names since the read above
    flush_unique(
        session,
        CompetitionExists(
            "名单中已有同名条目（可能刚被同时导入），本次未导入任何条目，请重新导入",
            "The list gained an entry of one of these names meanwhile; nothing was imported",
        ),
    )
    catalogue.audit(
        session, actor, now, "competition_whitelist", whitelist.id, change="imported", rows=len(new)
    )
    return len(new), len(entries) - len(new)
