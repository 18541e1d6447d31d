"""A region's rules as they apply: its pack with everything inherited, then the bureaus'
overrides (``policy_override``).

For each rule and each of its values (``threshold_min``, ``threshold_max``, ``enabled``) the
nearest region at or above the region (by its code: county, city, province) whose latest
override version sets that value decides; where none does, the pack files do. A NULL in an
override keeps what applies above, so a version with nothing set takes a region back to
what its parents say. Every value keeps where it came from (:class:`~scipass.policy.loader.
Origin`), which the bureau's view shows and the engine may report.

Overrides are few (bureaus' decisions), so they are read whole for the regions concerned and
combined here; :func:`effective_many` reads them in one statement for many regions (the
engine evaluates schools of many districts at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from sqlmodel import Session, col, select

from scipass.core.auth import region_contains
from scipass.policy import packs as policy_packs
from scipass.policy.loader import Origin, OriginKind, ResolvedPack, ResolvedRule, ancestors
from scipass.policy.models import PolicyOverride
from scipass.record.models import Dimension, RecordCategory


@dataclass(frozen=True, slots=True)
class EffectivePack:
    """The rules that apply to a region, with where every value comes from."""

    region_code: str
    resolved: ResolvedPack  # the pack files' part (the nearest region's pack and its chain)
    rules: tuple[ResolvedRule, ...]
    # The latest override version recorded at exactly this region, per rule (0: none): what a
    # new override of the rule here gives as ``expected_version``.
    versions: Mapping[str, int]

    @property
    def dimensions(self) -> Mapping[Dimension, str]:
        return self.resolved.dimensions

    @property
    def category_dimensions(self) -> Mapping[RecordCategory, Dimension]:
        return self.resolved.category_dimensions

    def rule(self, rule_id: str) -> ResolvedRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def latest_versions(rows: Iterable[PolicyOverride]) -> dict[tuple[str, str], PolicyOverride]:
    """The latest version of each (region, rule)."""
    latest: dict[tuple[str, str], PolicyOverride] = {}
    for row in rows:
        key = (row.region_code, row.rule_id)
        if key not in latest or row.version > latest[key].version:
            latest[key] = row
    return latest


def apply_overrides(
    resolved: ResolvedPack, region_code: str, rows: Iterable[PolicyOverride]
) -> EffectivePack:
    """``resolved`` (the pack of ``region_code``) with the overrides among ``rows`` that
    concern ``region_code`` (those of it and of the regions above it)."""
    latest = latest_versions(rows)
    chain = ancestors(region_code)
    pack_regions = {pack.id: pack.region_code for pack in resolved.chain}
    rules = []
    for rule in resolved.rules:
        changed = rule
        for field, origin_field in (
            ("threshold_min", "min_from"),
            ("threshold_max", "max_from"),
            ("enabled", "enabled_from"),
        ):
            # The nearest setting wins: a bureau's override above the region whose pack file
            # set the value does not reach past that file.
            file_region = pack_regions.get(getattr(rule, origin_field).pack_id or "")
            for code in chain:
                if file_region is not None and not region_contains(file_region, code):
                    break
                row = latest.get((code, rule.id))
                value = getattr(row, field) if row is not None else None
                if row is not None and value is not None:
                    origin = Origin(OriginKind.override, region_code=code, version=row.version)
                    changed = replace(changed, **{field: value, origin_field: origin})
                    break
        rules.append(changed)
    versions = {
        rule.id: latest[(region_code, rule.id)].version
        for rule in resolved.rules
        if (region_code, rule.id) in latest
    }
    return EffectivePack(region_code, resolved, tuple(rules), versions)


def overrides_of(session: Session, region_codes: Iterable[str]) -> list[PolicyOverride]:
    """Every override version recorded at any of ``region_codes``."""
    wanted = sorted(set(region_codes))
    query = select(PolicyOverride).where(col(PolicyOverride.region_code).in_(wanted))
    return list(session.exec(query).all())


def effective(session: Session, region_code: str) -> EffectivePack:
    """The rules that apply to ``region_code`` today."""
    return effective_many(session, [region_code])[region_code]


def effective_many(session: Session, region_codes: Iterable[str]) -> dict[str, EffectivePack]:
    """:func:`effective` of each of ``region_codes``, reading the overrides once."""
    codes = list(dict.fromkeys(region_codes))
    rows = overrides_of(session, {code for region in codes for code in ancestors(region)})
    packs = policy_packs.current()
    return {code: apply_overrides(packs.for_region(code), code, rows) for code in codes}
