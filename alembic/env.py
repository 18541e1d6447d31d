"""Alembic environment: the URL comes from the caller or from SCIPASS_DATABASE_URL."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, DateTime, String
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

import scipass.models  # noqa: F401  (registers every table on the metadata)
from scipass.core.config import Settings
from scipass.core.db import make_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Write column types of our own as the plain SQLAlchemy types they store as."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        impl = obj.impl_instance
        if isinstance(impl, DateTime):
            return f"sa.DateTime(timezone={impl.timezone})"
        if isinstance(impl, String):
            return f"sa.String(length={impl.length})"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or Settings().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or Settings().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
