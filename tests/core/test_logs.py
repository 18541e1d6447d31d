"""Log lines as JSON with the request id (issue 22, operability): every line a request logs, in
the event loop or in a route's thread, names that request; the access line names the route
template; `scipass serve` writes every line, uvicorn's too, as JSON, and its metrics add up
the job worker's runs (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from scipass.core import logs, migrations
from scipass.core.config import Environment, LogFormat, Settings


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the process logs at INFO and above, formatted as ``SCIPASS_LOG_FORMAT=json``
    formats it (the handler of :func:`scipass.core.logs.config`)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RequestIdFilter())
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_lines_carry_the_request_id_of_the_request_that_logged_them(
    app: FastAPI, lines: io.StringIO
) -> None:
    said = logging.getLogger("scipass.test")

    @app.get("/log-in-a-thread")
    def in_a_thread() -> dict[str, str]:  # a sync route: run in a worker thread
        said.warning("from the route's thread")
        return {}

    @app.get("/log-in-the-loop")
    async def in_the_loop() -> dict[str, str]:
        said.warning("from the event loop")
        return {}

    with TestClient(app) as client:
        first = client.get("/log-in-a-thread", headers={"X-Request-ID": "req-thread-1"})
        second = client.get("/log-in-the-loop", headers={"X-Request-ID": "req-loop-2"})
        third = client.get("/log-in-a-thread")  # an id the server makes
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    made = third.headers["x-request-id"]
    found = {(line["logger"], line["message"], line["request_id"]) for line in _parsed(lines)}
    assert ("scipass.test", "from the route's thread", "req-thread-1") in found
    assert ("scipass.test", "from the event loop", "req-loop-2") in found
    assert ("scipass.test", "from the route's thread", made) in found
    access = [line for line in _parsed(lines) if line["logger"] == "scipass.access"]
    assert [(a["request_id"], a["route"], a["status"]) for a in access] == [
        ("req-thread-1", "/log-in-a-thread", 200),
        ("req-loop-2", "/log-in-the-loop", 200),
        (made, "/log-in-a-thread", 200),
    ]
    assert all(a["method"] == "GET" and a["duration_ms"] >= 0 for a in access)
    assert {"time", "level", "logger", "message", "request_id"} <= set(access[0])
    said.warning("outside any request")
    assert _parsed(lines)[-1]["request_id"] is None


def test_an_unhandled_error_is_logged_with_its_request_id(app: FastAPI, lines: io.StringIO) -> None:
    @app.get("/breaks")
    def breaks() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/breaks", headers={"X-Request-ID": "req-broken-3"})
    assert response.status_code == 500
    errors = [line for line in _parsed(lines) if line["level"] == "ERROR"]
    assert errors
    assert all(line["request_id"] == "req-broken-3" for line in errors)
    assert any("RuntimeError: boom" in line.get("exception", "") for line in errors)


def test_the_format_follows_the_setting_and_prod_defaults_to_json() -> None:
    def made(**values: Any) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    assert made(env=Environment.dev).logs_as_json is False
    assert made(env=Environment.prod).logs_as_json is True
    assert made(env=Environment.prod, log_format=LogFormat.text).logs_as_json is False
    assert made(env=Environment.dev, log_format=LogFormat.json).logs_as_json is True
    text = logs.config(made(log_format=LogFormat.text))["handlers"]["default"]["formatter"]
    assert text == "text"
    record = logging.LogRecord("scipass.x", logging.INFO, "", 0, "hello %s", ("you",), None)
    logs.RequestIdFilter().filter(record)
    assert logs.TextFormatter().format(record).endswith("INFO scipass.x [-] hello you")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _metric(text: str, name: str) -> Callable[..., float]:
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]

    def value(**labels: str) -> float:
        return sum(
            s.value for s in samples if s.name == name and labels.items() <= s.labels.items()
        )

    return value


@pytest.mark.slow
def test_serve_logs_json_and_its_metrics_count_the_workers_jobs(tmp_path: Path) -> None:
    """`scipass serve` with metrics on and JSON logs: the job worker (a process of its own)
    runs the scheduled jobs at its start, and the server's /metrics counts them; every line on
    stderr, uvicorn's and the worker's included, is one JSON object, and the access line names
    the request's id."""
    url = f"sqlite:///{tmp_path}/run.db"
    migrations.upgrade(url)
    port = _free_port()
    token = "serve-metrics-token-0123456789abcdef"
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCIPASS_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    stale = tmp_path / "var" / "metrics" / "counter_1.db"  # an earlier run's, emptied at start
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"not a metrics file")
    env |= {
        "SCIPASS_DATABASE_URL": url,
        "SCIPASS_JOB_RESULTS_DIR": str(tmp_path / "results"),
        "SCIPASS_LOG_LEVEL": "INFO",
        "SCIPASS_LOG_FORMAT": "json",
        "SCIPASS_METRICS_ENABLED": "true",
        "SCIPASS_METRICS_TOKEN": token,
    }
    stderr = (tmp_path / "stderr").open("w+b")
    server = subprocess.Popen(
        [sys.executable, "-m", "scipass", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stderr=stderr,
    )
    runs: Callable[..., float] = lambda **_: 0.0  # noqa: E731
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert server.poll() is None, "scipass serve exited"
                try:
                    scrape = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
                except httpx.TransportError:
                    time.sleep(0.1)
                    continue
                assert scrape.status_code == 200, scrape.text
                runs = _metric(scrape.text, "scipass_job_runs_total")
                if runs(type="scheduled", name="archive-records", outcome="ok") >= 1:
                    break
                time.sleep(0.2)
            assert runs(type="scheduled", name="archive-records", outcome="ok") >= 1
            assert runs(type="scheduled", outcome="ok") >= 6  # every scheduled job, once
            health = client.get("/healthz", headers={"X-Request-ID": "serve-json-1"})
            assert health.status_code == 200
            time.sleep(0.3)  # the access line is written after the answer
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()
    stderr.seek(0)
    written = [line for line in stderr.read().decode().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in written]  # fails on any line that is not JSON
    assert any(p["logger"].startswith("uvicorn") for p in parsed)
    assert any(p["logger"] == "scipass.worker" for p in parsed)
    access = [p for p in parsed if p.get("request_id") == "serve-json-1"]
    assert [(p["logger"], p["route"], p["status"]) for p in access] == [
        ("scipass.access", "/healthz", 200)
    ]
    assert not stale.exists()
    assert list(stale.parent.glob("*.db"))  # the processes' own files
