"""A rule judged for one school (or for the region), as every view, the ledger and a frozen
review hold it: the engine's :class:`~scipass.policy.engine.Outcome` made plain, so that a
review frozen months ago and today's evaluation are read, tallied and exported the same way."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from scipass.policy import vocab
from scipass.policy.engine import Evidence, Outcome

EVIDENCE_KEPT = 50  # evidence items a frozen review keeps per row (the total is kept too)


@dataclass(frozen=True, slots=True)
class ResultRow:
    rule_id: str
    description: str
    source: str  # "<seed file> <section>"
    period: str  # week | semester | school_year | deadline
    school_id: int | None  # None: the region's own rule
    school_name: str
    region_code: str  # the school's district (or the region, for a region rule)
    district_name: str
    area: str  # urban | rural ("" for a region rule)
    window_start: date
    window_end: date
    figure: int
    threshold: int | None
    met: bool | None
    missing: str
    evidence_total: int
    weeks_asked: int = 0  # weekly rules: term weeks asked for so far (figure: weeks met)
    due: date | None = None
    evidence: tuple[Evidence, ...] = field(default=())

    @property
    def state(self) -> Literal["met", "missed", "open"]:
        return "open" if self.met is None else ("met" if self.met else "missed")

    def evidence_json(self) -> list[dict[str, Any]]:
        return [
            {
                "kind": e.kind,
                "id": e.id,
                "label": e.label,
                "on": e.on.isoformat() if e.on else None,
                "link": e.link,
            }
            for e in self.evidence[:EVIDENCE_KEPT]
        ]


def evidence_from_json(items: Iterable[Mapping[str, Any]]) -> tuple[Evidence, ...]:
    return tuple(
        Evidence(
            kind=item["kind"],
            id=int(item["id"]),
            label=item["label"],
            on=date.fromisoformat(item["on"]) if item.get("on") else None,
            link=item["link"],
        )
        for item in items
    )


def missing(outcome: Outcome) -> str:
    """What is lacking for the rule, or why it is not judged yet, in words ("" when met)."""
    if outcome.met is None:
        return outcome.not_judged or "尚不判定"
    if outcome.met:
        return ""
    if outcome.weeks:
        short = [w for w in outcome.weeks if not w.met]
        listed = "、".join(f"{w.window.start:%m-%d}" for w in short[:8])
        more = "等" if len(short) > 8 else ""
        note = "；本地区未录入校历，按默认学期计算" if outcome.default_calendar else ""
        return (
            f"{len(short)} 个教学周未达到每周 {outcome.threshold} 次（{listed}{more}起的周）{note}"
        )
    assert outcome.threshold is not None
    short_by = outcome.threshold - outcome.figure
    return f"还差 {short_by}（现为 {outcome.figure}，要求 {outcome.threshold}）"


def row_of(
    outcome: Outcome,
    *,
    school_name: str,
    district_name: str,
    area: str,
) -> ResultRow:
    rule = outcome.rule.rule
    return ResultRow(
        rule_id=outcome.rule_id,
        description=rule.description,
        source=vocab.cite(rule.source.file, rule.source.section),
        period=rule.period.kind.value,
        school_id=outcome.school_id,
        school_name=school_name,
        region_code=outcome.region_code,
        district_name=district_name,
        area=area,
        window_start=outcome.window.start,
        window_end=outcome.window.end,
        figure=outcome.figure,
        threshold=outcome.threshold,
        met=outcome.met,
        missing=missing(outcome),
        evidence_total=outcome.evidence_total,
        weeks_asked=len(outcome.weeks),
        due=outcome.due,
        evidence=outcome.evidence,
    )


@dataclass
class Tally:
    met: int = 0
    missed: int = 0
    open: int = 0  # not judged: no number set, a deadline ahead, no week asked yet

    def add(self, row: ResultRow) -> None:
        setattr(self, row.state, getattr(self, row.state) + 1)


@dataclass
class RuleTable:
    """One school rule across a region's schools."""

    rule_id: str
    description: str
    source: str
    rows: list[ResultRow]
    total: Tally
    by_district: dict[str, Tally]
    by_area: dict[str, Tally]


def rule_tables(rows: Iterable[ResultRow]) -> list[RuleTable]:
    grouped: dict[str, list[ResultRow]] = defaultdict(list)
    for row in rows:
        if row.school_id is not None:
            grouped[row.rule_id].append(row)
    tables = []
    for rule_id in sorted(grouped):
        mine = sorted(grouped[rule_id], key=lambda r: (r.region_code, r.school_id or 0))
        table = RuleTable(rule_id, mine[0].description, mine[0].source, mine, Tally(), {}, {})
        for row in mine:
            table.total.add(row)
            table.by_district.setdefault(row.region_code, Tally()).add(row)
            table.by_area.setdefault(row.area, Tally()).add(row)
        tables.append(table)
    return tables
