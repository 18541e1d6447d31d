"""`scipass serve` (what `make run` runs) starts the worker beside the server, and the worker
ends with the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from scipass.core import migrations


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append((int(entry.name), command))
    return found


def test_serve_starts_the_worker_and_the_worker_ends_with_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/run.db"
    migrations.upgrade(url)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCIPASS_")}
    env |= {
        "SCIPASS_DATABASE_URL": url,
        "SCIPASS_JOB_RESULTS_DIR": str(tmp_path / "results"),
        "SCIPASS_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "scipass", "serve", "--port", str(port)], cwd=tmp_path, env=env
    )
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + 60
        scheduled: list[str] = []
        while time.monotonic() < deadline and len(scheduled) < 6:
            assert server.poll() is None, "scipass serve exited"
            time.sleep(0.2)
            try:
                with engine.connect() as connection:
                    scheduled = list(
                        connection.execute(text("SELECT name FROM job_schedule")).scalars()
                    )
            except Exception:  # noqa: S112 - the worker may hold the write lock a moment
                continue
        workers = [pid for pid, command in _children(server.pid) if "scipass worker" in command]
        assert len(workers) == 1, _children(server.pid)
        # the worker ran every scheduled job once at its first start
        assert {"archive-records", "close-visits", "expire-job-results"} <= set(scheduled)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        (worker,) = workers
        deadline = time.monotonic() + 30
        while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
            state = Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":  # ended, waiting to be reaped by init
                break
            time.sleep(0.1)
        gone = not Path(f"/proc/{worker}").exists() or (
            Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        )
        assert gone, "the worker outlived the server"
    finally:
        if server.poll() is None:
            server.kill()
        engine.dispose()


def test_the_worker_ends_whatever_number_of_signals_it_gets(tmp_path: Path) -> None:
    """Signals in a burst (the server's death, a terminal's Ctrl-C, a supervisor) while the
    worker idles: its handlers must take no lock, or one that comes while the main thread
    holds the stop event's lock (in its wait, or in another handler) waits for it forever."""
    url = f"sqlite:///{tmp_path}/run.db"
    migrations.upgrade(url)
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCIPASS_")}
    env |= {
        "SCIPASS_DATABASE_URL": url,
        "SCIPASS_JOB_RESULTS_DIR": str(tmp_path / "results"),
        "SCIPASS_LOG_LEVEL": "WARNING",
        "SCIPASS_WORKER_POLL_SECONDS": "0.001",  # mostly in the event's wait
    }
    worker = subprocess.Popen([sys.executable, "-m", "scipass", "worker"], cwd=tmp_path, env=env)
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + 60
        scheduled = 0
        while scheduled < 6:  # its first pass is done: idling
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.2)
            try:
                with engine.connect() as connection:
                    scheduled = connection.execute(
                        text("SELECT count(*) FROM job_schedule")
                    ).scalar_one()
            except Exception:  # noqa: S112 - the worker may hold the write lock a moment
                continue
        for _ in range(500):
            if worker.poll() is not None:
                break
            worker.send_signal(signal.SIGTERM)
        # It ends: cleanly, or killed by a signal of the burst that came after it had put
        # the default handler back on its way out. A handler that waits forever is the defect.
        assert worker.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        engine.dispose()
