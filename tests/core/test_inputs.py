"""The door: one text rule for every text field, bounded integers, both answered as 422."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from scipass.activity.schemas import ActivityWrite
from scipass.core.inputs import (
    MAX_ID,
    MAX_OFFSET,
    clean_text,
    first_refused,
    refused,
    refused_pattern,
)
from scipass.record.schemas import ObjectionCreate, StudentConfirmation

REFUSED_EVERYWHERE = [
    "\x00",  # NUL
    "\x01",
    "\x0b",  # vertical tab
    "\x1f",
    "\r",  # a lone carriage return
    "\x7f",  # DEL
    "\x85",  # C1: next line
    "\x9f",
    "\ud800",  # a lone surrogate
    "\ufffe",
    "\uffff",
    "\U0001fffe",
    "\ufdd0",
    "\u202a",  # bidirectional embeddings and overrides
    "\u202e",
    "\u2066",  # isolates
    "\u2069",
]


@pytest.mark.parametrize("char", REFUSED_EVERYWHERE)
def test_the_rule_refuses_controls_noncharacters_and_bidi_overrides(char: str) -> None:
    for multiline in (False, True):
        assert first_refused(f"科学{char}馆", multiline=multiline) == f"U+{ord(char):04X}"
        with pytest.raises(ValueError, match="not allowed"):
            clean_text(f"科学{char}馆", multiline=multiline)


@pytest.mark.parametrize("multiline", [False, True])
def test_the_compiled_rule_agrees_with_the_written_one_on_every_code_point(
    multiline: bool,
) -> None:
    pattern = refused_pattern(multiline=multiline)
    disagree = [
        f"U+{point:04X}"
        for point in range(0x110000)
        if (pattern.fullmatch(chr(point)) is not None) != refused(chr(point), multiline=multiline)
    ]
    assert disagree == []


def test_tab_everywhere_line_breaks_only_where_text_is_multiline() -> None:
    assert clean_text("科学\t馆") == "科学\t馆"
    assert first_refused("第一行\n第二行") == "U+000A"
    assert clean_text("第一行\r\n第二行\n第三行", multiline=True) == "第一行\n第二行\n第三行"
    # Chinese, every CJK extension, emoji, Uyghur and Tibetan letters, the joiner ZWJ pass
    text = "𠀀𪚥ئۇيغۇرབོད་👨\u200d👩\u200d👧"
    assert clean_text(text) == text


def test_request_models_apply_the_rule_to_every_text_field() -> None:
    with pytest.raises(ValidationError) as refused:
        ActivityWrite.model_validate(
            {
                "kind": "lecture",
                "title": "科学\u202e家进校园",
                "starts_at": "2026-10-20T08:00:00+08:00",
                "ends_at": "2026-10-20T10:00:00+08:00",
            }
        )
    errors = refused.value.errors()
    assert [(e["loc"], e["type"]) for e in errors] == [(("title",), "invalid_characters")]
    activity = ActivityWrite.model_validate(
        {
            "kind": "lecture",
            "title": "科学家进校园",
            "description": "第一部分\r\n第二部分",
            "starts_at": "2026-10-20T08:00:00+08:00",
            "ends_at": "2026-10-20T10:00:00+08:00",
        }
    )
    assert activity.description == "第一部分\n第二部分"
    assert StudentConfirmation(reflection="收获\r\n很大").reflection == "收获\n很大"
    assert ObjectionCreate.model_validate({"reason": "他当天\n没有去"}).reason == "他当天\n没有去"
    with pytest.raises(ValidationError):
        ObjectionCreate.model_validate({"reason": "他当天\x00没有去"})


def test_text_and_integers_out_of_bounds_answer_422_naming_the_field(
    client: TestClient,
) -> None:
    login = client.post("/api/v1/auth/login", json={"username": "admin\x00", "password": "x"})
    assert login.status_code == 422
    body = login.json()
    assert body["code"] == "validation_failed"
    assert body["errors"] == [
        {
            "field": "body.username",
            "message": "含有不允许的字符（U+0000），如控制字符或文字方向控制符",
            "type": "invalid_characters",
        }
    ]
    search = client.get("/api/v1/schools", params={"q": "实验\u2066小学"})
    assert search.status_code == 422
    assert search.json()["errors"][0]["field"] == "query.q"
    assert search.json()["errors"][0]["type"] == "invalid_characters"
    for params in ({"offset": MAX_OFFSET + 1}, {"offset": 2**63}, {"offset": -1}):
        paged = client.get("/api/v1/schools", params=params)
        assert paged.status_code == 422, params
        assert paged.json()["errors"][0]["field"] == "query.offset"
    for activity_id in (0, MAX_ID + 1, 2**64):
        answer = client.get(f"/api/v1/activities/{activity_id}")
        assert answer.status_code == 422, activity_id
    beyond_32_bits = client.get(f"/api/v1/activities/{2**31}")
    assert beyond_32_bits.status_code == 404  # a 64-bit key: simply not there
    assert beyond_32_bits.json()["code"] == "activity_not_found"
