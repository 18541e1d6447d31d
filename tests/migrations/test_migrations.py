"""The migrations build the schema the models describe, and run both ways, on each engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

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
