"""The committed OpenAPI document, run through a property-based API fuzzer (schemathesis).

For every operation the fuzzer generates requests from the contract (valid and invalid ones:
out-of-range numbers, NUL and other odd text, missing fields, wrong types) and sends them to
a real server on loopback. Every answer must be no 5xx, with a status the operation declares,
of the declared media type, and a body and headers that match the declared schema.

It runs anonymously and as a student, a school admin and a venue admin; ``make fuzz`` adds
the other roles and many more examples. Each role has a server and a demo database of
its own (a copy of one load), so what one role's requests write cannot drift into another's
cases. The servers' clock is frozen at the moment the demo was loaded, so their tokens never
expire mid-run.

``SCIPASS_FUZZ_EXAMPLES`` (3 in ``make test``) sets the examples per operation and phase,
``SCIPASS_FUZZ_ROLES`` the roles (comma-separated), ``SCIPASS_FUZZ_COVERAGE=1`` turns on the
fuzzer's coverage phase (boundary values of every parameter), as ``make fuzz`` does.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from starlette.routing import BaseRoute

from scipass.core import migrations
from scipass.core.clock import FrozenClock, SystemClock
from scipass.core.config import Environment, Settings
from scipass.core.db import Database, make_engine
from scipass.demo import loader
from scipass.main import create_app
from tests.conftest import REPO_ROOT, with_built_routes
from tests.databases import copy_of, fresh_database
from tests.servers import serve

EXAMPLES = int(os.environ.get("SCIPASS_FUZZ_EXAMPLES", "3"))
ROLES = os.environ.get("SCIPASS_FUZZ_ROLES", "anonymous,student,school_admin,venue_admin")
COVERAGE = os.environ.get("SCIPASS_FUZZ_COVERAGE") == "1"

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": int(os.environ.get("SCIPASS_FUZZ_SEED", "20261206")),
        # The role's own token is sent, not one the fuzzer makes up.
        "generation": {
            "mode": "all",
            "max-examples": EXAMPLES,
            "with-security-parameters": False,
        },
        "phases": {"coverage": {"enabled": COVERAGE}, "stateful": {"enabled": False}},
        "checks": {
            # What the contract promises of every answer:
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "response_headers_conformance": {"enabled": True},
            # Not promises of this API: unknown query parameters are ignored rather than
            # refused, and generated ids rarely name an existing object (404 is right).
            "negative_data_rejection": {"enabled": False},
            "positive_data_acceptance": {"enabled": False},
            "use_after_free": {"enabled": False},
            "ensure_resource_availability": {"enabled": False},
            "missing_required_header": {"enabled": False},
            "ignored_auth": {"enabled": False},
            "unsupported_method": {"enabled": False},
        },
    }
)
SCHEMA = schemathesis.openapi.from_dict(
    json.loads((REPO_ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8")),
    config=CONFIG,
)

# How each role logs in, as `scipass demo` lists its accounts.
STAFF = {
    "school_admin",
    "school_staff",
    "venue_admin",
    "venue_staff",
    "bureau",
    "platform_admin",
}
WECHAT = {"student", "guardian"}


@dataclass(frozen=True)
class RoleServer:
    base_url: str
    headers: dict[str, str]


def _login(base_url: str, role: str, accounts: list[dict[str, Any]]) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role in STAFF:
        account = next(a for a in accounts if a["role"] == role and "username" in a)
        body = {"username": account["username"], "password": account["password"]}
        path = "/api/v1/auth/login"
    else:
        assert role in WECHAT, role
        account = next(a for a in accounts if a["role"] == role and "wechat_code" in a)
        body = {"code": account["wechat_code"]}
        path = "/api/v1/auth/wechat"
    answer = httpx.post(base_url + path, json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture(scope="module")
def role_server(
    tmp_path_factory: pytest.TempPathFactory, built_routes: list[BaseRoute]
) -> Iterator[Callable[[str], RoleServer]]:
    """A server for each role, made on first use, with a demo database of its own: a copy of
    one database the demo was loaded into once."""
    started: dict[str, RoleServer] = {}
    with ExitStack() as stack:
        demo = tmp_path_factory.mktemp("fuzz-demo")
        demo_url = stack.enter_context(fresh_database(demo))
        migrations.upgrade(demo_url)
        now = SystemClock().now()
        loading = Database(make_engine(demo_url))
        try:
            with loading.transaction() as session:
                summary = loader.load(session, now=now, settings=_settings(demo_url, demo))
        finally:
            loading.engine.dispose()  # nobody connected: the copies take it as their template
        assert summary is not None

        def server(role: str) -> RoleServer:
            if role not in started:
                directory: Path = tmp_path_factory.mktemp(f"fuzz-{role}")
                url = stack.enter_context(copy_of(demo_url, directory))
                settings = _settings(url, directory)
                if (demo / "uploads").exists():  # the attachments the loader stored
                    shutil.copytree(demo / "uploads", settings.upload_dir)
                database = Database(make_engine(url))
                stack.callback(database.engine.dispose)
                app = create_app(settings, database=database, clock=FrozenClock(now))
                base_url = stack.enter_context(serve(with_built_routes(app, built_routes)))
                started[role] = RoleServer(base_url, _login(base_url, role, summary["accounts"]))
            return started[role]

        yield server


def _settings(url: str, directory: Path) -> Settings:
    return Settings(
        env=Environment.test,
        database_url=url,
        upload_dir=directory / "uploads",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES.split(","))
@SCHEMA.parametrize()
def test_every_answer_conforms_to_the_contract(
    case: Any, role: str, role_server: Callable[[str], RoleServer]
) -> None:
    server = role_server(role)
    case.call_and_validate(base_url=server.base_url, headers=server.headers)
