"""Retention and withdrawal (issue 20, point 4): the purge job erases scan locations and
distances, client addresses and rate-limit counters once older than their period and keeps
the scans' results and times; withdrawing ``location``, ``photos`` or ``participation_record``
deletes what was kept for it, of that pupil only, logs what kind and how many, and a second run
changes nothing."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, delete, select

from scipass.activity.models import Activity
from scipass.audit.models import AuditLog
from scipass.checkin.jobs import purge_telemetry
from scipass.checkin.models import ScanEvent
from scipass.consent import effects as consent_effects
from scipass.consent import service as consent_service
from scipass.consent.models import Purpose
from scipass.core.auth import Role
from scipass.core.config import Settings
from scipass.core.ratelimit import RateLimitCounter
from scipass.record import chain, storage
from scipass.record import notices as record_notices
from scipass.record.models import ParticipationRecord, RecordEvent, RecordEvidence, RecordNotice
from scipass.roster.models import Student
from tests.checkin.test_checkin import (
    END,
    START,
    activity,  # noqa: F401  (fixture)
    new_code,
    refused,
    scan,
)
from tests.competition.factories_results import accepted_entry, create_results_scene
from tests.factories import (
    NOW,
    Side,
    auth,
    create_activity,
    create_record,
    create_student,
    link_guardian,
)

OLD = NOW - timedelta(days=200)
RECENT = NOW - timedelta(days=10)


def _scan_event(session: Session, student: Student, at: Any, *, result: str = "accepted") -> int:
    event = ScanEvent(
        student_id=student.id,
        school_id=student.school_id,
        direction="in",
        source="self",
        operator="wechat:1",
        fingerprint=hashlib.md5(f"{student.id}{at}{result}".encode()).hexdigest(),  # noqa: S324
        server_time=at,
        scan_time=at - timedelta(seconds=5),
        latitude=39.9,
        longitude=116.4,
        accuracy_m=15.0,
        distance_m=42,
        result=result,
        reason="" if result == "accepted" else "out_of_geofence",
    )
    session.add(event)
    session.flush()
    assert event.id is not None
    return event.id


def _event(session: Session, event_id: int) -> ScanEvent:
    session.expire_all()
    found = session.get(ScanEvent, event_id)
    assert found is not None
    return found


def _located(event: ScanEvent) -> bool:
    places = (event.latitude, event.longitude, event.accuracy_m, event.distance_m)
    assert all(v is None for v in places) or all(v is not None for v in places)
    return event.latitude is not None


def _log(session: Session, action: str) -> list[dict[str, Any]]:
    session.expire_all()
    rows = session.exec(
        select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
    ).all()
    return [{"object_id": r.object_id, **json.loads(r.detail)} for r in rows]


def _decide(
    client: TestClient, settings: Settings, side: Side, decision: str, purposes: list[str]
) -> None:
    response = client.post(
        f"/api/v1/me/children/{side.student.id}/consents",
        json={
            "purposes": purposes,
            "decision": decision,
            "notice_version": consent_service.NOTICE_VERSION,
        },
        headers=auth(settings, side.principal(Role.guardian)),
    )
    assert response.status_code == 201, response.text


# --- the purge job ----------------------------------------------------------------------------


def test_the_purge_clears_what_is_past_its_period_and_keeps_results_and_times(
    session: Session, settings: Settings, side_a: Side
) -> None:
    pupil = side_a.student
    # scans committed by other tests' servers (group commit) leave their pupils' counters
    session.execute(delete(RateLimitCounter))
    old_in = _scan_event(session, pupil, OLD)
    old_refused = _scan_event(session, pupil, OLD + timedelta(minutes=1), result="refused")
    recent = _scan_event(session, pupil, RECENT)
    for at, ip in ((OLD, "203.0.113.7"), (RECENT, "198.51.100.9")):
        session.add(AuditLog(at=at, action="login", actor="account:1", client_ip=ip))
    session.add(RateLimitCounter(key="login:ip:203.0.113.7", window_start=OLD, count=3))
    session.add(RateLimitCounter(key="login:ip:198.51.100.9", window_start=NOW, count=1))
    session.flush()

    assert purge_telemetry(session, NOW, settings) == 2 + 1 + 1
    for event_id, result, at in (
        (old_in, "accepted", OLD),
        (old_refused, "refused", OLD + timedelta(minutes=1)),
    ):
        event = _event(session, event_id)
        assert not _located(event)
        assert event.result == result  # the judgement and its times stay
        assert event.reason == ("" if result == "accepted" else "out_of_geofence")
        assert (event.server_time, event.scan_time) == (at, at - timedelta(seconds=5))
    assert _located(_event(session, recent))
    addresses = session.exec(
        select(AuditLog.at, AuditLog.client_ip).where(AuditLog.action == "login")
    ).all()
    assert sorted(addresses) == [(OLD, None), (RECENT, "198.51.100.9")]
    assert session.exec(select(RateLimitCounter.key)).all() == ["login:ip:198.51.100.9"]
    [run] = _log(session, "data_purged")
    assert run["counts"] == {"scan_location": 2, "client_address": 1, "rate_limit_counter": 1}
    assert "203.0.113.7" not in json.dumps(run)  # how many, never what

    # a second run changes nothing and logs nothing
    assert purge_telemetry(session, NOW, settings) == 0
    assert len(_log(session, "data_purged")) == 1

    # every period is a setting
    shorter = settings.model_copy(
        update={"telemetry_retention_days": 5, "client_address_retention_days": 5}
    )
    assert purge_telemetry(session, NOW, shorter) == 2
    assert not _located(_event(session, recent))


# --- withdrawing location -----------------------------------------------------------------------


def test_withdrawing_location_deletes_that_pupils_locations_only(
    client: TestClient, session: Session, settings: Settings, side_a: Side, side_b: Side
) -> None:
    classmate = create_student(session, school_id=side_a.school.id or 0)
    mine = [_scan_event(session, side_a.student, t) for t in (OLD, RECENT, NOW)]
    others = [_scan_event(session, classmate, NOW), _scan_event(session, side_b.student, NOW)]

    _decide(client, settings, side_a, "withdraw", ["location"])
    assert not any(_located(_event(session, e)) for e in mine)
    assert all(_event(session, e).result == "accepted" for e in mine)
    assert all(_located(_event(session, e)) for e in others)
    [deleted] = _log(session, "data_deleted")
    assert deleted == {
        "object_id": str(side_a.student.id),
        "kind": "scan_location",
        "count": 3,
        "reason": "consent_withdrawn:location",
    }

    # withdrawing again (or refusing) deletes nothing more and logs nothing
    _decide(client, settings, side_a, "withdraw", ["location"])
    _decide(client, settings, side_a, "refuse", ["location", "photos"])
    assert len(_log(session, "data_deleted")) == 1
    assert all(_located(_event(session, e)) for e in others)


def test_a_pupil_of_14_and_over_keeps_what_needs_no_guardian_consent(
    client: TestClient, session: Session, settings: Settings, side_a: Side
) -> None:
    side_a.student.birth_month = date(2010, 1, 1)  # 16: location needs no guardian's consent
    session.add(side_a.student)
    kept = _scan_event(session, side_a.student, NOW)
    _decide(client, settings, side_a, "withdraw", ["location"])
    assert _located(_event(session, kept))
    assert _log(session, "data_deleted") == []


# --- withdrawing photos -------------------------------------------------------------------------


def _notice(session: Session, side: Side) -> RecordNotice:
    notice = RecordNotice(
        school_id=side.school.id or 0,
        title="公示",
        working_days=5,
        starts_at=NOW - timedelta(days=10),
        ends_at=NOW - timedelta(days=1),
        record_count=1,
        opened_by="account:900001",
    )
    session.add(notice)
    session.flush()
    return notice


def _attach(
    session: Session, settings: Settings, record: ParticipationRecord, data: bytes
) -> RecordEvidence:
    sha256 = hashlib.sha256(data).hexdigest()
    storage.store(settings, data, sha256)
    row = RecordEvidence(
        record_id=record.id or 0,
        sha256=sha256,
        media_type="image/jpeg",
        size=len(data),
        filename="活动照片.jpg",
        uploaded_by="wechat:1",
        uploaded_at=NOW - timedelta(days=20),
        cleaned_at=NOW - timedelta(days=20),
    )
    session.add(row)
    session.flush()
    return row


def _evidence(session: Session, row: RecordEvidence) -> RecordEvidence:
    session.expire_all()
    found = session.get(RecordEvidence, row.id)
    assert found is not None
    return found


def test_withdrawing_photos_deletes_unarchived_evidence_of_that_pupil_only(
    client: TestClient, session: Session, settings: Settings, side_a: Side
) -> None:
    pupil, notice = side_a.student, _notice(session, side_a)
    archived = create_record(session, student=pupil, status="publicised", notice_id=notice.id)
    kept_photo = _attach(session, settings, archived, b"archived photo")
    assert record_notices.archive_due(session, now=NOW) == 1
    in_notice = create_record(session, student=pupil, status="publicised", notice_id=notice.id)
    later = _attach(session, settings, in_notice, b"archived later")
    open_record = create_record(session, student=pupil)
    same_as_archived = _attach(session, settings, open_record, b"archived photo")
    own = _attach(session, settings, open_record, b"own photo")
    shared = _attach(session, settings, open_record, b"class photo")
    classmate = create_student(session, school_id=side_a.school.id or 0)
    theirs = create_record(session, student=classmate)
    their_copy = _attach(session, settings, theirs, b"class photo")
    session.commit()

    _decide(client, settings, side_a, "withdraw", ["photos"])
    session.commit()
    for row in (later, same_as_archived, own, shared):
        tombstone = _evidence(session, row)
        assert tombstone.quarantine_reason == "consent_withdrawn"
        assert tombstone.sha256 == row.sha256  # the checksum stays for the chain
    for row in (kept_photo, their_copy):
        assert _evidence(session, row).quarantined_at is None
    assert storage.path_of(settings, kept_photo.sha256).is_file()  # the archived record's
    assert storage.path_of(settings, their_copy.sha256).is_file()  # the classmate's
    assert not storage.path_of(settings, own.sha256).exists()
    assert not storage.path_of(settings, later.sha256).exists()
    answer = client.get(
        f"/api/v1/records/{open_record.id}/evidence/{own.id}",
        headers=auth(settings, side_a.principal(Role.guardian)),
    )
    assert answer.status_code == 410
    assert (answer.json()["code"], answer.json()["reason"]) == (
        "evidence_quarantined",
        "consent_withdrawn",
    )
    notes = session.exec(
        select(RecordEvent.note).where(
            RecordEvent.record_id == open_record.id, RecordEvent.action == "evidence_deleted"
        )
    ).all()
    assert len(notes) == 3
    assert "活动照片" not in "".join(notes)  # never the content
    [deleted] = _log(session, "data_deleted")
    assert (deleted["kind"], deleted["count"], deleted["reason"]) == (
        "evidence_file",
        4,
        "consent_withdrawn:photos",
    )

    # the chain verifies, and so does the record archived after its photo went
    assert chain.verify(session, pupil.id or 0).valid
    assert record_notices.archive_due(session, now=NOW) == 1
    session.expire_all()
    report = chain.verify(session, pupil.id or 0)
    assert (report.valid, report.length) == (True, 2)

    # a second withdrawal changes nothing
    before = session.exec(select(RecordEvidence).order_by(col(RecordEvidence.id))).all()
    snapshot = [r.model_dump() for r in before]
    _decide(client, settings, side_a, "withdraw", ["photos"])
    session.commit()
    session.expire_all()
    after = session.exec(select(RecordEvidence).order_by(col(RecordEvidence.id))).all()
    assert [r.model_dump() for r in after] == snapshot
    assert len(_log(session, "data_deleted")) == 1


# --- withdrawing participation_record -----------------------------------------------------------


def test_withdrawing_participation_record_withdraws_open_records_and_makes_none(
    client: TestClient,
    session: Session,
    settings: Settings,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    pupil = side_a.student
    answer = scan(
        client,
        settings,
        side_a.principal(Role.student),
        new_code(client, settings, side_a, activity)["payload"],
    )
    assert answer.status_code == 201, answer.text
    from_scan = session.exec(
        select(ParticipationRecord).where(ParticipationRecord.student_id == pupil.id)
    ).one()
    confirmed = create_record(session, student=pupil, status="confirmed")
    reviewed = create_record(session, student=pupil, status="reviewed")
    classmate = create_student(session, school_id=side_a.school.id or 0)
    link_guardian(session, guardian=side_a.guardian, student=classmate)
    theirs = create_record(session, student=classmate)

    _decide(client, settings, side_a, "withdraw", ["participation_record"])
    session.expire_all()

    def status(record: ParticipationRecord) -> str:
        found = session.get(ParticipationRecord, record.id)
        assert found is not None
        return found.status

    assert [status(r) for r in (from_scan, confirmed, reviewed, theirs)] == [
        "withdrawn",
        "withdrawn",
        "reviewed",  # the school's review stands: it goes on to the 综评 file
        "pending",
    ]
    steps = session.exec(
        select(RecordEvent.from_status, RecordEvent.to_status).where(
            RecordEvent.record_id == confirmed.id, RecordEvent.action == "withdrawn"
        )
    ).all()
    assert steps == [("confirmed", "withdrawn")]
    [deleted] = _log(session, "data_deleted")
    assert (deleted["kind"], deleted["count"]) == ("open_record", 2)

    # no new record: a scan at another activity is refused
    other = create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        starts_at=START,
        ends_at=END,
        admission="open",
    )
    code = new_code(client, settings, side_a, other)["payload"]
    refused(scan(client, settings, side_a.principal(Role.student), code), "consent_required", 403)
    count = session.exec(
        select(ParticipationRecord.id).where(ParticipationRecord.student_id == pupil.id)
    ).all()
    assert len(count) == 3

    # a second withdrawal changes nothing
    _decide(client, settings, side_a, "withdraw", ["participation_record"])
    assert len(_log(session, "data_deleted")) == 1


def test_the_app_registers_an_effect_for_each_purpose_that_keeps_data(
    client: TestClient,
) -> None:
    assert consent_effects.registered() == {
        Purpose.location: ["scan_location"],
        Purpose.photos: ["evidence_file"],
        Purpose.participation_record: ["open_record"],
    }


def test_withdrawing_photos_keeps_a_file_a_team_entry_still_names(
    client: TestClient, session: Session, settings: Settings, side_a: Side
) -> None:
    """Evidence and competition attachments share the content-addressed tree: the pupil's
    copy of the team's project PDF goes, the team's attachment stays."""
    record = create_record(session, student=side_a.student)
    photo = _attach(session, settings, record, b"the team's project report")
    entry = accepted_entry(session, create_results_scene(session, side_a), school=side_a.school)
    entry.attachment_sha256 = photo.sha256
    session.add(entry)
    session.commit()
    _decide(client, settings, side_a, "withdraw", ["photos"])
    session.commit()
    assert _evidence(session, photo).quarantine_reason == "consent_withdrawn"
    assert storage.path_of(settings, photo.sha256).is_file()
