"""Alembic, driven from code: the ``scipass migrate`` command, ``/readyz`` and the tests."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

_PACKAGE_ROOT = Path(__file__).resolve().parents[3]


def script_location() -> Path:
    """The ``alembic/`` folder: in the working directory (the Docker image) or the checkout."""
    for base in (Path.cwd(), _PACKAGE_ROOT):
        candidate = base / "alembic"
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("alembic/ not found in the working directory or the source checkout")


def alembic_config(database_url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


@lru_cache
def head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(connection: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(connection).get_current_heads())


def is_at_head(connection: Connection) -> bool:
    return current_revisions(connection) == head_revisions()
