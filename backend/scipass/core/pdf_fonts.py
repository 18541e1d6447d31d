"""The Chinese font of every PDF the service makes (the check-in poster, the student's
科技实践档案).

Preferred is a TrueType font with Chinese glyphs, embedded as a subset so that the file looks
the same on every reader: ``SCIPASS_PDF_FONT_PATH``, else Debian's ``fonts-droid-fallback`` or
``fonts-wqy-zenhei`` (``make run`` and ``make test`` install the first when run as root; the
Dockerfile pins it). The CJK fonts on PyPI are mostly OpenType/CFF, which reportlab cannot
embed, so the font comes from the system.

Without any, PDFs are still made: reportlab's built-in Adobe CID font ``STSong-Light`` is
referenced, not embedded, and the reader supplies the glyphs (Acrobat, pdf.js, poppler and the
phones' viewers all carry an Adobe-GB1 fallback). Nobody is refused a PDF for want of a font;
:func:`warn_if_fallback` says so in the server's log at start-up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from scipass.core.config import Settings
from scipass.core.exports import export_text

logger = logging.getLogger("scipass.pdf")

# TrueType fonts with Chinese glyphs, tried in order: (path, index in a collection).
SYSTEM_FONTS: tuple[tuple[Path, int], ...] = (
    (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"), 0),  # fonts-droid-fallback
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),  # fonts-wqy-zenhei
)
BUILT_IN_FONT = "STSong-Light"  # Adobe-GB1, known to every PDF reader; never embedded
LATIN_FONT = "Helvetica"  # for the characters the Chinese font lacks (Droid has no ASCII)


class _BeyondAscii(Container[int]):
    """The code points drawn in the built-in CID font: everything but ASCII, which stays in
    Helvetica as it does with the TrueType fonts."""

    def __contains__(self, code_point: object) -> bool:
        return isinstance(code_point, int) and code_point > 0x7F


@dataclass(frozen=True, slots=True)
class ChineseFont:
    name: str  # as registered with reportlab
    covered: Container[int]  # the code points it draws; the others are drawn in LATIN_FONT
    embedded: bool
    source: str  # the file, or the built-in font's name, for the log


_lock = threading.Lock()
_registered: dict[str, ChineseFont] = {}


def _candidates(settings: Settings) -> tuple[tuple[Path, int], ...]:
    if settings.pdf_font_path is not None:
        return ((settings.pdf_font_path, 0),)
    return SYSTEM_FONTS


def chinese_font(settings: Settings) -> ChineseFont:
    """The font to write Chinese with, registered with reportlab once per process: the first
    TrueType candidate that loads, else the built-in CID font."""
    with _lock:
        for path, index in _candidates(settings):
            key = f"{path}#{index}"
            if key in _registered:
                return _registered[key]
            if not path.is_file():
                continue
            name = f"SciPassCJK{len(_registered) + 1}"
            try:
                font = TTFont(name, str(path), subfontIndex=index)
            except (TTFError, OSError) as exc:
                logger.warning("cannot load the PDF font %s: %s", path, exc)
                continue
            pdfmetrics.registerFont(font)
            _registered[key] = ChineseFont(
                name, frozenset(font.face.charToGlyph), embedded=True, source=str(path)
            )
            return _registered[key]
        if BUILT_IN_FONT not in _registered:
            pdfmetrics.registerFont(UnicodeCIDFont(BUILT_IN_FONT))
            _registered[BUILT_IN_FONT] = ChineseFont(
                BUILT_IN_FONT, _BeyondAscii(), embedded=False, source=BUILT_IN_FONT
            )
        return _registered[BUILT_IN_FONT]


def warn_if_fallback(settings: Settings) -> ChineseFont:
    """Log a warning when PDFs will not embed their Chinese font (called at start-up)."""
    font = chinese_font(settings)
    if not font.embedded:
        tried = ", ".join(str(path) for path, _ in _candidates(settings))
        logger.warning(
            "no TrueType Chinese font found (tried %s): PDFs use the built-in %s, which is not "
            "embedded; install Debian's fonts-droid-fallback or set SCIPASS_PDF_FONT_PATH",
            tried,
            BUILT_IN_FONT,
        )
    return font


class MixedText:
    """Runs of characters, each in a font that has them, as Paragraph markup or drawn on a
    canvas."""

    def __init__(self, font: str, covered: Container[int]) -> None:
        self.font = font
        self.covered = covered

    def runs(self, text: str) -> list[tuple[str, str]]:
        """``(text, font)`` pairs, without the characters no export may hold."""
        result: list[tuple[str, str]] = []
        for char in export_text(text):
            latin = ord(char) not in self.covered and not char.isspace()
            face = LATIN_FONT if latin else self.font
            if result and result[-1][1] == face:
                result[-1] = (result[-1][0] + char, face)
            else:
                result.append((char, face))
        return result

    def __call__(self, value: object) -> str:
        parts = []
        for run, face in self.runs("" if value is None else str(value)):
            escaped = escape(run)
            parts.append(escaped if face == self.font else f'<font face="{face}">{escaped}</font>')
        return "".join(parts)

    def draw(self, canvas: Any, x: float, y: float, value: str, size: float) -> None:
        for run, face in self.runs(value):
            canvas.setFont(face, size)
            canvas.drawString(x, y, run)
            x += pdfmetrics.stringWidth(run, face, size)
