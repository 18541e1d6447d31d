"""Prometheus metrics at /metrics (issue 22, operability): off unless configured, guarded by a
token when one is set; requests counted by route template, check-in results by code, group
commit's batches and job runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from scipass.activity.models import Activity
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Environment, Settings
from scipass.core.db import Database
from scipass.core.group_commit import GroupCommit
from scipass.core.jobs import Jobs
from scipass.jobs import queue
from scipass.jobs import worker as job_worker
from scipass.jobs.storage import store_for
from tests.checkin.test_checkin import activity, new_code, student  # noqa: F401
from tests.checkin.test_fastpath import answered  # noqa: F401
from tests.factories import Side, auth

TOKEN = "metrics-token-for-the-tests-0123456789"


def _sample(client: TestClient, metric: str, /, **labels: str) -> float:
    """The value of one sample of /metrics (0 when absent)."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == metric and sample.labels == labels:
                return float(sample.value)
    return 0.0


@pytest.fixture
def metered(
    settings: Settings,
    connection: Connection,
    engine: Engine,
    clock: FrozenClock,
    make_app: Callable[..., FastAPI],
) -> FastAPI:
    settings.metrics_enabled = True
    settings.metrics_token = type(settings.metrics_token)(TOKEN)
    return make_app(settings, database=Database(engine, bind=connection), clock=clock)


@pytest.fixture
def metered_client(metered: FastAPI) -> Any:
    with TestClient(metered, raise_server_exceptions=False) as client:
        yield client


def test_metrics_are_off_by_default(client: TestClient, settings: Settings) -> None:
    assert settings.metrics_enabled is False
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_metrics_are_not_in_the_api_document(metered_client: TestClient) -> None:
    paths = metered_client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if "metrics" in path]


def test_a_scrape_without_the_token_is_refused(metered_client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = metered_client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["code"] == "unauthorized"
        assert "scipass_" not in response.text


def test_prod_refuses_metrics_without_a_token() -> None:
    settings = Settings(env=Environment.prod, metrics_enabled=True, _env_file=None)  # type: ignore[call-arg]
    assert any("SCIPASS_METRICS_TOKEN" in p for p in settings.production_problems())
    settings.metrics_enabled = False
    assert not any("METRICS" in p for p in settings.production_problems())


def test_requests_are_counted_by_route_template_not_by_path(
    metered_client: TestClient,
    settings: Settings,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    route = "/api/v1/activities/{activity_id}"
    labels = {"method": "GET", "route": route, "status": "200"}
    before = _sample(metered_client, "scipass_http_requests_total", **labels)
    headers = auth(settings, student(side_a))
    for _ in range(2):
        response = metered_client.get(f"/api/v1/activities/{activity.id}", headers=headers)
        assert response.status_code == 200, response.text
    assert _sample(metered_client, "scipass_http_requests_total", **labels) == before + 2
    count = "scipass_http_request_duration_seconds_count"
    assert _sample(metered_client, count, method="GET", route=route) >= 2
    text = metered_client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert f"/api/v1/activities/{activity.id}" not in text  # no ids in labels
    assert metered_client.get("/no/such/path").status_code == 404
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert _sample(metered_client, "scipass_http_requests_total", **unmatched) >= 1
    metered_client.request("BREW", "/no/such/path")  # a method made up: no label of its own
    text = metered_client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert 'method="BREW"' not in text
    assert 'method="OTHER"' in text


def test_check_in_results_are_counted_by_code_on_the_fast_path(
    metered_client: TestClient,
    settings: Settings,
    side_a: Side,
    activity: Activity,  # noqa: F811
    answered: list[bool],  # noqa: F811
) -> None:
    code = new_code(metered_client, settings, side_a, activity)
    name = "scipass_checkin_results_total"
    kinds = {
        "accepted": {"source": "self_scan", "result": "accepted", "code": ""},
        "duplicate": {"source": "self_scan", "result": "duplicate", "code": ""},
        "refused": {"source": "self_scan", "result": "refused", "code": "code_invalid"},
    }
    before = {k: _sample(metered_client, name, **v) for k, v in kinds.items()}
    route = {"method": "POST", "route": "/api/v1/checkins", "status": "201"}
    routed = _sample(metered_client, "scipass_http_requests_total", **route)
    headers = {**auth(settings, student(side_a)), "Content-Type": "application/json"}
    for key, payload, status in (
        ("metric-0001", code["payload"], 201),
        ("metric-0002", code["payload"], 200),
        ("metric-0003", "S.NOTACODE.DEV.XXXX", 400),
    ):
        response = metered_client.post(
            "/api/v1/checkins",
            content=json.dumps({"code": payload}).encode(),
            headers={**headers, "Idempotency-Key": key},
        )
        assert response.status_code == status, response.text
    after = {k: _sample(metered_client, name, **v) for k, v in kinds.items()}
    assert {k: after[k] - before[k] for k in kinds} == {
        "accepted": 1,
        "duplicate": 1,
        "refused": 1,
    }
    # answered by the fast path, counted under the route's template all the same
    assert answered == [True, True, True]
    assert _sample(metered_client, "scipass_http_requests_total", **route) == routed + 1


def test_a_flood_refusal_is_counted_as_rate_limited(
    metered_client: TestClient,
    settings: Settings,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    """Past twice the rate a scan is refused before it is judged (checkin.self_scan,
    count_attempt): counted all the same, as ``refused``/``rate_limited``."""
    settings.scan_rate_per_minute = 1  # the third scan of the minute is a flood
    code = new_code(metered_client, settings, side_a, activity)
    labels = {"source": "self_scan", "result": "refused", "code": "rate_limited"}
    name = "scipass_checkin_results_total"
    before = _sample(metered_client, name, **labels)
    headers = {**auth(settings, student(side_a)), "Content-Type": "application/json"}
    statuses = []
    for i in range(4):
        response = metered_client.post(
            "/api/v1/checkins",
            content=json.dumps({"code": code["payload"]}).encode(),
            headers={**headers, "Idempotency-Key": f"flood-{i:04d}"},
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.json()["code"] == "rate_limited"
    assert statuses[2:] == [429, 429]  # floods
    assert _sample(metered_client, name, **labels) == before + statuses.count(429)


def test_staff_scans_are_counted_once_committed_and_a_replay_again(
    metered: FastAPI,
    engine: Engine,
    connection: Connection,
    metered_client: TestClient,
    settings: Settings,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    from scipass.checkin import cards as checkin_cards
    from scipass.checkin import door
    from scipass.checkin.schemas import StaffScan

    name = "scipass_checkin_results_total"
    accepted = {"source": "staff_scan", "result": "accepted", "code": ""}
    duplicate = {"source": "staff_scan", "result": "duplicate", "code": ""}
    refused = {"source": "staff_scan", "result": "refused", "code": "code_invalid"}
    before = {
        k: _sample(metered_client, name, **v)
        for k, v in (("accepted", accepted), ("duplicate", duplicate), ("refused", refused))
    }
    clock = metered.state.clock
    personal = checkin_cards.personal_code(
        settings,
        student_id=side_a.student.id or 0,
        expires_at=clock.now() + timedelta(minutes=5),
    )
    staff = side_a.principal(Role.venue_staff)

    # A scan whose transaction rolls back is not counted.
    session = Database(engine, bind=connection).session()
    try:
        door.staff_scan(
            session,
            settings=settings,
            actor=staff,
            activity_id=activity.id or 0,
            data=StaffScan(code=personal, nonce="rolled-back-0001"),
            now=clock.now(),
        )
        session.rollback()
    finally:
        session.close()
    assert _sample(metered_client, name, **accepted) == before["accepted"]

    headers = auth(settings, staff, now=clock.now())
    url = f"/api/v1/activities/{activity.id}/staff-scans"
    for body, status in (
        ({"code": personal, "nonce": "staff-0001"}, 201),
        ({"code": personal, "nonce": "staff-0001"}, 200),  # sent again: counted again
        ({"code": "P.DEV.NOTACODE", "nonce": "staff-0002"}, 400),
        ({"code": "P.DEV.NOTACODE", "nonce": "staff-0002"}, 400),  # its first refusal again
    ):
        response = metered_client.post(url, json=body, headers=headers)
        assert response.status_code == status, response.text
    assert _sample(metered_client, name, **accepted) == before["accepted"] + 1
    assert _sample(metered_client, name, **duplicate) == before["duplicate"] + 1
    assert _sample(metered_client, name, **refused) == before["refused"] + 2


def test_group_commit_batches_are_counted(engine: Engine, connection: Connection) -> None:
    from prometheus_client import REGISTRY

    commits = GroupCommit(Database(engine, bind=connection))

    def work(session: Session, shared: Any) -> int:
        return 1

    def samples() -> tuple[float, float]:
        count = REGISTRY.get_sample_value("scipass_group_commit_batch_size_count") or 0.0
        total = REGISTRY.get_sample_value("scipass_group_commit_batch_size_sum") or 0.0
        return count, total

    async def scans() -> list[int]:
        return list(await asyncio.gather(*(commits.run(work) for _ in range(5))))

    count, total = samples()
    assert asyncio.run(scans()) == [1] * 5
    new_count, new_total = samples()
    assert new_total - total == 5  # every unit in some batch
    assert 1 <= new_count - count <= 5


def test_job_runs_are_counted_by_name_and_outcome(
    metered_client: TestClient,
    engine: Engine,
    connection: Connection,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    database = Database(engine, bind=connection)

    def broken(session: Session, now: Any, settings: Settings) -> int:
        raise RuntimeError("a job that fails")

    jobs = Jobs()
    jobs.register("metrics-test-ok", lambda session, now, settings: 3)
    jobs.register("metrics-test-broken", broken)
    ok = {"type": "scheduled", "name": "metrics-test-ok", "outcome": "ok"}
    failed = {"type": "scheduled", "name": "metrics-test-broken", "outcome": "failed"}
    before = (
        _sample(metered_client, "scipass_job_runs_total", **ok),
        _sample(metered_client, "scipass_job_runs_total", **failed),
    )
    done = job_worker.run_due(database, clock, settings, jobs, worker="metrics-test")
    assert done == {"metrics-test-ok": 3}
    after = (
        _sample(metered_client, "scipass_job_runs_total", **ok),
        _sample(metered_client, "scipass_job_runs_total", **failed),
    )
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    duration = "scipass_job_duration_seconds_count"
    assert _sample(metered_client, duration, type="scheduled", name="metrics-test-ok") >= 1


def test_queued_job_runs_are_counted_by_kind_and_outcome(
    metered: FastAPI,
    metered_client: TestClient,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    settings.job_progress_seconds = 3600  # no heartbeat on the test's one connection
    settings.job_lease_seconds = 3600
    settings.job_results_dir = tmp_path / "results"
    database: Database = metered.state.db

    def done(context: queue.JobContext) -> queue.JobResult:
        key = context.result_key("txt")
        size = context.store.put(key, [b"ok"])
        return queue.JobResult(key, "r.txt", "r.txt", "text/plain", size, 1)

    def broken(context: queue.JobContext) -> queue.JobResult:
        raise RuntimeError("a job that fails")

    kinds = queue.JobKinds()
    kinds.register("metrics-test-done", done)
    kinds.register("metrics-test-broken", broken, max_attempts=1)
    owner = Principal(subject="account:1", role=Role.school_admin, school_id=None)
    with database.transaction() as session:
        for name in ("metrics-test-done", "metrics-test-broken"):
            kind = kinds.get(name)
            assert kind is not None
            queue.enqueue(session, kind=kind, params={}, owner=owner, now=clock.now())
    name = "scipass_job_runs_total"
    ok = {"type": "queued", "name": "metrics-test-done", "outcome": "ok"}
    failed = {"type": "queued", "name": "metrics-test-broken", "outcome": "failed"}
    before = (_sample(metered_client, name, **ok), _sample(metered_client, name, **failed))
    store = store_for(settings)
    for _ in range(2):
        assert job_worker.run_next(
            database, clock, settings, kinds, worker="metrics-test", store=store
        )
    after = (_sample(metered_client, name, **ok), _sample(metered_client, name, **failed))
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    duration = "scipass_job_duration_seconds_count"
    assert _sample(metered_client, duration, type="queued", name="metrics-test-done") >= 1


def _metrics_settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        metrics_enabled=True,
        database_url=f"sqlite:///{tmp_path}/var/scipass.db",
        upload_dir=tmp_path / "var" / "uploads",
        job_results_dir=tmp_path / "var" / "job-results",
        **values,
    )


def test_serve_empties_the_metrics_dir_of_metric_files_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scipass.cli import _metrics_directory

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)  # restored after the test
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    stale = ["counter_12.db", "histogram_12.db", "summary_7.db", "gauge_livesum_12.db"]
    kept = ["notes.db", "scipass.db", "counter_x.db", "counter_12.db-journal"]
    for name in stale + kept:
        (metrics / name).write_bytes(b"x")
    _metrics_directory(_metrics_settings(tmp_path, metrics_dir=metrics))
    assert sorted(p.name for p in metrics.iterdir()) == sorted(kept)


@pytest.mark.parametrize(
    ("metrics_dir", "reason"),
    [
        ("var", "holds the SQLite database"),
        ("var/uploads", "is SCIPASS_UPLOAD_DIR"),
        ("var/job-results", "is SCIPASS_JOB_RESULTS_DIR"),
    ],
)
def test_serve_refuses_a_metrics_dir_that_is_not_its_own(
    tmp_path: Path, metrics_dir: str, reason: str
) -> None:
    """``serve`` empties the metrics dir and reads every ``*.db`` in it as metrics: the SQLite
    database beside them (var/scipass.db) would be lost or read as metrics. Refused in one
    line, before anything is deleted."""
    import os

    from tests.startup import serve_refused

    (tmp_path / "var" / "uploads").mkdir(parents=True)
    database = tmp_path / "var" / "scipass.db"
    database.write_bytes(b"the database")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCIPASS_", "PROMETHEUS_"))}
    env |= {
        "SCIPASS_METRICS_ENABLED": "true",
        "SCIPASS_JOBS_ENABLED": "false",
        "SCIPASS_DATABASE_URL": f"sqlite:///{database}",
        "SCIPASS_UPLOAD_DIR": str(tmp_path / "var" / "uploads"),
        "SCIPASS_JOB_RESULTS_DIR": str(tmp_path / "var" / "job-results"),
        "SCIPASS_METRICS_DIR": str(tmp_path / metrics_dir),
    }
    line = serve_refused(env, tmp_path, "--port", "1")
    assert line.startswith("scipass: refusing to start: SCIPASS_METRICS_DIR")
    assert reason in line
    assert database.read_bytes() == b"the database"


def test_a_metrics_dir_of_its_own_is_accepted(tmp_path: Path) -> None:
    from scipass.cli import metrics_directory_problem

    assert (
        metrics_directory_problem(_metrics_settings(tmp_path, metrics_dir=tmp_path / "m")) is None
    )
    beside = _metrics_settings(tmp_path, metrics_dir=tmp_path / "var" / "metrics")
    assert metrics_directory_problem(beside) is None
