"""Point-in-time recovery drill with PostgreSQL's own tools (issue 22), on throwaway clusters.

    .venv/bin/python bench/pitr/drill.py [--rows 200000]

1. A cluster ("primary") with WAL archiving on (``archive_command`` copies each finished WAL
   segment into an archive directory), holding ``--rows`` rows.
2. A base backup of it with ``pg_basebackup`` (plain format, its WAL streamed alongside).
3. After the backup: 1,000 rows written (batch "before"); the time is noted (the target);
   1,000 more rows (batch "after") and an accident: the first ``--rows`` rows are deleted.
   ``pg_switch_wal()`` closes the segment, and the drill waits until the archiver has copied it.
4. The base backup is restored into another directory as a second cluster, with
   ``recovery.signal``, ``restore_command`` (copy from the archive), ``recovery_target_time``
   (the target) and ``recovery_target_action = 'promote'``, started on its own port.
5. Checks on the restored cluster: the deleted rows are back, batch "before" is there, batch
   "after" is not, and a checksum of the rows equals the primary's at the target.

Prints each step's duration. Needs the Debian package ``postgresql`` (server binaries); as root
the clusters run as the ``postgres`` user (initdb refuses root). Everything lives in one
temporary directory under /tmp, removed at the end; nothing touches a system cluster.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

CHECKSUM = "SELECT count(*) || ':' || coalesce(sum(hashtext(id::text || note)), 0) FROM drill"


def bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not found:
        sys.exit("no PostgreSQL server binaries: apt-get install postgresql")
    return found[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Drill:
    def __init__(self, root: Path) -> None:
        self.bin = bindir()
        self.root = root
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.archive = root / "wal-archive"
        self.base = root / "base-backup"
        self.timings: list[tuple[str, float]] = []

    def run(self, program: str, *args: str) -> str:
        done = subprocess.run(
            [*self.as_owner, str(self.bin / program), *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return done.stdout

    def mkdir(self, path: Path) -> None:
        path.mkdir()
        if self.as_owner:
            shutil.chown(path, "postgres")

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        took = time.monotonic() - started
        self.timings.append((name, took))
        print(f"  {took:7.2f} s  {name}", flush=True)

    def start(self, data: Path, port: int, *options: str) -> None:
        settings = " ".join([f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1", *options])
        self.run(
            "pg_ctl",
            "-D",
            str(data),
            "-w",
            "-t",
            "300",
            "-o",
            settings,
            "-l",
            str(data.parent / f"{data.name}.log"),
            "start",
        )

    def stop(self, data: Path) -> None:
        subprocess.run(
            [*self.as_owner, str(self.bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=120,
        )


def connect(port: int) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows before the backup")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="scipass-pitr-", dir="/tmp"))
    drill = Drill(root)
    primary, restored = root / "primary", root / "restored"
    primary_port, restored_port = free_port(), free_port()
    started = time.monotonic()
    try:
        print(f"{drill.run('postgres', '--version').strip()} in {root}")
        drill.mkdir(drill.archive)
        with drill.step("initdb and start the primary (archive_mode on)"):
            drill.run(
                "initdb",
                "-D",
                str(primary),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            )
            drill.start(
                primary,
                primary_port,
                "-c wal_level=replica",
                "-c archive_mode=on",
                f"-c archive_command='test ! -f {drill.archive}/%f && cp %p {drill.archive}/%f'",
                "-c archive_timeout=0",
            )
        with connect(primary_port) as db, drill.step(f"write {args.rows:,} rows"):
            db.execute(
                "CREATE TABLE drill (id bigint PRIMARY KEY, batch text NOT NULL,"
                " note text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())"
            )
            db.execute(
                "INSERT INTO drill (id, batch, note) SELECT i, 'base', md5(i::text)"
                " FROM generate_series(1, %s::int) AS i",
                (args.rows,),
            )
        with drill.step("pg_basebackup (plain, WAL streamed)"):
            drill.run(
                "pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                str(primary_port),
                "-U",
                "postgres",
                "-D",
                str(drill.base),
                "--wal-method=stream",
                "--checkpoint=fast",
            )
        size = sum(f.stat().st_size for f in drill.base.rglob("*") if f.is_file())
        print(f"           base backup: {size / 2**20:.0f} MiB")
        with (
            connect(primary_port) as db,
            drill.step("after the backup: 1,000 rows, the target, 1,000 rows, DELETE, archive"),
        ):
            first = args.rows + 1
            db.execute(
                "INSERT INTO drill (id, batch, note) SELECT i, 'before', md5(i::text)"
                " FROM generate_series(%s::int, %s::int) AS i",
                (first, first + 999),
            )
            time.sleep(0.2)
            target, at_target = db.execute(
                f"SELECT clock_timestamp()::text, ({CHECKSUM})::text"
            ).fetchone()  # type: ignore[misc]
            time.sleep(0.2)
            db.execute(
                "INSERT INTO drill (id, batch, note) SELECT i, 'after', md5(i::text)"
                " FROM generate_series(%s::int, %s::int) AS i",
                (first + 1000, first + 1999),
            )
            db.execute("DELETE FROM drill WHERE batch = 'base'")  # the accident
            segment = db.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]  # type: ignore[index]
            deadline = time.monotonic() + 60
            while (
                db.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()[0]  # type: ignore[index]
                or ""
            ) < segment:
                if time.monotonic() > deadline:
                    sys.exit(f"the archiver did not copy {segment} within 60 s")
                time.sleep(0.05)
            now = db.execute(f"SELECT ({CHECKSUM})::text").fetchone()[0]  # type: ignore[index]
        print(f"           target time {target}; primary at the target {at_target}, now {now}")
        archived = sorted(p.name for p in drill.archive.iterdir())
        print(f"           {len(archived)} files archived ({archived[0]} .. {archived[-1]})")
        with drill.step("restore the base backup to the target time and promote"):
            shutil.copytree(drill.base, restored, symlinks=True)
            if drill.as_owner:
                subprocess.run(["chown", "-R", "postgres:postgres", str(restored)], check=True)
            (restored / "recovery.signal").touch()
            with (restored / "postgresql.auto.conf").open("a") as conf:
                conf.write(
                    f"restore_command = 'cp {drill.archive}/%f %p'\n"
                    f"recovery_target_time = '{target}'\n"
                    "recovery_target_action = 'promote'\n"
                    "archive_mode = off\n"
                )
            drill.start(restored, restored_port)
            with connect(restored_port) as db:
                deadline = time.monotonic() + 300
                while db.execute("SELECT pg_is_in_recovery()").fetchone()[0]:  # type: ignore[index]
                    if time.monotonic() > deadline:
                        sys.exit("the restored cluster did not finish recovery in 300 s")
                    time.sleep(0.05)
        with connect(restored_port) as db:
            batches: dict[str, int] = dict(
                db.execute("SELECT batch, count(*) FROM drill GROUP BY batch").fetchall()
            )
            restored_sum = db.execute(f"SELECT ({CHECKSUM})::text").fetchone()[0]  # type: ignore[index]
        log = (root / "restored.log").read_text(errors="replace")
        stopped = [
            line.split("LOG:  ", 1)[-1]
            for line in log.splitlines()
            if "recovery stopping" in line or "selected new timeline" in line
        ]
        for line in stopped:
            print(f"           server: {line}")
        print(f"           restored rows by batch: {batches}; checksum {restored_sum}")
        expected = {"base": args.rows, "before": 1000}
        ok = batches == expected and restored_sum == at_target
        print(
            f"  {'PASS' if ok else 'FAIL'}: expected {expected} and checksum {at_target};"
            f" drill took {time.monotonic() - started:.1f} s"
        )
        if not ok:
            sys.exit(1)
    finally:
        drill.stop(restored)
        drill.stop(primary)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
