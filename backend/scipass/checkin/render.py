"""Activity QR codes as images and as a printable poster; pure functions, no database.

Every symbol is made the same way: error correction M, a quiet zone of 4 modules, and the
smallest version that holds the text. ``qrcode`` encodes text made only of QR's alphanumeric
characters (upper-case letters, digits, space and ``$%*+-./:``) in alphanumeric mode, so an
upper-case code link (see :mod:`scipass.checkin.codes`) needs a smaller symbol than the same
link in lower case.

* :func:`qr_png` for downloads, :func:`qr_svg` as a file and :func:`qr_svg_element` to inline
  in the kiosk page;
* :func:`poster_pdf`: the A4 活动签到码 poster a venue prints and puts up (a volunteer
  shift's code gets the same poster in a shift's words, :data:`SHIFT_WORDS`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from scipass.core.clock import SHANGHAI
from scipass.core.pdf_fonts import ChineseFont, MixedText

QUIET_ZONE = 4  # modules of white around the symbol, as the standard requires

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 20 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
QR_MAX_SIDE = 120 * mm  # the symbol with its quiet zone

HEADING = "科学实践护照 · 活动签到码"
HOW_TO = "如何签到"
STEPS = (
    "1. 打开微信，扫一扫上方二维码",
    "2. 在“科学实践护照”小程序中确认签到",
    "3. 离开时如需签退，请再次扫码并选择“签退”",
)
WARNING = "请勿将二维码拍照转发，异地签到无效。"


@dataclass(frozen=True, slots=True)
class PosterWords:
    """What a poster says around the code: an activity's words, or a volunteer shift's."""

    heading: str
    place_label: str
    how_to: str
    steps: tuple[str, ...]


ACTIVITY_WORDS = PosterWords(heading=HEADING, place_label="活动地点", how_to=HOW_TO, steps=STEPS)
SHIFT_WORDS = PosterWords(
    heading="科学实践护照 · 志愿服务签到码",
    place_label="服务地点",
    how_to="如何到岗、离岗",
    steps=(
        "1. 到岗时打开微信，扫一扫上方二维码",
        "2. 在“科学实践护照”小程序中确认到岗",
        "3. 服务结束离岗时，请再次扫码并选择“离岗”",
    ),
)


# --- the symbol --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Symbol:
    version: int
    modules: tuple[tuple[bool, ...], ...]  # True is dark; includes the quiet zone


@lru_cache(maxsize=256)
def _symbol(text: str) -> _Symbol:
    code = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(text)
    code.make(fit=True)
    modules = tuple(tuple(bool(dark) for dark in row) for row in code.get_matrix())
    return _Symbol(version=code.version, modules=modules)


def qr_matrix(text: str) -> list[list[bool]]:
    """The modules of ``text``'s QR code, row by row, ``True`` for dark, quiet zone included.

    Raises ``qrcode.exceptions.DataOverflowError`` when the text is too long for any version.
    """
    return [list(row) for row in _symbol(text).modules]


def qr_version(text: str) -> int:
    """The QR version (1-40) of ``text``'s code: the smallest that holds it at level M."""
    return _symbol(text).version


def qr_png(text: str, *, box_size: int = 10) -> bytes:
    """The code as a black-on-white 1-bit PNG, ``box_size`` pixels per module."""
    if box_size < 1:
        raise ValueError("box_size must be at least 1")
    modules = _symbol(text).modules
    size = len(modules)
    image = Image.new("1", (size, size), 1)
    image.putdata([0 if dark else 1 for row in modules for dark in row])
    image = image.resize((size * box_size, size * box_size), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def qr_svg_element(text: str) -> str:
    """The code as an ``<svg>`` element to inline in HTML: the view box counts modules, a white
    background, and one path with a unit square per dark module. Without a width or height
    it takes the size the page's CSS gives it."""
    modules = _symbol(text).modules
    size = len(modules)
    squares = "".join(
        f"M{x} {y}h1v1h-1z" for y, row in enumerate(modules) for x, dark in enumerate(row) if dark
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}"'
        ' shape-rendering="crispEdges" role="img" aria-label="活动签到二维码">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{squares}"/>'
        "</svg>"
    )


def qr_svg(text: str) -> str:
    """The code as a standalone SVG document (:func:`qr_svg_element` with an XML
    declaration)."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + qr_svg_element(text) + "\n"


# --- the poster --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Poster:
    """What the 活动签到码 poster shows; ``link`` is the text of the QR code, ``words`` the
    wording around it."""

    title: str
    organiser: str
    place: str
    valid_from: datetime
    valid_until: datetime
    link: str
    short_id: str
    words: PosterWords = ACTIVITY_WORDS

    def __post_init__(self) -> None:
        if self.valid_from.utcoffset() is None or self.valid_until.utcoffset() is None:
            raise ValueError("valid_from and valid_until must be timezone-aware")
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")


def _beijing(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _validity(poster: Poster) -> str:
    return f"有效期：{_beijing(poster.valid_from)} 至 {_beijing(poster.valid_until)}（北京时间）"


def _style(name: str, font: str, size: float, **options: object) -> ParagraphStyle:
    return ParagraphStyle(
        name, fontName=font, fontSize=size, leading=size * 1.35, wordWrap="CJK", **options
    )


def _fitted(text: MixedText, value: str, style: ParagraphStyle, *, max_lines: int) -> Paragraph:
    """``value`` in at most ``max_lines`` lines of the content width: the font shrinks down to
    two thirds of its size, then the text is cut and ends in an ellipsis."""

    def fits(paragraph: Paragraph, leading: float) -> bool:
        _, height = paragraph.wrap(CONTENT_WIDTH, PAGE_HEIGHT)
        return height <= max_lines * leading + 0.5

    smallest = style.fontSize * 2 / 3
    size = style.fontSize
    while True:
        shrunk = ParagraphStyle(style.name, parent=style, fontSize=size, leading=size * 1.35)
        paragraph = Paragraph(text(value), shrunk)
        if fits(paragraph, shrunk.leading) or size <= smallest:
            break
        size = max(smallest, size - 2)
    while not fits(paragraph, shrunk.leading) and value:
        value = value[:-1].rstrip()
        paragraph = Paragraph(text(value + "…"), shrunk)
    return paragraph


def _draw_below(canvas: Canvas, paragraph: Paragraph, top: float) -> float:
    """Draws ``paragraph`` with its top at ``top``; returns its bottom."""
    _, height = paragraph.wrap(CONTENT_WIDTH, PAGE_HEIGHT)
    paragraph.drawOn(canvas, MARGIN, top - height)
    return top - height


def _draw_symbol(
    canvas: Canvas, modules: tuple[tuple[bool, ...], ...], x: float, y: float, side: float
) -> None:
    """The symbol (quiet zone included) as a ``side``-point square with its lower left corner at
    ``(x, y)``: square modules, each row's dark runs as rectangles of one filled path."""
    count = len(modules)
    module = side / count
    canvas.setFillColor(colors.white)
    canvas.rect(x, y, side, side, stroke=0, fill=1)
    path = canvas.beginPath()
    for row_index, row in enumerate(modules):
        top = y + side - row_index * module
        start: int | None = None
        for column, dark in enumerate((*row, False)):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                path.rect(x + start * module, top - module, (column - start) * module, module)
                start = None
    canvas.setFillColor(colors.black)
    canvas.drawPath(path, stroke=0, fill=1)


def poster_pdf(poster: Poster, *, font: ChineseFont) -> bytes:
    """The 活动签到码 poster as a one-page A4 PDF.

    ``font`` comes from :func:`scipass.core.pdf_fonts.chinese_font`; characters it lacks
    (Droid Sans Fallback has no ASCII) are drawn in Helvetica. A long title shrinks and, past
    three lines, is cut.
    """
    font_name = font.name
    text = MixedText(font_name, font.covered)
    heading = _style(
        "heading", font_name, 15, alignment=TA_CENTER, textColor=colors.HexColor("#1F5FA8")
    )
    title = _style("title", font_name, 24, alignment=TA_CENTER)
    detail = _style(
        "detail", font_name, 12, alignment=TA_CENTER, textColor=colors.HexColor("#333333")
    )
    small = _style("small", font_name, 9, alignment=TA_CENTER, textColor=colors.HexColor("#666666"))
    how_to = _style("how_to", font_name, 14, alignment=TA_LEFT)
    step = _style("step", font_name, 12, alignment=TA_LEFT, leftIndent=6 * mm)
    warning = _style(
        "warning", font_name, 11, alignment=TA_LEFT, textColor=colors.HexColor("#B3261E")
    )

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    words = poster.words
    canvas.setTitle(f"{words.heading.rsplit(' ', 1)[-1]} {poster.title}")
    canvas.setAuthor("SciPass")
    canvas.setSubject(words.heading)

    # From the top: heading, title, organiser, place, validity.
    top = PAGE_HEIGHT - MARGIN
    top = _draw_below(canvas, Paragraph(text(words.heading), heading), top) - 4 * mm
    top = _draw_below(canvas, _fitted(text, poster.title, title, max_lines=3), top) - 3 * mm
    for line in (f"主办单位：{poster.organiser}", f"{words.place_label}：{poster.place}"):
        top = _draw_below(canvas, _fitted(text, line, detail, max_lines=2), top)
    upper_edge = _draw_below(canvas, Paragraph(text(_validity(poster)), detail), top)

    # From the bottom: how to check in, the warning.
    lower_block = [
        (Paragraph(text(words.how_to), how_to), 2 * mm),
        *((Paragraph(text(line), step), 1 * mm) for line in words.steps),
        (Paragraph(text(WARNING), warning), 0.0),
    ]
    heights = [p.wrap(CONTENT_WIDTH, PAGE_HEIGHT)[1] + gap for p, gap in lower_block]
    lower_edge = MARGIN + sum(heights)
    top = lower_edge
    for paragraph, gap in lower_block:
        top = _draw_below(canvas, paragraph, top) - gap

    # In between, centred: the code, and its short id under it.
    short_id = Paragraph(text(f"签到码编号：{poster.short_id}"), small)
    _, id_height = short_id.wrap(CONTENT_WIDTH, PAGE_HEIGHT)
    room = upper_edge - lower_edge
    side = min(QR_MAX_SIDE, CONTENT_WIDTH, room - id_height - 4 * mm)
    group_top = lower_edge + (room + side + id_height) / 2
    _draw_symbol(
        canvas, _symbol(poster.link).modules, (PAGE_WIDTH - side) / 2, group_top - side, side
    )
    _draw_below(canvas, short_id, group_top - side)

    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
