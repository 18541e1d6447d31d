"""``scipass worker`` with probes, for tests/core/test_instances.py: run as
``python -m tests.core.probed_worker PROBE_FILE``. It appends to PROBE_FILE one line per
scheduled job this worker claimed and ran (``ran <job> <pid>``) and per pass of its loop
(``pass <pid>``), and registers a queued job kind ``sleepy`` that notes its start
(``sleepy <job id> <pid>``) and then sleeps until the process is killed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from scipass import main
from scipass.cli import cli
from scipass.jobs import queue
from scipass.jobs import worker as job_worker


def _note(probe: Path, line: str) -> None:
    with probe.open("a") as out:  # one short append: whole lines even from two processes
        out.write(f"{line} {os.getpid()}\n")


def install(probe: Path) -> None:
    run_due, job_kinds = job_worker.run_due, main.job_kinds

    def probed_run_due(*args: Any, **kwargs: Any) -> dict[str, int]:
        done = run_due(*args, **kwargs)
        for name in done:
            _note(probe, f"ran {name}")
        _note(probe, "pass")
        return done

    def sleepy(context: queue.JobContext) -> queue.JobResult:
        _note(probe, f"sleepy {context.job_id}")
        time.sleep(600)
        raise AssertionError("killed long before")

    def kinds() -> queue.JobKinds:
        found = job_kinds()
        found.register("sleepy", sleepy, max_attempts=3)
        return found

    job_worker.run_due = probed_run_due
    main.job_kinds = kinds


if __name__ == "__main__":
    install(Path(sys.argv[1]))
    cli(["worker"])
