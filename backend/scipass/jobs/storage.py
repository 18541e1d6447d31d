"""Where job results (export files) are kept: the app's one file store
(:mod:`scipass.core.storage`), in its ``job-results`` area: a local directory
(``SCIPASS_JOB_RESULTS_DIR``) on one host, an S3-compatible bucket shared by several.

A result is written under a key chosen by the queue; it becomes visible only when complete, so
a reader never sees half a file and a worker that dies mid-write leaves nothing behind.
"""

from __future__ import annotations

from scipass.core.config import Settings
from scipass.core.storage import JOB_RESULTS, ObjectStore, read_chunks
from scipass.core.storage import store_for as _store_for

ResultStore = ObjectStore

__all__ = ["ResultStore", "read_chunks", "store_for"]


def store_for(settings: Settings) -> ResultStore:
    """The result store the settings name (``SCIPASS_STORAGE``, ``SCIPASS_JOB_RESULTS_DIR``)."""
    return _store_for(settings, JOB_RESULTS)
