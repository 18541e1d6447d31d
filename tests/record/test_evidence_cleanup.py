"""The one-off cleaning of evidence stored before uploads were cleaned: images re-encoded under
the same ids, PDFs with active content quarantined, archive chains still valid, old files
removed only after commit, and a second run a no-op; by the job, by a download, and by
``scipass clean-evidence``."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from sqlalchemy import Connection, Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from scipass.cli import cli
from scipass.core import migrations
from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings, get_settings
from scipass.core.db import Database, make_engine
from scipass.main import scheduled_jobs
from scipass.record import chain, evidence_cleanup, storage
from scipass.record import notices as record_notices
from scipass.record.models import ParticipationRecord, RecordEvent, RecordEvidence, RecordNotice
from tests.factories import NOW, Side, auth, create_record, create_side
from tests.record import samples

LATER = NOW + timedelta(days=30)


def _legacy(
    session: Session,
    settings: Settings,
    record: ParticipationRecord,
    data: bytes,
    *,
    media_type: str,
    filename: str,
    stored: bool = True,
) -> RecordEvidence:
    """A row as uploads made them before files were cleaned: the file as uploaded, under its
    own hash, and no ``cleaned_at``."""
    sha256 = hashlib.sha256(data).hexdigest()
    if stored:
        storage.store(settings, data, sha256)
    row = RecordEvidence(
        record_id=record.id or 0,
        sha256=sha256,
        media_type=media_type,
        size=len(data),
        filename=filename,
        uploaded_by="wechat:1",
        uploaded_at=NOW - timedelta(days=60),
    )
    session.add(row)
    session.flush()
    return row


def _publicised(session: Session, side: Side) -> ParticipationRecord:
    """A record whose public notice has closed: the archive job will archive it."""
    notice = RecordNotice(
        school_id=side.school.id or 0,
        title="上学期公示",
        working_days=5,
        starts_at=NOW - timedelta(days=10),
        ends_at=NOW - timedelta(days=1),
        record_count=1,
        opened_by="account:900001",
    )
    session.add(notice)
    session.flush()
    return create_record(
        session,
        student=side.student,
        status="publicised",
        notice_id=notice.id,
        student_confirmed_at=NOW - timedelta(days=20),
    )


def _row(session: Session, row_id: int | None) -> RecordEvidence:
    session.expire_all()
    row = session.get(RecordEvidence, row_id)
    assert row is not None
    return row


def _snapshot(session: Session, settings: Settings) -> tuple[list[tuple[Any, ...]], list[Path]]:
    session.expire_all()
    rows = session.exec(select(RecordEvidence).order_by(col(RecordEvidence.id))).all()
    files = sorted(p for p in settings.upload_dir.rglob("*") if p.is_file())
    return [tuple(r.model_dump().values()) for r in rows], files


def _events(session: Session, record_id: int | None, action: str) -> list[str]:
    return list(
        session.exec(
            select(RecordEvent.note).where(
                RecordEvent.record_id == record_id, RecordEvent.action == action
            )
        ).all()
    )


def _get(client: TestClient, settings: Settings, side: Side, row: RecordEvidence) -> Any:
    return client.get(
        f"/api/v1/records/{row.record_id}/evidence/{row.id}",
        headers=auth(settings, side.principal(Role.guardian)),
    )


def test_the_job_cleans_what_was_stored_and_every_chain_still_verifies(
    session: Session, settings: Settings, client: TestClient, side_a: Side
) -> None:
    archived = _publicised(session, side_a)
    photo = _legacy(
        session,
        settings,
        archived,
        samples.exif_photo(),
        media_type="image/jpeg",
        filename="合影.jpg",
    )
    script = _legacy(
        session,
        settings,
        archived,
        samples.javascript_pdf(),
        media_type="application/pdf",
        filename="证书.pdf",
    )
    plain = _legacy(
        session,
        settings,
        archived,
        samples.plain_pdf(),
        media_type="application/pdf",
        filename="报告.pdf",
    )
    assert record_notices.archive_due(session, now=NOW) == 1
    session.expire_all()
    record = session.get(ParticipationRecord, archived.id)
    assert record is not None
    legacy_hashes = [photo.sha256, script.sha256, plain.sha256]
    assert record.content_hash == chain.content_hash(record, legacy_hashes, chain.GENESIS)
    # another record with the same photo: one file for both
    open_record = create_record(session, student=side_a.student)
    shared = _legacy(
        session,
        settings,
        open_record,
        samples.exif_photo(),
        media_type="image/jpeg",
        filename="合影.jpg",
    )
    lost = _legacy(
        session,
        settings,
        open_record,
        samples.polyglot_png(),
        media_type="image/png",
        filename="不见了.png",
        stored=False,
    )
    photo_sha256, script_sha256, plain_sha256 = legacy_hashes
    old_photo = storage.path_of(settings, photo_sha256)
    old_pdf = storage.path_of(settings, script_sha256)

    assert evidence_cleanup.clean_stored(session, settings=settings, now=LATER) == 5
    assert old_photo.is_file()  # removed only once the cleaning has committed
    session.commit()
    assert not old_photo.exists()
    assert not old_pdf.exists()  # out of the served tree ...
    quarantined = storage.quarantine_path_of(settings, script_sha256)
    assert quarantined.read_bytes() == samples.javascript_pdf()  # ... and kept for a look

    # the photo: the same id, a new file without EXIF, the old hash kept for the chain
    cleaned = _row(session, photo.id)
    new_file = storage.path_of(settings, cleaned.sha256)
    assert cleaned.sha256 == hashlib.sha256(new_file.read_bytes()).hexdigest()
    assert cleaned.size == new_file.stat().st_size
    assert cleaned.sha256 != photo_sha256
    assert (cleaned.original_sha256, cleaned.cleaned_at) == (photo_sha256, LATER)
    assert cleaned.quarantined_at is None
    picture = Image.open(new_file)
    assert len(picture.getexif()) == 0
    assert not picture.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert picture.size == (40, 60)  # stored upright
    assert _row(session, shared.id).sha256 == cleaned.sha256  # one file for both
    assert _events(session, photo.record_id, "evidence_cleaned") == ["合影.jpg"]

    # the PDF with JavaScript: quarantined, answered with the reason, never served again
    refused = _row(session, script.id)
    assert (refused.sha256, refused.quarantine_reason) == (script_sha256, "active_content")
    assert refused.quarantined_at == LATER
    [note] = _events(session, script.record_id, "evidence_quarantined")
    assert "证书.pdf" in note
    assert "javascript" in note
    answer = _get(client, settings, side_a, refused)
    assert answer.status_code == 410
    assert (answer.json()["code"], answer.json()["reason"]) == (
        "evidence_quarantined",
        "active_content",
    )

    # the plain PDF is only marked; the missing file is quarantined as missing
    kept = _row(session, plain.id)
    assert (kept.sha256, kept.original_sha256, kept.cleaned_at) == (plain_sha256, None, LATER)
    assert _row(session, lost.id).quarantine_reason == "missing"

    # every link still answers, with the stored bytes
    for row in (cleaned, kept, _row(session, shared.id)):
        download = _get(client, settings, side_a, row)
        assert download.status_code == 200
        assert download.content == storage.path_of(settings, row.sha256).read_bytes()
    assert _get(client, settings, side_a, _row(session, lost.id)).json()["reason"] == "missing"

    # the chain verifies, hashing what was archived
    session.expire_all()
    assert chain.verify(session, side_a.student.id or 0).valid
    report = client.get(
        f"/api/v1/students/{side_a.student.id}/record-chain",
        headers=auth(settings, side_a.principal(Role.school_staff)),
    ).json()
    assert (report["valid"], report["length"]) == (True, 1)

    # a second run finds nothing and changes nothing
    before = _snapshot(session, settings)
    assert evidence_cleanup.clean_stored(session, settings=settings, now=LATER) == 0
    session.commit()
    assert _snapshot(session, settings) == before


def test_a_record_archived_after_the_cleaning_hashes_the_same(
    session: Session, settings: Settings, side_a: Side
) -> None:
    first = _publicised(session, side_a)
    _legacy(
        session, settings, first, samples.polyglot_png(), media_type="image/png", filename="a.png"
    )
    assert record_notices.archive_due(session, now=NOW) == 1
    later = _publicised(session, side_a)
    row = _legacy(
        session, settings, later, samples.exif_photo(), media_type="image/jpeg", filename="b.jpg"
    )
    legacy_sha256 = row.sha256
    # cleaned while its record is still in its notice; archived afterwards
    assert evidence_cleanup.clean_stored(session, settings=settings, now=LATER) == 2
    assert record_notices.archive_due(session, now=LATER) == 1
    session.expire_all()
    report = chain.verify(session, side_a.student.id or 0)
    assert (report.valid, report.length) == (True, 2)
    previous, stored = (session.get(ParticipationRecord, r.id) for r in (first, later))
    assert previous is not None
    assert stored is not None
    assert stored.content_hash == chain.content_hash(
        stored, [legacy_sha256], previous.content_hash or ""
    )

    # the hash that was archived is what the chain protects
    cleaned = _row(session, row.id)
    cleaned.original_sha256 = "0" * 64
    session.add(cleaned)
    session.flush()
    session.expire_all()
    broken = chain.verify(session, side_a.student.id or 0)
    assert (broken.valid, broken.broken_record_id, broken.problem) == (False, later.id, "content")


def test_the_same_picture_twice_on_one_record_keeps_one_file(
    session: Session, settings: Settings, client: TestClient, side_a: Side
) -> None:
    record = create_record(session, student=side_a.student)
    clean_png = samples.picture("PNG")
    rows = [
        _legacy(session, settings, record, data, media_type="image/png", filename=name)
        for data, name in ((samples.polyglot_png(), "一.png"), (clean_png, "二.png"))
    ]
    assert evidence_cleanup.clean_stored(session, settings=settings, now=LATER) == 2
    session.commit()
    after = [_row(session, row.id) for row in rows]
    served = [row for row in after if row.quarantined_at is None]
    [duplicate] = [row for row in after if row.quarantined_at is not None]
    assert len(served) == 1
    assert duplicate.quarantine_reason == "duplicate"
    assert _get(client, settings, side_a, served[0]).status_code == 200
    answer = _get(client, settings, side_a, duplicate)
    assert (answer.status_code, answer.json()["reason"]) == (410, "duplicate")
    assert storage.quarantine_path_of(settings, duplicate.sha256).is_file()
    assert [p.name for p in (settings.upload_dir / "evidence").rglob("*") if p.is_file()] == [
        served[0].sha256
    ]


def test_an_old_file_another_row_still_serves_is_kept(
    session: Session, settings: Settings, client: TestClient, side_a: Side
) -> None:
    photo = samples.picture("JPEG")
    served = _legacy(
        session,
        settings,
        create_record(session, student=side_a.student),
        photo,
        media_type="image/jpeg",
        filename="新.jpg",
    )
    served.cleaned_at = NOW  # as if uploaded since uploads are cleaned
    session.add(served)
    legacy = _legacy(
        session,
        settings,
        create_record(session, student=side_a.student),
        photo,
        media_type="image/jpeg",
        filename="旧.jpg",
    )
    photo_sha256 = legacy.sha256
    assert evidence_cleanup.clean_stored(session, settings=settings, now=LATER) == 1
    session.commit()
    assert _row(session, legacy.id).sha256 != photo_sha256  # re-encoded ...
    assert storage.path_of(settings, photo_sha256).read_bytes() == photo  # ... the old kept
    assert _get(client, settings, side_a, _row(session, served.id)).content == photo


def test_a_rolled_back_run_removes_no_file(
    session: Session, settings: Settings, side_a: Side
) -> None:
    record = create_record(session, student=side_a.student)
    row = _legacy(
        session, settings, record, samples.exif_photo(), media_type="image/jpeg", filename="a.jpg"
    )
    session.commit()
    assert evidence_cleanup.clean_stored(session, settings=settings, now=LATER) == 1
    session.rollback()
    assert storage.path_of(settings, row.sha256).is_file()  # the row still names it
    assert _row(session, row.id).cleaned_at is None
    session.commit()  # a later commit does not run what the rolled back run left to do
    assert storage.path_of(settings, row.sha256).is_file()


def test_a_download_cleans_a_file_the_job_has_not_reached(
    session: Session, settings: Settings, client: TestClient, side_a: Side
) -> None:
    record = create_record(session, student=side_a.student)
    photo = _legacy(
        session, settings, record, samples.exif_photo(), media_type="image/jpeg", filename="a.jpg"
    )
    script = _legacy(
        session,
        settings,
        record,
        samples.launch_pdf(),
        media_type="application/pdf",
        filename="b.pdf",
    )
    photo_sha256, script_sha256 = photo.sha256, script.sha256

    download = _get(client, settings, side_a, photo)
    assert download.status_code == 200
    assert len(Image.open(io.BytesIO(download.content)).getexif()) == 0
    cleaned = _row(session, photo.id)
    assert cleaned.sha256 == hashlib.sha256(download.content).hexdigest()
    assert cleaned.original_sha256 == photo_sha256
    assert not storage.path_of(settings, photo_sha256).exists()

    refused = _get(client, settings, side_a, script)
    assert refused.status_code == 410
    assert refused.json()["code"] == "evidence_quarantined"
    assert _row(session, script.id).quarantine_reason == "active_content"  # and it stays so
    assert not storage.path_of(settings, script_sha256).exists()
    assert evidence_cleanup.clean_stored(session, settings=settings, now=LATER) == 0


def test_a_run_stops_when_its_time_is_spent(
    session: Session,
    settings: Settings,
    engine: Engine,
    connection: Connection,
    clock: FrozenClock,
    side_a: Side,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record = create_record(session, student=side_a.student)
    for n in range(3):
        data = samples.picture("PNG", (8 + n, 8)) + b"appended"
        _legacy(session, settings, record, data, media_type="image/png", filename=f"{n}.png")
    done = [
        evidence_cleanup.clean_stored(session, settings=settings, now=LATER, budget_seconds=0)
        for _ in range(4)
    ]
    assert done == [1, 1, 1, 0]

    # `serve` runs it with the other jobs, with the server's settings
    _legacy(
        session, settings, record, samples.exif_photo(), media_type="image/jpeg", filename="x.jpg"
    )
    session.commit()
    get_settings.cache_clear()
    monkeypatch.setenv("SCIPASS_UPLOAD_DIR", str(settings.upload_dir))
    try:
        database = Database(engine, bind=connection)
        jobs = scheduled_jobs()
        assert jobs.run_once(database, clock, get_settings())["clean-evidence"] == 1
        assert jobs.run_once(database, clock, get_settings())["clean-evidence"] == 0
    finally:
        get_settings.cache_clear()


@pytest.fixture
def cli_database(empty_database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    migrations.upgrade(empty_database_url)
    get_settings.cache_clear()
    yield empty_database_url, tmp_path / "cli-uploads"
    get_settings.cache_clear()


def test_the_command_cleans_everything(
    cli_database: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, uploads = cli_database
    monkeypatch.setenv("SCIPASS_DATABASE_URL", url)
    monkeypatch.setenv("SCIPASS_UPLOAD_DIR", str(uploads))
    settings = get_settings()
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            side = create_side(session, province="950000", city="950100", county="950101")
            record = create_record(session, student=side.student)
            for n in range(3):
                _legacy(
                    session,
                    settings,
                    record,
                    samples.picture("JPEG", (20 + n, 10), exif=Image.Exif()),
                    media_type="image/jpeg",
                    filename=f"{n}.jpg",
                )
            session.commit()
        monkeypatch.setattr(evidence_cleanup, "BUDGET_SECONDS", 0.0)  # one file a transaction
        runner = CliRunner()
        first = runner.invoke(cli, ["clean-evidence"])
        assert first.exit_code == 0, first.output
        assert "3 evidence files cleaned or quarantined" in first.output
        again = runner.invoke(cli, ["clean-evidence"])
        assert "0 evidence files cleaned or quarantined" in again.output
        with Session(engine) as session:
            rows = session.exec(select(RecordEvidence)).all()
            assert [row.cleaned_at is not None for row in rows] == [True] * 3
    finally:
        engine.dispose()
