"""The results template (XLSX) of a round and its upload.

The template lists the round's accepted entries (entry number, title, school, members) with
empty 奖项 and 是否晋级 columns, and a sheet explaining them. An upload is all or nothing:
every row is checked and entered in the request's transaction; any bad row (an unknown entry
number, a repeated one, an unknown award, a result already on notice, an advance with no next
round, a region with no places left) and the whole upload is refused with every bad row by
line, and the transaction is rolled back, so nothing is written.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime

from openpyxl import Workbook, load_workbook
from sqlmodel import Session, col, select

from scipass.competition.models import Entry
from scipass.competition.results import (
    ResultInput,
    ResultRow,
    audit,
    next_round,
    organised_round,
    round_results,
    set_result,
)
from scipass.competition.results_errors import (
    NoNextRound,
    RegionQuotaReached,
    ResultEntryNotFound,
    ResultFileUnreadable,
    ResultLocked,
    ResultUploadInvalid,
)
from scipass.competition.results_models import AWARD_LABEL, Award
from scipass.core.auth import Principal
from scipass.core.errors import ProblemError
from scipass.core.exports import safe_cell
from scipass.record.labels import NOT_FOR_ADMISSION

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
NUMBER, TITLE, SCHOOL, MEMBERS, AWARD, ADVANCES = (
    "报名编号",
    "作品/队伍名称",
    "学校",
    "成员",
    "奖项",
    "是否晋级",
)
COLUMNS = (NUMBER, TITLE, SCHOOL, MEMBERS, AWARD, ADVANCES)
REQUIRED = (NUMBER, AWARD, ADVANCES)
_AWARDS = {label: award for award, label in AWARD_LABEL.items()} | {a.value: a for a in Award}
_YES = {"是", "晋级", "y", "yes", "true", "1"}
_NO = {"否", "", "n", "no", "false", "0"}


def template(session: Session, *, actor: Principal, round_id: int, now: datetime) -> bytes:
    """The round's results template, with its accepted entries listed."""
    organised_round(session, actor=actor, round_id=round_id)
    _, rows = round_results(session, actor=actor, round_id=round_id, now=now)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("成绩")
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([safe_cell(value) for value in _template_row(row)])
    notes = workbook.create_sheet("填写说明")
    for line in (
        ["列", "要求"],
        [NUMBER, "本轮已录取的报名编号，勿改"],
        [AWARD, "、".join(AWARD_LABEL.values())],
        [ADVANCES, "是 / 否（空白为否）；最后一轮不能晋级"],
        ["注意", "有任何一行错误时整表不录入；已进入公示或已发布的成绩不能修改"],
        ["说明", f"{NOT_FOR_ADMISSION}（教育部全国性竞赛活动管理规定）"],
    ):
        notes.append(line)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _template_row(row: ResultRow) -> list[str]:
    award = AWARD_LABEL[Award(row.result.award)] if row.result else ""
    advances = ("是" if row.result.advances else "否") if row.result else ""
    return [
        row.entry.number or "",
        row.entry.title,
        row.school.name,
        "、".join(student.name for student in row.members),
        award,
        advances,
    ]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    """The rows of the first sheet of an XLSX file, with their line numbers."""
    if content[:4] != b"PK\x03\x04":
        raise ResultFileUnreadable("请上传由模板填写的 XLSX 文件", "Upload the XLSX template")
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise ResultFileUnreadable("无法读取该 XLSX 文件", "The XLSX file is damaged") from None
    try:
        sheet = workbook.worksheets[0]
        for line, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line, [_cell_text(value) for value in row]
    finally:
        workbook.close()


def _cell(cells: list[str], position: int) -> str:
    return cells[position] if position < len(cells) else ""


def _parse(content: bytes) -> tuple[list[tuple[int, str, Award, bool]], list[dict[str, object]]]:
    rows: list[tuple[int, str, Award, bool]] = []
    errors: list[dict[str, object]] = []
    index: dict[str, int] | None = None
    for line, cells in read_rows(content):
        if line > MAX_ROWS + 1:
            raise ResultFileUnreadable(f"一次最多录入 {MAX_ROWS} 行", f"At most {MAX_ROWS} rows")
        if index is None:
            index = {name: cells.index(name) for name in REQUIRED if name in cells}
            missing = [name for name in REQUIRED if name not in index]
            if missing:
                raise ResultFileUnreadable(
                    f"表头缺少：{'、'.join(missing)}", f"Header lacks: {', '.join(missing)}"
                )
            continue
        if not any(cells):
            continue

        number, award_text, advances_text = (_cell(cells, index[name]) for name in REQUIRED)
        advances_text = advances_text.lower()
        award = _AWARDS.get(award_text)
        ok = True
        if not number:
            errors.append({"line": line, "column": NUMBER, "reason": "报名编号不能为空"})
            ok = False
        if award is None:
            reason = f"奖项须为：{'、'.join(AWARD_LABEL.values())}"
            errors.append({"line": line, "column": AWARD, "reason": reason})
            ok = False
        if advances_text not in _YES | _NO:
            errors.append({"line": line, "column": ADVANCES, "reason": "是否晋级须为 是 或 否"})
            ok = False
        if ok and award is not None:
            rows.append((line, number, award, advances_text in _YES))
    if index is None:
        raise ResultFileUnreadable("文件是空的", "The file is empty")
    return rows, errors


_ROW_REASONS: dict[type[ProblemError], str] = {
    ResultEntryNotFound: "该报名编号不在本轮已录取的名单中",
    ResultLocked: "该成绩已进入公示或已发布，不能修改",
    NoNextRound: "本轮是最后一轮，不能晋级",
    RegionQuotaReached: "所在地区晋级下一轮的名额已满",
}


def upload(
    session: Session, *, actor: Principal, round_id: int, content: bytes, now: datetime
) -> int:
    """Enter every row of the file, or none: raises :class:`ResultUploadInvalid` with every
    bad row (the caller's transaction is then rolled back). Returns how many were entered."""
    round_ = organised_round(session, actor=actor, round_id=round_id)
    rows, errors = _parse(content)
    numbers = [number for _, number, _, _ in rows]
    entry_ids = dict(
        session.exec(
            select(Entry.number, Entry.id).where(
                col(Entry.number).in_(numbers), Entry.edition_id == round_.edition_id
            )
        ).all()
    )
    has_next = next_round(session, round_) is not None
    seen: dict[str, int] = {}
    for line, number, award, advances in rows:
        if number in seen:
            reason = f"报名编号与第 {seen[number]} 行重复"
            errors.append({"line": line, "column": NUMBER, "reason": reason})
            continue
        seen[number] = line
        entry_id = entry_ids.get(number)
        if entry_id is None:
            reason = _ROW_REASONS[ResultEntryNotFound]
            errors.append({"line": line, "column": NUMBER, "reason": reason})
            continue
        try:
            set_result(
                session,
                actor=actor,
                round_=round_,
                data=ResultInput(entry_id=entry_id, award=award, advances=advances),
                now=now,
                has_next=has_next,
            )
        except (ResultEntryNotFound, ResultLocked, NoNextRound, RegionQuotaReached) as error:
            column = ADVANCES if isinstance(error, NoNextRound | RegionQuotaReached) else NUMBER
            errors.append({"line": line, "column": column, "reason": _ROW_REASONS[type(error)]})
    if errors:
        errors.sort(key=lambda error: (int(str(error["line"])), str(error["column"])))
        raise ResultUploadInvalid(
            f"共 {len(errors)} 处错误，未录入任何成绩",
            f"{len(errors)} errors; nothing was entered",
            errors=errors,
        )
    if not rows:
        raise ResultUploadInvalid("表中没有成绩", "The file holds no results", errors=[])
    audit(session, actor, round_, "uploaded", now, results=len(rows))
    return len(rows)
