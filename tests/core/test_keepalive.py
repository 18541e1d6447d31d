"""`scipass serve` keeps an idle connection open longer than any client polls."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scipass.core.config import (
    KEEPALIVE_DEFAULT_SECONDS,
    KEEPALIVE_MIN_SECONDS,
    ConfigurationError,
    load_settings,
)


def test_the_keepalive_setting_has_a_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(_env_file=None).keepalive_seconds == KEEPALIVE_DEFAULT_SECONDS == 75
    monkeypatch.setenv("SCIPASS_KEEPALIVE_SECONDS", "120")
    assert load_settings(_env_file=None).keepalive_seconds == 120
    monkeypatch.setenv("SCIPASS_KEEPALIVE_SECONDS", str(KEEPALIVE_MIN_SECONDS - 1))
    with pytest.raises(ConfigurationError, match="keepalive_seconds"):
        load_settings(_env_file=None)


@pytest.mark.slow
def test_an_idle_connection_outlives_uvicorns_five_seconds(tmp_path: Path) -> None:
    """A client that asks again after 6 s gets its answer on the same connection."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCIPASS_")}
    env |= {
        "SCIPASS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "SCIPASS_JOBS_ENABLED": "false",
        "SCIPASS_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "scipass", "serve", "--port", str(port)], cwd=tmp_path, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, "scipass serve exited"
                assert time.monotonic() < deadline, "scipass serve did not start"
                time.sleep(0.1)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/healthz")
            first = connection.getresponse()
            assert first.status == 200
            first.read()
            sock = connection.sock
            assert sock is not None
            local = sock.getsockname()
            time.sleep(6)
            connection.request("GET", "/healthz")  # on the same socket: http.client
            again = connection.getresponse()  # reconnects only when it has none
            assert again.status == 200
            again.read()
            assert connection.sock is sock
            assert sock.getsockname() == local
        finally:
            connection.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
