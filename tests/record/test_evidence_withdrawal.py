"""Evidence after a withdrawn ``photos`` consent (issue 20, from review): the same file
uploaded again after a new grant is served again, with an honest history; a file quarantined
before the withdrawal keeps its reason and its quarantine copy."""

from __future__ import annotations

import hashlib
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.record import storage
from scipass.record.models import RecordEvent, RecordEvidence
from tests.factories import NOW, Side, create_record
from tests.record.test_evidence import (
    Api,
    _decide_photos,
    _image,
    _rows,
)


@pytest.fixture
def api(client: TestClient, settings: Settings, clock: FrozenClock) -> Api:
    return Api(client, settings, clock)


def _actions(session: Session, record_id: int) -> list[str]:
    return list(
        session.exec(
            select(RecordEvent.action)
            .where(
                RecordEvent.record_id == record_id,
                col(RecordEvent.action).in_(["evidence_added", "evidence_deleted"]),
            )
            .order_by(col(RecordEvent.id))
        ).all()
    )


def test_the_same_photo_uploaded_after_a_new_grant_is_served_again(
    api: Api, session: Session, settings: Settings, side_a: Side
) -> None:
    record = create_record(session, student=side_a.student)
    data = _image("PNG")
    pupil = side_a.principal(Role.student)
    _decide_photos(api, side_a, "grant")
    first = api.upload(pupil, record.id or 0, data, "first.png")
    assert first.status_code == 201
    _decide_photos(api, side_a, "withdraw")
    assert api.get(first.json()["url"], pupil).status_code == 410
    assert not storage.path_of(settings, first.json()["sha256"]).exists()

    # withdrawn: the same bytes are refused, not handed the tombstone
    assert api.upload(pupil, record.id or 0, data).json()["code"] == "consent_required"

    _decide_photos(api, side_a, "grant")
    again = api.upload(pupil, record.id or 0, data, "again.png")
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]  # the tombstone revived, no second row
    served = api.get(again.json()["url"], pupil)
    assert served.status_code == 200
    assert storage.path_of(settings, again.json()["sha256"]).is_file()
    [row] = _rows(session, record.id or 0)
    assert (row.quarantined_at, row.quarantine_reason, row.filename) == (None, None, "again.png")
    assert _actions(session, record.id or 0) == [
        "evidence_added",
        "evidence_deleted",
        "evidence_added",
    ]

    # a retry of that upload changes nothing more
    assert api.upload(pupil, record.id or 0, data).json()["id"] == first.json()["id"]
    assert len(_actions(session, record.id or 0)) == 3


def test_a_withdrawal_keeps_an_earlier_quarantine_reason_and_its_copy(
    api: Api, session: Session, settings: Settings, side_a: Side
) -> None:
    record = create_record(session, student=side_a.student)
    pupil = side_a.principal(Role.student)
    _decide_photos(api, side_a, "grant")
    unsafe = api.upload(pupil, record.id or 0, _image("PNG"), "unsafe.png").json()
    plain = api.upload(pupil, record.id or 0, _image("JPEG"), "plain.jpg").json()
    # an administrator's quarantine of the first (as the cleaning job does)
    storage.quarantine(settings, unsafe["sha256"])
    session.exec(
        update(RecordEvidence)
        .where(col(RecordEvidence.id) == unsafe["id"])
        .values(quarantined_at=NOW, quarantine_reason="unreadable")
    )
    session.commit()
    storage.remove(settings, [storage.served_key(unsafe["sha256"])])

    _decide_photos(api, side_a, "withdraw")
    session.commit()
    rows = {row.id: row for row in _rows(session, record.id or 0)}
    assert rows[unsafe["id"]].quarantine_reason == "unreadable"
    assert storage.quarantine_path_of(settings, unsafe["sha256"]).is_file()
    assert rows[plain["id"]].quarantine_reason == "consent_withdrawn"
    assert not storage.path_of(settings, plain["sha256"]).exists()
    answer = api.get(unsafe["url"], pupil)
    assert (answer.status_code, answer.json()["reason"]) == (410, "unreadable")
    [logged] = session.exec(select(AuditLog.detail).where(AuditLog.action == "data_deleted")).all()
    assert json.loads(logged)["count"] == 1  # the plain photo only

    # a new grant and the unsafe bytes again: still quarantined (not revived), for the admin
    _decide_photos(api, side_a, "grant")
    assert api.upload(pupil, record.id or 0, _image("PNG")).json()["id"] == unsafe["id"]
    assert _rows(session, record.id or 0)[0].quarantine_reason == "unreadable"


def test_a_file_taken_out_in_a_transaction_comes_back_on_rollback(
    engine: Engine, settings: Settings
) -> None:
    data = _image("PNG", (1, 2, 3))
    sha256 = hashlib.sha256(data).hexdigest()
    storage.store(settings, data, sha256)
    path = storage.path_of(settings, sha256)
    with Session(engine) as s:
        storage.lock_file(s, sha256)
        storage.remove_in_transaction(s, settings, [storage.served_key(sha256)])
        assert not path.exists()  # out of the served tree while the lock is held
        s.rollback()
    assert path.read_bytes() == data
    with Session(engine) as s:
        storage.lock_file(s, sha256)
        storage.remove_in_transaction(s, settings, [storage.served_key(sha256)])
        s.commit()
    assert not path.exists()
    assert list(path.parent.iterdir()) == []  # nothing set aside is left behind
