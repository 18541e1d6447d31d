"""The demo loader stores the entries' attachments: tests that load it with the default
settings keep them in the test's own directory, not under ./var."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _uploads_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCIPASS_UPLOAD_DIR", str(tmp_path / "demo-uploads"))
