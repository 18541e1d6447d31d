"""Public notice (公示), objections, archiving into each student's hash chain, and corrections
of archived records: who may do what, the window in working days, what an objection holds,
and that any change to an archived row shows in the chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, delete, update
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Principal, Role
from scipass.core.clock import SHANGHAI, FrozenClock
from scipass.core.config import Environment, Settings
from scipass.core.db import Database
from scipass.core.ratelimit import RateLimitCounter
from scipass.core.workdays import is_working_day, window_end
from scipass.main import create_app, scheduled_jobs
from scipass.org.models import Region
from scipass.record import append as record_append
from scipass.record import chain
from scipass.record import notices as record_notices
from scipass.record.models import (
    Dimension,
    ParticipationRecord,
    RecordCategory,
    RecordEvent,
    RecordNotice,
    RecordObjection,
    RecordSource,
)
from scipass.roster.models import Student
from tests.factories import (
    NOW,
    Side,
    auth,
    create_record,
    create_student,
    create_wechat_user,
)

# Opened on Wednesday 14 October 2026, 10:00 Beijing: five working days are Thu 15, Fri 16,
# Mon 19, Tue 20 and Wed 21, so the window closes at Thursday 22 October 00:00 Beijing.
WINDOW_END = datetime(2026, 10, 21, 16, 0, tzinfo=UTC)
ENTRY_KEYS = {"record_id", "name", "class_label", "activity", "activity_date", "minutes", "marks"}


@dataclass
class Api:
    """The test client with a token minted at the frozen clock's current time."""

    client: TestClient
    settings: Settings
    clock: FrozenClock

    def headers(self, principal: Principal) -> dict[str, str]:
        return auth(self.settings, principal, now=self.clock.now())

    def get(self, url: str, principal: Principal, **kwargs: Any) -> Any:
        return self.client.get(url, headers=self.headers(principal), **kwargs)

    def post(self, url: str, principal: Principal, **kwargs: Any) -> Any:
        return self.client.post(url, headers=self.headers(principal), **kwargs)

    def put(self, url: str, principal: Principal, **kwargs: Any) -> Any:
        return self.client.put(url, headers=self.headers(principal), **kwargs)


@pytest.fixture
def api(client: TestClient, settings: Settings, clock: FrozenClock) -> Api:
    return Api(client, settings, clock)


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _reviewed(session: Session, student: Student, **overrides: Any) -> ParticipationRecord:
    """A record the organiser and the student confirmed and the school approved."""
    values: dict[str, Any] = {
        "status": "reviewed",
        "confirmed_at": NOW,
        "student_confirmed_at": NOW,
        "reviewed_at": NOW,
        "reviewed_by": "account:900001",
        "attester_name": "王老师",
        "attester_unit": "测试学校",
        "attester_phone": "13800138000",
        "reflection": "第一次看到特斯拉线圈放电。",
    }
    values.update(overrides)
    return create_record(session, student=student, **values)


def _bound_student(session: Session, school_id: int, **overrides: Any) -> tuple[Student, Principal]:
    user = create_wechat_user(session)
    student = create_student(session, school_id=school_id, wechat_user_id=user.id, **overrides)
    principal = Principal(
        subject=f"wechat:{user.id}", role=Role.student, school_id=school_id, student_id=student.id
    )
    return student, principal


def _publicise(api: Api, side: Side, **body: Any) -> dict[str, Any]:
    response = api.post(
        "/api/v1/notices",
        side.principal(Role.school_admin),
        json={"title": "2026 秋季学期写实记录公示", **body},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _fresh(session: Session, record: ParticipationRecord) -> ParticipationRecord:
    session.expire_all()
    found = session.get(ParticipationRecord, record.id)
    assert found is not None
    return found


def _archive(session: Session, now: datetime) -> int:
    """Run the archiver as the job does: on what the database holds now."""
    session.expire_all()
    count = record_notices.archive_due(session, now=now)
    session.flush()
    session.expire_all()
    return count


def _object(api: Api, principal: Principal, record_id: int, reason: str = "那天没有去") -> Any:
    return api.post(f"/api/v1/records/{record_id}/objections", principal, json={"reason": reason})


def _resolve(api: Api, side: Side, objection_id: int, decision: str, text: str = "已核实") -> Any:
    return api.post(
        f"/api/v1/objections/{objection_id}/resolution",
        side.principal(Role.school_admin),
        json={"decision": decision, "resolution": text},
    )


def _chain(api: Api, principal: Principal, student_id: int) -> Any:
    return api.get(f"/api/v1/students/{student_id}/record-chain", principal)


def _archived_chain(
    api: Api, session: Session, side: Side, count: int = 3
) -> list[ParticipationRecord]:
    """``count`` archived records of the side's student, in chain order."""
    for day in range(count):
        _reviewed(session, side.student, started_at=datetime(2026, 10, 5 + day, 1, 0, tzinfo=UTC))
    _publicise(api, side)
    assert _archive(session, WINDOW_END) == count
    return list(
        session.exec(
            select(ParticipationRecord)
            .where(ParticipationRecord.student_id == side.student.id)
            .order_by(col(ParticipationRecord.archive_seq))
        ).all()
    )


# --- opening a notice ---------------------------------------------------------------------------


def test_notice_publicises_only_the_schools_reviewed_records(
    api: Api, session: Session, side_a: Side, side_b: Side
) -> None:
    classmate = create_student(session, school_id=side_a.school.id or 0, class_name="2班")
    mine = [_reviewed(session, side_a.student), _reviewed(session, side_a.student)]
    mine.append(_reviewed(session, classmate))
    untouched = [
        create_record(session, student=side_a.student, status=status)
        for status in ("pending", "confirmed", "rejected", "withdrawn")
    ]
    foreign = _reviewed(session, side_b.student)

    body = _publicise(api, side_a)
    assert body["record_count"] == 3
    assert body["school_id"] == side_a.school.id
    assert body["is_open"] is True
    assert _instant(body["starts_at"]) == NOW

    for record in mine:
        fresh = _fresh(session, record)
        assert (fresh.status, fresh.notice_id) == ("publicised", body["id"])
        events = session.exec(select(RecordEvent).where(RecordEvent.record_id == record.id)).all()
        assert [(e.action, e.from_status, e.to_status) for e in events] == [
            ("publicised", "reviewed", "publicised")
        ]
        assert (events[0].actor, events[0].actor_role, events[0].at) == (
            "account:900001",
            "school_admin",
            NOW,
        )
    for record in untouched:
        fresh = _fresh(session, record)
        assert fresh.status == record.status
        assert fresh.notice_id is None
    assert (_fresh(session, foreign).status, _fresh(session, foreign).notice_id) == (
        "reviewed",
        None,
    )
    audit = session.exec(select(AuditLog).where(AuditLog.action == "notice_opened")).all()
    assert [a.object_id for a in audit] == [str(body["id"])]


def test_notice_filters_by_class_grade_and_record_ids(
    api: Api, session: Session, side_a: Side, side_b: Side
) -> None:
    school_id = side_a.school.id or 0
    class_two = create_student(session, school_id=school_id, class_name="2班")
    grade_five = create_student(session, school_id=school_id, grade=5, class_name="1班")
    in_class_one = _reviewed(session, side_a.student)
    in_class_two = _reviewed(session, class_two)
    in_grade_five = _reviewed(session, grade_five)
    picked = _reviewed(session, side_a.student)
    foreign = _reviewed(session, side_b.student)

    by_class = _publicise(api, side_a, grade=4, class_name="2班")
    assert by_class["record_count"] == 1
    assert _fresh(session, in_class_two).notice_id == by_class["id"]

    by_grade = _publicise(api, side_a, grade=5)
    assert by_grade["record_count"] == 1
    assert _fresh(session, in_grade_five).notice_id == by_grade["id"]

    by_id = _publicise(api, side_a, record_ids=[picked.id, foreign.id])
    assert by_id["record_count"] == 1
    assert _fresh(session, picked).notice_id == by_id["id"]
    assert _fresh(session, in_class_one).status == "reviewed"  # not named: still waiting
    assert _fresh(session, foreign).status == "reviewed"  # another school's: never


def test_nothing_to_publicise_writes_nothing(
    api: Api, session: Session, side_a: Side, side_b: Side
) -> None:
    create_record(session, student=side_a.student, status="confirmed")
    foreign = _reviewed(session, side_b.student)
    mine = _reviewed(session, side_a.student)
    admin = side_a.principal(Role.school_admin)
    attempts = [
        {"record_ids": [foreign.id]},
        {"class_name": "9班"},
        {"record_ids": []},
    ]
    for body in attempts:
        response = api.post("/api/v1/notices", admin, json={"title": "公示", **body})
        assert response.status_code == 409, body
        assert response.json()["code"] == "nothing_to_publicise"
    session.expire_all()
    notices = session.exec(
        select(RecordNotice).where(RecordNotice.school_id == side_a.school.id)
    ).all()
    assert notices == []  # the notice opened before finding nothing was rolled back
    assert _fresh(session, foreign).status == "reviewed"
    assert _fresh(session, mine).status == "reviewed"


@pytest.mark.parametrize(
    "role", [Role.school_staff, Role.student, Role.guardian, Role.venue_admin, Role.bureau]
)
def test_only_a_school_admin_opens_a_notice(
    api: Api, session: Session, side_a: Side, role: Role
) -> None:
    record = _reviewed(session, side_a.student)
    response = api.post("/api/v1/notices", side_a.principal(role), json={"title": "公示"})
    assert response.status_code == 403
    assert response.json()["code"] == "role_forbidden"
    assert _fresh(session, record).status == "reviewed"


# --- the window in working days -----------------------------------------------------------------


def test_window_is_five_working_days_from_the_next_day(
    api: Api, session: Session, side_a: Side
) -> None:
    _reviewed(session, side_a.student)
    body = _publicise(api, side_a)
    assert body["working_days"] == 5
    assert _instant(body["ends_at"]) == WINDOW_END
    assert _instant(body["ends_at"]) == datetime(2026, 10, 22, 0, 0, tzinfo=SHANGHAI)
    session.expire_all()
    notice = session.get(RecordNotice, body["id"])
    assert notice is not None
    assert (notice.working_days, notice.ends_at, notice.opened_by) == (
        5,
        WINDOW_END,
        "account:900001",
    )


def test_a_region_setting_changes_the_window_and_is_inherited(
    api: Api, session: Session, side_a: Side
) -> None:
    bureau = side_a.principal(Role.bureau)  # the city, 970100; the school is in 970101
    county = "/api/v1/regions/970101/notice-setting"
    before = api.get(county, bureau)
    assert before.status_code == 200
    assert before.json() == {
        "region_code": "970101",
        "working_days": None,
        "effective_working_days": 5,
        "from_region": None,
    }

    city = api.put("/api/v1/regions/970100/notice-setting", bureau, json={"working_days": 3})
    assert city.status_code == 200, city.text
    assert city.json()["working_days"] == 3
    inherited = api.get(county, bureau).json()
    assert (inherited["working_days"], inherited["effective_working_days"]) == (None, 3)
    assert inherited["from_region"] == "970100"

    _reviewed(session, side_a.student)
    three = _publicise(api, side_a)
    # Thu 15, Fri 16, Mon 19: closes Tuesday 20 October 00:00 Beijing
    assert three["working_days"] == 3
    assert _instant(three["ends_at"]) == datetime(2026, 10, 20, 0, 0, tzinfo=SHANGHAI)

    own = api.put(county, bureau, json={"working_days": 7})
    assert own.json()["from_region"] == "970101"
    _reviewed(session, side_a.student)
    seven = _publicise(api, side_a)
    assert seven["working_days"] == 7
    assert _instant(seven["ends_at"]) == datetime(2026, 10, 24, 0, 0, tzinfo=SHANGHAI)

    cleared = api.put(county, bureau, json={"working_days": None})
    assert cleared.json()["effective_working_days"] == 3
    session.expire_all()
    region = session.get(Region, "970101")
    assert region is not None
    assert region.notice_working_days is None


def test_the_nearest_region_that_sets_a_length_wins(
    api: Api, session: Session, side_a: Side
) -> None:
    operator = side_a.principal(Role.platform_admin)
    province = api.put("/api/v1/regions/970000/notice-setting", operator, json={"working_days": 10})
    assert province.status_code == 200, province.text
    county = api.get("/api/v1/regions/970101/notice-setting", operator).json()
    assert (county["effective_working_days"], county["from_region"]) == (10, "970000")

    api.put(
        "/api/v1/regions/970100/notice-setting",
        side_a.principal(Role.bureau),
        json={"working_days": 2},
    )
    county = api.get("/api/v1/regions/970101/notice-setting", operator).json()
    assert (county["effective_working_days"], county["from_region"]) == (2, "970100")


def test_a_bureau_sets_only_its_own_region_or_below(
    api: Api, session: Session, side_a: Side, side_b: Side
) -> None:
    bureau = side_a.principal(Role.bureau)
    for code in ("970000", "960100", "960101"):
        response = api.put(
            f"/api/v1/regions/{code}/notice-setting", bureau, json={"working_days": 3}
        )
        assert response.status_code == 403, code
        assert response.json()["code"] == "region_out_of_scope"
    for code in ("970000", "960100"):  # nor reads another region's
        unseen = api.get(f"/api/v1/regions/{code}/notice-setting", bureau)
        assert unseen.status_code == 404, code
        assert unseen.json()["code"] == "region_not_found"
    missing = api.put("/api/v1/regions/970199/notice-setting", bureau, json={"working_days": 3})
    assert missing.status_code == 404
    assert missing.json()["code"] == "region_not_found"
    school = api.put(
        "/api/v1/regions/970101/notice-setting",
        side_a.principal(Role.school_admin),
        json={"working_days": 3},
    )
    assert school.status_code == 403
    assert school.json()["code"] == "role_forbidden"
    too_long = api.put("/api/v1/regions/970100/notice-setting", bureau, json={"working_days": 31})
    assert too_long.status_code == 422
    assert too_long.json()["code"] == "validation_failed"
    session.expire_all()
    assert all(
        session.get(Region, code).notice_working_days is None  # type: ignore[union-attr]
        for code in ("970000", "970100", "960100", "960101")
    )


@pytest.fixture
def calendar_client(
    settings: Settings,
    engine: Engine,
    connection: Connection,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[TestClient, Settings]]:
    """An app whose calendar comes from the environment: Thu 15 and Fri 16 October are
    holidays and Saturday 17 is a make-up working day (调休上班)."""
    monkeypatch.setenv("SCIPASS_HOLIDAYS", "2026-10-15, 2026-10-16")
    monkeypatch.setenv("SCIPASS_MAKEUP_WORKDAYS", "2026-10-17")
    calendar = Settings(
        env=Environment.test,
        database_url=settings.database_url,
        upload_dir=settings.upload_dir,
        _env_file=None,  # type: ignore[call-arg]
    )
    assert calendar.holidays == [date(2026, 10, 15), date(2026, 10, 16)]
    app = create_app(calendar, database=Database(engine, bind=connection), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, calendar


def test_holidays_are_skipped_and_makeup_days_count(
    calendar_client: tuple[TestClient, Settings], session: Session, side_a: Side
) -> None:
    client, calendar = calendar_client
    _reviewed(session, side_a.student)
    response = client.post(
        "/api/v1/notices",
        json={"title": "国庆后公示"},
        headers=auth(calendar, side_a.principal(Role.school_admin)),
    )
    assert response.status_code == 201, response.text
    # Sat 17 (make-up), Mon 19, Tue 20, Wed 21, Thu 22: closes Friday 23 October 00:00
    assert _instant(response.json()["ends_at"]) == datetime(2026, 10, 23, 0, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("opened", "days", "holidays", "makeup", "ends"),
    [
        # Wednesday morning: Thu, Fri, Mon, Tue, Wed
        (datetime(2026, 10, 14, 10, 0, tzinfo=SHANGHAI), 5, [], [], date(2026, 10, 22)),
        # 01:00 Wednesday in Beijing is still Tuesday in UTC: the Beijing date decides
        (datetime(2026, 10, 13, 17, 0, tzinfo=UTC), 5, [], [], date(2026, 10, 22)),
        # 23:59 Wednesday in Beijing: counting still starts on Thursday
        (datetime(2026, 10, 14, 23, 59, tzinfo=SHANGHAI), 5, [], [], date(2026, 10, 22)),
        # Friday afternoon: the weekend does not count
        (datetime(2026, 10, 16, 17, 0, tzinfo=SHANGHAI), 5, [], [], date(2026, 10, 24)),
        # opened on a Saturday: Monday is the first day
        (datetime(2026, 10, 17, 9, 0, tzinfo=SHANGHAI), 1, [], [], date(2026, 10, 20)),
        # National Day week (Thu 1 - Wed 7 October) is skipped
        (
            datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI),
            5,
            [date(2026, 10, day) for day in range(1, 8)],
            [],
            date(2026, 10, 15),
        ),
        # ... and a make-up Saturday (10 October) counts
        (
            datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI),
            5,
            [date(2026, 10, day) for day in range(1, 8)],
            [date(2026, 10, 10)],
            date(2026, 10, 14),
        ),
        # the window ends after its last working day, not after the holiday that follows
        (
            datetime(2026, 9, 28, 10, 0, tzinfo=SHANGHAI),
            2,
            [date(2026, 10, day) for day in range(1, 8)],
            [],
            date(2026, 10, 1),
        ),
    ],
)
def test_window_end(
    opened: datetime, days: int, holidays: list[date], makeup: list[date], ends: date
) -> None:
    end = window_end(opened, days, holidays=holidays, makeup=makeup)
    assert end == datetime.combine(ends, time(0), SHANGHAI)
    assert end.utcoffset() == timedelta(hours=8)


def test_is_working_day() -> None:
    saturday, monday = date(2026, 10, 17), date(2026, 10, 19)
    assert not is_working_day(saturday, holidays=[], makeup=[])
    assert is_working_day(saturday, holidays=[], makeup=[saturday])
    assert is_working_day(monday, holidays=[], makeup=[])
    assert not is_working_day(monday, holidays=[monday], makeup=[])


# --- who sees a notice ----------------------------------------------------------------------------


def test_the_schools_families_and_staff_see_only_the_public_fields(
    api: Api, session: Session, side_a: Side
) -> None:
    classmate = create_student(session, school_id=side_a.school.id or 0, name="李华", grade=5)
    # 01:00 on 10 October in Beijing (still the 9th in UTC)
    mine = _reviewed(
        session, side_a.student, started_at=datetime(2026, 10, 9, 17, 0, tzinfo=UTC), minutes=95
    )
    theirs = _reviewed(session, classmate)
    notice = _publicise(api, side_a)

    for role in (Role.student, Role.guardian, Role.school_staff, Role.school_admin):
        principal = side_a.principal(role)
        listed = api.get("/api/v1/notices", principal)
        assert listed.status_code == 200, role
        assert [n["id"] for n in listed.json()["items"]] == [notice["id"]]
        entries = api.get(f"/api/v1/notices/{notice['id']}/entries", principal)
        assert entries.status_code == 200, role
        items = entries.json()["items"]
        assert entries.json()["total"] == 2
        assert all(set(item) == ENTRY_KEYS for item in items)
        by_id = {item["record_id"]: item for item in items}
        assert by_id[mine.id] == {
            "record_id": mine.id,
            "name": "张小明",
            "class_label": "四年级1班",
            "activity": mine.title,
            "activity_date": "2026-10-10",
            "minutes": 95,
            "marks": "",
        }
        assert by_id[theirs.id]["name"] == "李华"
        assert by_id[theirs.id]["class_label"] == "五年级1班"


def test_another_school_sees_no_notice(
    api: Api, session: Session, side_a: Side, side_b: Side
) -> None:
    _reviewed(session, side_a.student)
    notice = _publicise(api, side_a)
    for role in (Role.student, Role.guardian, Role.school_staff, Role.school_admin):
        principal = side_b.principal(role)
        listed = api.get("/api/v1/notices", principal)
        assert listed.status_code == 200
        assert listed.json()["total"] == 0, role
        entries = api.get(f"/api/v1/notices/{notice['id']}/entries", principal)
        assert entries.status_code == 404, role
        assert entries.json()["code"] == "notice_not_found"
    for role in (Role.venue_staff, Role.bureau, Role.wechat_user):
        refused = api.get(f"/api/v1/notices/{notice['id']}/entries", side_a.principal(role))
        assert refused.status_code == 403
        assert refused.json()["code"] == "role_forbidden"

    # a guardian whose link was revoked no longer sees the child's school
    side_a.guardian_link.revoked_at = NOW
    session.add(side_a.guardian_link)
    session.flush()
    guardian = side_a.principal(Role.guardian)
    assert api.get("/api/v1/notices", guardian).json()["total"] == 0
    gone = api.get(f"/api/v1/notices/{notice['id']}/entries", guardian)
    assert gone.json()["code"] == "notice_not_found"


def test_families_lose_the_notice_when_the_window_closes_but_staff_keep_it(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    _reviewed(session, side_a.student)
    notice = _publicise(api, side_a)
    url = f"/api/v1/notices/{notice['id']}/entries"

    clock.set(WINDOW_END - timedelta(seconds=1))
    assert api.get(url, side_a.principal(Role.guardian)).status_code == 200

    clock.set(WINDOW_END)
    for role in (Role.student, Role.guardian):
        principal = side_a.principal(role)
        assert api.get("/api/v1/notices", principal).json()["total"] == 0
        closed = api.get(url, principal)
        assert closed.status_code == 404
        assert closed.json()["code"] == "notice_not_found"
    staff = side_a.principal(Role.school_staff)
    listed = api.get("/api/v1/notices", staff).json()
    assert [(n["id"], n["is_open"]) for n in listed["items"]] == [(notice["id"], False)]
    assert api.get("/api/v1/notices?open_only=true", staff).json()["total"] == 0
    assert api.get(url, staff).status_code == 200


# --- objections -----------------------------------------------------------------------------------


def test_the_schools_students_guardians_and_staff_object_while_open(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    record = _reviewed(session, side_a.student)
    notice = _publicise(api, side_a)
    raised = []
    for role in (Role.student, Role.guardian, Role.school_staff):
        response = _object(api, side_a.principal(role), record.id or 0)
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["record_id"], body["notice_id"], body["status"]) == (
            record.id,
            notice["id"],
            "open",
        )
        assert body["raised_role"] == role.value
        assert body["resolution"] == ""
        assert body["resolved_at"] is None
        raised.append(body["id"])

    # a classmate may object too, up to the last second of the window
    _, classmate = _bound_student(session, side_a.school.id or 0)
    clock.set(WINDOW_END - timedelta(seconds=1))
    last = _object(api, classmate, record.id or 0)
    assert last.status_code == 201, last.text

    session.expire_all()
    rows = session.exec(select(RecordObjection).where(RecordObjection.record_id == record.id)).all()
    assert sorted(r.raised_by for r in rows) == sorted(
        [
            f"wechat:{side_a.student_user.id}",
            f"wechat:{side_a.guardian.id}",
            "account:900001",
            classmate.subject,
        ]
    )
    assert _fresh(session, record).status == "publicised"  # an objection holds, not rejects
    events = session.exec(
        select(RecordEvent).where(
            RecordEvent.record_id == record.id, RecordEvent.action == "objection"
        )
    ).all()
    assert len(events) == 4
    assert all(e.from_status == e.to_status == "publicised" for e in events)
    listed = api.get("/api/v1/objections?status=open", side_a.principal(Role.school_staff))
    assert listed.json()["total"] == 4


def test_objection_refusals(
    api: Api, session: Session, side_a: Side, side_b: Side, clock: FrozenClock
) -> None:
    record = _reviewed(session, side_a.student)
    _publicise(api, side_a)
    not_publicised = _reviewed(session, side_a.student)
    pending = create_record(session, student=side_a.student)
    student = side_a.principal(Role.student)

    assert _object(api, student, record.id or 0).status_code == 201
    twice = _object(api, student, record.id or 0, "还是不对")
    assert twice.status_code == 409
    assert twice.json()["code"] == "objection_duplicate"

    for role in (Role.student, Role.guardian, Role.school_staff):
        foreign = _object(api, side_b.principal(role), record.id or 0)
        assert foreign.status_code == 404, role
        assert foreign.json()["code"] == "record_not_found"
    for role in (Role.venue_staff, Role.venue_admin, Role.bureau):
        refused = _object(api, side_a.principal(role), record.id or 0)
        assert refused.status_code == 403, role
        assert refused.json()["code"] == "role_forbidden"
    for other in (not_publicised, pending):
        wrong = _object(api, side_a.principal(Role.guardian), other.id or 0)
        assert wrong.status_code == 409
        assert wrong.json()["code"] == "record_state_invalid"
    missing = _object(api, student, 10**9)
    assert missing.json()["code"] == "record_not_found"
    short = _object(api, side_a.principal(Role.guardian), record.id or 0, "x")
    assert short.status_code == 422
    assert short.json()["code"] == "validation_failed"
    blank = _object(api, side_a.principal(Role.guardian), record.id or 0, "   ")
    assert blank.status_code == 422
    assert blank.json()["code"] == "reason_required"

    clock.set(WINDOW_END)
    closed = _object(api, side_a.principal(Role.guardian), record.id or 0)
    assert closed.status_code == 409
    assert closed.json()["code"] == "notice_closed"

    session.expire_all()
    rows = session.exec(
        select(RecordObjection).where(
            col(RecordObjection.record_id).in_([record.id, not_publicised.id, pending.id])
        )
    ).all()
    assert [(r.record_id, r.raised_by) for r in rows] == [
        (record.id, f"wechat:{side_a.student_user.id}")
    ]


def test_an_upheld_objection_rejects_the_record_and_a_dismissed_one_keeps_it(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    wrong = _reviewed(session, side_a.student)
    right = _reviewed(session, side_a.student)
    _publicise(api, side_a)
    guardian = side_a.principal(Role.guardian)
    first = _object(api, guardian, wrong.id or 0).json()["id"]
    second = _object(api, guardian, right.id or 0).json()["id"]

    clock.advance(timedelta(hours=2))
    upheld = _resolve(api, side_a, first, "uphold", "经核实，当天未到场")
    assert upheld.status_code == 200, upheld.text
    assert upheld.json()["status"] == "upheld"
    assert upheld.json()["resolution"] == "经核实，当天未到场"
    assert _instant(upheld.json()["resolved_at"]) == clock.now()
    fresh = _fresh(session, wrong)
    assert (fresh.status, fresh.status_reason) == ("rejected", "经核实，当天未到场")
    objection = session.get(RecordObjection, first)
    assert objection is not None
    assert (objection.status, objection.resolved_by) == ("upheld", "account:900001")

    dismissed = _resolve(api, side_a, second, "dismiss", "记录属实")
    assert dismissed.status_code == 200
    assert dismissed.json()["status"] == "dismissed"
    assert _fresh(session, right).status == "publicised"

    actions = {
        record.id: [
            (e.action, e.from_status, e.to_status, e.actor_role)
            for e in session.exec(
                select(RecordEvent)
                .where(RecordEvent.record_id == record.id)
                .order_by(col(RecordEvent.id))
            ).all()
        ]
        for record in (wrong, right)
    }
    assert actions[wrong.id][-1] == ("objection_upheld", "publicised", "rejected", "school_admin")
    assert actions[right.id][-1] == (
        "objection_dismissed",
        "publicised",
        "publicised",
        "school_admin",
    )

    # once dismissed, the same guardian may object again while the window is open
    again = _object(api, guardian, right.id or 0, "补充材料：当天在外地")
    assert again.status_code == 201, again.text


def test_a_second_objection_is_upheld_after_the_first_rejected_the_record(
    api: Api, session: Session, side_a: Side
) -> None:
    record = _reviewed(session, side_a.student)
    _publicise(api, side_a)
    first = _object(api, side_a.principal(Role.student), record.id or 0).json()["id"]
    second = _object(api, side_a.principal(Role.guardian), record.id or 0).json()["id"]
    assert _resolve(api, side_a, first, "uphold", "当天未到场").status_code == 200

    also = _resolve(api, side_a, second, "uphold", "同上")
    assert also.status_code == 200, also.text
    assert also.json()["status"] == "upheld"
    fresh = _fresh(session, record)
    assert (fresh.status, fresh.status_reason) == ("rejected", "当天未到场")  # the first reason
    events = session.exec(
        select(RecordEvent)
        .where(RecordEvent.record_id == record.id)
        .order_by(col(RecordEvent.id).desc())
    ).all()
    assert [(e.action, e.from_status, e.to_status) for e in events[:2]] == [
        ("objection_upheld", "rejected", "rejected"),
        ("objection_upheld", "publicised", "rejected"),
    ]
    listed = api.get("/api/v1/objections?status=open", side_a.principal(Role.school_staff))
    assert listed.json()["total"] == 0  # nothing is left hanging


def test_resolution_refusals(api: Api, session: Session, side_a: Side, side_b: Side) -> None:
    record = _reviewed(session, side_a.student)
    _publicise(api, side_a)
    objection = _object(api, side_a.principal(Role.student), record.id or 0).json()["id"]
    url = f"/api/v1/objections/{objection}/resolution"
    body = {"decision": "uphold", "resolution": "成立"}

    staff = api.post(url, side_a.principal(Role.school_staff), json=body)
    assert staff.status_code == 403
    assert staff.json()["code"] == "role_forbidden"
    foreign = api.post(url, side_b.principal(Role.school_admin), json=body)
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "objection_not_found"
    unknown = api.post(
        "/api/v1/objections/999999999/resolution", side_a.principal(Role.school_admin), json=body
    )
    assert unknown.json()["code"] == "objection_not_found"
    no_text = api.post(
        url, side_a.principal(Role.school_admin), json={"decision": "dismiss", "resolution": ""}
    )
    assert no_text.status_code == 422
    assert _fresh(session, record).status == "publicised"

    assert _resolve(api, side_a, objection, "dismiss").status_code == 200
    for decision in ("uphold", "dismiss"):
        again = _resolve(api, side_a, objection, decision)
        assert again.status_code == 409
        assert again.json()["code"] == "objection_resolved"
    session.expire_all()
    stored = session.get(RecordObjection, objection)
    assert stored is not None
    assert stored.status == "dismissed"
    assert _fresh(session, record).status == "publicised"


# --- archiving ------------------------------------------------------------------------------------


def test_nothing_archives_before_the_window_ends(api: Api, session: Session, side_a: Side) -> None:
    record = _reviewed(session, side_a.student)
    _publicise(api, side_a)
    waiting = _reviewed(session, side_a.student)  # reviewed, in no notice
    for now in (NOW, WINDOW_END - timedelta(microseconds=1)):
        assert _archive(session, now) == 0
    fresh = _fresh(session, record)
    assert (fresh.status, fresh.archive_seq, fresh.content_hash) == ("publicised", None, None)

    assert _archive(session, WINDOW_END) == 1
    assert _fresh(session, record).status == "archived"
    assert _fresh(session, waiting).status == "reviewed"


def test_clean_records_archive_into_a_chain_per_student(
    api: Api, session: Session, side_a: Side
) -> None:
    classmate = create_student(session, school_id=side_a.school.id or 0)
    # created out of date order: the chain follows the activity dates
    late = _reviewed(session, side_a.student, started_at=datetime(2026, 10, 12, 1, tzinfo=UTC))
    early = _reviewed(session, side_a.student, started_at=datetime(2026, 10, 8, 1, tzinfo=UTC))
    middle = _reviewed(session, side_a.student, started_at=datetime(2026, 10, 10, 1, tzinfo=UTC))
    theirs = [_reviewed(session, classmate), _reviewed(session, classmate)]
    notice = _publicise(api, side_a)

    assert _archive(session, WINDOW_END) == 5
    previous = chain.GENESIS
    for seq, record in enumerate((early, middle, late), start=1):
        fresh = _fresh(session, record)
        assert fresh.status == "archived"
        assert (fresh.archive_seq, fresh.prev_hash) == (seq, previous)
        assert fresh.archived_at == WINDOW_END
        assert fresh.notice_id == notice["id"]
        assert fresh.content_hash == chain.content_hash(fresh, [], previous)
        previous = fresh.content_hash
    assert [_fresh(session, r).archive_seq for r in theirs] == [1, 2]
    assert _fresh(session, theirs[0]).prev_hash == chain.GENESIS

    assert _archive(session, WINDOW_END + timedelta(days=1)) == 0  # a second run finds nothing
    shown = api.get(f"/api/v1/records/{late.id}", side_a.principal(Role.student)).json()
    assert (shown["status"], shown["archive_seq"]) == ("archived", 3)
    assert shown["content_hash"] == previous


def test_an_open_objection_holds_the_record_until_it_is_dismissed(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    held = _reviewed(session, side_a.student, started_at=datetime(2026, 10, 5, 1, tzinfo=UTC))
    clean = _reviewed(session, side_a.student, started_at=datetime(2026, 10, 6, 1, tzinfo=UTC))
    _publicise(api, side_a)
    objection = _object(api, side_a.principal(Role.guardian), held.id or 0).json()["id"]

    clock.set(WINDOW_END)
    assert _archive(session, WINDOW_END) == 1
    assert _fresh(session, clean).archive_seq == 1
    fresh = _fresh(session, held)
    assert (fresh.status, fresh.archive_seq) == ("publicised", None)
    assert _archive(session, WINDOW_END + timedelta(days=3)) == 0  # still held

    clock.set(WINDOW_END + timedelta(days=4))
    assert _resolve(api, side_a, objection, "dismiss", "记录属实").status_code == 200
    assert _fresh(session, held).status == "publicised"
    assert _archive(session, clock.now()) == 1
    fresh = _fresh(session, held)
    assert (fresh.status, fresh.archive_seq) == ("archived", 2)
    assert fresh.prev_hash == _fresh(session, clean).content_hash
    report = _chain(api, side_a.principal(Role.student), side_a.student.id or 0).json()
    assert (report["valid"], report["length"]) == (True, 2)


def test_an_upheld_record_never_archives(api: Api, session: Session, side_a: Side) -> None:
    record = _reviewed(session, side_a.student)
    _publicise(api, side_a)
    objection = _object(api, side_a.principal(Role.school_staff), record.id or 0).json()["id"]
    assert _resolve(api, side_a, objection, "uphold", "成立").status_code == 200
    for days in (0, 10, 100):
        assert _archive(session, WINDOW_END + timedelta(days=days)) == 0
    fresh = _fresh(session, record)
    assert (fresh.status, fresh.archive_seq, fresh.content_hash) == ("rejected", None, None)


def test_every_step_is_in_the_history_with_its_actor_and_time(
    api: Api, session: Session, side_a: Side, side_b: Side, clock: FrozenClock
) -> None:
    started = datetime(2026, 10, 10, 1, 0, tzinfo=UTC)
    record, created = record_append.append_record(
        session,
        student=side_a.student,
        source=RecordSource.checkin,
        source_ref="visit-42",
        facts=record_append.RecordFacts(
            title="校园科技节",
            category=RecordCategory.science_visit,
            dimension=Dimension.social_practice,
            organiser_name=side_a.school.name,
            place="学校礼堂",
            started_at=started,
            ended_at=started + timedelta(hours=2),
            minutes=120,
            organiser_school_id=side_a.school.id,
        ),
        actor=None,
        now=NOW,
    )
    assert created
    session.flush()
    record_id = record.id or 0
    staff, admin = side_a.principal(Role.school_staff), side_a.principal(Role.school_admin)
    student, guardian = side_a.principal(Role.student), side_a.principal(Role.guardian)
    url = f"/api/v1/records/{record_id}"
    steps: list[tuple[timedelta, Principal, str, dict[str, Any]]] = [
        (timedelta(0), staff, f"{url}/organiser-decision", {"decision": "confirm"}),
        (timedelta(minutes=30), student, f"{url}/student-confirmation", {"reflection": "有意思"}),
        (timedelta(hours=1), staff, f"{url}/review", {"decision": "approve"}),
        (timedelta(hours=2), admin, "/api/v1/notices", {"title": "公示"}),
        (timedelta(days=1), guardian, f"{url}/objections", {"reason": "时长似乎不对"}),
    ]
    times = [NOW]
    for offset, principal, target, body in steps:
        clock.set(NOW + offset)
        response = api.post(target, principal, json=body)
        assert response.status_code in (200, 201), response.text
        times.append(clock.now())
    objection = session.exec(
        select(RecordObjection.id).where(RecordObjection.record_id == record_id)
    ).one()
    clock.set(NOW + timedelta(days=2))
    assert _resolve(api, side_a, objection or 0, "dismiss").status_code == 200
    times.append(clock.now())
    assert _archive(session, WINDOW_END) == 1
    times.append(WINDOW_END)

    history = api.get(f"{url}/history", student)
    assert history.status_code == 200
    assert [(e["action"], e["from_status"], e["to_status"]) for e in history.json()["items"]] == [
        ("created", None, "pending"),
        ("confirmed", "pending", "confirmed"),
        ("student_confirmed", "confirmed", "confirmed"),
        ("reviewed", "confirmed", "reviewed"),
        ("publicised", "reviewed", "publicised"),
        ("objection", "publicised", "publicised"),
        ("objection_dismissed", "publicised", "publicised"),
        ("archived", "publicised", "archived"),
    ]
    assert [_instant(e["at"]) for e in history.json()["items"]] == times
    assert "actor" not in history.json()["items"][0]  # who exactly stays in the database
    assert [e["actor_role"] for e in history.json()["items"]] == [
        "system",
        "school_staff",
        "student",
        "school_staff",
        "school_admin",
        "guardian",
        "school_admin",
        "system",
    ]
    rows = session.exec(
        select(RecordEvent).where(RecordEvent.record_id == record_id).order_by(col(RecordEvent.id))
    ).all()
    assert [e.actor for e in rows] == [
        "system",
        staff.subject,
        student.subject,
        staff.subject,
        admin.subject,
        guardian.subject,
        admin.subject,
        "system",
    ]
    foreign = api.get(f"{url}/history", side_b.principal(Role.guardian))
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "record_not_found"


def test_the_archive_job_archives_in_its_own_transaction(
    api: Api,
    session: Session,
    side_a: Side,
    engine: Engine,
    connection: Connection,
    clock: FrozenClock,
    settings: Settings,
) -> None:
    # Counters other tests' committed scans may have left would count in purge-telemetry: gone
    # in this test's own transaction (rolled back at its end).
    session.execute(delete(RateLimitCounter))
    record = _reviewed(session, side_a.student)
    _publicise(api, side_a)
    database = Database(engine, bind=connection)
    assert scheduled_jobs().run_once(database, clock, settings) == {
        "close-visits": 0,
        "publish-competition-results": 0,
        "archive-records": 0,
        "purge-telemetry": 0,
        "purge-idempotency-keys": 0,
        "clean-evidence": 0,
        "expire-job-results": 0,
        "carry-out-deletions": 0,
        "delete-unbound-wechat-users": 0,
        "purge-console-sessions": 0,
    }
    clock.set(WINDOW_END)
    assert scheduled_jobs().run_once(database, clock, settings) == {
        "close-visits": 0,
        "publish-competition-results": 0,
        "archive-records": 1,
        "purge-telemetry": 0,
        "purge-idempotency-keys": 0,
        "clean-evidence": 0,
        "expire-job-results": 0,
        "carry-out-deletions": 0,
        "delete-unbound-wechat-users": 0,
        "purge-console-sessions": 0,
    }
    fresh = _fresh(session, record)
    assert (fresh.status, fresh.archive_seq) == ("archived", 1)
    assert fresh.content_hash == chain.content_hash(fresh, [], chain.GENESIS)


# --- the chain ------------------------------------------------------------------------------------


def test_an_untouched_chain_verifies(api: Api, session: Session, side_a: Side) -> None:
    records = _archived_chain(api, session, side_a)
    response = _chain(api, side_a.principal(Role.student), side_a.student.id or 0)
    assert response.status_code == 200
    assert response.json() == {
        "student_id": side_a.student.id,
        "valid": True,
        "length": 3,
        "head_hash": records[-1].content_hash,
        "broken_record_id": None,
        "problem": None,
    }
    empty = create_student(session, school_id=side_a.school.id or 0)
    nothing = _chain(api, side_a.principal(Role.school_staff), empty.id or 0).json()
    assert (nothing["valid"], nothing["length"], nothing["head_hash"]) == (
        True,
        0,
        chain.GENESIS,
    )


@pytest.mark.parametrize(
    "change",
    [
        {"minutes": 999},
        {"title": "改过的活动名称"},
        {"reflection": "别人替我写的感想"},
        {"attester_phone": "13900000000"},
        {"started_at": datetime(2026, 10, 1, 1, 0, tzinfo=UTC)},
        {"outcome": "一等奖"},
    ],
)
def test_editing_an_archived_row_breaks_the_chain_at_that_record(
    api: Api, session: Session, side_a: Side, change: dict[str, Any]
) -> None:
    records = _archived_chain(api, session, side_a)
    session.execute(
        update(ParticipationRecord)
        .where(col(ParticipationRecord.id) == records[1].id)
        .values(**change)
    )
    session.expire_all()
    report = _chain(api, side_a.principal(Role.school_staff), side_a.student.id or 0).json()
    assert report["valid"] is False
    assert (report["broken_record_id"], report["problem"]) == (records[1].id, "content")
    assert report["head_hash"] == records[0].content_hash  # the last record that still holds


def test_a_rehashed_edit_breaks_the_next_link(api: Api, session: Session, side_a: Side) -> None:
    records = _archived_chain(api, session, side_a)
    target = records[1]
    target.minutes = 999
    target.content_hash = chain.content_hash(target, [], target.prev_hash or "")
    session.add(target)
    session.flush()
    session.expire_all()
    report = _chain(api, side_a.principal(Role.bureau), side_a.student.id or 0).json()
    assert (report["valid"], report["broken_record_id"], report["problem"]) == (
        False,
        records[2].id,
        "link",
    )


def test_a_changed_prev_hash_breaks_the_link(api: Api, session: Session, side_a: Side) -> None:
    records = _archived_chain(api, session, side_a)
    session.execute(
        update(ParticipationRecord)
        .where(col(ParticipationRecord.id) == records[2].id)
        .values(prev_hash="f" * 64)
    )
    session.expire_all()
    report = _chain(api, side_a.principal(Role.student), side_a.student.id or 0).json()
    assert (report["valid"], report["broken_record_id"], report["problem"]) == (
        False,
        records[2].id,
        "link",
    )


def test_a_deleted_record_breaks_the_chain(api: Api, session: Session, side_a: Side) -> None:
    records = _archived_chain(api, session, side_a)
    first = records[0].id
    session.execute(delete(RecordEvent).where(col(RecordEvent.record_id) == first))
    session.execute(delete(ParticipationRecord).where(col(ParticipationRecord.id) == first))
    session.expire_all()
    student = side_a.principal(Role.student)
    report = _chain(api, student, side_a.student.id or 0).json()
    assert (report["valid"], report["broken_record_id"], report["problem"]) == (
        False,
        records[1].id,
        "sequence",
    )

    # renumbering to hide the gap leaves the link to the deleted record
    for record in records[1:]:
        session.execute(
            update(ParticipationRecord)
            .where(col(ParticipationRecord.id) == record.id)
            .values(archive_seq=(record.archive_seq or 0) - 1)
        )
    session.expire_all()
    report = _chain(api, student, side_a.student.id or 0).json()
    assert (report["valid"], report["broken_record_id"], report["problem"]) == (
        False,
        records[1].id,
        "link",
    )


def test_who_may_verify_a_students_chain(
    api: Api, session: Session, side_a: Side, side_b: Side
) -> None:
    _archived_chain(api, session, side_a, count=1)
    student_id = side_a.student.id or 0
    for role in (
        Role.student,
        Role.guardian,
        Role.school_staff,
        Role.school_admin,
        Role.bureau,
        Role.platform_admin,
    ):
        response = _chain(api, side_a.principal(role), student_id)
        assert response.status_code == 200, role
        assert response.json()["valid"] is True
    _, classmate = _bound_student(session, side_a.school.id or 0)
    for principal in (
        classmate,
        side_b.principal(Role.student),
        side_b.principal(Role.guardian),
        side_b.principal(Role.school_staff),
        side_b.principal(Role.bureau),
    ):
        response = _chain(api, principal, student_id)
        assert response.status_code == 404, principal
        assert response.json()["code"] == "student_not_found"
    venue = _chain(api, side_a.principal(Role.venue_staff), student_id)
    assert venue.status_code == 403
    assert venue.json()["code"] == "role_forbidden"
    missing = _chain(api, side_a.principal(Role.school_staff), 10**9)
    assert missing.json()["code"] == "student_not_found"


# --- void and correct -----------------------------------------------------------------------------


def test_void_issues_a_correction_and_keeps_the_chain(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    records = _archived_chain(api, session, side_a, count=2)
    old = records[0]
    old_hash = old.content_hash
    clock.set(WINDOW_END + timedelta(days=1))
    response = api.post(
        f"/api/v1/records/{old.id}/void",
        side_a.principal(Role.school_admin),
        json={"reason": "时长登记错误", "correction": {"minutes": 90, "title": "更正后的活动"}},
    )
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["id"] != old.id
    assert (new["replaces_id"], new["source"], new["status"]) == (old.id, "correction", "reviewed")
    assert (new["minutes"], new["title"]) == (90, "更正后的活动")
    assert (new["place"], new["category"], new["reflection"]) == (
        old.place,
        old.category,
        old.reflection,
    )
    assert _instant(new["started_at"]) == old.started_at
    assert (new["archive_seq"], new["content_hash"], new["notice_id"]) == (None, None, None)

    voided = _fresh(session, old)
    assert (voided.status, voided.status_reason) == ("voided", "时长登记错误")
    assert (voided.archive_seq, voided.content_hash) == (1, old_hash)
    event = session.exec(
        select(RecordEvent).where(RecordEvent.record_id == old.id, RecordEvent.action == "voided")
    ).one()
    assert (event.from_status, event.to_status, event.note, event.actor) == (
        "archived",
        "voided",
        "时长登记错误",
        "account:900001",
    )
    audit = session.exec(select(AuditLog).where(AuditLog.action == "record_voided")).one()
    assert audit.object_id == str(old.id)

    report = _chain(api, side_a.principal(Role.student), side_a.student.id or 0).json()
    assert (report["valid"], report["length"]) == (True, 2)  # the voided record stays in it

    # the correction goes through the next notice and extends the chain
    notice = _publicise(api, side_a)
    assert notice["record_count"] == 1
    assert _archive(session, datetime.fromisoformat(notice["ends_at"])) == 1
    correction = session.get(ParticipationRecord, new["id"])
    assert correction is not None
    assert (correction.status, correction.archive_seq) == ("archived", 3)
    assert correction.prev_hash == records[1].content_hash
    report = _chain(api, side_a.principal(Role.student), side_a.student.id or 0).json()
    assert (report["valid"], report["length"]) == (True, 3)


def test_void_refusals(api: Api, session: Session, side_a: Side, side_b: Side) -> None:
    archived = _archived_chain(api, session, side_a, count=1)[0]
    publicised = _reviewed(session, side_a.student)
    _publicise(api, side_a)
    reviewed = _reviewed(session, side_a.student)
    admin = side_a.principal(Role.school_admin)

    def void(record_id: int, body: dict[str, Any], principal: Principal = admin) -> Any:
        return api.post(f"/api/v1/records/{record_id}/void", principal, json=body)

    reason = {"reason": "登记错误"}
    for record in (publicised, reviewed):
        wrong = void(record.id or 0, reason)
        assert wrong.status_code == 409
        assert wrong.json()["code"] == "record_state_invalid"
    for body, code in (
        ({}, "validation_failed"),
        ({"reason": ""}, "validation_failed"),
        ({"reason": "   "}, "reason_required"),
        ({**reason, "correction": {"minutes": -1}}, "validation_failed"),
    ):
        invalid = void(archived.id or 0, body)
        assert invalid.status_code == 422, body
        assert invalid.json()["code"] == code
    backwards = void(
        archived.id or 0,
        {**reason, "correction": {"ended_at": "2026-10-01T00:00:00+08:00"}},
    )
    assert backwards.status_code == 422
    assert backwards.json()["code"] == "record_invalid"
    staff = void(archived.id or 0, reason, side_a.principal(Role.school_staff))
    assert staff.status_code == 403
    assert staff.json()["code"] == "role_forbidden"
    foreign = void(archived.id or 0, reason, side_b.principal(Role.school_admin))
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "record_not_found"

    # none of that voided the record or issued a correction
    fresh = _fresh(session, archived)
    assert (fresh.status, fresh.status_reason) == ("archived", "")
    assert (
        session.exec(
            select(ParticipationRecord).where(ParticipationRecord.source == "correction")
        ).all()
        == []
    )

    assert void(archived.id or 0, reason).status_code == 201
    twice = void(archived.id or 0, reason)
    assert twice.status_code == 409
    assert twice.json()["code"] == "record_state_invalid"


def test_an_archived_record_changes_by_no_other_step(
    api: Api, session: Session, side_a: Side
) -> None:
    record = _archived_chain(api, session, side_a, count=1)[0]
    before = (record.reflection, record.minutes, record.content_hash)
    url = f"/api/v1/records/{record.id}"
    staff, student = side_a.principal(Role.school_staff), side_a.principal(Role.student)
    attempts: list[tuple[Principal, str, dict[str, Any]]] = [
        (student, f"{url}/student-confirmation", {"reflection": "改写感想"}),
        (student, f"{url}/withdrawal", {"reason": "不想要了"}),
        (staff, f"{url}/review", {"decision": "approve"}),
        (staff, f"{url}/review", {"decision": "reject", "reason": "重审"}),
        (staff, f"{url}/organiser-decision", {"decision": "confirm"}),
        (staff, f"{url}/organiser-decision", {"decision": "reject", "reason": "重审"}),
        (side_a.principal(Role.guardian), f"{url}/objections", {"reason": "时长不对"}),
    ]
    for principal, target, body in attempts:
        response = api.post(target, principal, json=body)
        assert response.status_code == 409, target
        assert response.json()["code"] == "record_state_invalid"
    upload = api.post(
        f"{url}/evidence",
        staff,
        files={"file": ("cert.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
    )
    assert upload.status_code == 409
    assert upload.json()["code"] == "record_state_invalid"
    bulk = api.post(
        "/api/v1/records/reviews", staff, json={"decision": "approve", "record_ids": [record.id]}
    )
    assert bulk.json()["items"] == [
        {"record_id": record.id, "ok": False, "status": None, "code": "record_state_invalid"}
    ]
    again = api.post(
        "/api/v1/notices", side_a.principal(Role.school_admin), json={"title": "再公示"}
    )
    assert again.json()["code"] == "nothing_to_publicise"

    fresh = _fresh(session, record)
    assert fresh.status == "archived"
    assert (fresh.reflection, fresh.minutes, fresh.content_hash) == before
    assert _chain(api, student, side_a.student.id or 0).json()["valid"] is True
