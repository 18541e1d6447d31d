"""The venue staff's pages, through the console as a browser uses them (forms posted to
/console/do/..., pages read over the API): what each page shows, the problem shown beside the
field that caused it, and what each form changed in the database."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.activity.models import Activity
from scipass.checkin.models import ActivityCode, ScanEvent
from scipass.core.auth import Role
from scipass.jobs.models import Job
from scipass.record.models import ParticipationRecord
from scipass.reservation.models import TimeSlot
from tests.console.signing import create_staff, sign_in
from tests.factories import Side, create_activity, create_record, list_venue

JSON = {"accept": "application/json"}


@pytest.fixture
def staff(client: TestClient, session: Session, side_a: Side) -> str:
    """A venue worker of side A's venue, signed in; the session's CSRF token."""
    list_venue(session, side_a.venue)
    name = create_staff(session, username="zhou", role=Role.venue_staff, org_id=side_a.venue.id)
    return sign_in(client, name)


def _do(client: TestClient, operation: str, csrf: str, data: dict[str, str], **kw: object):
    return client.post(f"/console/do/{operation}", data={"csrf_token": csrf, **data}, **kw)  # type: ignore[arg-type]


def _fresh(session: Session, model: type, id_: int):  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(model, id_)


def test_the_list_filters_by_status_and_date_on_the_server(
    client: TestClient, session: Session, side_a: Side, side_b: Side, staff: str
) -> None:
    venue = side_a.venue.id or 0
    create_activity(session, venue_id=venue, title="十月草稿", status="draft")
    create_activity(
        session,
        venue_id=venue,
        title="十一月讲座",
        starts_at=datetime(2026, 11, 3, 1, 0, tzinfo=UTC),
        ends_at=datetime(2026, 11, 3, 3, 0, tzinfo=UTC),
    )
    create_activity(session, venue_id=side_b.venue.id or 0, title="别的场馆")
    page = client.get("/console/venue/activities")
    assert page.status_code == 200
    assert "十月草稿" in page.text
    assert "十一月讲座" in page.text
    assert "别的场馆" not in page.text
    drafts = client.get("/console/venue/activities", params={"status": "draft"})
    assert "十月草稿" in drafts.text
    assert "十一月讲座" not in drafts.text
    november = client.get("/console/venue/activities", params={"from_date": "2026-11-01"})
    assert "十月草稿" not in november.text
    assert "十一月讲座" in november.text
    bad = client.get("/console/venue/activities", params={"status": "maybe"})
    assert bad.status_code == 422  # the API's answer, as a page


def test_a_new_activity_shows_problems_beside_fields_then_saves_a_draft(
    client: TestClient, session: Session, side_a: Side, staff: str
) -> None:
    form = client.get("/console/venue/activities/new")
    assert 'name="title"' in form.text
    before = len(session.exec(select(Activity)).all())
    # a script posting the form gets the problem, the field named
    answer = _do(
        client,
        "activity-create",
        staff,
        {
            "kind": "lecture",
            "title": "A",
            "starts_at": "2026-10-21T14:00",
            "ends_at": "2026-10-21T15:00",
        },
        headers=JSON,
    )
    assert answer.status_code == 422
    assert any(e["field"] == "body.title" for e in answer.json()["errors"])
    # without JavaScript: back to the form, the message beside the field, the input kept
    answer = _do(
        client,
        "activity-create",
        staff,
        {
            "_form": "activity-new",
            "kind": "lecture",
            "title": "A",
            "starts_at": "2026-10-21T14:00",
            "ends_at": "2026-10-21T15:00",
        },
        headers={"referer": "http://testserver/console/venue/activities/new"},
        follow_redirects=True,
    )
    error = re.search(r'id="activity-new-title-error"[^>]*>([^<]*)<', answer.text)
    assert error
    assert error.group(1).strip()
    assert len(session.exec(select(Activity)).all()) == before
    saved = _do(
        client,
        "activity-create",
        staff,
        {
            "_form": "activity-new",
            "_next": "/console/venue/activities?status=draft",
            "_done": "活动已保存为草稿",
            "kind": "lecture",
            "title": "院士讲座：从一粒种子到一片森林",
            "starts_at": "2026-10-21T14:00",
            "ends_at": "2026-10-21T15:30",
            "stages": "primary",
            "capacity": "",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/console/venue/activities?status=draft"
    listed = client.get(saved.headers["location"])
    assert "活动已保存为草稿" in listed.text
    made = session.exec(
        select(Activity).where(Activity.title == "院士讲座：从一粒种子到一片森林")
    ).one()
    assert (made.status, made.venue_id, made.stages, made.capacity) == (
        "draft",
        side_a.venue.id,
        "primary",
        None,
    )
    assert made.starts_at == datetime(2026, 10, 21, 6, 0, tzinfo=UTC)  # 14:00 in Beijing
    assert "院士讲座" in listed.text


def test_publish_cancel_codes_and_the_kiosk_from_the_activity_page(
    client: TestClient, session: Session, side_a: Side, staff: str
) -> None:
    draft = create_activity(
        session, venue_id=side_a.venue.id or 0, status="draft", title="力与运动"
    )
    url = f"/console/venue/activities/{draft.id}"
    page = client.get(url)
    assert page.status_code == 200
    assert "发布活动" in page.text
    assert "生成海报码" in page.text
    published = _do(
        client, "activity-publish", staff, {"path.activity_id": str(draft.id), "_next": url}
    )
    assert published.status_code == 200
    assert _fresh(session, Activity, draft.id or 0).status == "published"

    made = _do(client, "code-create", staff, {"path.activity_id": str(draft.id), "kind": "static"})
    assert made.status_code == 200
    code = session.exec(select(ActivityCode).where(ActivityCode.activity_id == draft.id)).one()
    page = client.get(url)
    poster = f"/console/api/v1/codes/{code.id}/poster.pdf"
    assert poster in page.text
    pdf = client.get(poster)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    mini = client.get(f"/console/api/v1/codes/{code.id}/wxacode.png")
    assert mini.status_code == 200
    assert mini.headers["content-type"] == "image/png"

    _do(client, "code-create", staff, {"path.activity_id": str(draft.id), "kind": "rotating"})
    page = client.get(url)
    kiosk = re.search(r'href="(/kiosk/\d+\?token=[^"]+)" target="_blank"', page.text)
    assert kiosk, "no kiosk link"
    screen = client.get(kiosk.group(1).replace("&amp;", "&"))
    assert screen.status_code == 200
    assert "力与运动" in screen.text

    # cancelling needs a reason: the problem, and nothing changed
    refused = _do(
        client, "activity-cancel", staff, {"path.activity_id": str(draft.id)}, headers=JSON
    )
    assert refused.status_code == 422
    assert _fresh(session, Activity, draft.id or 0).status == "published"
    _do(client, "activity-cancel", staff, {"path.activity_id": str(draft.id), "reason": "展厅检修"})
    cancelled = _fresh(session, Activity, draft.id or 0)
    assert (cancelled.status, cancelled.status_reason) == ("cancelled", "展厅检修")
    assert "签到码不再使用" in client.get(url).text


def test_slots_of_an_activity_are_added_and_cancelled(
    client: TestClient, session: Session, side_a: Side, staff: str
) -> None:
    activity = create_activity(session, venue_id=side_a.venue.id or 0)
    url = f"/console/venue/activities/{activity.id}"
    outside = _do(
        client,
        "slot-create",
        staff,
        {
            "path.venue_id": str(side_a.venue.id),
            "activity_id": str(activity.id),
            "starts_at": "2026-10-20T07:00",  # before opening
            "ends_at": "2026-10-20T08:00",
            "capacity": "30",
        },
        headers=JSON,
    )
    assert outside.status_code >= 400
    assert outside.json()["title"]
    assert session.exec(select(TimeSlot).where(TimeSlot.activity_id == activity.id)).all() == []
    _do(
        client,
        "slot-create",
        staff,
        {
            "path.venue_id": str(side_a.venue.id),
            "activity_id": str(activity.id),
            "starts_at": "2026-10-20T10:00",
            "ends_at": "2026-10-20T11:30",
            "capacity": "30",
        },
    )
    slot = session.exec(select(TimeSlot).where(TimeSlot.activity_id == activity.id)).one()
    assert slot.capacity == 30
    page = client.get(url)
    assert "0 / 30" in page.text
    assert f'name="path.slot_id" value="{slot.id}"' in page.text
    _do(client, "slot-cancel", staff, {"path.slot_id": str(slot.id), "reason": "临时闭馆"})
    assert _fresh(session, TimeSlot, slot.id or 0).status == "cancelled"
    assert "0 / 30" in client.get("/console/venue/slots", params={"from_date": "2026-10-20"}).text


def test_live_arrivals_page_and_its_refresh(
    client: TestClient, session: Session, side_a: Side, staff: str
) -> None:
    activity = create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        starts_at=datetime(2026, 10, 14, 1, 0, tzinfo=UTC),
        ends_at=datetime(2026, 10, 14, 8, 0, tzinfo=UTC),
    )
    session.add(
        ScanEvent(
            activity_id=activity.id,
            direction="entry",
            source="self_scan",
            operator="wechat:1",
            nonce="n-1",
            fingerprint="f1",
            server_time=datetime(2026, 10, 14, 1, 30, tzinfo=UTC),
            result="refused",
            reason="out_of_geofence",
        )
    )
    session.flush()
    page = client.get(f"/console/venue/activities/{activity.id}/arrivals")
    assert page.status_code == 200
    assert "你不在活动现场范围内" in page.text
    assert "09:00" in page.text
    assert 'src="/console/static/venue.js"' in page.text
    source = re.search(r'data-src="([^"]+)"', page.text)
    assert source
    refreshed = client.get(source.group(1), headers=JSON)
    assert refreshed.status_code == 200
    assert refreshed.json()["refused"] == 1


def test_records_are_confirmed_or_rejected_with_a_reason(
    client: TestClient, session: Session, side_a: Side, staff: str
) -> None:
    activity = create_activity(session, venue_id=side_a.venue.id or 0, title="走进科技馆")
    venue_record = {
        "activity_id": activity.id,
        "organiser_venue_id": side_a.venue.id,
        "organiser_school_id": None,
        "organiser_name": side_a.venue.name,
    }
    first = create_record(session, student=side_a.student, title="参观：力与运动", **venue_record)
    second = create_record(session, student=side_a.student, title="参观：声与光", **venue_record)
    school_own = create_record(session, student=side_a.student, title="本校的活动")
    page = client.get("/console/venue/records")
    assert "参观：力与运动" in page.text
    assert "参观：声与光" in page.text
    assert "本校的活动" not in page.text
    assert side_a.student.name not in page.text  # venue staff see masked names
    one = client.get("/console/venue/records", params={"activity_id": activity.id})
    assert "只看活动“走进科技馆”" in one.text

    _do(
        client,
        "record-organiser-decide",
        staff,
        {"path.record_id": str(first.id), "decision": "confirm"},
    )
    assert _fresh(session, ParticipationRecord, first.id or 0).status == "confirmed"
    no_reason = _do(
        client,
        "record-organiser-decide",
        staff,
        {"path.record_id": str(second.id), "decision": "reject", "_form": f"reject-{second.id}"},
        headers={"referer": "http://testserver/console/venue/records"},
        follow_redirects=True,
    )
    assert 'role="alert"' in no_reason.text
    assert _fresh(session, ParticipationRecord, second.id or 0).status == "pending"
    _do(
        client,
        "record-organiser-decide",
        staff,
        {"path.record_id": str(second.id), "decision": "reject", "reason": "当天未到馆"},
    )
    rejected = _fresh(session, ParticipationRecord, second.id or 0)
    assert (rejected.status, rejected.status_reason) == ("rejected", "当天未到馆")
    assert _fresh(session, ParticipationRecord, school_own.id or 0).status == "pending"
    assert "没有待确认的记录" in client.get("/console/venue/records").text


def test_a_school_teacher_cannot_open_venue_pages(
    client: TestClient, session: Session, side_a: Side
) -> None:
    name = create_staff(session, username="li", role=Role.school_staff, org_id=side_a.school.id)
    sign_in(client, name)
    assert client.get("/console/venue/activities").status_code == 403
    assert client.get("/console/venue/records").status_code == 403


def _profile_form(csrf: str, venue_id: int, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "_form": "profile",
        "path.venue_id": str(venue_id),
        "name": "新名字科技馆",
        "kind": "science_museum",
        "region_code": "970101",
        "phone": "0731-5555000",
        "address": "测试路 1 号",
        "longitude": "112.9",
        "latitude": "27.8",
        "services": "展厅参观",
        "facilities": "展厅",
        "stages": "primary",
        "is_free": "true",
        "reservation_required": "false",
        "weekly_hours:json": '{"1": [], "2": [["09:00", "17:00"]]}',
        "photos:json": "[]",
    }
    form.update(changes)
    return form


def test_the_admin_edits_the_profile_and_submits_it_for_review(
    client: TestClient, session: Session, side_a: Side
) -> None:
    venue = list_venue(session, side_a.venue)
    name = create_staff(session, username="wang", role=Role.venue_admin, org_id=venue.id)
    csrf = sign_in(client, name)
    page = client.get("/console/venue/profile")
    assert page.status_code == 200
    assert "保存草稿" in page.text
    assert "提交审核" not in page.text  # no draft yet
    here = {"referer": "http://testserver/console/venue/profile"}
    bad = client.post(
        "/console/do/venue-profile-draft-save",
        data=_profile_form(csrf, venue.id or 0, **{"weekly_hours:json": "周二 9 点到 5 点"}),
        headers=here,
        follow_redirects=True,
    )
    error = re.search(r'id="profile-weekly_hours-error"[^>]*>([^<]*)<', bad.text)
    assert error
    assert error.group(1).strip()
    assert "周二 9 点到 5 点" in bad.text  # what was typed is kept
    assert _fresh(session, type(venue), venue.id or 0).draft is None
    saved = client.post(
        "/console/do/venue-profile-draft-save",
        data=_profile_form(csrf, venue.id or 0),
        headers=here,
        follow_redirects=True,
    )
    assert "草稿已保存" in saved.text
    stored = _fresh(session, type(venue), venue.id or 0)
    assert stored.draft is not None
    assert stored.draft["name"] == "新名字科技馆"
    assert stored.draft["weekly_hours"]["2"] == [["09:00", "17:00"]]
    assert stored.review_status == "draft"
    page = client.get("/console/venue/profile")
    assert 'value="新名字科技馆"' in page.text
    client.post(
        "/console/do/venue-profile-draft-submit",
        data={"csrf_token": csrf, "path.venue_id": str(venue.id)},
        headers=here,
    )
    assert _fresh(session, type(venue), venue.id or 0).review_status == "pending"
    assert "待教育局审核" in client.get("/console/venue/profile").text


def test_a_venue_worker_reads_the_profile_but_the_api_keeps_edits_to_the_admin(
    client: TestClient, session: Session, side_a: Side, staff: str
) -> None:
    page = client.get("/console/venue/profile")
    assert page.status_code == 200
    assert "只有场馆管理员可以修改" in page.text
    assert 'action="/console/do/venue-profile-draft-save"' not in page.text
    refused = client.post(
        "/console/do/venue-profile-draft-save",
        data=_profile_form(staff, side_a.venue.id or 0),
        headers=JSON,
    )
    assert refused.status_code == 403
    assert _fresh(session, type(side_a.venue), side_a.venue.id or 0).draft is None


def test_exports_download_directly_or_queue_a_job_the_page_polls(
    client: TestClient, session: Session, side_a: Side, staff: str
) -> None:
    activity = create_activity(session, venue_id=side_a.venue.id or 0, title="走进科技馆")
    page = client.get("/console/venue/exports", params={"activity_id": activity.id})
    assert page.status_code == 200
    direct = f"/console/api/v1/activities/{activity.id}/checkins.csv"
    assert direct in page.text
    csv = client.get(direct)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    hours = client.get(
        "/console/api/v1/volunteer-hours/export", params={"by": "pupil", "format": "xlsx"}
    )
    assert hours.status_code == 200
    assert hours.content.startswith(b"PK")  # an XLSX
    queued = _do(
        client,
        "attendee-export-job",
        staff,
        {"path.activity_id": str(activity.id), "query.format": "xlsx", "_form": "export-attendees"},
        headers=JSON,
    )
    assert queued.status_code == 200, queued.text
    job = queued.json()["result"]
    stored = session.get(Job, job["id"])
    assert stored is not None
    assert (stored.kind, stored.status) == ("attendee-export", "queued")
    assert '"format": "xlsx"' in stored.params
    polled = client.get(f"/console/api/v1/jobs/{job['id']}", headers=JSON)
    assert polled.json()["status"] == "queued"
    listed = client.get("/console/venue/exports")
    assert f'data-job="{job["id"]}"' in listed.text  # polled by venue.js
    assert "到场学生" in listed.text
    other = _do(
        client,
        "attendee-export-job",
        staff,
        {"path.activity_id": "999999", "query.format": "xlsx"},
        headers=JSON,
    )
    assert other.status_code == 404
