"""A PostgreSQL streaming replica for exports and dashboards (``SCIPASS_REPLICA_DATABASE_URL``).

Long reads leave the primary: an export's snapshot (:meth:`Database.snapshot_session`) and the
compliance dashboards (:meth:`Database.reporting_session`) read on the replica when one is
set; every write, an export's audit entry included, stays on the primary.

A replica lags the primary by the time its WAL takes to arrive and be replayed (milliseconds
on a healthy pair, more under load). An export must not miss what was committed before it was
asked for, so it reads only once the replica has replayed the primary's WAL position of that
moment: a queued job's position is taken when it is queued (``job.primary_lsn``; NULL if the
server refuses the WAL function, and then the position at its start counts), a direct
export's when the request reads. :func:`wait_for_replay` waits for it, up to
``SCIPASS_REPLICA_WAIT_SECONDS``, and then gives up with :class:`ReplicaBehind` (503
``replica_behind`` with ``Retry-After``; a job is queued again after a backoff, and fails
with that code after its last attempt), never an export that quietly lacks rows. A
dashboard's figures do not wait: they may be as old as the lag.

The position is the WAL *insert* position (``pg_current_wal_insert_lsn``), not the write
position (``pg_current_wal_lsn``): with ``synchronous_commit = off`` a transaction counts as
committed once its commit record is inserted, before it is written, so only the insert
position is sure to be past every commit that came before.

SQLite has no replica: the setting is refused at start with SQLite (``core.config``).
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, Engine, text

from scipass.core.errors import ServiceUnavailable

# The page headers of a WAL page (XLOG_BLCKSZ, 8 kB), and of the first page of a segment.
_WAL_PAGE_HEADER = 24
_WAL_SEGMENT_HEADER = 40


class ReplicaBehind(ServiceUnavailable):
    """The read replica has not replayed the primary's position in time: the export did not
    run (nothing was read or written); the same request may be sent again later."""

    code = "replica_behind"
    title_zh = "只读副本尚未同步到最新数据，请稍后再试"
    title_en = "The read replica is behind the primary; try again shortly"
    retry_after_seconds = 30


def parse_lsn(lsn: str) -> int:
    """``'16/B374D848'`` as a byte position."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def record_end(insert_lsn: str, *, segment_offset: int, block_size: int) -> str:
    """The end of the last WAL record inserted, from the insert position: the same unless the
    last record ended exactly at a page's end, where the insert position points past the next
    page's header. A standby's replay position is a record's end (``pg_last_wal_replay_lsn``),
    so it would never reach such an insert position until another record was written (on an
    idle primary, up to 15 seconds later)."""
    position = parse_lsn(insert_lsn)
    if segment_offset == _WAL_SEGMENT_HEADER:
        return format_lsn(position - _WAL_SEGMENT_HEADER)
    if segment_offset % block_size == _WAL_PAGE_HEADER:
        return format_lsn(position - _WAL_PAGE_HEADER)
    return insert_lsn


def primary_position(connection: Connection) -> str | None:
    """The primary's WAL position now: everything committed so far ends at or before it.
    ``None`` on SQLite, which has no WAL to replicate."""
    if connection.dialect.name != "postgresql":
        return None
    row = connection.execute(
        text(
            "SELECT lsn::text, (pg_walfile_name_offset(lsn)).file_offset,"
            " current_setting('wal_block_size')::int"
            " FROM (SELECT pg_current_wal_insert_lsn() AS lsn) AS now"
        )
    ).one()
    return record_end(row[0], segment_offset=int(row[1]), block_size=int(row[2]))


def wait_for_replay(replica: Engine, position: str, *, timeout: float) -> None:
    """Return once ``replica`` has replayed the primary's WAL up to ``position``; raise
    :class:`ReplicaBehind` after ``timeout`` seconds. A server that is not in recovery is a
    primary (the URL names the primary itself, or a promoted replica): nothing to wait for."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    with replica.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        while True:
            in_recovery, replayed, at = connection.execute(
                text(
                    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() >= CAST(:p AS pg_lsn),"
                    " pg_last_wal_replay_lsn()::text"
                ),
                {"p": position},
            ).one()
            if not in_recovery or replayed:
                return
            if time.monotonic() >= deadline:
                raise ReplicaBehind(
                    f"只读副本在 {timeout:g} 秒内未同步到主库位置 {position}（当前 {at}）",
                    f"the replica did not replay the primary's position {position} within "
                    f"{timeout:g} s (it is at {at})",
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.2)
