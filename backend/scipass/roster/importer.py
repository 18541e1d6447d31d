"""Reading a roster file: CSV (UTF-8 with or without BOM, or GB18030 as Excel in China saves
it) or XLSX, with the columns 学号, 姓名, 性别, 出生年月, 年级, 班级 in any order.

Parsing never stops at the first problem: every bad cell is reported with its line number
(as Excel shows it: the header is line 1), its column and the reason, so a school admin can
fix the whole file at once.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook, load_workbook

from scipass.core.inputs import first_refused
from scipass.org.models import Stage

COLUMNS = ("学号", "姓名", "性别", "出生年月", "年级", "班级")
MAX_ROWS = 20_000
MAX_BYTES = 10 * 1024 * 1024

# Grade labels as schools write them -> (stage, grade 1-12).
_GRADES: dict[str, tuple[Stage, int]] = {}
for _n, _zh in enumerate("一二三四五六", start=1):
    for _label in (f"{_zh}年级", f"{_n}年级", f"小学{_zh}年级"):
        _GRADES[_label] = (Stage.primary, _n)
for _n, (_zh, _alt) in enumerate((("七", "初一"), ("八", "初二"), ("九", "初三")), start=7):
    for _label in (f"{_zh}年级", f"{_n}年级", _alt, f"初中{'一二三'[_n - 7]}年级"):
        _GRADES[_label] = (Stage.junior, _n)
for _n, _zh in enumerate("一二三", start=10):
    for _label in (f"高{_zh}", f"高中{_zh}年级", f"{_n}年级"):
        _GRADES[_label] = (Stage.senior, _n)
    for _label in (f"中职{_zh}年级", f"职{_zh}"):
        _GRADES[_label] = (Stage.vocational, _n)

_GRADE_LABELS = {
    Stage.primary: "{}年级",
    Stage.junior: "{}年级",
    Stage.senior: "高{}",
    Stage.vocational: "中职{}年级",
}
_ZH_DIGITS = "一二三四五六七八九"

_GENDERS = {"男": "male", "女": "female", "M": "male", "F": "female"}
_STUDENT_NO = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_NAME_MARKS = set("·•.- '〇")


def _valid_name(name: str) -> bool:
    """Letters of any script (汉字 of every extension, Mongolian, Tibetan, Uyghur, Latin...)
    and the marks that names use; one rare character must never block a school's roster."""
    return 0 < len(name) <= 30 and all(ch.isalpha() or ch in _NAME_MARKS for ch in name)


_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*(?:[-/.月]\s*(?:\d{1,2}\s*日?)?)?$")
_COMPACT_MONTH = re.compile(r"^(\d{4})(\d{2})(\d{2})?$")


def grade_stage(label: str) -> tuple[Stage, int]:
    """The stage and grade number of a label such as 四年级 or 高一 (KeyError if unknown)."""
    return _GRADES[label.replace(" ", "")]


def grade_label(stage: str, grade: int) -> str:
    number = grade - 9 if stage in (Stage.senior, Stage.vocational) else grade
    return _GRADE_LABELS[Stage(stage)].format(_ZH_DIGITS[number - 1])


@dataclass(frozen=True, slots=True)
class RosterRow:
    line: int
    student_no: str
    name: str
    gender: str
    birth_month: date
    stage: str
    grade: int
    class_name: str


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str
    reason: str


class RosterFileError(ValueError):
    """The file as a whole cannot be read (not a table, no header, too big)."""


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m")
    if isinstance(value, date):
        return value.strftime("%Y-%m")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _csv_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")
        except UnicodeDecodeError:
            raise RosterFileError(
                "文件编码无法识别：请保存为 UTF-8 或 GBK 编码的 CSV，或 XLSX"
            ) from None
    for line, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        yield line, [cell.strip() for cell in row]


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise RosterFileError("无法读取该 XLSX 文件，请确认文件未损坏") from None
    try:
        sheet = workbook.worksheets[0]
        for line, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line, [_cell_text(value) for value in row]
    finally:
        workbook.close()


def read_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    if len(content) > MAX_BYTES:
        raise RosterFileError(f"文件超过 {MAX_BYTES // (1024 * 1024)} MB")
    if content[:4] == b"PK\x03\x04":
        return _xlsx_rows(content)
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise RosterFileError("不支持旧版 Excel（.xls），请另存为 .xlsx 或 CSV")
    return _csv_rows(content)


def _parse_month(text: str, today: date) -> date | None:
    match = _MONTH.match(text) or _COMPACT_MONTH.match(text)
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return None
    born = date(year, month, 1)
    # Primary through vocational school: roughly 5 to 22 years old.
    if not (today.year - 22 <= year <= today.year - 4) or born > today:
        return None
    return born


def parse(
    content: bytes, *, school_stages: list[Stage], today: date
) -> tuple[list[RosterRow], list[RowError]]:
    rows: list[RosterRow] = []
    errors: list[RowError] = []
    iterator = read_rows(content)
    header: list[str] | None = None
    positions: dict[str, int] = {}
    seen: dict[str, int] = {}
    for line, cells in iterator:
        if not any(cells):
            continue
        if header is None:
            header = cells
            positions = {name: i for i, name in enumerate(cells) if name in COLUMNS}
            missing = [name for name in COLUMNS if name not in positions]
            for name in missing:
                errors.append(RowError(line, name, "缺少该列（请使用下载的模板）"))
            if missing:
                return [], errors
            continue
        if len(rows) + len(errors) >= MAX_ROWS * 2 or line > MAX_ROWS + 1:
            raise RosterFileError(f"一次最多导入 {MAX_ROWS} 行")

        def cell(
            name: str, _cells: list[str] = cells, _positions: dict[str, int] = positions
        ) -> str:
            index = _positions[name]
            return _cells[index] if index < len(_cells) else ""

        row_errors: list[RowError] = []
        student_no = cell("学号")
        if not student_no:
            row_errors.append(RowError(line, "学号", "不能为空"))
        elif not _STUDENT_NO.match(student_no):
            row_errors.append(RowError(line, "学号", "只能包含字母、数字、- 和 _，最多 32 位"))
        elif student_no in seen:
            row_errors.append(RowError(line, "学号", f"与第 {seen[student_no]} 行重复"))
        else:
            seen[student_no] = line
        name = cell("姓名")
        if not name:
            row_errors.append(RowError(line, "姓名", "不能为空"))
        elif not _valid_name(name):
            row_errors.append(RowError(line, "姓名", "只能包含汉字、字母和间隔号，最多 30 字"))
        gender = _GENDERS.get(cell("性别"))
        if gender is None:
            row_errors.append(RowError(line, "性别", "应为“男”或“女”"))
        birth_month = _parse_month(cell("出生年月"), today)
        if birth_month is None:
            row_errors.append(
                RowError(line, "出生年月", "日期无效：应为 2015-03 这样的年月，且为在校学生的年龄")
            )
        grade = _GRADES.get(cell("年级").replace(" ", ""))
        if grade is None:
            row_errors.append(RowError(line, "年级", f"无法识别的年级“{cell('年级')}”"))
        elif grade[0] not in school_stages:
            row_errors.append(RowError(line, "年级", f"本校没有“{cell('年级')}”所在的学段"))
        class_name = cell("班级")
        if not class_name:
            row_errors.append(RowError(line, "班级", "不能为空"))
        elif len(class_name) > 20:
            row_errors.append(RowError(line, "班级", "最多 20 字"))
        elif (refused := first_refused(class_name)) is not None:
            row_errors.append(RowError(line, "班级", f"含有不允许的字符（{refused}）"))
        if class_name.isdigit():
            class_name = f"{int(class_name)}班"

        if row_errors:
            errors.extend(row_errors)
            continue
        assert gender is not None
        assert birth_month is not None
        assert grade is not None
        rows.append(
            RosterRow(
                line=line,
                student_no=student_no,
                name=name,
                gender=gender,
                birth_month=birth_month,
                stage=grade[0].value,
                grade=grade[1],
                class_name=class_name,
            )
        )
    if header is None:
        raise RosterFileError("文件是空的")
    return rows, errors


def template_csv() -> bytes:
    lines = [",".join(COLUMNS), "20260101,张小明,男,2016-03,四年级,2班"]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def template_xlsx() -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("学生名单")
    sheet.append(list(COLUMNS))
    sheet.append(["20260101", "张小明", "男", "2016-03", "四年级", "2班"])
    notes = workbook.create_sheet("填写说明")
    for line in (
        ["列", "要求"],
        ["学号", "本校学号，必填，字母或数字，最多 32 位；重新导入时按学号更新"],
        ["姓名", "必填"],
        ["性别", "男 / 女"],
        ["出生年月", "如 2016-03（只需年月，用于判断是否满 14 周岁）"],
        ["年级", "一年级…六年级、七年级/初一…九年级/初三、高一…高三、中职一年级…中职三年级"],
        ["班级", "如 2班"],
        ["注意", "示例行请删除；一次最多 20000 行；有任何一行错误时整批不导入"],
    ):
        notes.append(line)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
