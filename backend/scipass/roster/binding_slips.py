"""Binding codes as slips to print and hand out (绑定码通知条): one slip per pupil, ten to an A4
page, in class order, each to be cut off and given to the pupil and their family."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

from scipass.core import pdf_fonts
from scipass.core.config import Settings
from scipass.core.pdf_fonts import MixedText
from scipass.roster import importer
from scipass.roster.models import Student

PER_ROW = 2
HOW = (
    "在微信中打开「科学实践护照」小程序，按提示输入绑定码：学生用学生绑定码，"
    "家长用家长绑定码。绑定码请妥善保管，不要转给他人。"
)


def pdf(settings: Settings, students: Sequence[Student]) -> bytes:
    """The slips of ``students`` (as :func:`scipass.roster.service.codes_for_export` gives
    them) as an A4 PDF with the Chinese font embedded."""
    font = pdf_fonts.chinese_font(settings)
    text = MixedText(font.name, font.covered)
    head = ParagraphStyle("head", fontName=font.name, fontSize=12, leading=16, wordWrap="CJK")
    body = ParagraphStyle("body", fontName=font.name, fontSize=9, leading=13, wordWrap="CJK")
    code = ParagraphStyle("code", fontName=font.name, fontSize=13, leading=18)

    def slip(s: Student) -> list[Any]:
        klass = f"{importer.grade_label(s.stage, s.grade)}{s.class_name}"
        student_code = s.binding_code or "（已绑定）"
        return [
            Paragraph(text(f"{klass}　{s.name}"), head),
            Paragraph(text(f"学生绑定码：{student_code}"), code),
            Paragraph(text(f"家长绑定码：{s.guardian_code or ''}"), code),
            Paragraph(text(HOW), body),
        ]

    cells = [slip(s) for s in students] or [[Paragraph(text("没有符合条件的学生"), head)]]
    rows = [cells[i : i + PER_ROW] for i in range(0, len(cells), PER_ROW)]
    if len(rows[-1]) < PER_ROW:
        rows[-1] += [[]] * (PER_ROW - len(rows[-1]))
    table = Table(rows, colWidths=[90 * mm] * PER_ROW, rowHeights=[52 * mm] * len(rows))
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("LINESTYLE", (0, 0), (-1, -1), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 4 * mm),
                ("TOPPADDING", (0, 0), (-1, -1), 4 * mm),
            ]
        )
    )
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out, pagesize=A4, topMargin=12 * mm, bottomMargin=12 * mm, title="绑定码通知条"
    )
    document.build([table])
    return out.getvalue()
