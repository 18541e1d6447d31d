"""Evidence files of records: accepted by their first bytes (never the name or the client's
type), stored once under their SHA-256, at most nine per record, only before review and with
photo consent for a child under 14; served to whoever sees the record except the venue; and
covered by the archive hash."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Connection, Engine, delete, update
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.consent import service as consent_service
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Environment, Settings
from scipass.core.db import Database
from scipass.main import create_app
from scipass.record import chain
from scipass.record import service as record_service
from scipass.record.models import ParticipationRecord, RecordEvent, RecordEvidence
from scipass.roster.models import Student
from tests.factories import NOW, Side, auth, create_record, create_student, create_wechat_user

WINDOW_END = datetime(2026, 10, 21, 16, 0, tzinfo=UTC)  # of a notice opened at NOW


@dataclass
class Api:
    client: TestClient
    settings: Settings
    clock: FrozenClock

    def headers(self, principal: Principal) -> dict[str, str]:
        return auth(self.settings, principal, now=self.clock.now())

    def get(self, url: str, principal: Principal) -> Any:
        return self.client.get(url, headers=self.headers(principal))

    def post(self, url: str, principal: Principal, **kwargs: Any) -> Any:
        return self.client.post(url, headers=self.headers(principal), **kwargs)

    def upload(
        self,
        principal: Principal,
        record_id: int,
        data: bytes,
        name: str = "photo.png",
        content_type: str = "application/octet-stream",
    ) -> Any:
        return self.post(
            f"/api/v1/records/{record_id}/evidence",
            principal,
            files={"file": (name, data, content_type)},
        )


@pytest.fixture
def api(client: TestClient, settings: Settings, clock: FrozenClock) -> Api:
    return Api(client, settings, clock)


@pytest.fixture
def consented(api: Api, side_a: Side) -> Side:
    """Side A, whose guardian consented to photos for the (under-14) student."""
    _decide_photos(api, side_a, "grant")
    return side_a


def _decide_photos(api: Api, side: Side, decision: str) -> None:
    response = api.post(
        f"/api/v1/me/children/{side.student.id}/consents",
        side.principal(Role.guardian),
        json={
            "purposes": ["photos"],
            "decision": decision,
            "notice_version": consent_service.NOTICE_VERSION,
        },
    )
    assert response.status_code == 201, response.text


def _image(kind: str, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A real, tiny file of ``kind`` (JPEG, PNG, WEBP or PDF) made by Pillow."""
    buffer = io.BytesIO()
    Image.new("RGB", (6, 4), color).save(buffer, format=kind)
    return buffer.getvalue()


def _stored(settings: Settings) -> list[Path]:
    root = settings.upload_dir / "evidence"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _rows(session: Session, record_id: int) -> list[RecordEvidence]:
    session.expire_all()
    return list(
        session.exec(
            select(RecordEvidence)
            .where(RecordEvidence.record_id == record_id)
            .order_by(col(RecordEvidence.id))
        ).all()
    )


def _bound_student(session: Session, school_id: int, **overrides: Any) -> tuple[Student, Principal]:
    user = create_wechat_user(session)
    student = create_student(session, school_id=school_id, wechat_user_id=user.id, **overrides)
    principal = Principal(
        subject=f"wechat:{user.id}", role=Role.student, school_id=school_id, student_id=student.id
    )
    return student, principal


# --- what is accepted -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "media_type", "name"),
    [
        ("JPEG", "image/jpeg", "证书.jpg"),
        ("PNG", "image/png", "photo.png"),
        ("WEBP", "image/webp", "photo.webp"),
        ("PDF", "application/pdf", "report.pdf"),
        ("PNG", "image/png", "named-wrongly.txt"),  # the bytes decide, not the name
    ],
)
def test_real_files_are_accepted_and_stored_by_their_hash(
    api: Api,
    session: Session,
    settings: Settings,
    consented: Side,
    kind: str,
    media_type: str,
    name: str,
) -> None:
    record = create_record(session, student=consented.student)
    data = _image(kind)
    sha = hashlib.sha256(data).hexdigest()
    student = consented.principal(Role.student)

    response = api.upload(student, record.id or 0, data, name, "text/plain")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["media_type"], body["size"], body["sha256"], body["filename"]) == (
        media_type,
        len(data),
        sha,
        name,
    )
    assert body["url"] == f"/api/v1/records/{record.id}/evidence/{body['id']}"
    assert datetime.fromisoformat(body["uploaded_at"]) == NOW

    path = settings.upload_dir / "evidence" / sha[:2] / sha
    assert _stored(settings) == [path]  # and no temporary file left behind
    assert path.read_bytes() == data
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    [row] = _rows(session, record.id or 0)
    assert (row.id, row.sha256, row.size, row.media_type) == (
        body["id"],
        sha,
        len(data),
        media_type,
    )
    assert row.uploaded_by == student.subject
    event = session.exec(
        select(RecordEvent).where(
            RecordEvent.record_id == record.id, RecordEvent.action == "evidence_added"
        )
    ).one()
    assert (event.actor, event.from_status, event.to_status) == (
        student.subject,
        "pending",
        "pending",
    )


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("photo.png", "这不是图片，是一段文字。\n".encode(), "image/png"),
        (
            "certificate.jpg",
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" * 8,
            "image/jpeg",
        ),
        ("animation.png", b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 32, "image/png"),
        ("page.pdf", b"<html><body>%PDF-1.4</body></html>", "application/pdf"),
        ("drawing.png", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
        ("riff.webp", b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 32, "image/webp"),
        ("empty.jpg", b"", "image/jpeg"),
    ],
)
def test_the_type_is_judged_by_the_bytes(
    api: Api,
    session: Session,
    settings: Settings,
    consented: Side,
    name: str,
    data: bytes,
    content_type: str,
) -> None:
    record = create_record(session, student=consented.student)
    response = api.upload(
        consented.principal(Role.student), record.id or 0, data, name, content_type
    )
    assert response.status_code == 415
    assert response.json()["code"] == "evidence_type_rejected"
    assert _rows(session, record.id or 0) == []
    assert _stored(settings) == []


@pytest.fixture
def small_api(
    settings: Settings, engine: Engine, connection: Connection, clock: FrozenClock
) -> Iterator[Api]:
    """The app with the smallest file limit the settings allow (1 KiB)."""
    small = Settings(
        env=Environment.test,
        database_url=settings.database_url,
        upload_dir=settings.upload_dir,
        evidence_max_bytes=1024,
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(small, database=Database(engine, bind=connection), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, small, clock)


def test_a_file_over_the_limit_is_refused(
    small_api: Api, session: Session, settings: Settings, consented: Side
) -> None:
    record = create_record(session, student=consented.student)
    png = _image("PNG")
    student = consented.principal(Role.student)

    too_large = small_api.upload(student, record.id or 0, png + b"\x00" * (1025 - len(png)))
    assert too_large.status_code == 413
    assert too_large.json()["code"] == "evidence_too_large"
    assert too_large.json()["limit_bytes"] == 1024
    assert _rows(session, record.id or 0) == []
    assert _stored(settings) == []

    just_fits = small_api.upload(student, record.id or 0, png + b"\x00" * (1024 - len(png)))
    assert just_fits.status_code == 201, just_fits.text
    assert just_fits.json()["size"] == 1024


def test_the_tenth_file_is_refused(
    api: Api, session: Session, settings: Settings, consented: Side
) -> None:
    record = create_record(session, student=consented.student)
    student = consented.principal(Role.student)
    files = [_image("PNG", (10 * n, 0, 0)) for n in range(10)]
    ids = []
    for data in files[:9]:
        response = api.upload(student, record.id or 0, data)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    assert len(set(ids)) == 9

    tenth = api.upload(student, record.id or 0, files[9])
    assert tenth.status_code == 409
    assert tenth.json()["code"] == "evidence_limit_reached"
    # a retry of a file already attached is still answered with the first upload
    retry = api.upload(consented.principal(Role.school_staff), record.id or 0, files[4])
    assert retry.status_code == 201
    assert retry.json()["id"] == ids[4]
    assert len(_rows(session, record.id or 0)) == 9
    assert len(_stored(settings)) == 9


def test_the_same_bytes_twice_are_one_file(
    api: Api, session: Session, settings: Settings, consented: Side
) -> None:
    record = create_record(session, student=consented.student)
    other = create_record(session, student=consented.student)
    data = _image("JPEG")
    first = api.upload(consented.principal(Role.student), record.id or 0, data, "a.jpg")
    again = api.upload(consented.principal(Role.school_staff), record.id or 0, data, "b.jpg")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert len(_rows(session, record.id or 0)) == 1
    events = session.exec(
        select(RecordEvent).where(
            RecordEvent.record_id == record.id, RecordEvent.action == "evidence_added"
        )
    ).all()
    assert len(events) == 1

    # the same certificate on another record is another attachment, but one stored file
    elsewhere = api.upload(consented.principal(Role.student), other.id or 0, data, "a.jpg")
    assert elsewhere.status_code == 201
    assert elsewhere.json()["id"] != first.json()["id"]
    assert elsewhere.json()["sha256"] == first.json()["sha256"]
    assert len(_stored(settings)) == 1


def test_the_filename_is_only_a_label(
    api: Api, session: Session, settings: Settings, consented: Side
) -> None:
    record = create_record(session, student=consented.student)
    data = _image("PNG")
    response = api.upload(
        consented.principal(Role.student), record.id or 0, data, "..\\../etc/<pass>|wd?.png"
    )
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "passwd.png"
    sha = hashlib.sha256(data).hexdigest()
    assert _stored(settings) == [settings.upload_dir / "evidence" / sha[:2] / sha]


# --- who uploads, and when ------------------------------------------------------------------------


def test_a_child_under_14_needs_photo_consent(
    api: Api, session: Session, settings: Settings, side_a: Side
) -> None:
    record = create_record(session, student=side_a.student)
    data = _image("PNG")
    for role in (Role.student, Role.school_staff):
        refused = api.upload(side_a.principal(role), record.id or 0, data)
        assert refused.status_code == 403, role
        assert refused.json()["code"] == "consent_required"
        assert refused.json()["purpose"] == "photos"
    assert _rows(session, record.id or 0) == []
    assert _stored(settings) == []

    _decide_photos(api, side_a, "grant")
    assert api.upload(side_a.principal(Role.student), record.id or 0, data).status_code == 201

    _decide_photos(api, side_a, "withdraw")
    after = api.upload(side_a.principal(Role.student), record.id or 0, _image("PNG", (0, 9, 0)))
    assert after.status_code == 403
    assert after.json()["code"] == "consent_required"

    # a student of 14 or over needs no guardian
    older, principal = _bound_student(
        session, side_a.school.id or 0, birth_month=date(2011, 1, 1), grade=9
    )
    own = create_record(session, student=older)
    assert api.upload(principal, own.id or 0, data).status_code == 201


@pytest.mark.parametrize("status", ["pending", "confirmed"])
def test_the_student_and_the_school_upload_before_review(
    api: Api, session: Session, consented: Side, status: str
) -> None:
    record = create_record(session, student=consented.student, status=status)
    assert (
        api.upload(consented.principal(Role.student), record.id or 0, _image("PNG")).status_code
        == 201
    )
    staff = api.upload(consented.principal(Role.school_staff), record.id or 0, _image("JPEG"))
    assert staff.status_code == 201
    assert len(_rows(session, record.id or 0)) == 2


@pytest.mark.parametrize("status", ["reviewed", "publicised", "rejected", "withdrawn"])
def test_no_uploads_after_review(
    api: Api, session: Session, settings: Settings, consented: Side, status: str
) -> None:
    record = create_record(session, student=consented.student, status=status)
    for role in (Role.student, Role.school_admin):
        response = api.upload(consented.principal(role), record.id or 0, _image("PNG"))
        assert response.status_code == 409, role
        assert response.json()["code"] == "record_state_invalid"
    assert _rows(session, record.id or 0) == []
    assert _stored(settings) == []


def test_who_may_not_upload(
    api: Api, session: Session, settings: Settings, consented: Side, side_b: Side
) -> None:
    record = create_record(
        session, student=consented.student, organiser_venue_id=consented.venue.id
    )
    data = _image("PNG")
    for role in (Role.guardian, Role.venue_staff, Role.venue_admin, Role.bureau):
        refused = api.upload(consented.principal(role), record.id or 0, data)
        assert refused.status_code == 403, role
        assert refused.json()["code"] == "role_forbidden"
    _, classmate = _bound_student(session, consented.school.id or 0)
    for principal in (
        classmate,
        side_b.principal(Role.student),
        side_b.principal(Role.school_staff),
        side_b.principal(Role.school_admin),
    ):
        hidden = api.upload(principal, record.id or 0, data)
        assert hidden.status_code == 404, principal
        assert hidden.json()["code"] == "record_not_found"
    assert _rows(session, record.id or 0) == []
    assert _stored(settings) == []


# --- who downloads --------------------------------------------------------------------------------


def test_those_who_see_the_record_download_the_same_bytes(
    api: Api, session: Session, consented: Side
) -> None:
    record = create_record(session, student=consented.student)
    png, pdf = _image("PNG"), _image("PDF")
    uploaded = {
        data: api.upload(consented.principal(Role.student), record.id or 0, data, name).json()
        for data, name in ((png, "photo.png"), (pdf, "report.pdf"))
    }
    for role in (
        Role.student,
        Role.guardian,
        Role.school_staff,
        Role.school_admin,
        Role.bureau,
        Role.platform_admin,
    ):
        for data, item in uploaded.items():
            response = api.get(item["url"], consented.principal(role))
            assert response.status_code == 200, (role, response.text)
            assert response.content == data
            assert response.headers["content-type"].startswith(item["media_type"])
            assert response.headers["x-content-type-options"] == "nosniff"
    disposition = api.get(uploaded[pdf]["url"], consented.principal(Role.student))
    assert disposition.headers["content-disposition"].startswith("attachment")
    inline = api.get(uploaded[png]["url"], consented.principal(Role.student))
    assert inline.headers["content-disposition"].startswith("inline")

    # staff and bureau downloads are audited, the family's are not
    session.expire_all()
    viewers = session.exec(
        select(AuditLog.actor_role).where(AuditLog.action == "evidence_viewed")
    ).all()
    assert sorted(viewers) == sorted(
        ["school_staff", "school_admin", "bureau", "platform_admin"] * 2
    )


def test_the_venue_and_other_schools_do_not_download(
    api: Api, session: Session, settings: Settings, consented: Side, side_b: Side
) -> None:
    # the venue organised the activity, so it sees the record but not its files
    record = create_record(
        session, student=consented.student, organiser_venue_id=consented.venue.id
    )
    other = create_record(session, student=consented.student)
    item = api.upload(consented.principal(Role.student), record.id or 0, _image("PNG")).json()
    venue = consented.principal(Role.venue_staff)
    shown = api.get(f"/api/v1/records/{record.id}", venue)
    assert shown.status_code == 200
    assert shown.json()["evidence"] == []

    for role in (Role.venue_staff, Role.venue_admin, Role.wechat_user):
        refused = api.get(item["url"], consented.principal(role))
        assert refused.status_code == 403, role
        assert refused.json()["code"] == "role_forbidden"

    _, classmate = _bound_student(session, consented.school.id or 0)
    for principal in (
        classmate,
        side_b.principal(Role.student),
        side_b.principal(Role.guardian),
        side_b.principal(Role.school_staff),
        side_b.principal(Role.bureau),
    ):
        response = api.get(item["url"], principal)
        assert response.status_code == 404, principal
        assert response.json()["code"] == "record_not_found"

    consented.guardian_link.revoked_at = NOW  # a guardian no longer linked
    session.add(consented.guardian_link)
    session.flush()
    revoked = api.get(item["url"], consented.principal(Role.guardian))
    assert revoked.status_code == 404
    assert revoked.json()["code"] == "record_not_found"

    student = consented.principal(Role.student)
    wrong_record = api.get(f"/api/v1/records/{other.id}/evidence/{item['id']}", student)
    assert wrong_record.status_code == 404
    assert wrong_record.json()["code"] == "evidence_not_found"
    unknown = api.get(f"/api/v1/records/{record.id}/evidence/999999999", student)
    assert unknown.json()["code"] == "evidence_not_found"

    (settings.upload_dir / "evidence" / item["sha256"][:2] / item["sha256"]).unlink()
    gone = api.get(item["url"], student)
    assert gone.status_code == 404
    assert gone.json()["code"] == "evidence_not_found"


# --- in the record and in the archive -------------------------------------------------------------


def test_the_record_shows_its_evidence(api: Api, session: Session, consented: Side) -> None:
    record = create_record(session, student=consented.student)
    bare = create_record(session, student=consented.student)
    items = [
        api.upload(consented.principal(Role.student), record.id or 0, _image(kind)).json()
        for kind in ("PNG", "PDF")
    ]
    detail = api.get(f"/api/v1/records/{record.id}", consented.principal(Role.guardian))
    assert detail.status_code == 200
    assert detail.json()["evidence_count"] == 2
    assert detail.json()["evidence"] == items
    listed = api.get("/api/v1/records", consented.principal(Role.school_staff)).json()["items"]
    counts = {r["id"]: r["evidence_count"] for r in listed}
    assert counts[record.id] == 2
    assert counts[bare.id] == 0


def _archive_with_evidence(
    api: Api, session: Session, side: Side, count: int = 2
) -> tuple[ParticipationRecord, list[str]]:
    """A record with ``count`` evidence files, reviewed, publicised and archived."""
    record = create_record(session, student=side.student, status="confirmed", confirmed_at=NOW)
    shas = []
    for n in range(count):
        item = api.upload(side.principal(Role.student), record.id or 0, _image("PNG", (n, 1, 2)))
        assert item.status_code == 201, item.text
        shas.append(item.json()["sha256"])
    assert (
        api.post(
            f"/api/v1/records/{record.id}/student-confirmation", side.principal(Role.student)
        ).status_code
        == 200
    )
    assert (
        api.post(
            f"/api/v1/records/{record.id}/review",
            side.principal(Role.school_staff),
            json={"decision": "approve"},
        ).status_code
        == 200
    )
    assert (
        api.post(
            "/api/v1/notices", side.principal(Role.school_admin), json={"title": "公示"}
        ).status_code
        == 201
    )
    session.expire_all()
    assert record_service.archive_due(session, now=WINDOW_END) == 1
    session.flush()
    session.expire_all()
    return record, shas


def _verify(api: Api, side: Side) -> dict[str, Any]:
    response = api.get(
        f"/api/v1/students/{side.student.id}/record-chain", side.principal(Role.school_staff)
    )
    assert response.status_code == 200
    return dict(response.json())


def test_the_archive_hash_covers_the_evidence(api: Api, session: Session, consented: Side) -> None:
    record, shas = _archive_with_evidence(api, session, consented)
    stored = session.get(ParticipationRecord, record.id)
    assert stored is not None
    assert stored.status == "archived"
    assert stored.content_hash == chain.content_hash(stored, shas, chain.GENESIS)
    assert stored.content_hash != chain.content_hash(stored, [], chain.GENESIS)
    assert _verify(api, consented)["valid"] is True


@pytest.mark.parametrize("tamper", ["change", "delete", "add"])
def test_tampering_with_archived_evidence_breaks_the_chain(
    api: Api, session: Session, consented: Side, tamper: str
) -> None:
    record, shas = _archive_with_evidence(api, session, consented)
    if tamper == "change":
        session.execute(
            update(RecordEvidence)
            .where(col(RecordEvidence.sha256) == shas[0])
            .values(sha256="0" * 64)
        )
    elif tamper == "delete":
        session.execute(delete(RecordEvidence).where(col(RecordEvidence.sha256) == shas[1]))
    else:
        session.add(
            RecordEvidence(
                record_id=record.id or 0,
                sha256="a" * 64,
                media_type="image/png",
                size=10,
                filename="后补.png",
                uploaded_by="account:900001",
                uploaded_at=NOW + timedelta(days=10),
            )
        )
    session.flush()
    session.expire_all()
    report = _verify(api, consented)
    assert (report["valid"], report["broken_record_id"], report["problem"]) == (
        False,
        record.id,
        "content",
    )


def test_a_correction_keeps_the_evidence(
    api: Api, session: Session, settings: Settings, consented: Side, clock: FrozenClock
) -> None:
    record, shas = _archive_with_evidence(api, session, consented)
    clock.set(WINDOW_END + timedelta(days=1))
    response = api.post(
        f"/api/v1/records/{record.id}/void",
        consented.principal(Role.school_admin),
        json={"reason": "时长有误", "correction": {"minutes": 60}},
    )
    assert response.status_code == 201, response.text
    correction = response.json()
    assert correction["evidence_count"] == 2
    detail = api.get(f"/api/v1/records/{correction['id']}", consented.principal(Role.student))
    assert sorted(e["sha256"] for e in detail.json()["evidence"]) == sorted(shas)
    assert len(_stored(settings)) == 2  # no file copied
    for item in detail.json()["evidence"]:
        download = api.get(item["url"], consented.principal(Role.guardian))
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() == item["sha256"]
    assert _verify(api, consented)["valid"] is True
