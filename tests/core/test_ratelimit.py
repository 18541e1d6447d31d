"""The database counts rate-limited attempts exactly, even when they arrive together."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete
from sqlmodel import Session

from scipass.core import ratelimit
from scipass.core.db import Database
from tests.conftest import FROZEN_AT

KEY = "test:concurrent-counter"
WINDOW = ratelimit.Window(limit=10, length=timedelta(minutes=5))


@pytest.fixture
def committed_counter(engine: Engine) -> Iterator[Database]:
    yield Database(engine)
    with Session(engine) as s:
        s.execute(delete(ratelimit.RateLimitCounter).where(ratelimit.RateLimitCounter.key == KEY))
        s.commit()


def test_parallel_hits_each_count_once(committed_counter: Database) -> None:
    workers, per_worker = 8, 5
    barrier = threading.Barrier(workers)
    seen: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        barrier.wait()
        for _ in range(per_worker):
            count = ratelimit.hit_now(committed_counter, KEY, WINDOW, now=FROZEN_AT)
            with lock:
                seen.append(count)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # every hit saw a distinct count: no two transactions read the same value
    assert sorted(seen) == list(range(1, workers * per_worker + 1))
    with committed_counter.transaction() as session:
        assert ratelimit.current(session, KEY, WINDOW, now=FROZEN_AT) == workers * per_worker
        # a new window starts from one
        later = FROZEN_AT + timedelta(minutes=5)
        assert ratelimit.hit(session, KEY, WINDOW, now=later) == 1
