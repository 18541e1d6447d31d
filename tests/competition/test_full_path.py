"""Issue 17's whole path through the API, as its users take it: a pupil forms a team and
invites a team-mate, a teacher of their school advises, the school recommends, the bureau
accepts, enters a first prize, puts it on notice and publishes it; every member's record then
goes through the school's review and notice into the archive."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.account.models import Account
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.record import notices as record_notices
from scipass.record.models import ParticipationRecord
from tests.competition.factories_results import NOTICE_END
from tests.competition.test_entries import pupil
from tests.factories import NOW, Side, auth, create_competition


def test_a_team_from_its_creation_to_an_archived_award_for_every_member(
    client: TestClient, settings: Settings, session: Session, clock: FrozenClock, side_a: Side
) -> None:
    scene = create_competition(session, bureau=side_a.bureau, region_code=side_a.region_code)
    captain = pupil(session, side_a, name="王小明")
    mate = pupil(session, side_a, name="李小红", class_name="2班")
    advisor = Account(
        username="advisor-path",
        display_name="赵老师",
        role="school_staff",
        school_id=side_a.school.id,
        password_hash="x",
        created_at=NOW,
        password_changed_at=NOW,
    )
    session.add(advisor)
    session.commit()

    def call(
        _client: TestClient, _settings: Settings, who: Principal, method: str, url: str, **kw: Any
    ) -> Any:
        headers = auth(settings, who, now=clock.now())  # tokens of the day of the call
        return client.request(method, "/api/v1" + url, headers=headers, **kw)

    def ok(response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    entry = ok(
        call(
            client,
            settings,
            captain,
            "POST",
            f"/competition-rounds/{scene.round.id}/entries",
            json={"division_id": scene.division.id, "title": "校园垃圾分拣机器人"},
        ),
        201,
    )
    code = ok(
        call(client, settings, captain, "POST", f"/competition-entries/{entry['id']}/invitations"),
        201,
    )
    ok(call(client, settings, mate, "POST", "/competition-invitations/accept", json=code))
    ok(
        call(
            client,
            settings,
            captain,
            "POST",
            f"/competition-entries/{entry['id']}/advisors",
            json={"account_id": advisor.id},
        ),
        201,
    )
    ok(call(client, settings, captain, "POST", f"/competition-entries/{entry['id']}/submit"))

    school = side_a.principal(Role.school_staff)
    ok(call(client, settings, school, "POST", f"/competition-entries/{entry['id']}/recommend"))
    bureau = side_a.principal(Role.bureau)
    round_path = f"/competition-rounds/{scene.round.id}"
    ok(call(client, settings, bureau, "POST", f"{round_path}/entries/{entry['id']}/accept"))
    ok(
        call(
            client,
            settings,
            bureau,
            "PUT",
            f"{round_path}/results/{entry['id']}",
            json={"award": "first", "advances": False},
        )
    )
    ok(call(client, settings, bureau, "POST", f"{round_path}/result-notices"), 201)
    waiting = ok(call(client, settings, bureau, "POST", f"{round_path}/results/publish"))
    assert (waiting["published"], waiting["records"]) == (0, 0)  # the notice is still up
    clock.set(NOTICE_END)
    published = ok(call(client, settings, bureau, "POST", f"{round_path}/results/publish"))
    assert (published["published"], published["records"]) == (1, 2)

    # each member's record: confirmed by the notice, confirmed by the pupil, reviewed by the
    # advisor's school, noticed by the school, archived
    queue = ok(call(client, settings, school, "GET", "/records", params={"status": "confirmed"}))
    records = {r["student_name"]: r for r in queue["items"] if r["source"] == "competition"}
    assert set(records) == {"王小明", "李小红"}
    assert {r["outcome"] for r in records.values()} == {f"{scene.round.name}：一等奖"}
    for who, name in ((captain, "王小明"), (mate, "李小红")):
        record_id = records[name]["id"]
        ok(
            call(
                client, settings, who, "POST", f"/records/{record_id}/student-confirmation", json={}
            )
        )
        ok(
            call(
                client,
                settings,
                school,
                "POST",
                f"/records/{record_id}/review",
                json={"decision": "approve"},
            )
        )
    notice = ok(
        call(
            client,
            settings,
            side_a.principal(Role.school_admin),
            "POST",
            "/notices",
            json={"title": "竞赛获奖公示"},
        ),
        201,
    )
    assert notice["record_count"] == 2
    clock.advance(timedelta(days=14))
    assert record_notices.archive_due(session, now=clock.now()) == 2
    session.expire_all()
    archived = session.exec(
        select(ParticipationRecord).where(ParticipationRecord.source == "competition")
    ).all()
    assert (
        sorted((r.status, r.role, r.minutes >= 0) for r in archived)
        == [("archived", "contestant", True)] * 2
    )
    mine = ok(call(client, settings, captain, "GET", "/records"))
    assert [(r["status"], r["outcome"]) for r in mine["items"] if r["source"] == "competition"] == [
        ("archived", f"{scene.round.name}：一等奖")
    ]
