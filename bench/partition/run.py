"""Try the partitioned schema of docs/scaling.md on generated data (issue 22). PostgreSQL only.

    tests/with-postgres.sh sh -c 'PYTHONPATH=backend .venv/bin/python bench/partition/run.py \
        --database-url "$SCIPASS_TEST_DATABASE_URL"'

Makes a fresh database on that server (``scipass_partition_bench``, dropped first), migrates
it (the app's tables, whose columns the partitioned ones copy), runs ``build.sql`` at the scale
given (by default 200 schools, ten times the demo's 20, of 500 pupils: 100,000 pupils, five
school years, 10 scans and 4 records a pupil a year: 5,000,000 scan events and 2,000,000
records), then prints, per table, the rows and the bytes per row (heap, indexes, in total)
measured with ``pg_total_relation_size`` over the partitions and ``pg_column_size``, and the
plans (``EXPLAIN (ANALYZE, BUFFERS)``) of the hot queries. The database is left for a look;
``--drop`` removes it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from scipass.core import migrations

HERE = Path(__file__).parent
NAME = "scipass_partition_bench"

# (what, SQL): the hot queries, each with the school year the caller knows (the current one,
# or the one it asks about). %(last)s is the last generated year.
HOT = [
    (
        "check-in duplicate check: has this operator sent this nonce (this school year)?",
        "SELECT fingerprint, result, reason, check_in_id FROM part.scan_event"
        " WHERE operator = 'wechat:1054321' AND nonce = md5('54321:%(last)s:3')"
        " AND school_year = %(last)s LIMIT 1",
    ),
    (
        "a pupil's records of this school year",
        "SELECT id, title, status, started_at FROM part.participation_record"
        " WHERE student_id = 54321 AND school_year = %(last)s ORDER BY started_at",
    ),
    (
        "a pupil's records of every year (no year known: one index lookup per partition)",
        "SELECT id, title, status, started_at FROM part.participation_record"
        " WHERE student_id = 54321 ORDER BY started_at",
    ),
    (
        "a school's export (one school, one term)",
        "SELECT id, student_id, title, minutes, status FROM part.participation_record"
        " WHERE school_id = 109 AND school_year = %(last)s AND semester = 'autumn'"
        " ORDER BY student_id, started_at",
    ),
    (
        "archive chain: the head (where the next archived record links)",
        "SELECT archive_seq, content_hash, school_year FROM part.record_chain_head"
        " WHERE student_id = 54321",
    ),
    (
        "archive chain: one school year's links, in order (verify reads year by year)",
        "SELECT id, archive_seq, prev_hash, content_hash FROM part.participation_record"
        " WHERE student_id = 54321 AND school_year = %(prev)s AND archive_seq IS NOT NULL"
        " ORDER BY archive_seq",
    ),
    (
        "a record's history (record_event, its record's year carried in the key)",
        "SELECT id, action, to_status FROM part.record_event"
        " WHERE record_id = 1234567 AND school_year = %(rec_year)s ORDER BY id",
    ),
]

SIZES = """
WITH tree AS (SELECT relid FROM pg_partition_tree(%(table)s::regclass)
  UNION SELECT %(table)s::regclass)
SELECT %(label)s, count(*),
  (SELECT sum(pg_relation_size(relid)) FROM tree),
  (SELECT sum(pg_indexes_size(relid)) FROM tree),
  (SELECT sum(pg_total_relation_size(relid)) FROM tree),
  (SELECT avg(pg_column_size(s.*)) FROM (SELECT * FROM {table} LIMIT 100000) s)
FROM {table}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server (any db)")
    parser.add_argument("--schools", type=int, default=200)
    parser.add_argument("--pupils-per-school", type=int, default=500)
    parser.add_argument("--first-year", type=int, default=2021)
    parser.add_argument("--last-year", type=int, default=2025)
    parser.add_argument("--scans", type=int, default=10, help="a pupil's scans a year")
    parser.add_argument("--records", type=int, default=4, help="a pupil's records a year")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args()
    server = make_url(args.database_url).set(drivername="postgresql")
    admin_dsn = server.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{NAME}"')
    url = server.set(database=NAME)
    started = time.monotonic()
    migrations.upgrade(url.set(drivername="postgresql+psycopg").render_as_string(False))
    print(f"migrated in {time.monotonic() - started:.1f} s")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as db:
        for name in ("schools", "pupils_per_school", "first_year", "last_year", "scans", "records"):
            db.execute(f"SET bench.{name} = '{int(getattr(args, name))}'")
        db.execute("SET maintenance_work_mem = '256MB'")
        started = time.monotonic()
        db.execute((HERE / "build.sql").read_text(encoding="utf-8"))
        print(f"built and loaded in {time.monotonic() - started:.1f} s\n")
        print(
            "| table | rows | heap B/row | indexes B/row | total B/row | avg row (pg_column_size) |"
        )
        print("|---|---|---|---|---|---|")
        for table in (
            "part.scan_event",
            "part.participation_record",
            "part.record_event",
            "part.record_chain_head",
            "part.check_in_sample",
            "part.audit_log_sample",
        ):
            row = db.execute(
                SIZES.format(table=table),
                {"label": table, "table": table},
            ).fetchone()
            assert row is not None
            _, rows, heap, indexes, total, avg = row
            print(
                f"| {table} | {rows:,} | {heap / rows:.0f} | {indexes / rows:.0f} |"
                f" {total / rows:.0f} | {avg:.0f} |"
            )
        rec_year = db.execute(
            "SELECT school_year FROM part.participation_record WHERE id = 1234567"
        ).fetchone()
        values = {
            "last": args.last_year,
            "prev": args.last_year - 1,
            "rec_year": rec_year[0] if rec_year else args.last_year,
        }
        for what, sql in HOT:
            query = sql % values
            print(f"\n-- {what}\n{query}")
            for _ in range(2):  # the second run is the one shown: a warm cache, as in service
                plan = db.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {query}").fetchall()
            for (line,) in plan:
                print(line)
    if args.drop:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
