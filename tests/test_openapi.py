"""The committed OpenAPI document is the mini-program team's contract: it must match the app."""

from __future__ import annotations

import json
import re

from scipass.cli import openapi_document
from tests.conftest import REPO_ROOT

KEBAB = re.compile(r"^[a-z]+(-[a-z]+)*$")


def test_committed_document_equals_the_apps() -> None:
    committed = (REPO_ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8")
    assert committed == openapi_document(), "run `scipass openapi` and commit openapi/openapi.json"


def test_operations_are_named_tagged_and_described() -> None:
    document = json.loads(openapi_document())
    seen: set[str] = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert KEBAB.match(operation["operationId"]), where
            assert operation["operationId"] not in seen, where
            seen.add(operation["operationId"])
            assert operation.get("tags"), where
            assert operation.get("summary"), where
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/problem+json"]["schema"]
                    refs = [option["$ref"] for option in schema.get("anyOf", [schema])]
                    assert "#/components/schemas/Problem" in refs, where
                    assert all(ref.endswith("Problem") for ref in refs), where
    assert "HTTPValidationError" not in document["components"]["schemas"]
