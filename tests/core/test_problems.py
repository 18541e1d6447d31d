"""Every error, from a route or the framework, is an RFC 9457 problem in the caller's language."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from scipass.core.errors import preferred_language

PROBLEM_KEYS = {"type", "title", "status", "code"}


def _assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:scipass:problem:{code}"
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_unknown_path_is_404_in_chinese_by_default(client: TestClient) -> None:
    body = _assert_problem(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert body["title"] == "资源不存在"
    assert body["instance"] == "/api/v1/no-such-thing"


def test_english_on_request(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert _assert_problem(response, 404, "not_found")["title"] == "Not found"


def test_domain_404_has_its_own_code_and_detail(client: TestClient) -> None:
    body = _assert_problem(client.get("/api/v1/regions/999999"), 404, "region_not_found")
    assert "999999" in body["detail"]
    body = _assert_problem(
        client.get("/api/v1/regions/999999", headers={"Accept-Language": "en"}),
        404,
        "region_not_found",
    )
    assert body["detail"] == "No region with code 999999"


def test_wrong_method_is_405_with_allow(client: TestClient) -> None:
    response = client.delete("/healthz")
    body = _assert_problem(response, 405, "method_not_allowed")
    assert body["title"] == "不支持该请求方法"
    assert response.headers["allow"] == "GET"


def test_validation_lists_every_field(client: TestClient) -> None:
    response = client.get("/api/v1/regions", params={"limit": 1000, "offset": "x", "level": "town"})
    body = _assert_problem(response, 422, "validation_failed")
    fields = {error["field"]: error for error in body["errors"]}
    assert set(fields) == {"query.limit", "query.offset", "query.level"}
    assert fields["query.limit"]["message"] == "应不大于 100"
    assert fields["query.offset"]["type"] == "int_parsing"
    assert fields["query.offset"]["message"] == "应为整数"
    assert body["title"] == "请求参数校验失败"

    english = client.get(
        "/api/v1/regions", params={"limit": 0}, headers={"Accept-Language": "en"}
    ).json()
    assert english["title"] == "Validation failed"
    assert english["errors"][0]["field"] == "query.limit"
    assert "greater than or equal to 1" in english["errors"][0]["message"]


def test_path_validation_is_422(client: TestClient) -> None:
    body = _assert_problem(client.get("/api/v1/regions/43-381"), 422, "validation_failed")
    assert body["errors"][0]["field"] == "path.region_code"


def test_unexpected_error_is_500_without_internals(app: FastAPI) -> None:
    @app.get("/boom", name="test-boom")
    def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2 at /srv/scipass/x.py")

    with TestClient(app, raise_server_exceptions=False) as client:
        for lang, title in (("zh-CN", "服务器内部错误"), ("en", "Internal server error")):
            response = client.get("/boom", headers={"Accept-Language": lang})
            body = _assert_problem(response, 500, "internal_error")
            assert body["title"] == title
            assert "hunter2" not in response.text
            assert "Traceback" not in response.text
            assert "x.py" not in response.text


def test_caller_request_id_is_echoed_when_sane(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "scan-42"})
    assert response.headers["x-request-id"] == "scan-42"
    response = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.headers["x-request-id"]) == 16


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "zh"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en", "en"),
        ("en-GB", "en"),
        ("en;q=0.5,zh;q=0.9", "zh"),
        ("fr,en;q=0.8", "en"),
        ("de", "zh"),
        ("en;q=bogus,zh", "zh"),
    ],
)
def test_preferred_language(header: str, expected: str) -> None:
    scope = {"type": "http", "headers": [(b"accept-language", header.encode())]}
    assert preferred_language(Request(scope)) == expected
