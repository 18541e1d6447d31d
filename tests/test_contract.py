"""The contract's own rules, read off the OpenAPI document the app serves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from scipass.cli import openapi_document
from scipass.core.inputs import MAX_ID

DOCUMENT: dict[str, Any] = json.loads(openapi_document())
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def integers(
    schema: dict[str, Any], where: str, seen: frozenset[str] = frozenset()
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every integer schema inside ``schema`` (through references, unions, arrays, objects)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from integers(SCHEMAS[name], f"{where}>{name}", seen | {name})
        return
    if schema.get("type") == "integer":
        yield where, schema
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            yield from integers(option, where, seen)
    if "items" in schema:
        yield from integers(schema["items"], f"{where}[]", seen)
    for name, value in schema.get("properties", {}).items():
        yield from integers(value, f"{where}.{name}", seen)


def test_every_integer_input_is_bounded() -> None:
    """Ids, offsets, filters and numbers in bodies all carry both bounds, so a value beyond a
    column's range is refused at the door (422) instead of failing in the database."""
    unbounded = []
    inputs = 0
    for method, path, operation in operations():
        sources = [
            (f"{parameter['in']}.{parameter['name']}", parameter["schema"])
            for parameter in operation.get("parameters", [])
        ]
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            sources.append((f"body({media})", content["schema"]))
        for name, schema in sources:
            for where, integer in integers(schema, name):
                inputs += 1
                if "minimum" not in integer or "maximum" not in integer:
                    unbounded.append(f"{method} {path} {where}")
                elif where.endswith("_id") or where.endswith("_ids[]"):
                    assert integer["maximum"] <= MAX_ID, f"{method} {path} {where}"
    assert inputs > 100
    assert unbounded == []
