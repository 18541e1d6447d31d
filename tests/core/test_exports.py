"""The XLSX renderer every export shares: clean cells, numbers as numbers, and no temporary
file left behind however an export ends."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from scipass.core.exports import XLSX_CELL_LIMIT, xlsx_bytes, xlsx_chunks


def _values(data: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The directory every temporary file of the test goes to."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_cells_are_cleaned_and_numbers_stay_numbers(temporary: Path) -> None:
    rows = [
        ["=1+1", "+86", "-5", "@SUM(A1)", "\tTab", 95, 1.5, True, None, ""],
        [
            "科技\u0001馆\u0015之夜",
            "实验\r\n参观\u0085",
            "https://example.com",
            "123",
            "",
            0,
            -2,
            False,
            "",
            "x",
        ],
    ]
    data = b"".join(xlsx_chunks("写实记录", [f"列{i}" for i in range(10)], rows, chunk_size=512))
    values = _values(data)
    assert values[0] == [f"列{i}" for i in range(10)]
    assert values[1] == [
        "'=1+1",
        "'+86",
        "'-5",
        "'@SUM(A1)",
        "'\tTab",
        95,
        1.5,
        "是",
        None,  # None and "" leave the cell empty
        None,
    ]
    # Control characters dropped, line breaks kept (CR LF as LF); a link or a number written
    # as text stays text.
    assert values[2] == [
        "科技馆之夜",
        "实验\n参观",
        "https://example.com",
        "123",
        None,
        0,
        -2,
        "否",
        None,
        "x",
    ]
    assert load_workbook(io.BytesIO(data)).sheetnames == ["写实记录"]
    assert list(temporary.iterdir()) == []


def test_a_cell_holds_at_most_32767_characters(temporary: Path) -> None:
    long = "科" * 40_000
    values = _values(b"".join(xlsx_chunks("t", ["a", "b"], [[long, "短"]])))
    assert values[1] == ["科" * XLSX_CELL_LIMIT, "短"]


def test_xlsx_bytes_writes_every_cell_as_text(temporary: Path) -> None:
    values = _values(
        xlsx_bytes("2026" * 10, ["名称", "收费"], [["=HYPERLINK(1)", 20], ["馆", None]])
    )
    assert values == [["名称", "收费"], ["'=HYPERLINK(1)", "20"], ["馆", None]]
    assert list(temporary.iterdir()) == []


def test_no_temporary_file_is_left_when_the_rows_fail(temporary: Path) -> None:
    def rows() -> Iterator[list[object]]:
        for i in range(3000):
            if i == 2500:
                raise ConnectionError("the database went away")
            yield [i, "行"]

    with pytest.raises(ConnectionError):
        b"".join(xlsx_chunks("t", ["a", "b"], rows()))
    assert list(temporary.iterdir()) == []


def test_no_temporary_file_is_left_when_the_client_goes_away(temporary: Path) -> None:
    chunks = xlsx_chunks("t", ["a", "b"], ([i, "行" * 20] for i in range(5000)), chunk_size=1024)
    first = next(chunks)
    assert first.startswith(b"PK")
    assert len(list(temporary.iterdir())) == 1  # the export's own directory, while it streams
    chunks.close()  # as the server does when the client disconnects
    assert list(temporary.iterdir()) == []
