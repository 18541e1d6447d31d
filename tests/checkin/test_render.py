"""QR codes as PNG, SVG and the printed poster, checked against ``qrcode``'s own matrix."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
import qrcode
from PIL import Image
from pypdf import PdfReader
from qrcode.constants import ERROR_CORRECT_M

from scipass.checkin.render import (
    Poster,
    poster_pdf,
    qr_matrix,
    qr_png,
    qr_svg,
    qr_svg_element,
    qr_version,
)
from scipass.core import pdf_fonts
from scipass.core.config import Settings
from scipass.core.pdf_fonts import ChineseFont
from tests.tools import require_tool

UPPER_LINK = "HTTPS://SCIPASS.EXAMPLE.CN/C/R.7KQ2M9AB.1KZ3F2.K1.ABCDEFGHJK"
LOWER_LINK = UPPER_LINK.lower()
SVG = "{http://www.w3.org/2000/svg}"

MODE_ALPHANUMERIC = 0b0010
MODE_BYTE = 0b0100
FORMAT_MASK = 0b101010000010010  # ISO/IEC 18004, applied to the 15 format bits
MASKS = {
    0: lambda i, j: (i + j) % 2 == 0,
    1: lambda i, j: i % 2 == 0,
    2: lambda i, j: j % 3 == 0,
    3: lambda i, j: (i + j) % 3 == 0,
    4: lambda i, j: (i // 2 + j // 3) % 2 == 0,
    5: lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    6: lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    7: lambda i, j: ((i * j) % 3 + (i + j) % 2) % 2 == 0,
}


def reference(text: str) -> list[list[bool]]:
    """The matrix ``qrcode`` itself makes at level M with a 4-module border."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    return code.get_matrix()


def dark_count(matrix: list[list[bool]]) -> int:
    return sum(sum(row) for row in matrix)


def squeezed(text: str) -> str:
    return "".join(text.split())


# --- reading the header of a symbol back from its modules -----------------------------------


def symbol_header(matrix: list[list[bool]], bit_count: int) -> tuple[int, int]:
    """(error correction bits, the first ``bit_count`` data bits) read from the modules.

    The format information is read from both of its copies; the data bits fill the two
    right-most columns upwards from the bottom-right corner, XORed with the mask pattern. The
    first codeword always starts block 1; later ones belong to it only in a one-block symbol.
    """
    symbol = [row[4:-4] for row in matrix[4:-4]]
    n = len(symbol)
    beside_finder = [symbol[8][column] for column in range(5)]  # format bits 14..10
    below_finder = [symbol[n - 1 - k][8] for k in range(5)]  # the same bits, second copy
    assert beside_finder == below_finder
    top_bits = int("".join("1" if dark else "0" for dark in beside_finder), 2)
    format_bits = top_bits ^ (FORMAT_MASK >> 10)
    error_correction, mask = format_bits >> 3, format_bits & 0b111

    bits = []
    for step in range(bit_count):
        row, column = n - 1 - step // 2, n - 1 - step % 2
        bits.append(symbol[row][column] != MASKS[mask](row, column))
    return error_correction, int("".join("1" if bit else "0" for bit in bits), 2)


# --- the symbol ------------------------------------------------------------------------------


def test_the_matrix_is_qrcodes_at_level_m_with_a_quiet_zone() -> None:
    matrix = qr_matrix(UPPER_LINK)
    assert matrix == reference(UPPER_LINK)
    assert len(matrix) == 17 + 4 * qr_version(UPPER_LINK) + 2 * 4
    for row in matrix[:4] + matrix[-4:]:
        assert not any(row)
    assert not any(dark for row in matrix for dark in row[:4] + row[-4:])
    error_correction, _ = symbol_header(matrix, 4)
    assert error_correction == ERROR_CORRECT_M == 0b00


def test_an_upper_case_link_is_alphanumeric_and_smaller_than_in_lower_case() -> None:
    assert len(UPPER_LINK) == 60

    # 60 characters: 61 alphanumeric fit version 3-M, bytes need version 4 (at most 62).
    assert qr_version(UPPER_LINK) == 3
    assert qr_version(LOWER_LINK) == 4

    # Version 3-M is one Reed-Solomon block, so the 9-bit character count follows the mode.
    _, header = symbol_header(qr_matrix(UPPER_LINK), 4 + 9)
    assert (header >> 9, header & 0x1FF) == (MODE_ALPHANUMERIC, len(UPPER_LINK))
    _, mode = symbol_header(qr_matrix(LOWER_LINK), 4)
    assert mode == MODE_BYTE
    assert len(qr_matrix(UPPER_LINK)) < len(qr_matrix(LOWER_LINK))


# --- PNG and SVG -----------------------------------------------------------------------------


@pytest.mark.parametrize("box_size", [10, 3])
def test_the_png_shows_the_matrix(box_size: int) -> None:
    expected = reference(UPPER_LINK)
    content = qr_png(UPPER_LINK, box_size=box_size) if box_size != 10 else qr_png(UPPER_LINK)

    image = Image.open(io.BytesIO(content))
    assert image.format == "PNG"
    assert image.width == image.height == len(expected) * box_size
    gray = image.convert("L")
    dark_pixels = dark_count(expected) * box_size**2
    light_pixels = image.width * image.height - dark_pixels
    assert sorted(gray.getcolors() or []) == sorted([(dark_pixels, 0), (light_pixels, 255)])
    for row_index, row in enumerate(expected):
        for column, dark in enumerate(row):
            centre = (column * box_size + box_size // 2, row_index * box_size + box_size // 2)
            assert gray.getpixel(centre) == (0 if dark else 255), (row_index, column)


def test_a_png_needs_a_positive_box_size() -> None:
    with pytest.raises(ValueError, match="box_size"):
        qr_png(UPPER_LINK, box_size=0)


@pytest.mark.parametrize("text", [UPPER_LINK, LOWER_LINK, "科学实践护照"])
def test_the_svg_has_one_square_per_dark_module(text: str) -> None:
    expected = reference(text)
    size = len(expected)
    document = qr_svg(text)
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ')
    assert qr_svg_element(text) == document.split("\n")[1]
    assert not qr_svg_element(text).startswith("<?xml")

    root = ElementTree.fromstring(document.encode())  # noqa: S314 (our own output)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == f"0 0 {size} {size}"
    assert root.get("shape-rendering") == "crispEdges"
    children = list(root)
    assert [child.tag for child in children] == [f"{SVG}rect", f"{SVG}path"]
    background, path = children
    assert (background.get("width"), background.get("height")) == (str(size), str(size))
    assert background.get("fill") == "#fff"
    assert path.get("fill") == "#000"
    assert "href" not in document
    assert "url(" not in document

    d = path.get("d") or ""
    assert re.fullmatch(r"(?:M\d+ \d+h1v1h-1z)+", d)
    squares = [(int(x), int(y)) for x, y in re.findall(r"M(\d+) (\d+)", d)]
    assert len(squares) == dark_count(expected)
    assert set(squares) == {
        (x, y) for y, row in enumerate(expected) for x, dark in enumerate(row) if dark
    }


# --- the poster ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def font() -> ChineseFont:
    return pdf_fonts.chinese_font(Settings(_env_file=None))  # type: ignore[call-arg]


def make_poster(**overrides: object) -> Poster:
    values: dict[str, object] = {
        "title": "青少年人工智能科普体验：机器人编程工作坊",
        "organiser": "上海科技馆 STEM 教育中心",
        "place": "浦东新区世纪大道2000号 二楼 A 厅",
        # 23:30 UTC is 07:30 the next day in Beijing
        "valid_from": datetime(2026, 10, 13, 23, 30, tzinfo=UTC),
        "valid_until": datetime(2026, 10, 20, 10, 0, tzinfo=UTC),
        "link": UPPER_LINK,
        "short_id": "7KQ2M9AB",
    }
    values.update(overrides)
    return Poster(**values)  # type: ignore[arg-type]


def pdf_text(content: bytes) -> tuple[PdfReader, str]:
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    return reader, "".join(page.extract_text() for page in reader.pages)


def test_the_poster_is_one_a4_page_with_the_activity_and_the_steps(font: ChineseFont) -> None:
    poster = make_poster()
    reader, text = pdf_text(poster_pdf(poster, font=font))

    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - 595) <= 1
    assert abs(float(box.height) - 842) <= 1
    flat = squeezed(text)
    for expected in (
        "科学实践护照 · 活动签到码",
        poster.title,
        poster.organiser,
        poster.place,
        "有效期：2026-10-14 07:30 至 2026-10-20 18:00（北京时间）",
        poster.short_id,
        "如何签到",
        "1. 打开微信，扫一扫上方二维码",
        "2. 在“科学实践护照”小程序中确认签到",
        "3. 离开时如需签退，请再次扫码并选择“签退”",
        "请勿将二维码拍照转发，异地签到无效。",
    ):
        assert squeezed(expected) in flat, expected
    assert UPPER_LINK not in flat  # only the code carries the link


def test_a_long_title_wraps_and_stays_whole(font: ChineseFont) -> None:
    title = ("面向中小学生的人工智能与机器人编程科学实践活动暨青少年科技创新大赛选拔" * 2)[:60]
    assert len(title) == 60
    reader, text = pdf_text(poster_pdf(make_poster(title=title), font=font))

    assert len(reader.pages) == 1
    assert title in squeezed(text)
    lines = [line for line in text.splitlines() if set(line) & set(title)]
    assert not any(title in squeezed(line) for line in lines)  # wrapped: no line holds it all
    assert "如何签到" in text


def test_poster_times_must_be_aware_and_in_order() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_poster(valid_from=datetime(2026, 10, 14, 9, 0))  # noqa: DTZ001
    with pytest.raises(ValueError, match="before"):
        make_poster(
            valid_from=datetime(2026, 10, 14, 9, 0, tzinfo=UTC),
            valid_until=datetime(2026, 10, 14, 8, 0, tzinfo=UTC),
        )


def test_without_a_truetype_font_the_poster_uses_the_built_in_chinese_font(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With the system font paths hidden (a machine without fonts-droid-fallback), the
    poster is still made, in reportlab's built-in STSong-Light (referenced, not embedded)."""
    monkeypatch.setattr(pdf_fonts, "SYSTEM_FONTS", ((tmp_path / "absent.ttf", 0),))
    fallback = pdf_fonts.chinese_font(Settings(_env_file=None))  # type: ignore[call-arg]
    assert fallback.name == pdf_fonts.BUILT_IN_FONT
    assert not fallback.embedded
    content = poster_pdf(make_poster(), font=fallback)
    reader, text = pdf_text(content)
    assert len(reader.pages) == 1
    fonts = reader.pages[0]["/Resources"]["/Font"]
    base_fonts = {str(fonts[key].get_object()["/BaseFont"]) for key in fonts}
    assert "/STSong-Light" in base_fonts
    assert "活动签到码" in squeezed(text)


# --- the printed poster, rendered ------------------------------------------------------------

DPI = 144
INK = 128  # a pixel darker than this is ink


def render(content: bytes, tmp_path: Path) -> Image.Image:
    source = tmp_path / "poster.pdf"
    source.write_bytes(content)
    pdftoppm = require_tool("pdftoppm", package="poppler-utils")
    subprocess.run(
        [pdftoppm, "-r", str(DPI), "-gray", "-singlefile", str(source), str(tmp_path / "page")],
        check=True,
    )
    return Image.open(tmp_path / "page.pgm").convert("L")


def ink_bands(ink: Image.Image, *, gap: int) -> list[tuple[int, int]]:
    """Runs of rows holding ink, rows closer than ``gap`` joined: ``(first, last)``."""
    rows = [y for y in range(ink.height) if ink.crop((0, y, ink.width, y + 1)).getbbox()]
    bands: list[tuple[int, int]] = []
    for y in rows:
        if bands and y - bands[-1][1] <= gap:
            bands[-1] = (bands[-1][0], y)
        else:
            bands.append((y, y))
    return bands


def assert_scannable_symbol(page: Image.Image, text: str) -> None:
    """The tallest block of ink is the symbol: centred, large, square modules that match
    ``qrcode``'s matrix at their centres, and 4 modules of white all around it."""
    expected = [row[4:-4] for row in reference(text)[4:-4]]
    n = len(expected)
    ink = page.point(lambda value: 255 if value < INK else 0)
    # Inside a symbol no two whole rows of modules are white; around it lie 4 white modules.
    top, bottom = max(ink_bands(ink, gap=20), key=lambda band: band[1] - band[0])
    bbox = ink.crop((0, top, ink.width, bottom + 1)).getbbox()
    assert bbox is not None
    left, right = bbox[0], bbox[2]
    width, height = right - left, bottom + 1 - top
    assert abs(width - height) <= 2  # square
    assert width / DPI * 25.4 >= 80  # large: at least 8 cm across
    assert abs((left + right) / 2 - page.width / 2) <= 2  # centred
    module = width / n
    for row_index, row in enumerate(expected):
        for column, dark in enumerate(row):
            centre = (int(left + (column + 0.5) * module), int(top + (row_index + 0.5) * module))
            assert (page.getpixel(centre) < INK) == dark, (row_index, column)
    quiet = round(4 * module)
    surround = ink.crop((left - quiet, top - quiet, right + quiet, bottom + 1 + quiet))
    assert surround.getbbox() == (quiet, quiet, quiet + width, quiet + height)


@pytest.mark.parametrize("title_length", [20, 60])
def test_the_printed_code_scans_and_nothing_leaves_the_page(
    font: ChineseFont, tmp_path: Path, title_length: int
) -> None:
    title = ("青少年人工智能与机器人编程科学实践活动暨科技创新大赛选拔营" * 3)[:title_length]
    page = render(poster_pdf(make_poster(title=title), font=font), tmp_path)

    assert page.size == (round(595.28 * DPI / 72), round(841.89 * DPI / 72))
    edge = round(12 / 25.4 * DPI)  # 12 mm of paper all around stay blank
    ink = page.point(lambda value: 255 if value < INK else 0)
    content = ink.getbbox()
    assert content is not None
    left, top, right, bottom = content
    assert min(left, top) >= edge
    assert right <= page.width - edge
    assert bottom <= page.height - edge
    assert_scannable_symbol(page, UPPER_LINK)
