"""Door scanner: how long a verdict takes to show in the browser (issue 21: under 250 ms).

    .venv/bin/python bench/door_verdict.py            # three rounds
    .venv/bin/python bench/door_verdict.py --rounds 5

Runs the door scanner's browser tests (tests/console/test_browser_door.py: a code read by a
fake camera while offline, a revoked card shown as an image, a code typed in) ``--rounds``
times in headless Chromium. Each test writes the page's own performance measures to
``test-artifacts/console/door-verdict-ms.jsonl``: ``door-verdict``, from the decode to the
first frame with the verdict on screen, and ``door-decode``, jsQR's time on one camera frame.
The script prints every figure per case with the median and the worst, and exits 1 if a
verdict took 250 ms or more.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / "test-artifacts" / "console" / "door-verdict-ms.jsonl"
TESTS = "tests/console/test_browser_door.py"
TARGET_MS = 250.0


def run_rounds(rounds: int) -> None:
    LOG.unlink(missing_ok=True)
    for _ in range(rounds):
        command = [sys.executable, "-m", "pytest", "-q", "-x", TESTS]
        subprocess.run(command, cwd=ROOT, check=True)


def summary() -> tuple[list[str], float]:
    verdicts: dict[str, list[float]] = defaultdict(list)
    decodes: dict[str, list[float]] = defaultdict(list)
    for line in LOG.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        verdicts[entry["case"]].extend(entry["verdict_ms"])
        decodes[entry["case"]].extend(entry["decode_ms"][:1])  # the frame that was read
    rows = ["| case | decode → verdict shown (ms) | median | worst | jsQR, first read (ms) |"]
    rows.append("|---|---|---|---|---|")
    for case, figures in verdicts.items():
        read = ", ".join(f"{ms:.0f}" for ms in decodes[case]) or "—"
        rows.append(
            f"| {case} | {', '.join(f'{ms:.0f}' for ms in figures)} "
            f"| {statistics.median(figures):.0f} | {max(figures):.0f} | {read} |"
        )
    worst = max(ms for figures in verdicts.values() for ms in figures)
    return rows, worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    run_rounds(arguments.rounds)
    rows, worst = summary()
    print("\n".join(rows))
    print(f"worst verdict {worst:.0f} ms, target under {TARGET_MS:.0f} ms")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
