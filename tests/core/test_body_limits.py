"""Bodies are refused before they are parsed (413), and an upload is authenticated before a
byte of it is read (401), so neither a huge JSON body nor an anonymous upload costs memory."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from scipass.core.auth import Role
from scipass.core.config import Settings
from tests.factories import Side, auth
from tests.servers import serve

MB = 1024 * 1024


def _raw_exchange(base_url: str, head: str, first_bytes: bytes = b"") -> tuple[bytes, float]:
    """Send a request head (and a little of its body), never the rest: the answer must come
    without the server waiting for the body. Returns the answer and how long it took."""
    address = urlparse(base_url)
    started = time.monotonic()
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(head.encode("latin-1") + first_bytes)
        answer = b""
        while b"\r\n\r\n" not in answer or not _complete(answer):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - started


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _problem(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    assert b"application/problem+json" in head.lower()
    return status, json.loads(body)


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serve(app) as base_url:
        yield base_url


@pytest.mark.slow
def test_a_declared_100_mb_json_body_is_refused_without_being_read(server: str) -> None:
    head = (
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: test\r\n"
        f"Content-Type: application/json\r\nContent-Length: {100 * MB}\r\n\r\n"
    )
    answer, took = _raw_exchange(server, head, b'{"username": "')
    status, problem = _problem(answer)
    assert status == 413
    assert problem["code"] == "payload_too_large"
    assert problem["limit_bytes"] == MB
    assert took < 5


@pytest.mark.slow
def test_an_anonymous_upload_is_refused_before_it_is_read(server: str) -> None:
    head = (
        "POST /api/v1/records/1/evidence HTTP/1.1\r\nHost: test\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {10 * MB}\r\n\r\n"
    )
    answer, took = _raw_exchange(server, head, b"--xyz\r\n")
    status, problem = _problem(answer)
    assert status == 401
    assert problem["code"] == "unauthorized"
    assert took < 5
    forged = head.replace("Host: test\r\n", "Host: test\r\nAuthorization: Bearer x.y.z\r\n")
    status, problem = _problem(_raw_exchange(server, forged, b"--xyz\r\n")[0])
    assert (status, problem["code"]) == (401, "token_invalid")


def test_a_body_without_a_length_is_cut_off_at_the_limit(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"username": "'
        for _ in range(20):
            yield b"a" * 64 * 1024
        yield b'", "password": "x"}'

    response = client.post(
        "/api/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"


def test_the_limit_is_a_setting_and_uploads_keep_their_own(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    settings.max_body_bytes = 8 * 1024
    big = client.post("/api/v1/auth/login", json={"username": "a" * 9000, "password": "x"})
    assert big.status_code == 413
    small = client.post("/api/v1/auth/login", json={"username": "a" * 60, "password": "x"})
    assert small.status_code == 401  # read and answered as usual
    # an upload of 20 KB is over the JSON limit but within the upload limit: the route
    # judges it (here: not a record of this school's)
    upload = client.post(
        "/api/v1/records/999999/evidence",
        files={"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 20_000, "image/png")},
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert upload.status_code == 404
    settings.max_upload_bytes = 16 * 1024
    refused = client.post(
        "/api/v1/records/999999/evidence",
        files={"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 20_000, "image/png")},
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert refused.status_code == 413
    assert refused.json()["code"] == "payload_too_large"
