"""The children's processing rules page: public, versioned with the notice, its periods read
from the retention settings (consent/rules.py)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI, routing
from fastapi.testclient import TestClient

from scipass.consent import notices
from scipass.consent.rules import RETENTION
from scipass.core.config import Settings
from scipass.main import create_app

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_json_rules_name_the_settings_and_real_routes(
    client: TestClient, settings: Settings, app: FastAPI
) -> None:
    answer = client.get("/api/v1/processing-rules")  # no login: the rules are public
    assert answer.status_code == 200
    rules = answer.json()
    assert rules["notice_version"] == notices.current().version
    assert rules["responsible"] == settings.child_privacy_officer
    assert rules["contact"] == settings.child_privacy_contact
    assert rules["complaints"] == settings.child_privacy_complaints
    periods = {r["setting"]: r["period"] for r in rules["retention"]}
    assert periods["SCIPASS_TELEMETRY_RETENTION_DAYS"] == settings.telemetry_retention_days
    assert (
        periods["SCIPASS_CLIENT_ADDRESS_RETENTION_DAYS"] == settings.client_address_retention_days
    )
    served = {(m, c.path) for c in routing.iter_route_contexts(app.routes) for m in c.methods}
    paths = {r["path"] for r in rules["rights"]}
    assert "/api/v1/me/data-copy" in paths
    assert all((r["method"], r["path"]) in served for r in rules["rights"])


def test_the_page_is_served_with_the_periods_of_the_settings(
    settings: Settings, tmp_path: Path
) -> None:
    changed = settings.model_copy(
        update={
            "telemetry_retention_days": 97,
            "client_address_retention_days": 213,
            "child_privacy_officer": "张三（数据保护官）",
            "child_privacy_complaints": "拨打 0731-0000000",
        }
    )
    with TestClient(create_app(changed)) as client:
        page = client.get("/privacy/children")
        rules = client.get("/api/v1/processing-rules").json()
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    text = page.text
    assert "扫码位置" in text
    assert "97 天" in text
    assert "213 天" in text
    assert "180 天" not in text  # the defaults are not typed anywhere on the page
    assert "张三（数据保护官）" in text
    assert "拨打 0731-0000000" in text
    assert "/api/v1/me/data-copy" in text
    assert notices.current().version in text
    assert {r["period"] for r in rules["retention"]} >= {97, 213}


def test_the_readme_retention_table_lists_every_period_on_the_page() -> None:
    """The README's table and the page come from the same settings: each period the page
    names is in the table with its setting and default."""
    table = README.read_text(encoding="utf-8").split("- **Retention.**", 1)[1].split("\n\n", 2)[1]
    for retained in RETENTION:
        variable = f"SCIPASS_{retained.setting.upper()}"
        row = next((line for line in table.splitlines() if variable in line), None)
        assert row is not None, f"{variable} missing from the README's retention table"
        default = Settings.model_fields[retained.setting].default
        assert re.search(rf"\b{default} {'hours' if retained.unit == '小时' else 'days'}\b", row), (
            row
        )
