"""Revision 0019 (issue 19) on a database that holds data: SQLite rebuilds ``activity`` and
``school``, which other tables point at, so the rebuild must keep every row and reference;
existing rows get the new columns' defaults; the downgrade refuses while a bureau organises
an activity, and keeps the rows otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text

from scipass.core import migrations

AT = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    engine = create_engine(empty_database_url)
    yield engine
    engine.dispose()


def _seed(engine: Engine) -> None:
    """A venue's activity with a code, and a school with a pupil, at revision 0018."""
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO region (code, name, level) VALUES ('970000', '省', 'province')")
        )
        connection.execute(
            text(
                "INSERT INTO venue (id, name, kind, region_code, address, longitude, latitude,"
                " phone, created_at, services, facilities, is_free, fee_note, stages,"
                " reservation_required, weekly_hours, open_weekdays, photos, listed, review_note)"
                " VALUES (1, '馆', 'science_museum', '970000', '', 112.9, 27.8, '', :at, '', '',"
                " :yes, '', 'primary', :no, '{}', '0000000', '[]', :no, '')"
            ),
            {"at": AT, "yes": True, "no": False},
        )
        connection.execute(
            text(
                "INSERT INTO school (id, name, region_code, stages, area, address, created_at)"
                " VALUES (1, '学校', '970000', 'primary', 'rural', '', :at)"
            ),
            {"at": AT},
        )
        connection.execute(
            text(
                "INSERT INTO student (id, school_id, student_no, name, gender, birth_month,"
                " stage, grade, class_name, created_at, updated_at)"
                " VALUES (1, 1, 'S1', '张小明', 'male', '2016-03-01', 'primary', 4, '1班',"
                " :at, :at)"
            ),
            {"at": AT},
        )
        connection.execute(
            text(
                "INSERT INTO activity (id, venue_id, kind, title, description, starts_at,"
                " ends_at, place_name, address, admission, stages, credited_minutes,"
                " record_category, dimension, status, status_reason, created_by, created_at,"
                " updated_at) VALUES (1, 1, 'lecture', '讲座', '', :at, :end, '礼堂', '',"
                " 'open', 'primary', 60, 'course_lecture', 'social_practice', 'draft', '',"
                " 'test', :at, :at)"
            ),
            {"at": AT, "end": AT.replace(hour=1)},
        )
        connection.execute(
            text(
                "INSERT INTO activity_code (id, activity_id, kind, short_id, step_seconds,"
                " revoked_by, revoke_reason, created_by, created_at)"
                " VALUES (1, 1, 'static', 'AAAAAAAA', 30, '', '', 'test', :at)"
            ),
            {"at": AT},
        )


def test_rows_and_references_survive_both_ways(empty_database_url: str, engine: Engine) -> None:
    config = migrations.alembic_config(empty_database_url)
    command.upgrade(config, "0018")
    _seed(engine)

    command.upgrade(config, "0019")
    with engine.connect() as connection:
        activity = connection.execute(
            text("SELECT bureau_id, after_school, programme, campaigns FROM activity")
        ).one()
        assert tuple(activity) == (None, False, None, "")
        school = connection.execute(text("SELECT remote, main_urban_district FROM school")).one()
        assert tuple(school) == (False, False)
        assert connection.execute(text("SELECT activity_id FROM activity_code")).scalar() == 1
        assert connection.execute(text("SELECT school_id FROM student")).scalar() == 1
    # the widened check admits a bureau; a rural school stays out of the main urban district
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO bureau (id, name, region_code, created_at)"
                " VALUES (1, '局', '970000', :at)"
            ),
            {"at": AT},
        )
        connection.execute(
            text(
                "INSERT INTO activity (id, bureau_id, kind, title, description, starts_at,"
                " ends_at, place_name, address, admission, stages, credited_minutes,"
                " record_category, dimension, status, status_reason, created_by, created_at,"
                " updated_at, campaigns) SELECT 2, 1, kind, title, description, starts_at,"
                " ends_at, place_name, address, admission, stages, credited_minutes,"
                " record_category, dimension, status, status_reason, created_by, created_at,"
                " updated_at, '' FROM activity WHERE id = 1"
            )
        )
    with pytest.raises(Exception, match="main_urban_district_is_urban"), engine.begin() as c:
        c.execute(text("UPDATE school SET main_urban_district = :yes"), {"yes": True})

    with pytest.raises(RuntimeError, match="organised by a bureau"):
        command.downgrade(config, "0018")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM activity WHERE bureau_id IS NOT NULL"))
    command.downgrade(config, "0018")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT activity_id FROM activity_code")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM school")).scalar() == 1
    command.upgrade(config, "head")
