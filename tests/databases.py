"""Throwaway databases for tests: a SQLite file, or a fresh database on the PostgreSQL server
named by ``SCIPASS_TEST_DATABASE_URL`` (``make test`` starts one)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
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
