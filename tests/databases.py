"""Throwaway databases for tests: a SQLite file, or a fresh database on the PostgreSQL server
named by ``SCIPASS_TEST_DATABASE_URL`` (``make test`` starts one)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SERVER_URL = os.environ.get("SCIPASS_TEST_DATABASE_URL", "")
ENGINE_NAME = "postgresql" if SERVER_URL else "sqlite"


@contextmanager
def fresh_database(directory: Path) -> Iterator[str]:
    """Yield the URL of a new, empty database; drop it afterwards."""
    if not SERVER_URL:
        yield f"sqlite:///{directory / f'scipass-{secrets.token_hex(4)}.db'}"
        return
    server = make_url(SERVER_URL)
    name = f"scipass_test_{secrets.token_hex(6)}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def copy_of(url: str, directory: Path) -> Iterator[str]:
    """Yield the URL of a new database holding what the database at ``url`` holds; drop it
    afterwards. Nobody may be connected to the original (PostgreSQL copies a template)."""
    if not SERVER_URL:
        target = directory / f"scipass-{secrets.token_hex(4)}.db"
        source = sqlite3.connect(str(make_url(url).database))
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # whatever still sits in the write-ahead log included
        finally:
            copy.close()
            source.close()
        yield f"sqlite:///{target}"
        return
    server = make_url(SERVER_URL)
    name = f"scipass_test_{secrets.token_hex(6)}"
    template = make_url(url).database
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


class Cluster:
    """A PostgreSQL cluster of the test's own, which the test may stop and start again (to
    see what the service answers while its database is down)."""

    def __init__(self, directory: Path) -> None:
        bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
        if not bindirs:
            raise RuntimeError("no PostgreSQL server binaries (Debian package postgresql)")
        self.bindir = bindirs[-1]
        self.data = directory / "data"
        self.socket_dir = directory
        self.as_owner: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            shutil.chown(directory, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self.as_owner, str(self.bindir / program), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "-l",
            str(self.socket_dir / "server.log"),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop")


@contextmanager
def own_cluster() -> Iterator[Cluster]:
    """A started cluster of its own, stopped and removed afterwards. Its directory is made
    directly under /tmp: the ``postgres`` user cannot enter pytest's private temporary tree."""
    directory = Path(tempfile.mkdtemp(prefix="scipass-pg-"))
    try:
        cluster = Cluster(directory)
        cluster.start()
        try:
            yield cluster
        finally:
            with suppress(subprocess.CalledProcessError):
                cluster.stop("immediate")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def streaming_replica(primary_url: str, pg_basebackup: str) -> Iterator[str]:
    """A hot standby of the cluster at ``primary_url``, streaming from it: ``pg_basebackup -R``
    into a temporary directory, started on a port of its own (as the ``postgres`` user when
    run as root, as tests/with-postgres.sh does). Yields the URL of its ``postgres`` database;
    stopped and removed afterwards. No replication slot is left on the primary."""
    bindir = Path(pg_basebackup).parent
    primary = make_url(primary_url)
    engine = create_engine(primary.set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as connection:
            # A standby refuses to start with fewer of these than its primary has.
            limits = {
                name: connection.execute(text(f"SHOW {name}")).scalar_one()
                for name in ("max_connections", "max_worker_processes", "max_wal_senders")
            }
    finally:
        engine.dispose()
    directory = Path(tempfile.mkdtemp(prefix="scipass-replica-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(directory, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = directory / "data"

    def run(*command: str) -> None:
        subprocess.run([*as_owner, *command], check=True, capture_output=True, timeout=120)

    try:
        run(
            pg_basebackup,
            f"--host={primary.host or '127.0.0.1'}",
            f"--port={primary.port or 5432}",
            f"--username={primary.username or 'postgres'}",
            f"--pgdata={data}",
            "--write-recovery-conf",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-sync",
        )
        options = " ".join(
            [f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"]
            + [f"-c {name}={value}" for name, value in limits.items()]
        )
        run(
            str(bindir / "pg_ctl"),
            *("-D", str(data), "-w", "-t", "60", "-o", options),
            *("-l", str(directory / "server.log"), "start"),
        )
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            with suppress(subprocess.CalledProcessError):
                run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-m", "immediate", "stop")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
