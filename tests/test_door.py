"""Every operation of the app, walked with what must be stopped at the door: integers beyond
any column's range, NUL and other control characters in every text field, and a body over
the limit. No answer may be a 5xx; the integers and the text are refused with 422, the body
with 413. The operations come from the app itself, so a new route is walked too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI, routing
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from scipass.core.auth import Role, declared_access
from scipass.core.config import Settings
from scipass.core.inputs import MAX_ID
from tests.factories import Side, auth

HUGE = [2**31, 2**63, 2**64, -(2**63) - 1, MAX_ID + 1]
BAD_TEXT = ["\x00", "科学\x01馆", "x\u202ey"]
# Values that satisfy the string path parameters' own formats, so the parameter under test
# is the only thing wrong.
STRING_PATH_VALUES = {"region_code": "970101", "on_date": "2026-10-20"}
# The role each operation is called with, among those it admits: the one that reaches the
# most objects of side A.
PREFERENCE = [
    Role.platform_admin,
    Role.school_admin,
    Role.venue_admin,
    Role.bureau,
    Role.school_staff,
    Role.venue_staff,
    Role.student,
    Role.guardian,
    Role.wechat_user,
]


@dataclass
class Operation:
    method: str
    path: str
    document: dict[str, Any]
    role: Role | None  # None: public
    components: dict[str, Any] = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def parameters(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.document.get("parameters", []) if p["in"] == where]

    def json_body(self) -> dict[str, Any] | None:
        content = self.document.get("requestBody", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        return resolve(schema, self.components) if schema else None


def resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def example(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """A plausible value of ``schema``; the fields under test are replaced afterwards."""
    schema = resolve(schema, components)
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if resolve(o, components).get("type") != "null"]
        return example(options[0], components, depth) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 3:
            return {}
        return {
            name: example(value, components, depth + 1)
            for name, value in schema.get("properties", {}).items()
            if name in schema.get("required", [])
        }
    if kind == "array":
        count = schema.get("minItems", 0)
        return [example(schema.get("items", {}), components, depth + 1) for _ in range(count)]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return "2026-10-20T10:00:00+08:00"
    if schema.get("format") == "date":
        return "2026-10-20"
    return "科学实践" + "x" * max(0, int(schema.get("minLength", 0)) - 4)


def text_fields(
    schema: dict[str, Any], components: dict[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], bool]]:
    """The paths of the free-text fields of a body (not enums), and whether each is a list."""
    schema = resolve(schema, components)
    for name, value in schema.get("properties", {}).items():
        value = resolve(value, components)
        options = [resolve(o, components) for o in value.get("anyOf", [value])]
        for option in options:
            if option.get("type") == "string" and "enum" not in option:
                yield (*prefix, name), False
                break
            if option.get("type") == "array":
                items = resolve(option.get("items", {}), components)
                if items.get("type") == "string" and "enum" not in items:
                    yield (*prefix, name), True
                    break
            if option.get("type") == "object" or "properties" in option:
                yield from text_fields(option, components, (*prefix, name))
                break


def integer_fields(
    schema: dict[str, Any], components: dict[str, Any]
) -> Iterator[tuple[str, bool, dict[str, Any]]]:
    """The top-level integer fields of a body: name, whether a list, the integer's schema."""
    for name, value in resolve(schema, components).get("properties", {}).items():
        integer = option_of(value, components, "integer")
        if integer is not None:
            yield name, False, integer
            continue
        array = option_of(value, components, "array")
        items = option_of(array.get("items", {}), components, "integer") if array else None
        if items is not None:
            yield name, True, items


def outside(value: int, schema: dict[str, Any]) -> bool:
    return not schema["minimum"] <= value <= schema["maximum"]


def option_of(
    schema: dict[str, Any], components: dict[str, Any], kind: str
) -> dict[str, Any] | None:
    """The alternative of ``schema`` (one of an anyOf, or itself) of JSON type ``kind``."""
    schema = resolve(schema, components)
    for option in schema.get("anyOf", [schema]):
        option = resolve(option, components)
        if option.get("type") == kind:
            return option
    return None


def put(body: dict[str, Any], where: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = json.loads(json.dumps(body))
    target = changed
    for name in where[:-1]:
        target = target.setdefault(name, {})
    target[where[-1]] = value
    return changed


def operations(app: FastAPI) -> list[Operation]:
    document = app.openapi()
    access = {
        context.name: declared_access(context.original_route.dependant)
        for context in routing.iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    }
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            allowed = access[operation["operationId"]]
            role = None if allowed == "public" else next(r for r in PREFERENCE if r in allowed)
            found.append(
                Operation(method, path, operation, role, document["components"]["schemas"])
            )
    assert len(found) > 100
    return found


@dataclass
class Walker:
    client: TestClient
    settings: Settings
    side: Side
    seen: list[str] = field(default_factory=list)

    def send(
        self,
        operation: Operation,
        *,
        path_values: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content: bytes | None = None,
    ) -> Any:
        values = {
            p["name"]: STRING_PATH_VALUES.get(p["name"], 1) for p in operation.parameters("path")
        }
        values.update(path_values or {})
        url = operation.path.format(**{k: quote(str(v), safe="") for k, v in values.items()})
        params = {
            p["name"]: example(p["schema"], operation.components)
            for p in operation.parameters("query")
            if p.get("required")
        }
        params.update(query or {})
        headers = auth(self.settings, self.side.principal(operation.role)) if operation.role else {}
        if any(p["name"] == "Idempotency-Key" for p in operation.parameters("header")):
            headers["Idempotency-Key"] = "door-test-key-1"
        if content is not None:
            headers["Content-Type"] = "application/json"
        response = self.client.request(
            operation.method.upper(),
            url,
            params=params,
            headers=headers,
            json=body if content is None and body is not None else None,
            content=content,
        )
        where = f"{operation.label} path={values} query={params} -> {response.status_code}"
        self.seen.append(where)
        assert response.status_code < 500, f"{where}: {response.text[:300]}"
        return response

    def send_parameter(self, operation: Operation, parameter: dict[str, Any], value: Any) -> Any:
        """``operation`` with ``value`` for one of its path or query parameters."""
        if parameter["in"] == "path":
            return self.send(operation, path_values={parameter["name"]: value})
        return self.send(operation, query={parameter["name"]: value})


def url_parameters(operation: Operation, kind: str) -> Iterator[tuple[dict[str, Any], Any]]:
    """The path and query parameters of JSON type ``kind``, each with that type's schema."""
    for parameter in (*operation.parameters("path"), *operation.parameters("query")):
        option = option_of(parameter["schema"], operation.components, kind)
        if option is not None:
            yield parameter, option


@pytest.fixture
def walker(client: TestClient, settings: Settings, side_a: Side) -> Walker:
    return Walker(client, settings, side_a)


def test_integers_beyond_every_range_are_refused_at_the_door(walker: Walker) -> None:
    """Beyond 32 and 64 bits: 422 outside the declared bounds, and never a 5xx inside them
    (an id of 2³¹ is simply not found: every key is 64-bit)."""
    tried = refused = 0
    for operation in operations(walker.client.app):  # type: ignore[arg-type]
        for parameter, integer in url_parameters(operation, "integer"):
            for value in HUGE:
                tried += 1
                response = walker.send_parameter(operation, parameter, value)
                if outside(value, integer):
                    refused += 1
                    assert response.status_code == 422, walker.seen[-1]
        body = operation.json_body()
        if body is None:
            continue
        base = example(body, operation.components)
        for name, many, integer in integer_fields(body, operation.components):
            for value in HUGE:
                tried += 1
                response = walker.send(operation, body={**base, name: [value] if many else value})
                if outside(value, integer):
                    refused += 1
                    assert response.status_code == 422, walker.seen[-1]
    assert tried > 300
    assert refused > 250


def test_control_characters_in_every_text_field_are_refused_at_the_door(walker: Walker) -> None:
    tried = 0
    for operation in operations(walker.client.app):  # type: ignore[arg-type]
        for parameter, _string in url_parameters(operation, "string"):
            for value in BAD_TEXT:
                tried += 1
                response = walker.send_parameter(operation, parameter, value)
                assert response.status_code in (404, 422), walker.seen[-1]
        body = operation.json_body()
        if body is None:
            continue
        base = example(body, operation.components)
        for where_in_body, many in text_fields(body, operation.components):
            for value in BAD_TEXT:
                tried += 1
                response = walker.send(
                    operation, body=put(base, where_in_body, [value] if many else value)
                )
                assert response.status_code == 422, walker.seen[-1]
    assert tried > 150


def test_a_body_over_the_limit_is_refused_everywhere(walker: Walker) -> None:
    oversized = b'{"padding": "' + b"x" * (walker.settings.max_body_bytes + 1) + b'"}'
    tried = 0
    for operation in operations(walker.client.app):  # type: ignore[arg-type]
        tried += 1
        response = walker.send(operation, content=oversized)
        assert response.status_code == 413, walker.seen[-1]
        assert response.json()["code"] == "payload_too_large"
    assert tried > 100
