"""SQLite's write lock is handed to waiting writers in the order they came
(``scipass.core.db.WriterQueue``): a writer that releases it and at once asks again goes
behind those already waiting, as a bulk write committed in steps does between two steps."""

from __future__ import annotations

import threading
import time

from scipass.core.db import WriterQueue


def _until_waiting(queue: WriterQueue, writers: int) -> None:
    deadline = time.monotonic() + 30
    while queue.waiting < writers:
        assert time.monotonic() < deadline, "the writer never queued"
        time.sleep(0.001)


def test_a_writer_that_releases_and_asks_again_goes_behind_those_waiting() -> None:
    queue = WriterQueue()
    order: list[str] = []
    assert queue.acquire(timeout=5)

    def writer(name: str) -> None:
        assert queue.acquire(timeout=30)
        order.append(name)
        queue.release()

    first = threading.Thread(target=writer, args=("first waiting",))
    first.start()
    _until_waiting(queue, 1)
    second = threading.Thread(target=writer, args=("second waiting",))
    second.start()
    _until_waiting(queue, 2)

    queue.release()
    assert queue.acquire(timeout=30)  # the next step of a bulk write
    order.append("bulk, again")
    queue.release()
    first.join(timeout=30)
    second.join(timeout=30)

    assert order == ["first waiting", "second waiting", "bulk, again"]
    assert queue.waiting == 0
    assert queue.acquire(timeout=0)  # free again


def test_a_writer_that_waited_too_long_leaves_the_queue() -> None:
    queue = WriterQueue()
    assert queue.acquire(timeout=5)

    assert queue.acquire(timeout=0.01) is False

    assert queue.waiting == 0
    queue.release()
    assert queue.acquire(timeout=0)  # nobody was handed the lock meanwhile
    queue.release()
