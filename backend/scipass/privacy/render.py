"""The audit report as XLSX (one sheet per section) and as PDF (A4, the Chinese font of
:mod:`scipass.core.pdf_fonts`). Both render the one :class:`AuditReport`, so the files hold
the figures the JSON answer holds."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from scipass.core import pdf_fonts
from scipass.core.clock import SHANGHAI
from scipass.core.config import Settings
from scipass.core.exports import xlsx_workbook
from scipass.core.pdf_fonts import MixedText
from scipass.privacy.schemas import AgeSplit, AuditReport

Rows = list[list[object]]
AGES = ["未满14周岁", "14至17周岁", "18周岁及以上", "未满18周岁合计"]
ROLES = {
    "student": "学生",
    "guardian": "监护人",
    "school_staff": "学校教师",
    "school_admin": "学校管理员",
    "venue_staff": "场馆工作人员",
    "venue_admin": "场馆管理员",
    "bureau": "教育局",
    "platform_admin": "平台管理员",
    "wechat_user": "未绑定微信用户",
    "system": "系统",
}
KINDS = {"access": "查看/复制", "export": "导出"}
GROUP_NAMES = {"under_14": AGES[0], "from_14_to_17": AGES[1], "adults": AGES[2]}


def _ages(split: AgeSplit) -> list[object]:
    return [split.under_14, split.from_14_to_17, split.adults, split.under_18]


def _row(*values: object) -> list[object]:
    return list(values)


def _when(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def sections(r: AuditReport) -> list[tuple[str, list[str], Rows]]:
    """The report as (title, header, rows) tables, shared by both files."""
    where = r.scope.region_name or "全平台"
    summary: Rows = [
        ["报告", r.title],
        ["范围", f"{where}（{r.scope.region_code}）" if r.scope.region_code else where],
        ["统计期间", f"{r.period.start.isoformat()} 至 {r.period.end.isoformat()}（不含）"],
        ["年龄计算日", r.period.as_of.isoformat()],
        ["生成时间", _when(r.generated_at)],
        *[["期末在册学生：" + age, n] for age, n in zip(AGES, _ages(r.pupils_at_end), strict=True)],
        ["查看/复制（条）", r.access_totals.get("access", 0)],
        ["导出（条）", r.access_totals.get("export", 0)],
        [
            "删除申请（件）",
            r.deletions.total.under_14 + r.deletions.total.from_14_to_17 + r.deletions.total.adults,
        ],
        ["删除申请：期末未办结", r.deletions.open_at_end],
        ["删除申请：超期", r.deletions.overdue],
        ["删除申请：办理天数中位数", r.deletions.median_days],
        ["删除申请：办理天数最大值", r.deletions.max_days],
        ["保留期清理（次）", len(r.purge_runs)],
        ["安全事件（件）", r.incident_totals.incidents],
        ["安全事件：受影响儿童", r.incident_totals.affected_children],
        ["安全事件：受影响未成年人", r.incident_totals.affected_minors],
        *(_row("说明", note) for note in r.notes),
    ]
    inventory: Rows = [
        [
            item.key,
            item.name,
            "；".join(item.purpose_names + item.bases),
            "\n".join(item.stored_in),
            "\n".join(item.files),
        ]
        for item in r.inventory
    ]
    consents: Rows = []
    for c in r.consents:
        for label, split in (
            ("同意（条）", c.given.records),
            ("同意（人）", c.given.pupils),
            ("拒绝（条）", c.refused.records),
            ("拒绝（人）", c.refused.pupils),
            ("撤回（条）", c.withdrawn.records),
            ("撤回（人）", c.withdrawn.pupils),
            ("期末同意有效（人）", c.in_force_at_end),
            ("期末拒绝或撤回（人）", c.refused_or_withdrawn_at_end),
            ("期末缺失（人）", c.missing_at_end),
        ):
            consents.append(
                [c.purpose.value, f"未满{c.asked_under}周岁须同意", label, *_ages(split)]
            )
    access: Rows = [
        [
            KINDS[a.kind],
            ROLES.get(a.actor_role, a.actor_role),
            a.organisation_name,
            a.organisation,
            a.entries,
        ]
        for a in r.access
    ]
    deletions: Rows = [
        [
            d.id,
            d.school_name,
            GROUP_NAMES[d.age_group],
            ROLES.get(d.requested_by_role, d.requested_by_role),
            _when(d.requested_at),
            _when(d.due_at),
            _when(d.carried_out_at),
            d.days,
            "是" if d.overdue else "否",
        ]
        for d in r.deletions.requests
    ]
    erasures: Rows = [[e.action, e.reason, e.kind, e.runs, e.count] for e in r.erasures]
    purges: Rows = [
        [
            _when(p.at),
            "、".join(f"{k} {v}" for k, v in sorted(p.counts.items()))
            if p.counts
            else "（全平台）",
        ]
        for p in r.purge_runs
    ]
    incidents: Rows = [
        [
            i.id,
            _when(i.occurred_at),
            _when(i.discovered_at),
            i.title,
            "、".join(i.categories),
            i.affected_children,
            i.affected_minors,
            i.measures,
            _when(i.reported_to_authority_at),
            _when(i.closed_at),
        ]
        for i in r.incidents
    ]
    return [
        ("概况", ["项目", "内容"], summary),
        (
            "处理清单",
            ["类别", "名称", "目的与依据", "存储位置（表.字段）", "数据库以外"],
            inventory,
        ),
        ("同意情况", ["目的", "范围", "项目", *AGES], consents),
        ("查看与导出", ["类型", "角色", "单位", "单位代码", "条数"], access),
        (
            "删除申请",
            ["编号", "学校", "年龄段", "申请人", "申请时间", "期限", "办结时间", "天数", "超期"],
            deletions,
        ),
        ("删除与清理", ["日志", "原因", "信息类别", "条目数", "删除条数"], erasures),
        ("保留期清理", ["执行时间", "清除条数"], purges),
        (
            "安全事件",
            [
                "编号",
                "发生时间",
                "发现时间",
                "事件",
                "涉及类别",
                "受影响儿童",
                "受影响未成年人",
                "措施",
                "报告主管部门",
                "结案",
            ],
            incidents,
        ),
    ]


def xlsx(r: AuditReport) -> bytes:
    return xlsx_workbook([(title, header, rows) for title, header, rows in sections(r)])


def pdf(settings: Settings, r: AuditReport) -> bytes:
    font = pdf_fonts.chinese_font(settings)
    text = MixedText(font.name, font.covered)
    title = ParagraphStyle("title", fontName=font.name, fontSize=18, leading=26, alignment=1)
    heading = ParagraphStyle("heading", fontName=font.name, fontSize=13, leading=20)
    cell = ParagraphStyle("cell", fontName=font.name, fontSize=8, leading=11, wordWrap="CJK")
    story: list[Any] = [Paragraph(text(r.title), title), Spacer(1, 4 * mm)]
    for name, header, rows in sections(r):
        story.append(Paragraph(text(name), heading))
        if not rows:
            story += [Paragraph(text("（无）"), cell), Spacer(1, 3 * mm)]
            continue
        story += [_table(header, rows, text, cell), Spacer(1, 4 * mm)]
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=r.title,
        author="科学实践护照",
    ).build(story)
    return buffer.getvalue()


def _table(header: Sequence[str], rows: Rows, text: MixedText, style: ParagraphStyle) -> Table:
    def cell(value: object) -> Paragraph:
        shown = "" if value is None else str(value)
        return Paragraph(text(shown).replace("\n", "<br/>"), style)

    table = Table(
        [[cell(h) for h in header], *[[cell(v) for v in row] for row in rows]], repeatRows=1
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EEF4")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table
