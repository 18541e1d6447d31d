"""The venue's volunteering pages, through the console as a browser uses them (forms posted
to /console/do/..., pages read over the API): roles listed, created and edited; a role's
shifts published one by one or as a series and cancelled; a shift's codes; a shift's minutes
confirmed in one form (a list of objects from ``items.<n>.<field>`` fields). Each form's
change is read back from the database; each problem is shown beside its field; another
venue's role or shift is refused by URL and by form."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlmodel import Session, select
from starlette.datastructures import FormData

from scipass.checkin.models import ActivityCode
from scipass.console.forms import body_of
from scipass.core.auth import Role
from scipass.volunteer.models import VolunteerRole, VolunteerShift, VolunteerSignup
from scipass.volunteer.schemas import MinutesConfirm, ShiftSeriesCreate
from tests.console.signing import create_staff, sign_in
from tests.factories import (
    Side,
    create_student,
    create_volunteer_role,
    create_volunteer_shift,
    create_volunteer_signup,
    list_venue,
)

JSON = {"accept": "application/json"}
ROLES = "/console/venue/volunteering"


@pytest.fixture
def staff(client: TestClient, session: Session, side_a: Side) -> str:
    """A venue worker of side A's venue, signed in; the session's CSRF token."""
    list_venue(session, side_a.venue)
    name = create_staff(session, username="zhou", role=Role.venue_staff, org_id=side_a.venue.id)
    return sign_in(client, name)


def _do(
    client: TestClient, operation: str, csrf: str, data: dict[str, str], page: str = ROLES
) -> Response:
    """A form posted without JavaScript, from ``page``; the page it leads back to."""
    return client.post(
        f"/console/do/{operation}",
        data={"csrf_token": csrf, **data},
        headers={"referer": f"http://testserver{page}"},
        follow_redirects=True,
    )


def _error(html: str, element_id: str) -> str:
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>([^<]*)<', html)
    assert found, element_id
    return found.group(1).strip()


def _fresh(session: Session, model: type, id_: int):  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(model, id_)


def test_body_of_reads_a_list_of_objects_from_indexed_fields() -> None:
    form = FormData(
        [
            ("items.10.signup_id", "12"),
            ("items.10.minutes", "90"),
            ("items.10.reason", "早退"),
            ("items.2.signup_id", "11"),
            ("items.2.no_show", "true"),
            ("items.3.signup_id", ""),  # every field empty: left out
            ("items.3.minutes", ""),
            ("items.x.minutes", "5"),  # not an index
        ]
    )
    assert body_of(MinutesConfirm, form) == {
        "items": [
            {"signup_id": "11", "no_show": True},
            {"signup_id": "12", "minutes": "90", "reason": "早退"},
        ]
    }
    assert body_of(MinutesConfirm, FormData([("items.0.minutes", "")])) == {}
    # a list of plain values is as before: every value sent
    series = body_of(ShiftSeriesCreate, FormData([("weekdays", "6"), ("weekdays", "7")]))
    assert series["weekdays"] == ["6", "7"]


def test_roles_are_listed_created_with_problems_beside_fields_and_edited(
    client: TestClient, session: Session, side_a: Side, side_b: Side, staff: str
) -> None:
    venue = side_a.venue.id or 0
    create_volunteer_role(session, venue_id=venue, name="展厅引导员")
    create_volunteer_role(session, venue_id=venue, name="旧岗位", active=False)
    create_volunteer_role(session, venue_id=side_b.venue.id, name="别馆岗位")
    page = client.get(ROLES)
    assert page.status_code == 200
    assert "展厅引导员" in page.text
    assert "旧岗位" not in page.text
    assert "别馆岗位" not in page.text
    assert "旧岗位" in client.get(ROLES, params={"inactive": "true"}).text
    before = len(session.exec(select(VolunteerRole)).all())
    refused = _do(
        client,
        "volunteer-role-create",
        staff,
        {"_form": "role-new", "name": "小小讲解员", "max_daily_hours": "9"},
    )
    assert _error(refused.text, "role-new-max_daily_hours-error")
    assert 'value="小小讲解员"' in refused.text  # what was typed is kept
    assert len(session.exec(select(VolunteerRole)).all()) == before
    made = _do(
        client,
        "volunteer-role-create",
        staff,
        {
            "_form": "role-new",
            "preset": "little_docent",
            "stages": "primary",
            "max_daily_hours": "3",
            "training": "上岗前听一次讲解示范",
        },
    )
    assert "岗位已新建" in made.text
    role = session.exec(select(VolunteerRole).where(VolunteerRole.venue_id == venue)).all()[-1]
    assert (role.preset, role.name, role.stages) == ("little_docent", "小小科普辅导员", "primary")
    assert (role.max_daily_minutes, role.training) == (180, "上岗前听一次讲解示范")

    here = f"{ROLES}/roles/{role.id}"
    assert client.get(here).status_code == 200
    edited = _do(
        client,
        "volunteer-role-update",
        staff,
        {
            "_form": "role-edit",
            "path.role_id": str(role.id),
            "name": "小小科普辅导员（周末）",
            "stages": "",  # none ticked: any stage
            "max_daily_hours": "2.5",
            "active": "false",
        },
        page=here,
    )
    assert "岗位已保存" in edited.text
    role = _fresh(session, VolunteerRole, role.id or 0)
    assert (role.name, role.stages, role.max_daily_minutes, role.active) == (
        "小小科普辅导员（周末）",
        "",
        150,
        False,
    )


def test_another_venues_role_and_shift_are_refused_by_url_and_by_form(
    client: TestClient, session: Session, side_b: Side, staff: str
) -> None:
    role = create_volunteer_role(session, venue_id=side_b.venue.id, name="别馆岗位")
    shift = create_volunteer_shift(session, role=role)
    assert client.get(f"{ROLES}/roles/{role.id}").status_code == 404
    assert client.get(f"{ROLES}/shifts/{shift.id}").status_code == 404
    for operation, data in (
        ("volunteer-role-update", {"path.role_id": str(role.id), "name": "改名"}),
        (
            "volunteer-shift-create",
            {
                "path.role_id": str(role.id),
                "starts_at": "2026-10-24T09:00",
                "ends_at": "2026-10-24T11:00",
                "capacity": "3",
            },
        ),
        ("volunteer-shift-cancel", {"path.shift_id": str(shift.id), "reason": "闭馆"}),
        ("volunteer-shift-minutes-confirm", {"path.shift_id": str(shift.id)}),
        ("volunteer-shift-code-create", {"path.shift_id": str(shift.id), "kind": "static"}),
    ):
        answer = client.post(
            f"/console/do/{operation}", data={"csrf_token": staff, **data}, headers=JSON
        )
        assert answer.status_code == 404, operation
    assert _fresh(session, VolunteerRole, role.id or 0).name == "别馆岗位"
    found = _fresh(session, VolunteerShift, shift.id or 0)
    assert found.status == "open"
    assert (
        len(session.exec(select(VolunteerShift).where(VolunteerShift.role_id == role.id)).all())
        == 1
    )
    assert (
        session.exec(select(ActivityCode).where(ActivityCode.shift_id == shift.id)).first() is None
    )


def test_shifts_are_published_one_and_as_a_series_listed_and_cancelled(
    client: TestClient, session: Session, side_a: Side, staff: str
) -> None:
    role = create_volunteer_role(session, venue_id=side_a.venue.id)
    here = f"{ROLES}/roles/{role.id}"
    refused = _do(
        client,
        "volunteer-shift-create",
        staff,
        {
            "_form": "shift-new",
            "path.role_id": str(role.id),
            "starts_at": "2026-10-24T09:00",
            "ends_at": "2026-10-24T11:00",
            "capacity": "0",
        },
        page=here,
    )
    assert _error(refused.text, "shift-new-capacity-error")
    one = _do(
        client,
        "volunteer-shift-create",
        staff,
        {
            "_form": "shift-new",
            "path.role_id": str(role.id),
            "starts_at": "2026-10-24T09:00",
            "ends_at": "2026-10-24T11:00",
            "place": "一楼序厅",
            "capacity": "3",
            "walk_ins": "true",
        },
        page=here,
    )
    assert "班次已发布" in one.text
    shifts = session.exec(select(VolunteerShift).where(VolunteerShift.role_id == role.id)).all()
    assert len(shifts) == 1
    assert shifts[0].starts_at.astimezone(UTC) == datetime(2026, 10, 24, 1, 0, tzinfo=UTC)
    assert (shifts[0].capacity, shifts[0].walk_ins) == (3, True)
    series = _do(
        client,
        "volunteer-shift-series-create",
        staff,
        {
            "_form": "series-new",
            "path.role_id": str(role.id),
            "from_date": "2026-10-19",
            "to_date": "2026-11-08",
            "weekdays": "7",
            "start_time": "14:00",
            "end_time": "16:00",
            "except_dates": "2026-11-01",
            "capacity": "5",
            "close_hours_before": "24",
        },
        page=here,
    )
    assert "班次已按周发布" in series.text
    sundays = session.exec(
        select(VolunteerShift).where(
            VolunteerShift.role_id == role.id, VolunteerShift.capacity == 5
        )
    ).all()
    assert sorted(s.starts_at.astimezone(UTC).date() for s in sundays) == [
        date(2026, 10, 25),
        date(2026, 11, 8),
    ]  # not 1 November
    # listed and paged on the server
    page = client.get(here, params={"limit": 2})
    assert page.status_code == 200
    assert "第 1 / 2 页，共 3 条" in page.text
    # cancelled before it starts: every sign-up with it
    shift = shifts[0]
    signup = create_volunteer_signup(session, shift=shift, student=side_a.student)
    shift_page = f"{ROLES}/shifts/{shift.id}"
    done = _do(
        client,
        "volunteer-shift-cancel",
        staff,
        {"_form": "shift-cancel", "path.shift_id": str(shift.id), "reason": "展厅临时检修"},
        page=shift_page,
    )
    assert "班次已取消" in done.text
    assert _fresh(session, VolunteerShift, shift.id or 0).status == "cancelled"
    assert _fresh(session, VolunteerSignup, signup.id or 0).status == "cancelled"


def test_a_started_shift_is_not_cancelled_and_its_problem_is_shown(
    client: TestClient, session: Session, side_a: Side, staff: str
) -> None:
    role = create_volunteer_role(session, venue_id=side_a.venue.id)
    started = create_volunteer_shift(
        session,
        role=role,
        starts_at=datetime(2026, 10, 14, 1, 0, tzinfo=UTC),
        ends_at=datetime(2026, 10, 14, 4, 0, tzinfo=UTC),
        signup_closes_at=datetime(2026, 10, 14, 1, 0, tzinfo=UTC),
    )
    shift_page = f"{ROLES}/shifts/{started.id}"
    answer = _do(
        client,
        "volunteer-shift-cancel",
        staff,
        {"_form": "shift-cancel", "path.shift_id": str(started.id), "reason": "下雨"},
        page=shift_page,
    )
    assert "班次已开始，不能再取消" in answer.text
    assert 'value="下雨"' in answer.text
    assert _fresh(session, VolunteerShift, started.id or 0).status == "open"


def test_a_shifts_codes_are_made_and_offered_as_poster_and_kiosk(
    client: TestClient, session: Session, side_a: Side, staff: str
) -> None:
    role = create_volunteer_role(session, venue_id=side_a.venue.id)
    shift = create_volunteer_shift(session, role=role)
    here = f"{ROLES}/shifts/{shift.id}"
    for kind in ("static", "rotating"):
        _do(
            client,
            "volunteer-shift-code-create",
            staff,
            {"_form": f"shift-code-{kind}", "path.shift_id": str(shift.id), "kind": kind},
            page=here,
        )
    codes = session.exec(select(ActivityCode).where(ActivityCode.shift_id == shift.id)).all()
    assert sorted(c.kind for c in codes) == ["rotating", "static"]
    page = client.get(here)
    static = next(c for c in codes if c.kind == "static")
    assert f"/console/api/v1/codes/{static.id}/poster.pdf" in page.text
    assert re.search(r'href="[^"]*/kiosk/[^"]*token=', page.text)
    poster = client.get(f"/console/api/v1/codes/{static.id}/poster.pdf")
    assert poster.status_code == 200
    assert poster.content.startswith(b"%PDF")


def test_minutes_are_confirmed_in_one_form_with_minutes_and_a_reason_where_needed(
    client: TestClient, session: Session, side_a: Side, staff: str
) -> None:
    role = create_volunteer_role(session, venue_id=side_a.venue.id)
    shift = create_volunteer_shift(
        session,
        role=role,
        starts_at=datetime(2026, 10, 10, 1, 0, tzinfo=UTC),  # last Saturday 09:00-12:00
        ends_at=datetime(2026, 10, 10, 4, 0, tzinfo=UTC),
        signup_closes_at=datetime(2026, 10, 9, 1, 0, tzinfo=UTC),
    )
    pupils = [side_a.student] + [
        create_student(session, school_id=side_a.school.id or 0) for _ in range(2)
    ]
    full, half, absent = (create_volunteer_signup(session, shift=shift, student=p) for p in pupils)
    full.arrived_at = datetime(2026, 10, 10, 1, 0, tzinfo=UTC)
    full.left_at = datetime(2026, 10, 10, 4, 0, tzinfo=UTC)
    half.arrived_at = datetime(2026, 10, 10, 1, 0, tzinfo=UTC)  # never scanned out
    session.add_all([full, half])
    session.flush()
    here = f"{ROLES}/shifts/{shift.id}"
    page = client.get(here)
    assert page.status_code == 200
    assert page.text.count(">须填写时长<") == 1  # the API's needs_minutes
    fields = dict(re.findall(r'name="(items\.\d+\.signup_id)" value="(\d+)"', page.text))
    assert sorted(int(v) for v in fields.values()) == sorted(
        s.id or 0 for s in (full, half, absent)
    )
    index = {int(v): k.split(".")[1] for k, v in fields.items()}
    base = {"_form": "minutes", "path.shift_id": str(shift.id)}
    rows = {f"items.{i}.signup_id": str(s) for s, i in index.items()}
    # too many minutes: the problem beside that pupil's field; nothing confirmed
    refused = _do(
        client,
        "volunteer-shift-minutes-confirm",
        staff,
        {**base, **rows, f"items.{index[half.id]}.minutes": "999"},  # type: ignore[index]
        page=here,
    )
    assert _error(refused.text, f"minutes-items.{index[half.id]}.minutes-error")  # type: ignore[index]
    assert _fresh(session, VolunteerSignup, full.id or 0).confirmed_at is None
    # the half-served pupil's minutes with a reason; the rest as the API counts them
    done = _do(
        client,
        "volunteer-shift-minutes-confirm",
        staff,
        {
            **base,
            **rows,
            f"items.{index[half.id]}.minutes": "60",  # type: ignore[index]
            f"items.{index[half.id]}.reason": "10:00 离开未扫离岗码，按带队老师说明计 1 小时",  # type: ignore[index]
        },
        page=here,
    )
    assert "服务时长已确认" in done.text
    full, half, absent = (_fresh(session, VolunteerSignup, s.id or 0) for s in (full, half, absent))
    assert (full.status, full.confirmed_minutes) == ("attended", 180)
    assert (half.status, half.confirmed_minutes) == ("attended", 60)
    assert half.minutes_reason.startswith("10:00 离开")
    assert (absent.status, absent.confirmed_minutes) == ("no_show", 0)
