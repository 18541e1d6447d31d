"""Evidence files of records: judged by their bytes (never the name or the client's type),
images stored re-encoded without metadata, PDFs with active content refused, stored once under
the SHA-256 of what is stored, at most nine per record, only before review and with photo
consent for a child under 14; served to whoever sees the record except the venue; and covered
by the archive hash."""

from __future__ import annotations

import hashlib
import io
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import ExifTags, Image, ImageFile
from sqlalchemy import Connection, Engine, delete, update
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.consent import service as consent_service
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Environment, Settings
from scipass.core.db import Database
from scipass.main import create_app
from scipass.record import chain, sanitise
from scipass.record import notices as record_notices
from scipass.record.errors import EvidenceTooComplex
from scipass.record.models import ParticipationRecord, RecordEvent, RecordEvidence
from scipass.roster.models import Student
from tests.factories import NOW, Side, auth, create_record, create_student, create_wechat_user
from tests.record import samples

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
    student = consented.principal(Role.student)

    response = api.upload(student, record.id or 0, data, name, "text/plain")
    assert response.status_code == 201, response.text
    body = response.json()
    sha = body["sha256"]
    path = settings.upload_dir / "evidence" / sha[:2] / sha
    assert _stored(settings) == [path]  # and no temporary file left behind
    stored = path.read_bytes()
    assert hashlib.sha256(stored).hexdigest() == sha  # the hash and size of what is stored
    assert (body["media_type"], body["size"], body["filename"]) == (media_type, len(stored), name)
    assert body["url"] == f"/api/v1/records/{record.id}/evidence/{body['id']}"
    assert datetime.fromisoformat(body["uploaded_at"]) == NOW
    if kind == "PDF":
        assert stored == data  # a PDF is stored as uploaded
    else:  # an image is stored re-encoded, in its own format, with the same pixels
        picture = Image.open(io.BytesIO(stored))
        assert (picture.format, picture.size) == (kind, (6, 4))
        if kind == "PNG":
            assert picture.convert("RGB").tobytes() == Image.open(io.BytesIO(data)).tobytes()
    [row] = _rows(session, record.id or 0)
    assert (row.id, row.sha256, row.size, row.media_type) == (
        body["id"],
        sha,
        len(stored),
        media_type,
    )
    assert row.cleaned_at == NOW
    assert (row.original_sha256, row.quarantined_at, row.quarantine_reason) == (None, None, None)
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
    [path] = _stored(settings)
    assert just_fits.json()["size"] == path.stat().st_size < 1024  # the padding is not kept


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
    sha = response.json()["sha256"]
    assert _stored(settings) == [settings.upload_dir / "evidence" / sha[:2] / sha]


# --- what is stored: images re-encoded, PDFs looked into ----------------------------------------


def _stored_bytes(settings: Settings, body: dict[str, Any]) -> bytes:
    [path] = [p for p in _stored(settings) if p.name == body["sha256"]]
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == body["sha256"]
    assert len(data) == body["size"]
    return data


def test_a_png_with_a_page_appended_is_stored_without_it(
    api: Api, session: Session, settings: Settings, consented: Side
) -> None:
    record = create_record(session, student=consented.student)
    polyglot = samples.polyglot_png()
    response = api.upload(consented.principal(Role.student), record.id or 0, polyglot)
    assert response.status_code == 201, response.text
    body = response.json()
    stored = _stored_bytes(settings, body)
    assert stored != polyglot
    assert samples.HTML not in stored
    assert b"<html" not in stored
    assert body["sha256"] != hashlib.sha256(polyglot).hexdigest()
    assert Image.open(io.BytesIO(stored)).tobytes() == Image.open(io.BytesIO(polyglot)).tobytes()
    [row] = _rows(session, record.id or 0)
    assert (row.sha256, row.size) == (body["sha256"], len(stored))


def test_a_photo_loses_its_exif_and_position_and_stays_upright(
    api: Api, session: Session, settings: Settings, consented: Side
) -> None:
    record = create_record(session, student=consented.student)
    photo = samples.exif_photo(orientation=6)
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    student = consented.principal(Role.student)
    response = api.upload(student, record.id or 0, photo, "在科技馆.jpg")
    assert response.status_code == 201, response.text
    body = response.json()
    stored = _stored_bytes(settings, body)

    picture = Image.open(io.BytesIO(stored))
    assert picture.format == "JPEG"
    assert len(picture.getexif()) == 0
    assert not picture.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"Exif" not in stored
    assert b"SciPhone" not in stored
    assert b"taken at home" not in stored
    assert "icc_profile" not in picture.info
    # stored upright: 60 × 40 turned a quarter clockwise, its red corner now top right
    assert picture.size == (40, 60)
    red, green = picture.getpixel((35, 5)), picture.getpixel((5, 5))
    assert isinstance(red, tuple)
    assert isinstance(green, tuple)
    assert red[0] > 150 > red[1]
    assert green[1] > 100 > green[0]

    # the same photo again (a retry) is the same row and the same file
    again = api.upload(consented.principal(Role.school_staff), record.id or 0, photo, "x.jpg")
    assert again.status_code == 201
    assert again.json() == body
    assert len(_rows(session, record.id or 0)) == 1
    assert len(_stored(settings)) == 1

    download = api.get(body["url"], student)
    assert download.status_code == 200
    assert download.content == stored


def test_formats_and_modes_are_kept_where_they_can_be() -> None:
    cmyk = io.BytesIO()
    Image.new("CMYK", (8, 8), (0, 200, 200, 0)).save(cmyk, format="JPEG")
    media_type, stored = sanitise.clean(cmyk.getvalue())
    assert (media_type, Image.open(io.BytesIO(stored)).mode) == ("image/jpeg", "RGB")

    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", transparency=0, dpi=(300, 300))
    picture = Image.open(io.BytesIO(sanitise.clean(buffer.getvalue())[1]))
    assert (picture.mode, picture.info) == ("P", {"transparency": 0})

    lossless = samples.picture("WEBP", lossless=True)
    media_type, stored = sanitise.clean(lossless)
    picture = Image.open(io.BytesIO(stored))
    assert (media_type, picture.format) == ("image/webp", "WEBP")
    assert picture.convert("RGB").tobytes() == Image.open(io.BytesIO(lossless)).tobytes()
    assert sanitise.clean(samples.picture("WEBP", quality=50))[0] == "image/webp"


@pytest.mark.parametrize("kind", ["PNG", "WEBP"])
def test_an_animation_keeps_its_first_frame(kind: str) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format=kind, save_all=True, append_images=frames[1:], duration=100)
    assert getattr(Image.open(io.BytesIO(buffer.getvalue())), "n_frames", 1) == 2

    _, stored = sanitise.clean(buffer.getvalue())
    picture = Image.open(io.BytesIO(stored))
    assert getattr(picture, "n_frames", 1) == 1
    pixel = picture.convert("RGB").getpixel((4, 4))
    assert isinstance(pixel, tuple)
    assert pixel[0] > 200 > pixel[2]


@pytest.mark.parametrize(
    ("name", "make", "found"),
    [
        ("open-action.pdf", samples.javascript_pdf, "javascript"),
        ("names.pdf", samples.document_javascript_pdf, "javascript"),
        ("attachment.pdf", samples.attachment_pdf, "embedded_file"),
        ("launch.pdf", samples.launch_pdf, "launch"),
    ],
)
def test_a_pdf_with_active_content_is_refused(
    api: Api,
    session: Session,
    settings: Settings,
    consented: Side,
    name: str,
    make: Any,
    found: str,
) -> None:
    record = create_record(session, student=consented.student)
    response = api.upload(consented.principal(Role.student), record.id or 0, make(), name)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "evidence_pdf_active_content"
    assert response.json()["found"] == [found]
    assert _rows(session, record.id or 0) == []
    assert _stored(settings) == []


def test_a_plain_pdf_is_stored_as_uploaded(
    api: Api, session: Session, settings: Settings, consented: Side
) -> None:
    record = create_record(session, student=consented.student)
    for pdf in (samples.plain_pdf(), samples.hand_made_pdf(zlib.compress(b"0 0 m 9 9 l S"))):
        response = api.upload(consented.principal(Role.student), record.id or 0, pdf, "奖状.pdf")
        assert response.status_code == 201, response.text
        assert response.json()["sha256"] == hashlib.sha256(pdf).hexdigest()
        assert _stored_bytes(settings, response.json()) == pdf


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("huge.png", samples.png_declaring(100_000, 100_000), 413, "evidence_too_complex"),
        ("big.png", samples.png_declaring(7_000, 7_000), 413, "evidence_too_complex"),
        ("bomb.pdf", samples.pdf_bomb(), 413, "evidence_too_complex"),
        ("short.jpg", samples.picture("JPEG", (300, 200))[:400], 415, "evidence_unreadable"),
        ("short.png", samples.png_declaring(64, 64), 415, "evidence_unreadable"),
        ("broken.pdf", samples.plain_pdf()[:300], 415, "evidence_unreadable"),
        ("locked.pdf", samples.password_pdf(), 415, "evidence_unreadable"),
    ],
)
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_bombs_and_broken_files_are_refused(
    api: Api,
    session: Session,
    settings: Settings,
    consented: Side,
    name: str,
    data: bytes,
    status: int,
    code: str,
) -> None:
    record = create_record(session, student=consented.student)
    started = time.monotonic()
    response = api.upload(consented.principal(Role.student), record.id or 0, data, name)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert time.monotonic() - started < 10  # refused before decoding all of it
    assert _rows(session, record.id or 0) == []
    assert _stored(settings) == []


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_picture_is_refused_over_the_pixel_limit_before_it_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def counting_load(self: ImageFile.ImageFile) -> Any:
        decoded.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    sanitise.clean(samples.picture("PNG"))
    assert set(decoded) == {(60, 40)}  # what is counted is decoding

    with pytest.raises(EvidenceTooComplex) as refused:
        sanitise.clean(samples.png_declaring(sanitise.MAX_PIXELS // 1000 + 1, 1000))
    assert refused.value.extra == {"limit_pixels": sanitise.MAX_PIXELS}
    assert set(decoded) == {(60, 40)}
    assert Image.MAX_IMAGE_PIXELS == sanitise.MAX_PIXELS


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
    for role in (Role.venue_staff, Role.venue_admin, Role.bureau):
        refused = api.upload(consented.principal(role), record.id or 0, data)
        assert refused.status_code == 403, role
        assert refused.json()["code"] == "role_forbidden"
    # a guardian acts only for a child they name (family mode); unnamed, nothing happens
    unnamed = api.upload(consented.principal(Role.guardian), record.id or 0, data)
    assert unnamed.status_code == 422
    assert unnamed.json()["code"] == "student_id_required"
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
            assert hashlib.sha256(response.content).hexdigest() == item["sha256"]
            assert len(response.content) == item["size"]
            if data == pdf:
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
    assert record_notices.archive_due(session, now=WINDOW_END) == 1
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
