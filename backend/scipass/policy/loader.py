"""Loading the policy packs: every file read, checked against the schema and against the
others, and each pack resolved with its chain of parents.

A broken pack stops the start (the app factory and the ``scipass`` command load the packs
first) with every fault found, each naming its file, the rule and the field::

    policy packs are invalid:
      xiangtan.toml: rule counsellor_training_city_yearly: field threshold.min: ...

The schema (:mod:`scipass.policy.pack_schema`) decides the shape of each file; this module
checks what takes several files: each pack id is its file's name, one national pack at the
top, a parent that exists and whose region contains the child's, no circle of parents, no
rule id twice in a chain, overrides only of inherited rules, a mapping of every record
category to one of the pack's dimensions.

Resolution (child after parent): the dimensions are the nearest pack's list that has one;
the category mapping is the parent's with the child's entries over it; the rules are the
parent's, changed by the child's ``[[overrides]]``, then the child's own. A region's pack is
the pack of the nearest region up its code (county, city, province) that has one, else the
national pack (:meth:`PackSet.for_region`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from scipass.core.auth import region_contains
from scipass.policy.pack_schema import Pack, PackOverride, Rule
from scipass.record.models import Dimension, RecordCategory


@dataclass(frozen=True, slots=True)
class PackProblem:
    """One fault of a pack file."""

    file: str
    field: str
    message: str
    rule: str | None = None

    def __str__(self) -> str:
        rule = f"rule {self.rule}: " if self.rule else ""
        return f"{self.file}: {rule}field {self.field}: {self.message}"


class PackLoadError(Exception):
    """The packs cannot be used; :attr:`problems` lists every fault found."""

    def __init__(self, problems: Iterable[PackProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"policy packs are invalid:\n{lines}")


class OriginKind(StrEnum):
    pack = "pack"  # the rule as its pack file defines it
    pack_override = "pack_override"  # a later pack file's [[overrides]]
    override = "override"  # a bureau's override in the database (policy_override)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a rule's value comes from."""

    kind: OriginKind
    pack_id: str | None = None
    region_code: str | None = None
    version: int | None = None


@dataclass(frozen=True, slots=True)
class ResolvedRule:
    """A rule as it applies, with where each of its values comes from."""

    rule: Rule
    pack_id: str  # the pack that defines it
    region_code: str | None  # that pack's region (None: national)
    threshold_min: int | None
    threshold_max: int | None
    enabled: bool
    min_from: Origin
    max_from: Origin
    enabled_from: Origin

    @property
    def id(self) -> str:
        return self.rule.id


@dataclass(frozen=True, slots=True)
class ResolvedPack:
    """A pack with everything it inherits."""

    pack: Pack
    chain: tuple[Pack, ...]  # the national pack first, this one last
    dimensions: Mapping[Dimension, str]
    category_dimensions: Mapping[RecordCategory, Dimension]
    rules: tuple[ResolvedRule, ...]

    def rule(self, rule_id: str) -> ResolvedRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def ancestors(region_code: str) -> list[str]:
    """``region_code`` and the regions above it by its code (GB/T 2260), nearest first."""
    found = [region_code, region_code[:4] + "00", region_code[:2] + "0000"]
    return list(dict.fromkeys(found))


class PackSet:
    """Every pack, resolved; the set the app runs with."""

    def __init__(self, resolved: Mapping[str, ResolvedPack]) -> None:
        self.by_id = dict(resolved)
        self.by_region = {
            r.pack.region_code: r for r in resolved.values() if r.pack.region_code is not None
        }
        self.root = next(r for r in resolved.values() if r.pack.parent is None)
        # Whether every region maps the record categories as the national pack does: then a
        # new record's dimension needs no look-up of its school's region.
        self.uniform_mapping = all(
            r.category_dimensions == self.root.category_dimensions for r in resolved.values()
        )

    def for_region(self, region_code: str) -> ResolvedPack:
        """The pack of the nearest region at or above ``region_code`` that has one."""
        for code in ancestors(region_code):
            if code in self.by_region:
                return self.by_region[code]
        return self.root


def load_packs(directory: Path) -> PackSet:
    """Read, check and resolve every ``*.toml`` pack of ``directory``."""
    packs: dict[str, Pack] = {}
    files: dict[str, str] = {}  # pack id -> file name
    problems: list[PackProblem] = []
    for path in sorted(directory.glob("*.toml")):
        pack = _read(path, problems)
        if pack is not None:
            packs[pack.id] = pack
            files[pack.id] = path.name
    if not packs and not problems:
        problems.append(PackProblem(str(directory), "(files)", "no pack files (*.toml) found"))
    if problems:
        raise PackLoadError(problems)
    _check_tree(packs, files, problems)
    if problems:
        raise PackLoadError(problems)
    resolved: dict[str, ResolvedPack | None] = {}
    for pack_id in packs:
        _resolve(pack_id, packs, files, resolved, problems)
    if problems:
        raise PackLoadError(problems)
    return PackSet({pack_id: r for pack_id, r in resolved.items() if r is not None})


def _read(path: Path, problems: list[PackProblem]) -> Pack | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(PackProblem(path.name, "(file)", f"not valid TOML: {exc}"))
        return None
    try:
        pack = Pack.model_validate(data)
    except ValidationError as exc:
        problems.extend(_schema_problems(path.name, data, exc))
        return None
    if pack.id != path.stem:
        problems.append(
            PackProblem(path.name, "id", f"the pack id {pack.id!r} must be the file's name")
        )
        return None
    return pack


_MESSAGES = {
    "extra_forbidden": "unknown field (not in the pack schema)",
    "missing": "required field missing",
}


def _schema_problems(file: str, data: dict[str, Any], exc: ValidationError) -> list[PackProblem]:
    """The schema's errors, each with its rule (by id, else by position) and field."""
    found = []
    for error in exc.errors():
        loc = list(error["loc"])
        message = _MESSAGES.get(error["type"], str(error["msg"]).removeprefix("Value error, "))
        rule = None
        if len(loc) >= 2 and loc[0] in ("rules", "overrides") and isinstance(loc[1], int):
            entries = data.get(str(loc[0]))
            entry = entries[loc[1]] if isinstance(entries, list) else None
            key = "id" if loc[0] == "rules" else "rule"
            named = entry.get(key) if isinstance(entry, dict) else None
            rule = named if isinstance(named, str) else f"#{loc[1] + 1}"
            inner = loc[2:] if loc[0] == "rules" else [f"overrides[{loc[1]}]", *loc[2:]]
            field = ".".join(str(part) for part in inner) or "(the whole rule)"
        else:
            field = ".".join(str(part) for part in loc) or "(the whole file)"
        found.append(PackProblem(file, field, message, rule))
    return found


def _check_tree(packs: dict[str, Pack], files: dict[str, str], problems: list[PackProblem]) -> None:
    """One national pack at the top; parents that exist, contain their children's regions
    and never lead back to the child."""
    roots = [p.id for p in packs.values() if p.parent is None]
    if len(roots) != 1:
        for pack_id in roots or packs:
            problems.append(
                PackProblem(
                    files[pack_id], "parent", f"exactly one national pack is needed, found {roots}"
                )
            )
    regions: dict[str, str] = {}
    for pack in packs.values():
        file = files[pack.id]
        if pack.region_code is not None:
            if pack.region_code in regions:
                problems.append(
                    PackProblem(
                        file,
                        "region_code",
                        f"region {pack.region_code} already has pack {regions[pack.region_code]}",
                    )
                )
            regions[pack.region_code] = pack.id
        if pack.parent is None:
            continue
        parent = packs.get(pack.parent)
        if parent is None:
            problems.append(PackProblem(file, "parent", f"no pack {pack.parent!r}"))
            continue
        if parent.region_code is not None and (
            pack.region_code == parent.region_code
            or not region_contains(parent.region_code, pack.region_code or "")
        ):
            problems.append(
                PackProblem(
                    file,
                    "parent",
                    f"the parent's region {parent.region_code} does not contain "
                    f"this pack's region {pack.region_code}",
                )
            )
        seen = [pack.id]
        step: Pack | None = parent
        while step is not None and step.id not in seen:
            seen.append(step.id)
            step = packs.get(step.parent) if step.parent else None
        if step is not None and step.id == pack.id:
            circle = " -> ".join([*seen, pack.id])
            problems.append(PackProblem(file, "parent", f"packs inherit in a circle: {circle}"))


def _resolve(
    pack_id: str,
    packs: dict[str, Pack],
    files: dict[str, str],
    resolved: dict[str, ResolvedPack | None],
    problems: list[PackProblem],
) -> ResolvedPack | None:
    """``pack_id`` resolved (memoised in ``resolved``), or None when it or a parent has a
    fault (reported once, in ``problems``)."""
    if pack_id in resolved:
        return resolved[pack_id]
    resolved[pack_id] = None
    pack = packs[pack_id]
    file = files[pack_id]
    parent = _resolve(pack.parent, packs, files, resolved, problems) if pack.parent else None
    if pack.parent and parent is None:
        return None  # the parent's own problems are reported
    dimensions = dict(pack.dimensions or (parent.dimensions if parent else {}))
    mapping = {**(parent.category_dimensions if parent else {}), **pack.category_dimensions}
    count = len(problems)
    if not dimensions:
        problems.append(PackProblem(file, "dimensions", "the national pack lists the dimensions"))
    for category in RecordCategory:
        if category not in mapping:
            problems.append(
                PackProblem(
                    file, f"category_dimensions.{category}", "the national pack maps every category"
                )
            )
        elif mapping[category] not in dimensions:
            problems.append(
                PackProblem(
                    file,
                    f"category_dimensions.{category}",
                    f"maps to {mapping[category]}, which is not among the pack's dimensions",
                )
            )
    inherited = list(parent.rules) if parent else []
    rules = _apply_overrides(pack, file, inherited, problems)
    known = {rule.id: rule.pack_id for rule in inherited}
    for rule in pack.rules:
        if rule.id in known:
            where = "this pack" if known[rule.id] == pack.id else f"pack {known[rule.id]}"
            problems.append(
                PackProblem(
                    file,
                    "id",
                    f"already defined by {where}; an inherited rule changes by [[overrides]]",
                    rule.id,
                )
            )
            continue
        known[rule.id] = pack.id
        rules.append(_defined(rule, pack))
    if len(problems) > count:
        return None
    result = ResolvedPack(
        pack=pack,
        chain=(*(parent.chain if parent else ()), pack),
        dimensions=dimensions,
        category_dimensions=mapping,
        rules=tuple(rules),
    )
    resolved[pack_id] = result
    return result


def _defined(rule: Rule, pack: Pack) -> ResolvedRule:
    origin = Origin(OriginKind.pack, pack_id=pack.id, region_code=pack.region_code)
    return ResolvedRule(
        rule=rule,
        pack_id=pack.id,
        region_code=pack.region_code,
        threshold_min=rule.threshold.min,
        threshold_max=rule.threshold.max,
        enabled=rule.enabled,
        min_from=origin,
        max_from=origin,
        enabled_from=origin,
    )


def _apply_overrides(
    pack: Pack, file: str, inherited: list[ResolvedRule], problems: list[PackProblem]
) -> list[ResolvedRule]:
    """The inherited rules with this pack's overrides applied. An override's threshold
    replaces the rule's whole threshold (min and max)."""
    rules = {rule.id: rule for rule in inherited}
    done: set[str] = set()
    for index, override in enumerate(pack.overrides):
        field = f"overrides[{index}].rule"
        target = rules.get(override.rule)
        if target is None:
            own = any(rule.id == override.rule for rule in pack.rules)
            message = (
                "defined in this pack: change the rule itself"
                if own
                else "no inherited rule has this id"
            )
            problems.append(PackProblem(file, field, message, override.rule))
            continue
        if override.rule in done:
            problems.append(
                PackProblem(file, field, "this pack overrides the rule twice", override.rule)
            )
            continue
        done.add(override.rule)
        rules[override.rule] = _overridden(target, override, pack)
    return list(rules.values())


def _overridden(rule: ResolvedRule, override: PackOverride, pack: Pack) -> ResolvedRule:
    origin = Origin(OriginKind.pack_override, pack_id=pack.id, region_code=pack.region_code)
    if override.threshold is not None:
        rule = replace(
            rule,
            threshold_min=override.threshold.min,
            threshold_max=override.threshold.max,
            min_from=origin,
            max_from=origin,
        )
    if override.enabled is not None:
        rule = replace(rule, enabled=override.enabled, enabled_from=origin)
    return rule
