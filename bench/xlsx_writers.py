"""XLSX writers compared on the rows of a record export (issue 16, point 4).

    .venv/bin/pip install pyexcelerate rustpy-xlsxwriter    # candidates the project lacks
    .venv/bin/python bench/xlsx_writers.py --rows 200000 --libreoffice

Every writer gets the same rows, shaped as :func:`scipass.record.exports.export_row` makes
them (19 columns: Chinese text, times as ``YYYY-MM-DD HH:MM`` text, minutes and the evidence
count as integers, some empty cells, now and then a cell that starts like a formula, holds a
control character or text that looks like an XLSX escape) and cleaned as every export cleans
its cells (:func:`scipass.core.exports.xlsx_cell`). Rows are made as they are written, so
memory shows the writer, not the data. Each writer runs in a process of its own, which
reports the seconds (wall and CPU) and its peak RSS (``ru_maxrss``); ``rows only`` makes and
cleans the rows and writes nothing, the floor under every writer. ``scipass`` is the
project's own ``xlsx_chunks`` (whichever writer it uses at the time), chunks copied to a file.

``--libreoffice`` then converts each file to CSV with ``soffice --headless`` and compares the
header, the first, a middle and the last row, and the rows with a defused formula, a line
break, a control character or literal text that looks like an XLSX escape (``_x0041_``),
with the rows as written. A writer that is not installed is
skipped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from scipass.core.exports import xlsx_cell, xlsx_chunks  # noqa: E402
from scipass.record.exports import HEADER, SHEET_TITLE  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林"
GIVEN = "子涵雨桐浩然梓萱宇轩欣怡俊熙思彤明轩一诺"
TITLES = ("走进科技馆", "科学第一课", "机器人社团", "青少年科技创新大赛", "小小科普辅导员")
CATEGORIES = ("科普场馆参观", "科学课程与讲座", "探究实践", "科技竞赛", "志愿服务")
DIMENSIONS = ("社会实践", "学业水平", "学业水平", "学业水平", "思想品德")
STATUSES = ("待确认", "已确认", "已审核", "公示中", "已归档")
MARKS = ("", "", "", "家长代为确认", "家长代填", "教师代为确认")


def raw_row(i: int) -> list[object]:
    """Row ``i`` of the export as :func:`record.exports.export_row` yields it."""
    kind = i % 5
    student = i // 20
    day = 1 + (i * 3) % 28
    hour = 8 + i % 9
    title = f"{TITLES[kind]}（第{i % 20 + 1}次）"
    organiser = "湘潭市科学技术馆"
    outcome = "一等奖" if kind == 3 else ""
    if i % 1000 == 7:
        outcome = '=HYPERLINK("http://evil.example","点我")'  # defused: a leading '
    if i % 1000 == 11:
        title = "科技\u0001馆\u0015之夜\n（夜场）"  # control characters dropped, line kept
    if i % 1000 == 13:
        organiser = "_x0041_科技馆"  # literal text that XLSX would read as an escape ("A")
    return [
        f"X{student // 1000:02d}{student % 1000:06d}",
        SURNAMES[student % 20] + GIVEN[(student * 7) % 20] + GIVEN[(student * 3) % 20],
        f"{student % 6 + 1}年级",
        f"{(student // 6) % 8 + 1}班",
        title,
        CATEGORIES[kind],
        DIMENSIONS[kind],
        organiser,
        f"2026-{9 + i % 4:02d}-{day:02d} {hour:02d}:00",
        f"2026-{9 + i % 4:02d}-{day:02d} {hour + 2:02d}:00",
        120 if kind != 4 else 95,
        "参与者" if kind != 4 else "志愿者",
        outcome,
        STATUSES[kind],
        (i % 3 == 0) * (1 + i % 2),
        "刘老师（湘潭市科学技术馆）",
        "138****8000",
        f"湘乡市第{student // 1000 + 1}小学",
        MARKS[i % 6],
    ]


def raw_rows(n: int) -> Iterator[list[object]]:
    for i in range(n):
        yield raw_row(i)


def cells(n: int) -> Iterator[list[object]]:
    """The rows as every writer receives them: each cell cleaned."""
    for row in raw_rows(n):
        yield [xlsx_cell(value) for value in row]


# --- the writers -----------------------------------------------------------------------------


def rows_only(path: Path, n: int) -> None:
    for _ in cells(n):
        pass
    path.write_bytes(b"")


def scipass_chunks(path: Path, n: int) -> None:
    with path.open("wb") as out:
        for chunk in xlsx_chunks(SHEET_TITLE, HEADER, raw_rows(n)):
            out.write(chunk)


def openpyxl_write_only(path: Path, n: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE)
    sheet.append(list(HEADER))
    for row in cells(n):
        sheet.append(row)
    workbook.save(path)


_XLSXWRITER_OPTIONS = {
    "constant_memory": True,
    "strings_to_numbers": False,
    "strings_to_formulas": False,
    "strings_to_urls": False,
}


def xlsxwriter_write_row(path: Path, n: int) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), _XLSXWRITER_OPTIONS)
    sheet = workbook.add_worksheet(SHEET_TITLE)
    sheet.write_row(0, 0, HEADER)
    for r, row in enumerate(cells(n), start=1):
        sheet.write_row(r, 0, row)
    workbook.close()


def xlsxwriter_typed(path: Path, n: int) -> None:
    """XlsxWriter's typed calls, which skip write()'s dispatch on the value's type."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), _XLSXWRITER_OPTIONS)
    sheet = workbook.add_worksheet(SHEET_TITLE)
    write_string, write_number = sheet.write_string, sheet.write_number
    for c, title in enumerate(HEADER):
        write_string(0, c, title)
    for r, row in enumerate(cells(n), start=1):
        for c, value in enumerate(row):
            if isinstance(value, str):
                if value:
                    write_string(r, c, value)
            else:
                write_number(r, c, value)  # type: ignore[arg-type]
    workbook.close()


def pyexcelerate_sheet(path: Path, n: int) -> None:
    """PyExcelerate takes the sheet's data whole, so the rows are held as a list."""
    from pyexcelerate import Workbook

    workbook = Workbook()
    workbook.new_sheet(SHEET_TITLE, data=[list(HEADER), *cells(n)])
    workbook.save(str(path))


def rustpy_xlsxwriter(path: Path, n: int) -> None:
    """rustpy-xlsxwriter (rust_xlsxwriter underneath) takes an iterable of dicts."""
    import rustpy_xlsxwriter as rx

    records = (dict(zip(HEADER, row, strict=True)) for row in cells(n))
    rx.write_worksheet(records, str(path), sheet_name=SHEET_TITLE)


WRITERS: dict[str, tuple[str, Callable[[Path, int], None]]] = {
    "rows": ("rows only (made and cleaned, not written)", rows_only),
    "scipass": ("scipass xlsx_chunks (the project's writer)", scipass_chunks),
    "openpyxl": ("openpyxl write-only", openpyxl_write_only),
    "xlsxwriter-row": ("XlsxWriter constant_memory, write_row", xlsxwriter_write_row),
    "xlsxwriter": ("XlsxWriter constant_memory, write_string/number", xlsxwriter_typed),
    "pyexcelerate": ("PyExcelerate", pyexcelerate_sheet),
    "rustpy": ("rustpy-xlsxwriter", rustpy_xlsxwriter),
}
MODULES = {
    "openpyxl": "openpyxl",
    "xlsxwriter-row": "xlsxwriter",
    "xlsxwriter": "xlsxwriter",
    "pyexcelerate": "pyexcelerate",
    "rustpy": "rustpy_xlsxwriter",
}


def version(key: str) -> str:
    from importlib import metadata

    module = MODULES.get(key)
    if module is None:
        return ""
    distribution = {"rustpy_xlsxwriter": "rustpy-xlsxwriter"}.get(module, module)
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ""


def child(key: str, path: Path, n: int) -> None:
    """Run one writer and print what it cost, as JSON."""
    started = time.perf_counter()
    cpu = time.process_time()
    WRITERS[key][1](path, n)
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - started,
                "cpu": time.process_time() - cpu,
                "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "size": path.stat().st_size,
            }
        )
    )


# --- LibreOffice -----------------------------------------------------------------------------


def as_text(value: object) -> str:
    return "" if value is None else str(value)


def libreoffice_check(soffice: str, path: Path, n: int, work: Path) -> tuple[str, float]:
    """Convert ``path`` to CSV with LibreOffice and compare some rows; (verdict, seconds)."""
    out = work / f"lo-{path.stem}"
    out.mkdir()
    started = time.perf_counter()
    result = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{work}/lo-profile",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",
            "--outdir",
            str(out),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - started
    converted = out / (path.stem + ".csv")
    if result.returncode != 0 or not converted.exists():
        return f"not opened ({result.returncode}: {result.stderr.strip()[:200]})", seconds
    with converted.open(encoding="utf-8", newline="") as f:
        read = list(csv.reader(f))
    shutil.rmtree(out)
    if len(read) != n + 1:
        return f"{len(read) - 1:,} rows, not {n:,}", seconds
    if read[0] != list(HEADER):
        return f"header differs: {read[0][:3]}", seconds
    checked = sorted({0, n // 2, n - 1, 7, 11, 13} & set(range(n)))
    for i in checked:
        expected = [as_text(value) for value in [xlsx_cell(v) for v in raw_row(i)]]
        if read[i + 1] != expected:
            return f"row {i + 1} differs: {read[i + 1]} != {expected}", seconds
    return f"opened; header and rows {', '.join(str(i + 1) for i in checked)} as written", seconds


# --- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--only", nargs="*", choices=list(WRITERS), help="writers to run")
    parser.add_argument("--libreoffice", action="store_true", help="open each file with soffice")
    parser.add_argument("--child", choices=list(WRITERS), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.out, args.rows)
        return

    soffice = shutil.which("soffice") if args.libreoffice else None
    if args.libreoffice and soffice is None:
        sys.exit("--libreoffice: soffice not found (apt-get install libreoffice-calc-nogui)")
    keys = args.only or list(WRITERS)
    print(f"{args.rows:,} rows of {len(HEADER)} columns; python {sys.version.split()[0]}")
    print(
        f"  {'writer':48s} {'version':8s} {'seconds':>8s} {'cpu':>7s} {'peak RSS':>9s} {'size':>8s}"
    )
    with tempfile.TemporaryDirectory(prefix="xlsx-writers-") as tmp:
        work = Path(tmp)
        written: list[tuple[str, Path]] = []
        for key in keys:
            label = WRITERS[key][0]
            module = MODULES.get(key)
            if module is not None:
                try:
                    __import__(module)
                except ImportError:
                    print(f"  {label:48s} not installed, skipped")
                    continue
            path = work / f"{key}.xlsx"
            result = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    key,
                    "--out",
                    str(path),
                    "--rows",
                    str(args.rows),
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            if result.returncode != 0:
                print(f"  {label:48s} failed: {result.stderr.strip().splitlines()[-1:]}")
                continue
            cost = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f"  {label:48s} {version(key):8s} {cost['seconds']:7.1f}s {cost['cpu']:6.1f}s "
                f"{cost['peak_kb'] / 1024:7.0f}MB {cost['size'] / 1e6:6.1f}MB",
                flush=True,
            )
            if key != "rows":
                written.append((label, path))
        if soffice:
            print("LibreOffice (soffice --headless --convert-to csv):")
            for label, path in written:
                verdict, seconds = libreoffice_check(soffice, path, args.rows, work)
                print(f"  {label:48s} {seconds:6.1f}s  {verdict}", flush=True)


if __name__ == "__main__":
    main()
