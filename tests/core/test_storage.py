"""The file store (issue 22): evidence files and job results in a local directory or in an
S3-compatible bucket that several hosts share, written whole or not at all; and a full disk
answered 507 ``insufficient_storage`` with nothing left behind.

The S3 tests run against a real HTTP server on loopback (moto's S3 server, from PyPI: the
test extra), not against mocked calls; under ``CI=true`` its absence fails them."""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlmodel import Session, select

from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Environment, Settings, StorageKind
from scipass.core.db import Database
from scipass.core.storage import (
    BACKENDS,
    JOB_RESULTS,
    UPLOADS,
    InsufficientStorage,
    LocalDirectory,
    ObjectStore,
    S3Bucket,
    StorageUnavailable,
    read_chunks,
    s3_client,
    store_for,
)
from scipass.jobs import queue
from scipass.jobs import worker as job_worker
from scipass.main import job_kinds
from scipass.record import storage as evidence_storage
from scipass.record.models import RecordEvent, RecordEvidence
from tests.factories import Side, auth, create_record
from tests.jobs.test_queue import _queue_export, _records
from tests.record.test_evidence import Api, _decide_photos, _image

API = "/api/v1"
KEYS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing"}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server on a free loopback port, for the whole session (about 0.6 s)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:  # the test extra: moto[s3], flask, flask-cors
        reason = f"moto's S3 server is missing ({error}); `make test` installs the test extra"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_settings(s3_endpoint: str, database_url: str, tmp_path: Path) -> Settings:
    """Settings naming a fresh bucket of that server; the local directories stay empty."""
    settings = Settings(
        env=Environment.test,
        database_url=database_url,
        upload_dir=tmp_path / "uploads",
        job_results_dir=tmp_path / "results",
        storage=StorageKind.s3,
        s3_endpoint_url=s3_endpoint,
        s3_bucket=f"scipass-{uuid.uuid4().hex[:12]}",
        s3_path_style=True,
        s3_prefix="city/",
        job_progress_seconds=3600,
        job_lease_seconds=3600,
        _env_file=None,  # type: ignore[call-arg]
        **KEYS,  # type: ignore[arg-type]
    )
    _client(settings).create_bucket(Bucket=settings.s3_bucket)
    return settings


def _client(settings: Settings) -> Any:
    return s3_client(
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_access_key_id,
        settings.s3_secret_access_key.get_secret_value(),
        settings.s3_path_style,
    )


def _objects(settings: Settings) -> dict[str, bytes]:
    client = _client(settings)
    listed = client.list_objects_v2(Bucket=settings.s3_bucket).get("Contents", [])
    return {
        o["Key"]: client.get_object(Bucket=settings.s3_bucket, Key=o["Key"])["Body"].read()
        for o in listed
    }


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalDirectory(tmp_path / "store")
    settings: Settings = request.getfixturevalue("s3_settings")
    return store_for(settings, UPLOADS)


def _leftovers(store: ObjectStore, tmp_path: Path) -> list[str]:
    """Everything the store holds, temporary files and unfinished uploads included."""
    if isinstance(store, LocalDirectory):
        return [str(p.relative_to(store.root)) for p in _files(store.root)]
    assert isinstance(store, S3Bucket)
    listed = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    return [o["Key"] for o in listed] + [f"(unfinished) {u['Key']}" for u in uploads]


def test_a_store_keeps_reads_moves_and_deletes_files(store: ObjectStore, tmp_path: Path) -> None:
    assert store.put("evidence/ab/one", [b"first ", b"bytes"]) == 11
    assert store.exists("evidence/ab/one")
    assert b"".join(read_chunks(store.open("evidence/ab/one"))) == b"first bytes"
    assert store.put("evidence/ab/one", [b"again"]) == 5  # replaced whole
    assert b"".join(read_chunks(store.open("evidence/ab/one"))) == b"again"

    assert store.move("evidence/ab/one", "quarantine/ab/one")
    assert not store.exists("evidence/ab/one")
    assert not store.move("evidence/ab/one", "quarantine/ab/one")  # nothing to move
    with pytest.raises(FileNotFoundError):
        store.open("evidence/ab/one")
    assert store.delete("quarantine/ab/one")
    assert not store.delete("quarantine/ab/one")
    assert _leftovers(store, tmp_path) == []
    with pytest.raises(ValueError, match="not a storage key"):
        store.put("../outside", [b"x"])


@pytest.mark.parametrize("size", [100_000, 9 * 1024 * 1024])  # one PUT; a multipart upload
def test_a_write_that_fails_midway_leaves_nothing_visible_or_behind(
    store: ObjectStore, tmp_path: Path, size: int
) -> None:
    written: list[int] = []

    def chunks() -> Iterator[bytes]:
        sent = 0
        while sent < size:
            yield b"x" * 65536
            sent += 65536
            written.append(sent)
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        store.put("job-1.csv", chunks())
    assert written[-1] >= size  # it failed after most of the bytes were sent
    assert not store.exists("job-1.csv")
    assert _leftovers(store, tmp_path) == []


def test_evidence_is_uploaded_served_by_two_hosts_and_withdrawn_through_the_bucket(
    s3_settings: Settings,
    engine: Engine,
    connection: Connection,
    clock: FrozenClock,
    make_app: Callable[..., FastAPI],
    session: Session,
    side_a: Side,
    tmp_path: Path,
) -> None:
    app = make_app(s3_settings, database=Database(engine, bind=connection), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, s3_settings, clock)
        record = create_record(session, student=side_a.student)
        pupil = side_a.principal(Role.student)
        _decide_photos(api, side_a, "grant")
        uploaded = api.upload(pupil, record.id or 0, _image("PNG"), "photo.png")
        assert uploaded.status_code == 201, uploaded.text
        sha256 = uploaded.json()["sha256"]
        key = f"city/uploads/evidence/{sha256[:2]}/{sha256}"
        stored = _objects(s3_settings)
        assert list(stored) == [key]
        assert hashlib.sha256(stored[key]).hexdigest() == sha256
        assert _files(s3_settings.upload_dir) == []  # nothing on this host's disk

        served = api.get(uploaded.json()["url"], pupil)
        assert served.status_code == 200
        assert served.content == stored[key]
        assert served.headers["content-length"] == str(len(stored[key]))
        assert served.headers["content-type"] == "image/png"

        # another host: its own (empty) directories, the same database and bucket
        elsewhere = s3_settings.model_copy(
            update={"upload_dir": tmp_path / "b-uploads", "job_results_dir": tmp_path / "b-res"}
        )
        other = make_app(elsewhere, database=Database(engine, bind=connection), clock=clock)
        with TestClient(other, raise_server_exceptions=False) as second:
            there = Api(second, elsewhere, clock).get(uploaded.json()["url"], pupil)
            assert there.status_code == 200
            assert there.content == stored[key]
        assert _files(tmp_path / "b-uploads") == []

        _decide_photos(api, side_a, "withdraw")  # deletes the pupil's photos
        assert api.get(uploaded.json()["url"], pupil).status_code == 410
        assert _objects(s3_settings) == {}  # set aside under the lock, deleted at commit


def test_an_export_job_result_is_stored_in_and_served_from_the_bucket(
    s3_settings: Settings,
    engine: Engine,
    connection: Connection,
    clock: FrozenClock,
    make_app: Callable[..., FastAPI],
    session: Session,
    side_a: Side,
) -> None:
    app = make_app(s3_settings, database=Database(engine, bind=connection), clock=clock)
    _records(session, side_a, 3)
    admin = side_a.principal(Role.school_admin)
    with TestClient(app, raise_server_exceptions=False) as client:
        queued = _queue_export(client, s3_settings, admin, format="csv")
        assert queued.status_code == 202, queued.text
        claimed = queue.claim(
            app.state.db, worker="w1", now=clock.now(), lease=timedelta(minutes=1)
        )
        assert claimed is not None
        store = store_for(s3_settings, JOB_RESULTS)
        job_worker.execute(
            app.state.db, clock, s3_settings, job_kinds(), claimed, worker="w1", store=store
        )
        done = client.get(f"{API}/jobs/{claimed.id}", headers=auth(s3_settings, admin)).json()
        assert done["status"] == "done", done
        [(key, content)] = _objects(s3_settings).items()
        assert key.startswith("city/job-results/")
        assert _files(s3_settings.job_results_dir) == []
        result = client.get(done["download_url"], headers=auth(s3_settings, admin))
        assert result.status_code == 200
        assert result.content == content
        assert len(content.decode("utf-8-sig").strip().split("\r\n")) == 1 + 3

        # past its expiry the job's result is deleted from the bucket
        later = clock.now() + timedelta(hours=s3_settings.job_result_ttl_hours + 1)
        with Session(bind=session.connection(), join_transaction_mode="create_savepoint") as purge:
            assert queue.expire_results(purge, store=store, now=later) == 1
            purge.commit()
        assert _objects(s3_settings) == {}


class _DiskFills(LocalDirectory):
    """A local directory whose disk fills up halfway through a file."""

    def __init__(self, root: Path, partial: list[tuple[Path, int]]) -> None:
        super().__init__(root)
        self.partial = partial  # the temporary files met when the disk filled, and their sizes

    def _write(self, out: BinaryIO, chunks: Any) -> int:
        data = b"".join(chunks)
        out.write(data[: len(data) // 2])
        out.flush()
        self.partial += [(p, p.stat().st_size) for p in self.root.rglob(".part-*")]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_answers_507_and_leaves_no_file_and_no_row(
    monkeypatch: pytest.MonkeyPatch,
    client: TestClient,
    settings: Settings,
    clock: FrozenClock,
    session: Session,
    side_a: Side,
) -> None:
    api = Api(client, settings, clock)
    record = create_record(session, student=side_a.student)
    pupil = side_a.principal(Role.student)
    _decide_photos(api, side_a, "grant")
    partial: list[tuple[Path, int]] = []
    monkeypatch.setitem(
        BACKENDS, StorageKind.local, lambda s, area: _DiskFills(Path(s.upload_dir), partial)
    )

    answer = api.upload(pupil, record.id or 0, _image("JPEG"), "photo.jpg")
    assert answer.status_code == 507, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "insufficient_storage"
    assert answer.json()["title"] == InsufficientStorage.title_zh
    [(temporary, size)] = partial
    assert size > 0  # a partial file was on disk when the disk filled ...
    assert not temporary.exists()  # ... and is gone
    assert _files(settings.upload_dir) == []
    session.expire_all()
    rows = session.exec(select(RecordEvidence).where(RecordEvidence.record_id == record.id))
    assert rows.all() == []
    actions = session.exec(select(RecordEvent.action).where(RecordEvent.record_id == record.id))
    assert "evidence_added" not in actions.all()

    monkeypatch.undo()  # space again: the same upload goes through
    again = api.upload(pupil, record.id or 0, _image("JPEG"), "photo.jpg")
    assert again.status_code == 201, again.text
    assert evidence_storage.path_of(settings, again.json()["sha256"]).is_file()


def _unreachable_bucket() -> S3Bucket:
    """A bucket on a loopback port nobody listens on (refused at once), tried only once."""
    import boto3
    from botocore.config import Config

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=2),
    )
    return S3Bucket(client, "scipass", "city/uploads/")


def test_an_object_store_out_of_reach_is_503_storage_unavailable() -> None:
    bucket = _unreachable_bucket()
    calls: list[Callable[[], Any]] = [
        lambda: bucket.put("evidence/ab/one", [b"x"]),
        lambda: bucket.exists("evidence/ab/one"),
        lambda: bucket.open("evidence/ab/one"),
        lambda: bucket.delete("evidence/ab/one"),
        lambda: bucket.move("evidence/ab/one", "quarantine/ab/one"),
    ]
    for call in calls:
        with pytest.raises(StorageUnavailable) as raised:
            call()
        assert raised.value.status == 503
        assert raised.value.headers["Retry-After"] == "5"


def test_an_upload_while_the_store_is_out_of_reach_answers_503_and_writes_no_row(
    monkeypatch: pytest.MonkeyPatch,
    client: TestClient,
    settings: Settings,
    clock: FrozenClock,
    session: Session,
    side_a: Side,
) -> None:
    api = Api(client, settings, clock)
    record = create_record(session, student=side_a.student)
    pupil = side_a.principal(Role.student)
    _decide_photos(api, side_a, "grant")
    bucket = _unreachable_bucket()
    monkeypatch.setitem(BACKENDS, StorageKind.local, lambda s, area: bucket)

    answer = api.upload(pupil, record.id or 0, _image("PNG"), "photo.png")
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "storage_unavailable"
    assert answer.headers["retry-after"] == "5"
    session.expire_all()
    rows = session.exec(select(RecordEvidence).where(RecordEvidence.record_id == record.id))
    assert rows.all() == []


class _Refusing:
    """An S3 client whose every upload meets the answer ``code`` with ``status``."""

    def __init__(self, code: str, status: int) -> None:
        self.code, self.status = code, status

    def upload_fileobj(self, stream: BinaryIO, *args: Any, **kwargs: Any) -> None:
        from botocore.exceptions import ClientError

        stream.read()
        answer: Any = {
            "Error": {"Code": self.code, "Message": "refused"},
            "ResponseMetadata": {"HTTPStatusCode": self.status},
        }
        raise ClientError(answer, "PutObject")


@pytest.mark.parametrize(
    ("code", "status", "raised"),
    [
        ("XMinioStorageFull", 507, InsufficientStorage),  # MinIO's full disk
        ("InsufficientStorage", 507, InsufficientStorage),
        ("SlowDown", 503, StorageUnavailable),  # after boto3's retries
        ("InternalError", 500, StorageUnavailable),
    ],
)
def test_what_an_s3_service_refuses_with_becomes_the_apps_answer(
    code: str, status: int, raised: type[Exception]
) -> None:
    bucket = S3Bucket(_Refusing(code, status), "scipass")
    with pytest.raises(raised):
        bucket.put("evidence/ab/one", [b"bytes"])
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="AccessDenied"):  # anything else as it is: a 500
        S3Bucket(_Refusing("AccessDenied", 403), "scipass").put("evidence/ab/one", [b"x"])


def test_s3_storage_needs_a_bucket(database_url: str) -> None:
    with pytest.raises(ValueError, match="SCIPASS_S3_BUCKET"):
        Settings(
            database_url=database_url,
            storage=StorageKind.s3,
            _env_file=None,  # type: ignore[call-arg]
        )
