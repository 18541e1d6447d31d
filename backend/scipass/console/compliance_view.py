"""The bureau's compliance dashboard laid out from the API's answer (``GET /compliance``): the
three charts (met and not met per rule, by district, urban against rural), the rules' table
and the schools behind the figures. Every number is one the API answered, or a sum of them;
which school meets which rule is the API's judgement, never the console's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scipass.console.charts import STATES, Chart, stacked
from scipass.policy.reviews import AREA_NAMES

SORTS: dict[str, str] = {"missed": "未达标项多的在前", "name": "学校名称", "district": "区县"}
STATE_NAMES = dict(STATES)


def _add(into: dict[str, int], tally: Mapping[str, Any]) -> None:
    for state, _ in STATES:
        into[state] = into.get(state, 0) + int(tally.get(state, 0))


@dataclass(slots=True)
class SchoolRow:
    school_id: int
    name: str
    region_code: str
    district: str
    area: str
    states: dict[str, str] = field(default_factory=dict)  # rule id → state
    missing: dict[str, str] = field(default_factory=dict)  # rule id → what is missing

    @property
    def missed(self) -> int:
        return sum(1 for state in self.states.values() if state == "missed")


@dataclass(frozen=True, slots=True)
class Dashboard:
    rules: list[dict[str, Any]]  # the API's rule tables
    chosen: dict[str, Any] | None  # the rule the district and area charts show, or all
    per_rule: Chart
    by_district: Chart
    by_area: Chart
    districts: list[tuple[str, str]]  # (code, name) of the schools' districts
    schools: list[SchoolRow]  # filtered and sorted, all pages
    region_rules: list[dict[str, Any]]


def per_rule_chart(rules: list[dict[str, Any]]) -> Chart:
    return stacked(
        "per-rule",
        "各项规则的达标情况",
        "所学校",
        [(rule["description"], rule["total"]) for rule in rules],
    )


def district_chart(rules: list[dict[str, Any]], scope: str, unit: str) -> Chart:
    names: dict[str, str] = {}
    sums: dict[str, dict[str, int]] = {}
    for rule in rules:
        for row in rule["by_district"]:
            names[row["region_code"]] = row["name"] or row["region_code"]
            _add(sums.setdefault(row["region_code"], {}), row)
    return stacked(
        "by-district",
        f"按区县：{scope}",
        unit,
        [(names[code], sums[code]) for code in sorted(sums)],
    )


def area_chart(rules: list[dict[str, Any]], scope: str, unit: str) -> Chart:
    sums: dict[str, dict[str, int]] = {}
    for rule in rules:
        for row in rule["by_area"]:
            _add(sums.setdefault(row["area"], {}), row)
    order = sorted(sums, key=lambda area: (area != "urban", area))
    return stacked(
        "by-area",
        f"城镇与乡村：{scope}",
        unit,
        [(AREA_NAMES.get(area, area), sums[area]) for area in order],
    )


def school_rows(rules: list[dict[str, Any]]) -> dict[int, SchoolRow]:
    districts = {row["region_code"]: row["name"] for rule in rules for row in rule["by_district"]}
    found: dict[int, SchoolRow] = {}
    for rule in rules:
        for school in rule["schools"]:
            row = found.get(school["school_id"])
            if row is None:
                row = found[school["school_id"]] = SchoolRow(
                    school_id=school["school_id"],
                    name=school["school_name"],
                    region_code=school["region_code"],
                    district=districts.get(school["region_code"], school["region_code"]),
                    area=school["area"],
                )
            row.states[rule["rule_id"]] = school["state"]
            row.missing[rule["rule_id"]] = school["missing"]
    return found


def dashboard(
    answer: dict[str, Any],
    *,
    rule: str | None,
    district: str | None,
    area: str | None,
    state: str | None,
    sort: str,
) -> Dashboard:
    rules: list[dict[str, Any]] = answer["rules"]
    chosen = next((r for r in rules if r["rule_id"] == rule), None)
    focus = [chosen] if chosen else rules
    if chosen:
        scope, unit = f"「{chosen['description']}」", "所学校"
    else:
        scope, unit = "全部规则合计", "校次（每所学校每条规则计一次）"
    rows = school_rows(rules)
    districts = sorted({(r.region_code, r.district) for r in rows.values()})
    listed = [
        row
        for row in rows.values()
        if (not district or row.region_code == district)
        and (not area or row.area == area)
        and (
            not state
            or (
                row.states.get(chosen["rule_id"]) == state
                if chosen
                else state in row.states.values()
            )
        )
    ]
    if sort == "name":
        listed.sort(key=lambda r: r.name)
    elif sort == "district":
        listed.sort(key=lambda r: (r.region_code, r.name))
    else:
        listed.sort(key=lambda r: (-r.missed, r.name))
    return Dashboard(
        rules=rules,
        chosen=chosen,
        per_rule=per_rule_chart(rules),
        by_district=district_chart(focus, scope, unit),
        by_area=area_chart(focus, scope, unit),
        districts=districts,
        schools=listed,
        region_rules=answer["region_rules"],
    )
