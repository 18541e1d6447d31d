"""The migrations build the schema the models describe, and run both ways, on each engine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from scipass.core import migrations


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_check_downgrade_and_upgrade_again(empty_database_url: str) -> None:
    config = migrations.alembic_config(empty_database_url)

    command.upgrade(config, "head")
    command.check(config)  # raises when models and migrations differ
    assert {"region", "school", "venue"} <= _tables(empty_database_url)

    command.downgrade(config, "base")
    assert _tables(empty_database_url) <= {"alembic_version"}

    command.upgrade(config, "head")
    command.check(config)
    assert {"region", "school", "venue"} <= _tables(empty_database_url)


def test_one_head_and_every_revision_reversible() -> None:
    scripts = ScriptDirectory.from_config(migrations.alembic_config())
    assert len(scripts.get_heads()) == 1
    for revision in scripts.walk_revisions():
        source = Path(revision.path).read_text(encoding="utf-8")
        downgrade_body = source.split("def downgrade() -> None:", 1)[1]
        assert downgrade_body.strip() != "pass", f"{revision.revision} cannot be downgraded"


def test_privacy_incident_log_up_and_down(empty_database_url: str) -> None:
    """Revision 0024 adds the incident log, its checks hold on the engine, and it goes away
    on the way down, leaving 0023's tables."""
    config = migrations.alembic_config(empty_database_url)
    command.upgrade(config, "0024")
    assert "privacy_incident" in _tables(empty_database_url)
    engine = create_engine(empty_database_url)
    try:
        insert = text(
            "INSERT INTO privacy_incident (occurred_at, discovered_at, recorded_at, recorded_by,"
            " title, description, categories, affected_children, affected_minors, measures,"
            " updated_at) VALUES (:at, :at, :at, 'account:1', 't', 'd', '[]', :children,"
            " :minors, '', :at)"
        )
        at = datetime(2026, 12, 1, tzinfo=UTC)
        with engine.begin() as connection:
            connection.execute(insert, {"at": at, "children": 1, "minors": 2})
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert, {"at": at, "children": 3, "minors": 2})
    finally:
        engine.dispose()
    command.downgrade(config, "0023")
    tables = _tables(empty_database_url)
    assert "privacy_incident" not in tables
    assert "deletion_request" in tables
