"""Prometheus metrics (``SCIPASS_METRICS_ENABLED``), served at ``/metrics`` on the app's port
by :class:`scipass.core.middleware.Observe` (README, "Metrics and logs").

What is counted, and where:

* requests by method, route *template* (``/api/v1/activities/{activity_id}``, never a path
  with ids in it) and status, and their durations: ``Observe``, around every request; the
  check-in fast path, which answers without the router, names its route itself
  (:func:`note_route`);
* check-in scans by source, result and refusal code: after their commit, where each source
  gets its answer (:mod:`scipass.checkin.self_scan`, :mod:`scipass.checkin.door`);
* group-commit batch sizes and the batches undone to run unit by unit
  (:mod:`scipass.core.group_commit`);
* job runs, scheduled and queued, by name and outcome, and their durations: the job worker
  (:mod:`scipass.jobs.worker`).

The counters always count (a few hundred nanoseconds each, in this process's memory); the
setting decides whether ``/metrics`` answers and whether requests are timed.

Several processes: with ``PROMETHEUS_MULTIPROC_DIR`` set before this module is imported,
prometheus_client keeps each process's values in a file of that directory and ``/metrics``
adds up every process's files, so any uvicorn worker answers for all of them and for the job
worker. ``scipass serve`` with metrics on sets it to ``SCIPASS_METRICS_DIR`` (emptied at each
start). Without it (``uvicorn scipass.main:app`` run by hand, tests) each process counts
alone, and a ``scipass worker`` on another host counts in its own process, which serves no
``/metrics``.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import routing
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import Scope

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
PATH = "/metrics"
UNMATCHED = "<unmatched>"  # no route: an unknown path, or refused before routing (413)
_ROUTE_KEY = "scipass.route"

_SECONDS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_JOB_SECONDS = (0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

requests = Counter(
    "scipass_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
request_seconds = Histogram(
    "scipass_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template",
    ["method", "route"],
    buckets=_SECONDS,
)
checkin_results = Counter(
    "scipass_checkin_results",
    "Check-in scans by source (self_scan, staff_scan, group, offline), result (accepted, "
    "duplicate, refused) and refusal code (empty unless refused)",
    ["source", "result", "code"],
)
batch_size = Histogram(
    "scipass_group_commit_batch_size",
    "Units of work committed together, per group-commit batch",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
batch_fallbacks = Counter(
    "scipass_group_commit_fallbacks",
    "Group-commit batches undone and run again unit by unit",
)
job_runs = Counter(
    "scipass_job_runs",
    "Job runs by type (scheduled, queued), name and outcome (ok, failed; queued jobs also "
    "lost: another worker took the job over)",
    ["type", "name", "outcome"],
)
job_seconds = Histogram(
    "scipass_job_duration_seconds",
    "Job run times by type and name",
    ["type", "name"],
    buckets=_JOB_SECONDS,
)


# The labelled children of the hot-path metrics, kept once looked up: ``labels()`` costs a few
# microseconds (argument checks, a lock), a dict lookup a tenth of one (bench/README.md,
# "Metrics on the hot path"). Bounded like the labels: route templates, methods, statuses, codes.
_results: dict[tuple[str, str, str], Any] = {}
_requests: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def checkin_result(source: str, result: str, code: str = "") -> None:
    key = (source, result, code)
    child = _results.get(key)
    if child is None:
        child = _results[key] = checkin_results.labels(source, result, code)
    child.inc()


def job_run(kind: str, name: str, outcome: str, seconds: float) -> None:
    job_runs.labels(kind, name, outcome).inc()
    job_seconds.labels(kind, name).observe(seconds)


def note_route(scope: Scope, template: str) -> None:
    """Name the route a request is answered by, for a middleware that answers without the
    router (the check-in fast path)."""
    scope[_ROUTE_KEY] = template


class RouteTemplates:
    """The full path template of the route that answered a request. FastAPI names the route
    in the scope (``scope["route"]``) but with the path its router declared, without the
    prefixes it was included under; the full templates are read from the app once."""

    def __init__(self) -> None:
        self._full: dict[int, str] | None = None

    def of(self, scope: Scope) -> str:
        noted = scope.get(_ROUTE_KEY)
        if noted is not None:
            return str(noted)
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        if self._full is None:
            self._full = {}
            for context in routing.iter_route_contexts(scope["app"].routes):
                if context.path_format:
                    self._full.setdefault(id(context.original_route), context.path_format)
        return self._full.get(id(route)) or getattr(route, "path_format", None) or UNMATCHED


# Any other method a client sends is counted as OTHER: a label value per made-up method would
# let a client grow the metrics without end (as a label per raw path would).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    if method not in _METHODS:
        method = "OTHER"
    key = (method, route, status)
    children = _requests.get(key)
    if children is None:
        children = _requests[key] = (
            requests.labels(method, route, str(status)),
            request_seconds.labels(method, route),
        )
    children[0].inc()
    children[1].observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics as Prometheus text: every process's (multiprocess mode), or this one's."""
    registry: Any = REGISTRY
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
