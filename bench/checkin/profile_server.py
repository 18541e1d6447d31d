"""The server of ``run.py --profile``: the app of ``scipass serve`` under cProfile, in every thread.

    python bench/checkin/profile_server.py --port 8000     # settings from SCIPASS_* as usual

cProfile hooks only the thread that enables it, and FastAPI runs sync routes and sync
dependencies (the check-in route, the request's session and its commit) in worker threads, so
``python -m cProfile -m scipass serve`` would show the event loop and nothing of the check-in
itself. Here every call handed to a worker thread (``anyio.to_thread.run_sync``) and every
batch of group commit (``GroupCommit.run_batch``, in its own threads) runs under that thread's
own profiler, the event loop's thread has another, and all are merged into one
pstats file. The profilers count their thread's CPU time (``time.thread_time_ns``), so time a
thread spends waiting for the GIL, a lock or the database server is not charged to whatever it
was running; the profiler's own cost (a system call per event) inflates everything, functions
with many small calls most: read proportions, not absolute times. (Python 3.11: cProfile is
per-thread there.)

Profiling is off until ``POST /__bench/profile/start``; ``POST /__bench/profile/stop?out=PATH``
turns it off and writes the merged stats to PATH, the event loop's alone to PATH.loop and the
worker threads' to PATH.threads. Both paths exist only in this launcher;
otherwise it serves as ``scipass serve`` does: the same app and settings, one uvicorn worker,
proxy headers, the settings' log level.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import pstats
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
import uvicorn

from scipass.core.config import load_settings
from scipass.core.group_commit import GroupCommit
from scipass.main import create_app

_lock = threading.Lock()
_local = threading.local()
_profilers: list[cProfile.Profile] = []
_state: dict[str, Any] = {"active": False, "main": None}


def _profiler() -> cProfile.Profile:
    profiler = cProfile.Profile(time.thread_time_ns, 1e-9)
    with _lock:
        _profilers.append(profiler)
    return profiler


def _profiled(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        if not _state["active"]:
            return func(*args, **kwargs)
        profiler = getattr(_local, "profiler", None)
        if profiler is None:
            profiler = _local.profiler = _profiler()
        profiler.enable()
        try:
            return func(*args, **kwargs)
        finally:
            profiler.disable()

    return call


_run_sync = anyio.to_thread.run_sync


async def _run_sync_profiled(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await _run_sync(_profiled(func), *args, **kwargs)


anyio.to_thread.run_sync = _run_sync_profiled  # type: ignore[assignment]
# Group commit runs batches in threads of its own, not through anyio.
GroupCommit.run_batch = _profiled(GroupCommit.run_batch)  # type: ignore[method-assign]


def start() -> None:
    main = _profiler()
    _state["main"] = main
    _state["active"] = True
    main.enable()


def stop(out: str) -> None:
    _state["active"] = False
    main = _state["main"]
    if main is None:
        return
    main.disable()
    with _lock:
        workers = [p for p in _profilers if p is not main]
        _profilers.clear()
    loop = pstats.Stats(main)
    loop.dump_stats(out + ".loop")
    if workers:
        threads = pstats.Stats(workers[0])
        for profiler in workers[1:]:
            threads.add(profiler)
        threads.dump_stats(out + ".threads")
        loop.add(out + ".threads")
    loop.dump_stats(out)
    _state["main"] = None


class ProfileSwitch:
    """ASGI: ``/__bench/profile/start`` and ``/stop``, everything else to the app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/__bench/profile/"):
            await self.app(scope, receive, send)
            return
        action = scope["path"].rsplit("/", 1)[-1]
        status = 204
        if action == "start":
            start()
        elif action == "stop":
            query = parse_qs(scope["query_string"].decode())
            stop(query.get("out", ["checkin.prof"])[0])
        else:
            status = 404
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    settings = load_settings()
    uvicorn.run(
        ProfileSwitch(create_app(settings)),
        host=args.host,
        port=args.port,
        workers=1,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
