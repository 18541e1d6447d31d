"""The console in real headless Chromium (Playwright driving Debian's Chromium), against a real
server on loopback serving the demo world from a database of its own.

* :func:`demo_server` — a module's server: a fresh database, migrated, the demo loaded at
  :data:`DEMO_NOW`, the app on a frozen clock at that time, served by uvicorn in a thread.
  Tests of a module share it (and what they change in it): each role's path is one test.
* :func:`open_browser` — Chromium, started once per module.
* :func:`signed_in` — a new browser context signed in as a demo account through the sign-in
  page, as a person would.
* :func:`check_accessibility` — axe-core (npm) run in the page: no serious or critical
  violation of WCAG 2 A/AA.
* :func:`screenshot` — the page saved under ``test-artifacts/console/`` (kept by CI).

Under ``CI=true`` a missing Chromium or Playwright fails the test (tests/tools.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from scipass.core import migrations
from scipass.core.clock import FrozenClock
from scipass.core.config import Environment, Settings
from scipass.core.db import Database, make_engine
from scipass.demo import loader
from scipass.main import create_app
from tests.databases import fresh_database
from tests.servers import serve
from tests.tools import require_tool

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
# A Wednesday in term, 10:00 in Beijing: the demo's activities of the day are under way.
DEMO_NOW = datetime(2026, 10, 14, 2, 0, tzinfo=UTC)
DEMO_PASSWORD = "Scipass-demo-2026"
ARTIFACTS = REPO / "test-artifacts" / "console"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 860}
TABLET_PORTRAIT = {"width": 768, "height": 1024}


@dataclass(frozen=True)
class DemoServer:
    url: str
    settings: Settings
    database: Database
    clock: FrozenClock
    accounts: list[dict[str, Any]]

    def session(self) -> Session:
        return self.database.session()


@contextmanager
def demo_server(directory: Path, **overrides: Any) -> Iterator[DemoServer]:
    with fresh_database(directory) as url:
        migrations.upgrade(url)
        settings = Settings(
            env=Environment.test,
            database_url=url,
            upload_dir=directory / "uploads",
            job_results_dir=directory / "results",
            _env_file=None,  # type: ignore[call-arg]
            **overrides,
        )
        database = Database(make_engine(url))
        try:
            with database.transaction() as session:
                summary = loader.load(session, now=DEMO_NOW, settings=settings)
            assert summary is not None
            clock = FrozenClock(DEMO_NOW)
            app = create_app(settings, database=database, clock=clock)
            with serve(app) as base:
                yield DemoServer(base, settings, database, clock, summary["accounts"])
        finally:
            database.engine.dispose()


def playwright_api() -> Any:
    require_tool(CHROMIUM, package="chromium")
    if not AXE.is_file() and os.environ.get("CI") == "true":
        pytest.fail("node_modules is missing: run npm ci (make test does)")
    return pytest.importorskip(
        "playwright.sync_api", reason="playwright is missing (pip install '.[test]')"
    )


@contextmanager
def open_browser(**launch: Any) -> Iterator[Any]:
    sync_api = playwright_api()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, *launch.pop("args", [])], **launch
        )
        try:
            yield browser
        finally:
            browser.close()


class PageProblems:
    """Errors a page logged or threw: a test ends by asserting there were none."""

    def __init__(self, page: Any) -> None:
        self.seen: list[str] = []
        page.on("console", lambda m: self.seen.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.seen.append(str(e)))


def signed_in(browser: Any, server: DemoServer, username: str, **context: Any) -> Any:
    """A page of a new browser context, signed in as ``username`` through the sign-in page."""
    page = browser.new_context(viewport=context.pop("viewport", DESKTOP), **context).new_page()
    # A deadline, not a measure: under CI both suites and their servers share two cores, and a
    # service worker's install or a page's first script can take seconds there.
    page.set_default_timeout(30_000)
    page.goto(server.url + "/console/login")
    page.get_by_label("账号").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(server.url + "/console")
    return page


def check_accessibility(page: Any) -> None:
    """axe-core in the page: no serious or critical WCAG 2 A/AA violation."""
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")  # not a script tag: the CSP holds
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not serious, json.dumps(serious, ensure_ascii=False, indent=1)


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
