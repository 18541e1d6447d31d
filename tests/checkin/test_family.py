"""Family mode at the door (issue 15): a guardian scans a venue's code for a linked child
(``POST /checkins?student_id=``, by the fast path and the route alike), or once for several
children (``POST /checkins/family``).

The clock stands at Wednesday 2026-10-14 10:00 Beijing; the activity runs 10:00-16:00 there.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from scipass.account.models import WeChatUser
from scipass.activity.models import Activity
from scipass.checkin import codes
from scipass.checkin.batch import SELF_SCANS
from scipass.checkin.family import child_key
from scipass.checkin.models import ActivityCode, CheckIn, ScanEvent
from scipass.checkin.schemas import CheckInCreate
from scipass.checkin.self_scan import SelfScanWork, rate_key
from scipass.checkin.views import ScanCache
from scipass.consent.models import ConsentRecord
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.core.idempotency import IdempotencyKeyRecord
from scipass.core.ratelimit import RateLimitCounter
from scipass.main import create_app
from scipass.org.models import Region, School, Venue
from scipass.record.models import ParticipationRecord, RecordEvent
from scipass.roster.models import GuardianLink, Student
from tests.checkin.test_checkin import (  # noqa: F401  # activity is a fixture
    CENTRE,
    activity,
    count,
    new_code,
    refused,
)
from tests.checkin.test_fastpath import PAD, answered  # noqa: F401  # answered is a fixture
from tests.databases import ENGINE_NAME
from tests.factories import (
    NOW,
    WEEK,
    Side,
    auth,
    create_student,
    create_wechat_user,
    grant_consent,
    link_guardian,
    token,
)
from tests.servers import serve

FOURTEEN = date(2012, 5, 1)  # 14 in October 2026
TEN = date(2016, 3, 1)


# --- helpers ----------------------------------------------------------------------------------


def add_child(
    session: Session,
    side: Side,
    *,
    born: date = TEN,
    own_wechat: bool = False,
    consents: tuple[str, ...] = ("participation_record", "location"),
) -> Student:
    """Another pupil of ``side``'s school linked to ``side``'s guardian (with their own WeChat
    binding or none), with the guardian's consent for ``consents``."""
    binding: dict[str, object] = {}
    if own_wechat:
        binding = {"wechat_user_id": create_wechat_user(session).id, "binding_code": None}
    child = create_student(session, school_id=side.school.id or 0, birth_month=born, **binding)
    link = link_guardian(session, guardian=side.guardian, student=child)
    if consents:
        grant_consent(session, student=child, link=link, purposes=consents)
    return child


def guardian(side: Side) -> Principal:
    return side.principal(Role.guardian)


def guardian_scan(
    client: TestClient,
    settings: Settings,
    principal: Principal,
    code: str,
    child: int | None,
    *,
    key: str,
    route: bool = False,
    query: str | None = None,
    **body: Any,
) -> Any:
    """A scan for ``child`` (``?student_id=``); ``route``: padded past the fast path's body
    limit, so that the FastAPI route answers it."""
    content = json.dumps({"code": code, **body}) + (PAD if route else "")
    if query is None:
        query = f"student_id={child}" if child is not None else ""
    return client.post(
        "/api/v1/checkins" + (f"?{query}" if query else ""),
        content=content.encode(),
        headers={
            **auth(settings, principal, now=client.app.state.clock.now()),
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        },
    )


def family_scan(
    client: TestClient,
    settings: Settings,
    principal: Principal,
    code: str,
    children: list[int],
    *,
    key: str,
    **body: Any,
) -> Any:
    return client.post(
        "/api/v1/checkins/family",
        json={"code": code, "student_ids": children, **body},
        headers={
            **auth(settings, principal, now=client.app.state.clock.now()),
            "Idempotency-Key": key,
        },
    )


def events_of(session: Session, student: Student) -> list[ScanEvent]:
    return list(
        session.exec(
            select(ScanEvent).where(ScanEvent.student_id == student.id).order_by(col(ScanEvent.id))
        ).all()
    )


def same_answer(fast: Any, slow: Any) -> None:
    assert (fast.status_code, fast.headers["content-type"]) == (
        slow.status_code,
        slow.headers["content-type"],
    )
    left, right = fast.json(), slow.json()
    for body in (left, right):
        body.pop("request_id", None)
    assert left == right


# --- one child --------------------------------------------------------------------------------


def test_a_guardian_checks_in_each_linked_child_by_the_fast_path_and_the_route(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
    answered: list[bool],  # noqa: F811
) -> None:
    second = add_child(session, side_a)
    code = new_code(client, settings, side_a, activity)["payload"]
    subject = guardian(side_a).subject

    fast = guardian_scan(
        client, settings, guardian(side_a), code, side_a.student.id, key="gk-00010"
    )
    slow = guardian_scan(
        client, settings, guardian(side_a), code, second.id, key="gk-00020", route=True
    )

    assert answered == [True]  # the padded one never reached the fast path's answer
    for response, child in ((fast, side_a.student), (slow, second)):
        assert response.status_code == 201, response.text
        visit = response.json()
        assert visit["student_id"] == child.id
        check_in = session.get(CheckIn, visit["id"])
        assert check_in is not None
        assert (check_in.student_id, check_in.operator) == (child.id, subject)
        assert check_in.school_id == side_a.school.id
        (event,) = events_of(session, child)
        assert (event.result, event.operator, event.school_id) == (
            "accepted",
            subject,
            side_a.school.id,
        )
        record = session.get(ParticipationRecord, visit["record_id"])
        assert record is not None
        assert (record.student_id, record.created_by) == (child.id, subject)
        history = session.exec(select(RecordEvent).where(RecordEvent.record_id == record.id)).one()
        assert (history.action, history.actor, history.actor_role) == (
            "created",
            subject,
            "guardian",
        )


def test_an_unlinked_child_and_a_revoked_link_are_not_found_and_leave_no_scan_event(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    activity: Activity,  # noqa: F811
    answered: list[bool],  # noqa: F811
) -> None:
    code = new_code(client, settings, side_a, activity)["payload"]
    stranger = guardian(side_b)  # another family's guardian
    revoked = add_child(session, side_a)
    link = session.exec(select(GuardianLink).where(GuardianLink.student_id == revoked.id)).one()
    link.revoked_at = NOW - timedelta(days=1)
    session.add(link)
    session.flush()

    answers = [
        guardian_scan(client, settings, stranger, code, side_a.student.id, key="nl-00010"),
        guardian_scan(
            client, settings, stranger, code, side_a.student.id, key="nl-00020", route=True
        ),
        guardian_scan(client, settings, guardian(side_a), code, revoked.id, key="nl-00030"),
        guardian_scan(client, settings, guardian(side_a), code, 2**53 - 1, key="nl-00040"),
        # even with a code that is no code: nothing is judged, nothing stored
        guardian_scan(
            client, settings, stranger, "S.NOTACODE.DEV.XXXX", side_a.student.id, key="nl-00050"
        ),
    ]

    for response in answers:
        refused(response, "student_not_found", 404)
    same_answer(answers[0], answers[1])
    assert answered == [True, True, True, True]  # the padded one went to the route
    assert count(session, ScanEvent) == 0
    assert count(session, CheckIn) == 0


def test_a_pupil_of_14_with_their_own_binding_scans_for_themselves(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    bound = add_child(session, side_a, born=FOURTEEN, own_wechat=True, consents=())
    unbound = add_child(session, side_a, born=FOURTEEN, consents=())
    code = new_code(client, settings, side_a, activity)["payload"]

    refused(
        guardian_scan(client, settings, guardian(side_a), code, bound.id, key="14-00001"),
        "child_acts_for_self",
        403,
    )
    refused(
        guardian_scan(
            client, settings, guardian(side_a), code, bound.id, key="14-00002", route=True
        ),
        "child_acts_for_self",
        403,
    )
    assert events_of(session, bound) == []
    accepted = guardian_scan(client, settings, guardian(side_a), code, unbound.id, key="14-00003")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["student_id"] == unbound.id


@pytest.mark.skipif(ENGINE_NAME != "postgresql", reason="the batch statement is PostgreSQL's")
def test_a_batch_counts_no_rate_for_a_pupil_who_scans_for_themselves(
    session: Session, settings: Settings, side_a: Side
) -> None:
    """A scan alone is refused (child_acts_for_self) before it is counted; the batch's one
    statement that counts every scan of the batch (checkin/batch.py) leaves it out alike."""
    bound = add_child(session, side_a, born=FOURTEEN, own_wechat=True, consents=())
    unbound = add_child(session, side_a, born=FOURTEEN, consents=())
    works = [
        SelfScanWork(
            settings=settings,
            cache=ScanCache(),
            actor=guardian(side_a),
            student_id=child.id,
            data=CheckInCreate(code="S.NOTACODE"),
            nonce=f"batch-14-{n:04d}",
            now=NOW,
            rate_key=rate_key(guardian(side_a), child.id),
        )
        for n, child in enumerate([bound, unbound])
    ]
    batch = SELF_SCANS.prepare(session, works)
    assert batch is not None
    assert batch.attempts == {works[1].caller_key: 1}
    counters = session.exec(
        select(RateLimitCounter.key, RateLimitCounter.count).where(
            col(RateLimitCounter.key).in_([w.rate_key for w in works])
        )
    ).all()
    assert counters == [(works[1].rate_key, 1)]


def test_a_guardian_names_the_child_and_a_pupil_only_themselves(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
    answered: list[bool],  # noqa: F811
) -> None:
    code = new_code(client, settings, side_a, activity)["payload"]
    other = add_child(session, side_a)
    pupil = side_a.principal(Role.student)
    missing = [
        guardian_scan(client, settings, guardian(side_a), code, None, key="nm-00010"),
        guardian_scan(client, settings, guardian(side_a), code, None, key="nm-00020", route=True),
    ]
    for response in missing:
        refused(response, "student_id_required", 422)
    same_answer(*missing)
    refused(
        guardian_scan(client, settings, pupil, code, other.id, key="nm-00030"),
        "student_not_found",
        404,
    )
    own = guardian_scan(client, settings, pupil, code, side_a.student.id, key="nm-00040")
    assert own.status_code == 201, own.text
    # A query the fast path does not read plainly goes to the route, which answers it.
    twice = f"student_id={other.id}&student_id={other.id}"
    for query, status in (
        (twice, 201),
        ("student_id=abc", 422),
        ("student_id=0", 422),
        ("student_id=", 422),
    ):
        response = guardian_scan(
            client, settings, guardian(side_a), code, None, key="nm-00050", query=query
        )
        assert response.status_code == status, (query, response.text)
    assert answered == [True, True, True, False, False, False, False]
    assert count(session, ScanEvent, operator=guardian(side_a).subject) == 1  # the route's one


def test_the_fast_path_and_the_route_answer_a_guardian_alike(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
    answered: list[bool],  # noqa: F811
) -> None:
    code = new_code(client, settings, side_a, activity)["payload"]
    child = side_a.student.id
    first = guardian_scan(client, settings, guardian(side_a), code, child, key="alike-001")
    assert first.status_code == 201
    same_answer(
        guardian_scan(client, settings, guardian(side_a), code, child, key="alike-002"),
        guardian_scan(client, settings, guardian(side_a), code, child, key="alike-003", route=True),
    )
    same_answer(  # a retry of the first scan, by either path
        guardian_scan(client, settings, guardian(side_a), code, child, key="alike-001"),
        guardian_scan(client, settings, guardian(side_a), code, child, key="alike-001", route=True),
    )
    no_consent = add_child(session, side_a, consents=())
    same_answer(
        guardian_scan(client, settings, guardian(side_a), code, no_consent.id, key="alike-004"),
        guardian_scan(
            client, settings, guardian(side_a), code, no_consent.id, key="alike-005", route=True
        ),
    )
    assert answered == [True, True, True, True]  # and the padded ones went to the route


def test_the_childs_location_consent_decides_for_a_guardians_location(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    activity.geofence_radius_m = 200
    activity.geofence_max_accuracy_m = 50
    session.add(activity)
    session.flush()
    without = add_child(session, side_a, consents=("participation_record",))
    code = new_code(client, settings, side_a, activity)["payload"]
    here = {"latitude": CENTRE[0], "longitude": CENTRE[1], "accuracy": 10}

    allowed = guardian_scan(
        client, settings, guardian(side_a), code, side_a.student.id, key="loc-0001", location=here
    )
    assert allowed.status_code == 201, allowed.text
    body = refused(
        guardian_scan(
            client, settings, guardian(side_a), code, without.id, key="loc-0002", location=here
        ),
        "location_required",
        422,
    )
    assert body["consent"] is False
    (kept,) = events_of(session, side_a.student)
    assert kept.latitude is not None
    (dropped,) = events_of(session, without)
    assert dropped.latitude is None


def test_the_scan_rate_is_the_childs(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    activity: Activity,  # noqa: F811
) -> None:
    settings.scan_rate_per_minute = 2
    code = new_code(client, settings, side_a, activity)["payload"]
    child = side_a.student
    second = add_child(session, side_a)
    # a stranger naming the child is refused and does not use up the child's rate
    for i in range(5):
        refused(
            guardian_scan(client, settings, guardian(side_b), code, child.id, key=f"st-{i:05d}"),
            "student_not_found",
            404,
        )
    first = guardian_scan(client, settings, guardian(side_a), code, child.id, key="rate-0001")
    assert first.status_code == 201, first.text
    own = guardian_scan(
        client, settings, side_a.principal(Role.student), code, None, key="rate-020"
    )
    assert own.status_code == 200, own.text  # the child's own phone: the child's second scan
    refused(
        guardian_scan(client, settings, guardian(side_a), code, child.id, key="rate-0003"),
        "rate_limited",
        429,
    )
    # the same phone for another child: that child's first scan
    other = guardian_scan(client, settings, guardian(side_a), code, second.id, key="rate-0004")
    assert other.status_code == 201, other.text


def test_a_key_used_for_one_child_is_not_used_for_another(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    code = new_code(client, settings, side_a, activity)["payload"]
    second = add_child(session, side_a)
    first = guardian_scan(
        client, settings, guardian(side_a), code, side_a.student.id, key="kk-00010"
    )
    assert first.status_code == 201
    refused(
        guardian_scan(client, settings, guardian(side_a), code, second.id, key="kk-00010"),
        "idempotency_key_reused",
        409,
    )
    refused(
        guardian_scan(
            client, settings, guardian(side_a), code, second.id, key="kk-00010", route=True
        ),
        "idempotency_key_reused",
        409,
    )
    assert count(session, CheckIn, student_id=second.id) == 0
    again = guardian_scan(
        client, settings, guardian(side_a), code, side_a.student.id, key="kk-00010"
    )
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])


# --- a family scan ----------------------------------------------------------------------------


def test_a_family_scan_checks_in_the_others_when_one_child_is_refused(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    activity: Activity,  # noqa: F811
) -> None:
    code = new_code(client, settings, side_a, activity)["payload"]
    no_consent = add_child(session, side_a, consents=())
    older = add_child(session, side_a, born=FOURTEEN, consents=())
    children = [side_a.student.id or 0, no_consent.id or 0, side_b.student.id or 0, older.id or 0]

    response = family_scan(client, settings, guardian(side_a), code, children, key="family-0001")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicate"], body["refused"]) == (2, 0, 2)
    items = body["items"]
    assert [i["student_id"] for i in items] == children
    assert [(i["result"], i["code"]) for i in items] == [
        ("accepted", None),
        ("refused", "consent_required"),
        ("refused", "student_not_found"),
        ("accepted", None),
    ]
    assert items[1]["title"]
    assert items[1]["check_in"] is None
    for item in (items[0], items[3]):
        visit = item["check_in"]
        assert (visit["student_id"], visit["duplicate"]) == (item["student_id"], False)
        check_in = session.get(CheckIn, visit["id"])
        assert check_in is not None
        assert check_in.operator == guardian(side_a).subject
    # the refusal for want of consent is data; the other family's child has no event at all
    (refusal,) = events_of(session, no_consent)
    assert (refusal.result, refusal.reason, refusal.operator) == (
        "refused",
        "consent_required",
        guardian(side_a).subject,
    )
    assert refusal.nonce == child_key("family-0001", no_consent.id or 0)
    assert events_of(session, side_b.student) == []

    # a retry answers each child as the first time, and writes nothing more
    events = count(session, ScanEvent)
    again = family_scan(client, settings, guardian(side_a), code, children, key="family-0001")
    assert again.status_code == 200
    assert again.json() == body
    assert count(session, ScanEvent) == events
    # the same children scanned again with a new key: duplicates
    later = family_scan(client, settings, guardian(side_a), code, children, key="family-0002")
    assert [i["result"] for i in later.json()["items"]] == [
        "duplicate",
        "refused",
        "refused",
        "duplicate",
    ]
    assert later.json()["items"][0]["check_in"]["id"] == items[0]["check_in"]["id"]


def test_a_family_key_is_one_request(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    code = new_code(client, settings, side_a, activity)["payload"]
    second = add_child(session, side_a)
    child = side_a.student.id or 0
    first = family_scan(client, settings, guardian(side_a), code, [child], key="fk-000001")
    assert first.json()["accepted"] == 1
    # the same key for other children, or for a scan of one child, is another request
    refused(
        family_scan(
            client, settings, guardian(side_a), code, [child, second.id or 0], key="fk-000001"
        ),
        "idempotency_key_reused",
        409,
    )
    refused(
        guardian_scan(client, settings, guardian(side_a), code, second.id, key="fk-000001"),
        "idempotency_key_reused",
        409,
    )
    single = guardian_scan(client, settings, guardian(side_a), code, second.id, key="fk-000002")
    assert single.status_code == 201
    refused(
        family_scan(client, settings, guardian(side_a), code, [second.id or 0], key="fk-000002"),
        "idempotency_key_reused",
        409,
    )
    assert count(session, CheckIn, student_id=second.id) == 1


def test_a_family_scan_takes_a_guardian_a_key_and_up_to_ten_children(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    activity: Activity,  # noqa: F811
) -> None:
    code = new_code(client, settings, side_a, activity)["payload"]
    child = side_a.student.id or 0
    refused(
        family_scan(
            client, settings, side_a.principal(Role.student), code, [child], key="fx-01-key"
        ),
        "role_forbidden",
        403,
    )
    no_key = client.post(
        "/api/v1/checkins/family",
        json={"code": code, "student_ids": [child]},
        headers=auth(settings, guardian(side_a)),
    )
    refused(no_key, "validation_failed", 422)
    for children in ([], list(range(1, 12))):
        refused(
            family_scan(client, settings, guardian(side_a), code, children, key="fx-02-key"),
            "validation_failed",
            422,
        )
    once = family_scan(client, settings, guardian(side_a), code, [child, child], key="fx-03-key")
    assert [i["student_id"] for i in once.json()["items"]] == [child]
    long_key = "k" * 64
    assert len(child_key(long_key, 2**53 - 1)) <= 64
    longest = family_scan(client, settings, guardian(side_a), code, [child], key=long_key)
    assert longest.json()["items"][0]["result"] == "duplicate"


# --- 100 identical family scans at once -------------------------------------------------------

REGION = "920000"
SCANS = 100


@pytest.fixture
def family(engine: Engine, settings: Settings) -> Iterator[dict[str, Any]]:
    """Committed: a school, a venue, an open activity with a poster code, and a guardian with
    three children (10 with consent, 10 with consent and a WeChat of their own, 15 without)."""
    with Session(engine) as s:
        s.add(Region(code=REGION, name="家长扫码省", level="province"))
        s.flush()
        school = School(
            name="家长扫码小学",
            region_code=REGION,
            stages="primary,junior",
            area="urban",
            created_at=NOW,
        )
        venue = Venue(
            name="家长扫码科技馆",
            kind="science_museum",
            region_code=REGION,
            longitude=112.9,
            latitude=27.8,
            created_at=NOW,
            weekly_hours=WEEK,
            open_weekdays="0111111",
            stages="primary,junior",
            listed=True,
        )
        parent = WeChatUser(
            openid="o-family-parent", kind="guardian", created_at=NOW, last_login_at=NOW
        )
        own = WeChatUser(openid="o-family-child", kind="student", created_at=NOW, last_login_at=NOW)
        s.add_all([school, venue, parent, own])
        s.flush()
        children = [
            Student(
                school_id=school.id or 0,
                student_no=f"FAM{i}",
                name=f"家长扫码学生{i}",
                gender="female",
                birth_month=born,
                stage="primary" if born.year > 2012 else "junior",
                grade=4 if born.year > 2012 else 9,
                class_name="1班",
                wechat_user_id=user,
                created_at=NOW,
                updated_at=NOW,
            )
            for i, (born, user) in enumerate([(TEN, None), (TEN, own.id), (date(2011, 5, 1), None)])
        ]
        activity = Activity(
            venue_id=venue.id,
            kind="venue_visit",
            title="家庭科技日",
            starts_at=NOW - timedelta(minutes=10),
            ends_at=NOW + timedelta(hours=4),
            place_name="家长扫码科技馆",
            admission="open",
            stages="primary,junior",
            credited_minutes=120,
            record_category="science_visit",
            dimension="social_practice",
            status="published",
            created_by="test",
            created_at=NOW,
            updated_at=NOW,
        )
        s.add_all([*children, activity])
        s.flush()
        links = [
            GuardianLink(
                guardian_id=parent.id or 0,
                student_id=child.id or 0,
                relation="mother",
                created_at=NOW,
            )
            for child in children
        ]
        code = ActivityCode(
            activity_id=activity.id or 0,
            kind="static",
            short_id=codes.new_short_id(),
            created_by="test",
            created_at=NOW,
        )
        s.add_all([*links, code])
        s.flush()
        for child, link in list(zip(children, links, strict=True))[:2]:
            grant_consent(s, student=child, link=link, purposes=["participation_record"])
        s.commit()
        ids: dict[str, Any] = {
            "school": school.id,
            "venue": venue.id,
            "users": [parent.id, own.id],
            "guardian": Principal(subject=f"wechat:{parent.id}", role=Role.guardian),
            "children": [child.id for child in children],
            "activity": activity.id,
            "payload": codes.static_payload(settings.code_keyring, code.short_id),
        }
    yield ids
    with Session(engine) as s:
        activity_id = ids["activity"]
        records = select(ParticipationRecord.id).where(
            ParticipationRecord.activity_id == activity_id
        )
        s.execute(delete(ScanEvent).where(col(ScanEvent.activity_id) == activity_id))
        s.execute(delete(CheckIn).where(col(CheckIn.activity_id) == activity_id))
        s.execute(delete(RecordEvent).where(col(RecordEvent.record_id).in_(records)))
        s.execute(
            delete(ParticipationRecord).where(col(ParticipationRecord.activity_id) == activity_id)
        )
        s.execute(delete(ActivityCode).where(col(ActivityCode.activity_id) == activity_id))
        s.execute(delete(Activity).where(col(Activity.id) == activity_id))
        s.execute(delete(ConsentRecord).where(col(ConsentRecord.student_id).in_(ids["children"])))
        s.execute(delete(GuardianLink).where(col(GuardianLink.student_id).in_(ids["children"])))
        s.execute(
            delete(IdempotencyKeyRecord).where(
                col(IdempotencyKeyRecord.subject) == ids["guardian"].subject
            )
        )
        s.execute(delete(Student).where(col(Student.id).in_(ids["children"])))
        rate_keys = [f"student:{child}" for child in ids["children"]]
        s.execute(delete(RateLimitCounter).where(col(RateLimitCounter.key).in_(rate_keys)))
        s.execute(delete(WeChatUser).where(col(WeChatUser.id).in_(ids["users"])))
        s.execute(delete(Venue).where(col(Venue.id) == ids["venue"]))
        s.execute(delete(School).where(col(School.id) == ids["school"]))
        s.execute(delete(Region).where(col(Region.code) == REGION))
        s.commit()


@pytest.mark.slow
def test_100_identical_family_scans_at_once_make_one_visit_per_child(
    settings: Settings, engine: Engine, family: dict[str, Any]
) -> None:
    settings.scan_rate_per_minute = SCANS * 2  # this test is about the race, not the rate
    bearer = token(settings, family["guardian"])
    children = family["children"]

    async def all_at_once() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=SCANS, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        "/api/v1/checkins/family",
                        json={"code": family["payload"], "student_ids": children},
                        headers={
                            "Authorization": f"Bearer {bearer}",
                            "Idempotency-Key": "family-at-once",
                        },
                    )
                    for _ in range(SCANS)
                )
            )

    with serve(create_app(settings, clock=FrozenClock(NOW))) as url:
        responses = asyncio.run(all_at_once())

    assert Counter(r.status_code for r in responses) == {200: SCANS}, [
        r.text for r in responses if r.status_code != 200
    ][:3]
    visits: dict[int, set[int]] = {child: set() for child in children}
    for response in responses:
        items = response.json()["items"]
        assert [i["student_id"] for i in items] == children
        for item in items:
            assert item["result"] in ("accepted", "duplicate"), item
            visits[item["student_id"]].add(item["check_in"]["id"])
    assert all(len(ids) == 1 for ids in visits.values()), visits
    with Session(engine) as s:
        rows = s.exec(
            select(CheckIn.student_id, CheckIn.operator).where(
                CheckIn.activity_id == family["activity"]
            )
        ).all()
        records = s.exec(
            select(ParticipationRecord.student_id).where(
                ParticipationRecord.activity_id == family["activity"]
            )
        ).all()
        events = s.exec(
            select(ScanEvent.student_id, ScanEvent.nonce).where(
                ScanEvent.activity_id == family["activity"], ScanEvent.result == "accepted"
            )
        ).all()
    assert sorted(rows) == sorted((child, family["guardian"].subject) for child in children)
    assert sorted(records) == sorted(children)
    assert sorted(events) == sorted(
        (child, child_key("family-at-once", child)) for child in children
    )
