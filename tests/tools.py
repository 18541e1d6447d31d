"""External programs some tests drive (Chromium, pdftoppm).

``make test`` installs them (Debian packages, as root). Without them a developer's run skips
those tests with the reason; under ``CI=true`` the same absence is a failure, so a green CI
never hides a test that did not run.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, *, package: str) -> str:
    """The path of program ``name`` (a name on PATH or an absolute path); fails under CI and
    skips elsewhere when it is missing."""
    path = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name)
    if path is None:
        reason = f"{name} is missing (Debian package {package}; `make test` installs it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path
