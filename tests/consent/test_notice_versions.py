"""Notice versions: an editorial change keeps consents, a material one asks again and keeps the
old purposes working until the platform's deadline (consent/notices.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Date, bindparam, delete, text
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from scipass.consent import notices
from scipass.consent import service as consent_service
from scipass.consent.models import ConsentRecord, Purpose
from scipass.consent.notices import ChangeKind, NoticeVersion
from scipass.core.auth import Role
from scipass.core.config import Settings
from tests.conftest import FROZEN_AT
from tests.factories import Side, auth

TODAY = date(2026, 10, 14)  # FROZEN_AT in Beijing
SHIPPED = notices.NOTICES


def _bump(monkeypatch: pytest.MonkeyPatch, *added: NoticeVersion) -> None:
    table = SHIPPED + added
    notices.check(table)
    monkeypatch.setattr(notices, "NOTICES", table)


def _editorial() -> NoticeVersion:
    return NoticeVersion("2026-12.2", date(2026, 12, 20), ChangeKind.editorial)


def _material(deadline: date) -> NoticeVersion:
    return NoticeVersion(
        "2027-01",
        date(2027, 1, 4),
        ChangeKind.material,
        adds_recipients=((Purpose.record_export, ("市级综合素质评价平台",)),),
        deadline=deadline,
    )


def _grant(
    session: Session, side: Side, version: str, *purposes: Purpose, channel: str = "mini_program"
) -> None:
    for purpose in purposes:
        session.add(
            ConsentRecord(
                student_id=side.student.id or 0,
                purpose=purpose.value,
                decision="grant",
                notice_version=version,
                channel=channel,
                guardian_link_id=side.guardian_link.id if channel == "mini_program" else None,
                guardian_name="王妈妈" if channel == "paper" else None,
                recorded_by="test",
                recorded_at=FROZEN_AT,
            )
        )
    session.flush()


def _counts(session: Session, side: Side, purpose: Purpose, today: date = TODAY) -> bool:
    """The grant judged by every path the code takes, which must agree: the service (the
    date judged in Python), the clause with the date as an SQL parameter (check-in's read),
    and on PostgreSQL the check-in batch's hand-written text."""
    student_id = side.student.id or 0
    by_service = consent_service.has_consent(
        session, student=side.student, purpose=purpose, today=today
    )
    clause = consent_service.in_force_clause(
        bindparam("sid"), purpose.value, bindparam("today", type_=Date)
    )
    by_sql = bool(
        session.connection()
        .execute(sa_select(clause), {"sid": student_id, "today": today})
        .scalar_one()
    )
    assert by_sql is by_service
    if session.connection().dialect.name == "postgresql":
        sql = consent_service.pg_in_force(":sid", purpose, "CAST(:today AS date)", notices.NOTICES)
        by_pg = session.connection().execute(
            text(f"SELECT {sql}"), {"sid": student_id, "today": today}
        )
        assert bool(by_pg.scalar_one()) is by_service
    return by_service


def _status(client: TestClient, settings: Settings, side: Side) -> dict:
    answer = client.get(
        f"/api/v1/me/children/{side.student.id}/consents",
        headers=auth(settings, side.principal(Role.guardian)),
    )
    assert answer.status_code == 200
    return answer.json()


def test_todays_versions_keep_their_grants(session: Session, side_a: Side) -> None:
    """2026-12 added volunteering only, 2026-12.1 was editorial: grants under 2026-12 count for
    everything, under 2026-09 for all but volunteering; an unknown version for nothing."""
    assert notices.current().version == consent_service.NOTICE_VERSION == "2026-12.1"
    assert notices.current().kind is ChangeKind.editorial
    assert notices.counts("2026-12", Purpose.volunteering, TODAY)
    assert notices.counts("2026-09", Purpose.record_export, TODAY)
    assert not notices.counts("2026-09", Purpose.volunteering, TODAY)
    assert not notices.counts("2025-01", Purpose.record_export, TODAY)
    _grant(session, side_a, "2026-12", Purpose.photos)
    assert _counts(session, side_a, Purpose.photos)


def test_an_editorial_bump_keeps_existing_consents(
    monkeypatch: pytest.MonkeyPatch,
    client: TestClient,
    settings: Settings,
    side_a: Side,
    session: Session,
) -> None:
    _grant(session, side_a, "2026-12.1", Purpose.participation_record, Purpose.record_export)
    _bump(monkeypatch, _editorial())
    assert _counts(session, side_a, Purpose.participation_record)
    assert _counts(session, side_a, Purpose.record_export)
    status = _status(client, settings, side_a)
    assert status["notice_version"] == "2026-12.2"
    assert status["renewal_needed"] == []
    export = {p["purpose"]: p for p in status["purposes"]}["record_export"]
    assert export["effective"]
    assert export["notice_version"] == "2026-12.1"


def test_a_material_bump_asks_again_and_keeps_the_old_purposes_until_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
    client: TestClient,
    settings: Settings,
    side_a: Side,
    session: Session,
) -> None:
    _grant(session, side_a, "2026-12.1", Purpose.participation_record, Purpose.record_export)
    deadline = TODAY + timedelta(days=30)
    _bump(monkeypatch, _material(deadline))

    # Until the deadline (inclusive) the old grant works; the status asks for a new answer.
    assert _counts(session, side_a, Purpose.record_export)
    assert _counts(session, side_a, Purpose.record_export, deadline)
    status = _status(client, settings, side_a)
    assert status["renewal_needed"] == ["record_export"]
    export = {p["purpose"]: p for p in status["purposes"]}["record_export"]
    assert export["effective"]
    assert export["renewal_needed"]
    assert export["renewal_due"] == deadline.isoformat()
    # A purpose the change does not touch is not asked again and keeps working for good.
    assert _counts(session, side_a, Purpose.participation_record, deadline + timedelta(days=400))

    # After the deadline, without a new answer, the old purpose stops.
    assert not _counts(session, side_a, Purpose.record_export, deadline + timedelta(days=1))

    # The guardian answers the current notice: it works again, whatever the date.
    granted = client.post(
        f"/api/v1/me/children/{side_a.student.id}/consents",
        json={"purposes": ["record_export"], "decision": "grant", "notice_version": "2027-01"},
        headers=auth(settings, side_a.principal(Role.guardian)),
    )
    assert granted.status_code == 201
    assert granted.json()["renewal_needed"] == []
    assert _counts(session, side_a, Purpose.record_export, deadline + timedelta(days=1))


def test_a_deadline_passed_stops_the_old_purpose(
    monkeypatch: pytest.MonkeyPatch,
    client: TestClient,
    settings: Settings,
    side_a: Side,
    session: Session,
) -> None:
    _grant(session, side_a, "2026-12.1", Purpose.record_export)
    _bump(monkeypatch, _material(TODAY - timedelta(days=1)))
    assert not _counts(session, side_a, Purpose.record_export)
    export = {p["purpose"]: p for p in _status(client, settings, side_a)["purposes"]}[
        "record_export"
    ]
    assert not export["effective"]
    assert export["renewal_needed"]


def test_a_purpose_added_by_a_material_bump_is_not_granted_by_old_consents(
    monkeypatch: pytest.MonkeyPatch,
    client: TestClient,
    settings: Settings,
    side_a: Side,
    session: Session,
) -> None:
    """2026-12 added volunteering: a grant under 2026-09 never covers it, and the status asks
    for it once the guardian has answered an older notice."""
    side_a.student.birth_month = date(2010, 3, 1)  # 16: volunteering is asked, the rest not
    session.add(side_a.student)
    session.flush()
    _grant(session, side_a, "2026-09", Purpose.volunteering, Purpose.photos)
    assert not _counts(session, side_a, Purpose.volunteering)
    session.execute(delete(ConsentRecord).where(col(ConsentRecord.purpose) == "volunteering"))
    session.flush()
    status = _status(client, settings, side_a)
    assert status["renewal_needed"] == ["volunteering"]
    volunteering = {p["purpose"]: p for p in status["purposes"]}["volunteering"]
    assert volunteering["renewal_due"] is None
    assert not volunteering["effective"]


def test_paper_consents_carry_over(
    monkeypatch: pytest.MonkeyPatch, side_a: Side, session: Session
) -> None:
    _grant(session, side_a, "2026-12", Purpose.record_export, Purpose.photos, channel="paper")
    deadline = TODAY + timedelta(days=10)
    _bump(monkeypatch, _editorial(), _material(deadline))
    assert _counts(session, side_a, Purpose.photos, deadline + timedelta(days=100))
    assert _counts(session, side_a, Purpose.record_export, deadline)
    assert not _counts(session, side_a, Purpose.record_export, deadline + timedelta(days=1))


@pytest.mark.parametrize(
    ("notice", "fault"),
    [
        (NoticeVersion("2026-12.1", date(2027, 1, 1), ChangeKind.editorial), "listed twice"),
        (NoticeVersion("2026-11", date(2026, 11, 1), ChangeKind.editorial), "published before"),
        (
            NoticeVersion(
                "2027-01", date(2027, 1, 1), ChangeKind.editorial, deadline=date(2027, 3, 1)
            ),
            "adds nothing",
        ),
        (
            NoticeVersion(
                "2027-01",
                date(2027, 1, 1),
                ChangeKind.material,
                adds_recipients=((Purpose.photos, ("某平台",)),),
            ),
            "needs a deadline",
        ),
    ],
)
def test_a_table_that_cannot_be_applied_is_refused(notice: NoticeVersion, fault: str) -> None:
    with pytest.raises(ValueError, match=fault):
        notices.check((*SHIPPED, notice))


def test_the_notice_lists_its_versions(client: TestClient) -> None:
    answer = client.get("/api/v1/consent-notice").json()
    assert [v["version"] for v in answer["versions"]] == ["2026-09", "2026-12", "2026-12.1"]
    assert answer["versions"][-1]["kind"] == "editorial"
    assert answer["versions"][1]["adds_purposes"] == ["volunteering"]
