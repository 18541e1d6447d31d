"""A withdrawal or a deletion that commits while a scan or an upload is past its consent check
still has its effect (issue 20, from review): the writer pauses right after its check, the
withdrawal runs meanwhile in its own transaction, then the writer goes on.

On PostgreSQL the withdrawal locks the pupil's row and the writers re-check under its lock
(consent/service.py ``lock_pupil``); on SQLite writers are serial (``BEGIN IMMEDIATE``), so the
withdrawal waits for the paused writer and erases after it. Real connections, committed data,
removed after.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, or_
from sqlmodel import Session, col, select

from scipass.account.models import WeChatUser
from scipass.activity.models import Activity
from scipass.audit.models import AuditLog
from scipass.checkin import batch, codes
from scipass.checkin import self_scan as self_scan_module
from scipass.checkin.models import ActivityCode, CheckIn, ScanEvent
from scipass.checkin.schemas import CheckInCreate, Location
from scipass.checkin.self_scan import SelfScanWork
from scipass.checkin.views import ScanCache
from scipass.consent import service as consent_service
from scipass.consent.models import Channel, ConsentRecord, Decision, Purpose
from scipass.core.auth import Principal, Role
from scipass.core.config import Settings
from scipass.core.db import Database
from scipass.core.group_commit import run_alone
from scipass.core.ratelimit import RateLimitCounter
from scipass.deletion import jobs as deletion_jobs
from scipass.deletion.models import DeletionRequest
from scipass.main import register_consent_effects
from scipass.org.models import Region, School, Venue
from scipass.record import evidence, storage
from scipass.record.models import ParticipationRecord, RecordEvent, RecordEvidence
from scipass.roster.models import Student
from tests.factories import NOW, create_record, school_and_listed_venue
from tests.record.samples import picture

REGION = "931000"
HERE = Location(latitude=27.8, longitude=112.9, accuracy=20)


@pytest.fixture
def pupil(engine: Engine, settings: Settings) -> Iterator[dict[str, Any]]:
    """An under-14 pupil bound to WeChat and a classmate (not bound), each with paper consent
    for records, location and photos and an open record; a geofenced activity open now with a
    static code."""
    register_consent_effects()  # as the app does
    with Session(engine) as s:
        school, venue = school_and_listed_venue(s, region_code=REGION, stages="primary")
        user = WeChatUser(openid="o-withdrawal-race", created_at=NOW, last_login_at=NOW)
        s.add_all([school, venue, user])
        s.flush()
        classmate = Student(
            school_id=school.id or 0,
            student_no="RACE0002",
            name="竞态同学",
            gender="male",
            birth_month=date(2016, 4, 1),
            stage="primary",
            grade=4,
            class_name="1班",
            created_at=NOW,
            updated_at=NOW,
        )
        student = Student(
            school_id=school.id or 0,
            student_no="RACE0001",
            name="竞态学生",
            gender="female",
            birth_month=date(2016, 3, 1),  # 10: every purpose needs the guardian
            stage="primary",
            grade=4,
            class_name="1班",
            wechat_user_id=user.id,
            created_at=NOW,
            updated_at=NOW,
        )
        activity = Activity(
            venue_id=venue.id,
            kind="venue_visit",
            title="定位科技节",
            starts_at=NOW - timedelta(minutes=10),
            ends_at=NOW + timedelta(hours=4),
            place_name="竞态科技馆",
            admission="open",
            stages="primary",
            credited_minutes=120,
            record_category="science_visit",
            dimension="social_practice",
            status="published",
            created_by="test",
            created_at=NOW,
            updated_at=NOW,
            latitude=27.8,
            longitude=112.9,
            geofence_radius_m=500,
        )
        s.add_all([student, classmate, activity])
        s.flush()
        code = ActivityCode(
            activity_id=activity.id or 0,
            kind="static",
            short_id=codes.new_short_id(),
            created_by="test",
            created_at=NOW,
        )
        s.add(code)
        s.add_all(
            ConsentRecord(
                student_id=student_id or 0,
                purpose=purpose.value,
                decision="grant",
                notice_version=consent_service.NOTICE_VERSION,
                channel="paper",
                guardian_name="王女士",
                recorded_by="account:1",
                recorded_at=NOW - timedelta(days=1),
            )
            for purpose in (Purpose.participation_record, Purpose.location, Purpose.photos)
            for student_id in (student.id, classmate.id)
        )
        record = create_record(s, student=student, organiser_school_id=school.id)
        classmates = create_record(s, student=classmate, organiser_school_id=school.id)
        s.commit()
        scene = {
            "school": school.id,
            "venue": venue.id,
            "user": user.id,
            "student": student.id,
            "activity": activity.id,
            "record": record.id,
            "classmate": classmate.id,
            "classmates_record": classmates.id,
            "payload": codes.static_payload(settings.code_keyring, code.short_id),
        }
    yield scene
    with Session(engine) as s:
        pupils = [scene["student"], scene["classmate"]]
        records = select(ParticipationRecord.id).where(
            col(ParticipationRecord.student_id).in_(pupils)
        )
        s.execute(delete(ScanEvent).where(col(ScanEvent.student_id).in_(pupils)))
        s.execute(delete(CheckIn).where(col(CheckIn.student_id).in_(pupils)))
        s.execute(delete(RecordEvidence).where(col(RecordEvidence.record_id).in_(records)))
        s.execute(delete(RecordEvent).where(col(RecordEvent.record_id).in_(records)))
        s.execute(delete(ParticipationRecord).where(col(ParticipationRecord.id).in_(records)))
        s.execute(delete(ConsentRecord).where(col(ConsentRecord.student_id).in_(pupils)))
        s.execute(
            delete(AuditLog).where(
                or_(col(AuditLog.school_id) == scene["school"], col(AuditLog.actor) == "system")
            )
        )
        s.execute(delete(ActivityCode).where(col(ActivityCode.activity_id) == scene["activity"]))
        s.execute(delete(Activity).where(col(Activity.id) == scene["activity"]))
        s.execute(delete(Student).where(col(Student.id).in_(pupils)))
        rate_keys = [f"student:{pupil}" for pupil in pupils]
        s.execute(delete(RateLimitCounter).where(col(RateLimitCounter.key).in_(rate_keys)))
        s.execute(delete(WeChatUser).where(col(WeChatUser.id) == scene["user"]))
        s.execute(delete(Venue).where(col(Venue.id) == scene["venue"]))
        s.execute(delete(School).where(col(School.id) == scene["school"]))
        s.execute(delete(Region).where(col(Region.code) == REGION))
        s.commit()


def _interleave(
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    name: str,
    writer: Callable[[], object],
    other: Callable[[], None],
) -> object:
    """Run ``writer`` until ``module.name`` (its consent check) has returned, run ``other``
    (the withdrawal, in its own thread and transaction) while it waits, then let it go on."""
    checked, proceed = threading.Event(), threading.Event()
    original = getattr(module, name)

    def paused(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        checked.set()
        assert proceed.wait(30)
        return result

    monkeypatch.setattr(module, name, paused)
    outcome: dict[str, object] = {}

    def run_writer() -> None:
        try:
            outcome["writer"] = writer()
        except Exception as exc:  # reported below
            outcome["writer"] = exc

    def run_other() -> None:
        try:
            other()
        except Exception as exc:  # reported below
            outcome["other"] = exc

    writing = threading.Thread(target=run_writer)
    writing.start()
    while not checked.wait(0.05):
        assert writing.is_alive(), outcome.get("writer")
    withdrawing = threading.Thread(target=run_other)
    withdrawing.start()
    withdrawing.join(0.5)  # done (no lock to wait for), or waiting for the writer
    proceed.set()
    writing.join(30)
    withdrawing.join(30)
    assert not writing.is_alive()
    assert not withdrawing.is_alive()
    assert "other" not in outcome, outcome["other"]
    return outcome["writer"]


def _withdraw(engine: Engine, settings: Settings, scene: dict[str, Any], purpose: Purpose) -> None:
    with Session(engine) as s:
        student = s.get(Student, scene["student"])
        assert student is not None
        consent_service.record_decision(
            s,
            actor=Principal(subject="account:1", role=Role.school_admin, school_id=scene["school"]),
            student=student,
            region_code=REGION,
            purposes=[purpose],
            decision=Decision.withdraw,
            notice_version=consent_service.NOTICE_VERSION,
            channel=Channel.paper,
            now=NOW,
            settings=settings,
            guardian_name="王女士",
        )
        s.commit()


def _delete(engine: Engine, settings: Settings, scene: dict[str, Any]) -> None:
    with Session(engine) as s:
        deletion_jobs.carry_out(s, 999_999, scene["student"], NOW, settings)
        s.commit()


def _scan(engine: Engine, settings: Settings, scene: dict[str, Any], kind: Any) -> object:
    work = SelfScanWork(
        settings=settings,
        cache=ScanCache(),
        actor=Principal(
            subject=f"wechat:{scene['user']}",
            role=Role.student,
            school_id=scene["school"],
            student_id=scene["student"],
        ),
        student_id=scene["student"],
        data=CheckInCreate(code=str(scene["payload"]), location=HERE),
        nonce="race-scan-0001",
        now=NOW,
        rate_key=f"student:{scene['student']}",
    )
    return run_alone(Database(engine), work, kind)


@pytest.mark.parametrize("kind", [batch.SELF_SCANS, None], ids=["batched", "alone"])
@pytest.mark.parametrize("carried_out", ["withdrawal", "deletion"])
def test_a_scan_past_its_location_check_keeps_no_location_once_withdrawn(
    engine: Engine,
    settings: Settings,
    pupil: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    kind: Any,
    carried_out: str,
) -> None:
    def withdraw() -> None:
        if carried_out == "withdrawal":
            _withdraw(engine, settings, pupil, Purpose.location)
        else:
            _delete(engine, settings, pupil)

    result = _interleave(
        monkeypatch,
        self_scan_module,
        "judge_location",
        lambda: _scan(engine, settings, pupil, kind),
        withdraw,
    )
    assert not isinstance(result, Exception), result
    with Session(engine) as s:
        events = s.exec(select(ScanEvent).where(ScanEvent.student_id == pupil["student"])).all()
    assert [event.result for event in events] == ["accepted"]  # the scan itself stands
    [event] = events
    assert (event.latitude, event.longitude, event.accuracy_m, event.distance_m) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize("carried_out", ["withdrawal", "deletion"])
def test_an_upload_past_its_photos_check_leaves_no_served_file_once_withdrawn(
    engine: Engine,
    settings: Settings,
    pupil: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    carried_out: str,
) -> None:
    data = picture("PNG")

    def upload() -> object:
        with Session(engine) as s:
            row = evidence.add(
                s,
                actor=Principal(
                    subject=f"wechat:{pupil['user']}",
                    role=Role.student,
                    school_id=pupil["school"],
                    student_id=pupil["student"],
                ),
                settings=settings,
                record_id=pupil["record"],
                data=data,
                filename="photo.png",
                now=NOW,
            )
            sha256 = row.sha256
            s.commit()
            return sha256

    def withdraw() -> None:
        if carried_out == "withdrawal":
            _withdraw(engine, settings, pupil, Purpose.photos)
        else:
            _delete(engine, settings, pupil)

    outcome = _interleave(
        monkeypatch, evidence.consent_service, "require_consent", upload, withdraw
    )
    with Session(engine) as s:
        rows = s.exec(
            select(RecordEvidence).where(RecordEvidence.record_id == pupil["record"])
        ).all()
    if isinstance(outcome, Exception):  # refused after the withdrawal: nothing stored
        assert getattr(outcome, "code", None) in ("consent_required", "record_state_invalid")
        assert rows == []
        return
    [row] = rows  # stored before the withdrawal: made a tombstone by it
    assert row.quarantine_reason == "consent_withdrawn"
    assert not storage.path_of(settings, str(outcome)).exists()


def _principal(scene: dict[str, Any], pupil: str = "student") -> Principal:
    return Principal(
        subject="account:1" if pupil == "classmate" else f"wechat:{scene['user']}",
        role=Role.school_staff if pupil == "classmate" else Role.student,
        school_id=scene["school"],
        student_id=scene["student"] if pupil == "student" else None,
    )


def test_a_photo_withdrawn_while_another_pupil_uploads_the_same_bytes_keeps_their_file(
    engine: Engine,
    settings: Settings,
    pupil: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The classmate's copy of a class photo is deleted (their guardian withdraws photos)
    while the pupil uploads the same picture: the pupil's row must name a file on disk."""
    data = picture("PNG", (80, 50))
    with Session(engine) as s:
        theirs = evidence.add(
            s,
            actor=_principal(pupil, "classmate"),
            settings=settings,
            record_id=pupil["classmates_record"],
            data=data,
            filename="class.png",
            now=NOW,
        )
        sha256, their_id = theirs.sha256, theirs.id
        s.commit()

    def upload() -> object:
        with Session(engine) as s:
            row = evidence.add(
                s,
                actor=_principal(pupil),
                settings=settings,
                record_id=pupil["record"],
                data=data,
                filename="class.png",
                now=NOW,
            )
            s.commit()
            return row.id

    def withdraw_classmates() -> None:
        with Session(engine) as s:
            classmate = s.get(Student, pupil["classmate"])
            assert classmate is not None
            consent_service.record_decision(
                s,
                actor=_principal(pupil, "classmate"),
                student=classmate,
                region_code=REGION,
                purposes=[Purpose.photos],
                decision=Decision.withdraw,
                notice_version=consent_service.NOTICE_VERSION,
                channel=Channel.paper,
                now=NOW,
                settings=settings,
                guardian_name="李先生",
            )
            s.commit()

    # the upload pauses once it has written (or found) the file, before its row commits
    outcome = _interleave(monkeypatch, storage, "store", upload, withdraw_classmates)
    assert isinstance(outcome, int), outcome
    with Session(engine) as s:
        mine = s.get(RecordEvidence, outcome)
        gone = s.get(RecordEvidence, their_id)
    assert mine is not None
    assert mine.quarantined_at is None
    assert gone is not None
    assert gone.quarantine_reason == "consent_withdrawn"
    assert storage.path_of(settings, sha256).is_file()  # the pupil's row names a file


def test_the_deletion_job_and_a_withdrawal_sharing_a_file_do_not_deadlock(
    engine: Engine,
    settings: Settings,
    pupil: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One run of the deletion job carries out the pupil's request, then the classmate's;
    their records name one class photo. The classmate's guardian withdraws photos between the
    two: the job must not hold the photo's lock while it waits for the classmate's row, which
    the withdrawal holds while it waits for the photo (a deadlock on PostgreSQL). The job locks
    every pupil it carries out, then every file, before it deletes anything."""
    data = picture("PNG", (90, 40))
    with Session(engine) as s:
        for who, record_id in (
            ("student", pupil["record"]),
            ("classmate", pupil["classmates_record"]),
        ):
            evidence.add(
                s,
                actor=_principal(pupil, who),
                settings=settings,
                record_id=record_id,
                data=data,
                filename="class.png",
                now=NOW,
            )
        for who in ("student", "classmate"):  # carried out in this order (by id)
            s.add(
                DeletionRequest(
                    student_id=pupil[who],
                    school_id=pupil["school"],
                    requested_by="account:1",
                    requested_by_role="school_admin",
                    requested_at=NOW - timedelta(days=1),
                    due_at=NOW + timedelta(days=14),
                    status="pending",
                )
            )
            s.flush()
        s.commit()

    def run_job() -> object:
        with Session(engine) as s:
            done = deletion_jobs.carry_out_deletions(s, NOW, settings)
            s.commit()
            return done

    def withdraw_classmates() -> None:
        with Session(engine) as s:
            classmate = s.get(Student, pupil["classmate"])
            assert classmate is not None
            consent_service.record_decision(
                s,
                actor=_principal(pupil, "classmate"),
                student=classmate,
                region_code=REGION,
                purposes=[Purpose.photos],
                decision=Decision.withdraw,
                notice_version=consent_service.NOTICE_VERSION,
                channel=Channel.paper,
                now=NOW,
                settings=settings,
                guardian_name="李先生",
            )
            s.commit()

    try:
        # the job pauses once the pupil's request is carried out, before the classmate's
        outcome = _interleave(monkeypatch, deletion_jobs, "carry_out", run_job, withdraw_classmates)
        assert not isinstance(outcome, Exception), outcome
        with Session(engine) as s:
            rows = s.exec(
                select(RecordEvidence).where(
                    col(RecordEvidence.record_id).in_([pupil["record"], pupil["classmates_record"]])
                )
            ).all()
            open_requests = s.exec(
                select(DeletionRequest).where(col(DeletionRequest.carried_out_at).is_(None))
            ).all()
        assert [row.quarantine_reason for row in rows] == ["consent_withdrawn"] * 2
        assert open_requests == []
        assert not storage.path_of(settings, rows[0].sha256).exists()
    finally:
        with Session(engine) as s:
            s.execute(
                delete(DeletionRequest).where(
                    col(DeletionRequest.student_id).in_([pupil["student"], pupil["classmate"]])
                )
            )
            s.commit()


def test_an_upload_to_a_record_withdrawn_meanwhile_is_refused(
    engine: Engine,
    settings: Settings,
    pupil: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The upload read the record open, then the guardian withdrew participation_record (the
    record is withdrawn) before the upload took the pupil's lock: it is refused, nothing is
    attached to the withdrawn record."""

    def upload() -> object:
        with Session(engine) as s:
            row = evidence.add(
                s,
                actor=Principal(
                    subject=f"wechat:{pupil['user']}",
                    role=Role.student,
                    school_id=pupil["school"],
                    student_id=pupil["student"],
                ),
                settings=settings,
                record_id=pupil["record"],
                data=picture("PNG"),
                filename="photo.png",
                now=NOW,
            )
            s.commit()
            return row.sha256

    def withdraw() -> None:
        _withdraw(engine, settings, pupil, Purpose.participation_record)

    # the upload pauses after reading the record, while it cleans the picture
    outcome = _interleave(monkeypatch, evidence.sanitise, "clean", upload, withdraw)
    with Session(engine) as s:
        record = s.get(ParticipationRecord, pupil["record"])
        rows = s.exec(
            select(RecordEvidence).where(RecordEvidence.record_id == pupil["record"])
        ).all()
        events = s.exec(
            select(RecordEvent.action)
            .where(RecordEvent.record_id == pupil["record"])
            .order_by(col(RecordEvent.id))
        ).all()
    assert record is not None
    assert record.status == "withdrawn"
    if isinstance(outcome, Exception):  # PostgreSQL: the upload took the lock after
        assert getattr(outcome, "code", None) == "record_state_invalid", outcome
        assert rows == []
        return
    # SQLite: the upload's transaction holds the write lock from its first read, so the
    # withdrawal waited for it: the photo came first, the withdrawal after
    assert len(rows) == 1
    assert events.index("evidence_added") < events.index("withdrawn")
