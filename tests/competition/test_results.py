"""Results of a round: entered by its organiser only, on notice (公示) in working days,
objections by the entries' schools, publication once (records and advancing entries), the
region quota to the next round."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from scipass.competition.models import EntryMember, Quota, RoundEntry
from scipass.competition.results_models import Result, ResultObjection
from scipass.competition.results_publish import dimension_for, publish_due
from scipass.consent.models import ConsentRecord
from scipass.consent.service import NOTICE_VERSION
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.main import scheduled_jobs
from scipass.record.models import Dimension, ParticipationRecord
from tests.competition.factories_results import (
    NOTICE_END,
    Api,
    ResultsScene,
    accept_advanced,
    accepted_entry,
    create_results_scene,
)
from tests.factories import NOW, Side, create_region, create_school


@pytest.fixture
def api(client: TestClient, settings: Settings, clock: FrozenClock) -> Api:
    return Api(client, settings, clock)


@pytest.fixture
def scene(session: Session, side_a: Side) -> ResultsScene:
    return create_results_scene(session, side_a)


def _records(session: Session) -> list[ParticipationRecord]:
    return list(
        session.exec(
            select(ParticipationRecord)
            .where(ParticipationRecord.source == "competition")
            .order_by(col(ParticipationRecord.id))
        ).all()
    )


def _set(api: Api, side: Side, round_id: int, entry_id: int, award: str, advances: bool) -> dict:
    response = api.call(
        side.principal(Role.bureau),
        "PUT",
        f"/competition-rounds/{round_id}/results/{entry_id}",
        json={"award": award, "advances": advances},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _notice(api: Api, side: Side, round_id: int) -> dict:
    response = api.call(
        side.principal(Role.bureau), "POST", f"/competition-rounds/{round_id}/result-notices"
    )
    assert response.status_code == 201, response.text
    return response.json()


def _publish(api: Api, side: Side, round_id: int, role: Role = Role.bureau) -> dict:
    response = api.call(
        side.principal(role), "POST", f"/competition-rounds/{round_id}/results/publish"
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_only_the_rounds_organiser_enters_results_for_accepted_entries(
    api: Api, session: Session, side_a: Side, side_b: Side, scene: ResultsScene
) -> None:
    entry = accepted_entry(session, scene, school=side_a.school)
    first = scene.rounds[0].id
    url = f"/competition-rounds/{first}/results/{entry.id}"
    body = {"award": "first", "advances": True}

    for who in (side_b.principal(Role.bureau), side_a.principal(Role.venue_admin)):
        refused = api.call(who, "PUT", url, json=body)
        assert refused.status_code == 404
        assert refused.json()["code"] == "competition_round_not_found"
    school = api.call(side_a.principal(Role.school_admin), "PUT", url, json=body)
    assert school.status_code == 404  # a school with an entry is no organiser of the round

    other = accepted_entry(session, scene, school=side_a.school)
    session.exec(  # the organiser rejected it: no result
        RoundEntry.__table__.update()  # type: ignore[attr-defined]
        .where(RoundEntry.__table__.c.entry_id == other.id)  # type: ignore[attr-defined]
        .values(status="rejected")
    )
    missing = api.call(
        side_a.principal(Role.bureau),
        "PUT",
        f"/competition-rounds/{first}/results/{other.id}",
        json=body,
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "competition_result_entry_not_found"
    assert session.exec(select(func.count()).select_from(Result)).one() == 0

    entered = _set(api, side_a, first or 0, entry.id or 0, "first", True)
    assert entered["status"] == "draft"
    assert entered["award_label"] == "一等奖"
    again = _set(api, side_a, first or 0, entry.id or 0, "second", False)
    assert (again["id"], again["award"], again["advances"]) == (entered["id"], "second", False)


def test_no_advance_from_the_last_round(
    api: Api, session: Session, side_a: Side, side_b: Side
) -> None:
    scene = create_results_scene(session, side_a, second_round=False)
    entry = accepted_entry(session, scene, school=side_a.school)
    response = api.call(
        side_a.principal(Role.bureau),
        "PUT",
        f"/competition-rounds/{scene.rounds[0].id}/results/{entry.id}",
        json={"award": "first", "advances": True},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "competition_no_next_round"


def test_the_region_quota_to_the_next_round_holds(api: Api, session: Session, side_a: Side) -> None:
    scene = create_results_scene(session, side_a, region_quota=1)
    first = scene.rounds[0].id or 0
    one = accepted_entry(session, scene, school=side_a.school)
    two = accepted_entry(session, scene, school=side_a.school)
    # a school of another county of the same city has its own place
    create_region(session, "970102", "县970102", "county", "970100")
    neighbour = create_school(session, region_code="970102")
    three = accepted_entry(session, scene, school=neighbour)

    _set(api, side_a, first, one.id or 0, "first", True)
    full = api.call(
        side_a.principal(Role.bureau),
        "PUT",
        f"/competition-rounds/{first}/results/{two.id}",
        json={"award": "second", "advances": True},
    )
    assert full.status_code == 409
    assert full.json()["code"] == "competition_region_quota_reached"
    assert session.get(Result, _result_id(session, two.id or 0)) is None  # nothing written
    _set(api, side_a, first, three.id or 0, "second", True)

    _set(api, side_a, first, one.id or 0, "first", False)  # gives the place back
    _set(api, side_a, first, two.id or 0, "second", True)
    _set(api, side_a, first, two.id or 0, "third", True)  # still one place, held once
    used = {
        q.scope_key: q.used
        for q in session.exec(select(Quota).where(Quota.round_id == first, Quota.scope == "region"))
    }
    assert used == {side_a.school.region_code: 1, neighbour.region_code: 1}


def _result_id(session: Session, entry_id: int) -> int:
    found = session.exec(select(Result.id).where(Result.entry_id == entry_id)).first()
    return found or 0


def test_publication_after_the_notice_appends_one_record_per_member_once(
    api: Api, session: Session, clock: FrozenClock, side_a: Side, scene: ResultsScene
) -> None:
    first = scene.rounds[0].id or 0
    team = accepted_entry(session, scene, school=side_a.school, size=3)
    solo = accepted_entry(session, scene, school=side_a.school, size=1)
    _set(api, side_a, first, team.id or 0, "first", True)
    _set(api, side_a, first, solo.id or 0, "merit", False)

    notice = _notice(api, side_a, first)
    assert notice["result_count"] == 2
    assert notice["working_days"] == 5
    assert datetime.fromisoformat(notice["ends_at"]) == NOTICE_END
    locked = api.call(
        side_a.principal(Role.bureau),
        "PUT",
        f"/competition-rounds/{first}/results/{solo.id}",
        json={"award": "first", "advances": False},
    )
    assert locked.status_code == 409
    assert locked.json()["code"] == "competition_result_locked"
    nothing = api.call(
        side_a.principal(Role.bureau), "POST", f"/competition-rounds/{first}/result-notices"
    )
    assert nothing.json()["code"] == "competition_results_nothing_to_notice"

    clock.set(NOTICE_END - timedelta(seconds=1))
    early = _publish(api, side_a, first)
    assert (early["published"], early["records"], early["waiting"]) == (0, 0, 2)
    assert _records(session) == []

    clock.set(NOTICE_END)
    done = _publish(api, side_a, first)
    assert (done["published"], done["records"], done["advanced"]) == (2, 4, 1)
    again = _publish(api, side_a, first)
    assert (again["published"], again["records"], again["advanced"]) == (0, 0, 0)
    assert publish_due(session, now=clock.now() + timedelta(days=1), actor=None).records == 0

    records = _records(session)
    assert len(records) == 4
    by_student = {r.student_id: r for r in records}
    assert set(by_student) == {
        s.id for s in scene.members[team.id or 0] + scene.members[solo.id or 0]
    }
    captain = by_student[scene.members[team.id or 0][0].id or 0]
    assert captain.status == "confirmed"
    assert captain.role == "contestant"
    assert captain.category == "competition"
    assert captain.dimension == "academic"
    assert captain.outcome == "县级选拔：一等奖（晋级下一轮）"
    assert captain.source_ref == f"competition:{first}:{team.id}"
    assert captain.attester_unit == side_a.bureau.name
    assert captain.confirmed_at == NOTICE_END
    assert by_student[scene.members[solo.id or 0][0].id or 0].outcome == "县级选拔：优秀奖"


def test_participation_appends_only_for_the_entrys_last_round(
    api: Api, session: Session, clock: FrozenClock, side_a: Side, scene: ResultsScene
) -> None:
    first, second = (r.id or 0 for r in scene.rounds)
    goes_on = accepted_entry(session, scene, school=side_a.school, size=1)
    stops = accepted_entry(session, scene, school=side_a.school, size=1)
    _set(api, side_a, first, goes_on.id or 0, "participation", True)
    _set(api, side_a, first, stops.id or 0, "participation", False)
    _notice(api, side_a, first)
    clock.set(NOTICE_END)
    assert _publish(api, side_a, first)["records"] == 1
    assert [r.source_ref for r in _records(session)] == [f"competition:{first}:{stops.id}"]

    # the final, organised by the venue: 参与 there is the entry's last round
    accept_advanced(session, entry_id=goes_on.id or 0, round_id=second)
    venue = side_a.principal(Role.venue_admin)
    response = api.call(
        venue,
        "PUT",
        f"/competition-rounds/{second}/results/{goes_on.id}",
        json={"award": "participation", "advances": False},
    )
    assert response.status_code == 200, response.text
    assert (
        api.call(venue, "POST", f"/competition-rounds/{second}/result-notices").status_code == 201
    )
    clock.advance(timedelta(days=14))
    assert _publish(api, side_a, second, role=Role.venue_admin)["records"] == 1
    record = _records(session)[-1]
    assert record.source_ref == f"competition:{second}:{goes_on.id}"
    assert record.outcome == "市级决赛：参与"
    assert record.organiser_venue_id == side_a.venue.id


def test_participation_is_appended_when_an_advanced_entry_leaves_the_next_round(
    api: Api, session: Session, clock: FrozenClock, side_a: Side, scene: ResultsScene
) -> None:
    """参与 with an advance appends nothing at first; when the next round's organiser rejects
    the entry, or the school withdraws it there, the round it advanced from was the last it
    took part in: its 参与 record is appended then (once)."""
    first, second = (r.id or 0 for r in scene.rounds)
    rejected = accepted_entry(session, scene, school=side_a.school, size=2)
    withdrawn = accepted_entry(session, scene, school=side_a.school, size=1)
    for entry in (rejected, withdrawn):
        _set(api, side_a, first, entry.id or 0, "participation", True)
    _notice(api, side_a, first)
    clock.set(NOTICE_END)
    assert _publish(api, side_a, first)["records"] == 0

    venue = side_a.principal(Role.venue_admin)
    refused = api.call(
        venue,
        "POST",
        f"/competition-rounds/{second}/entries/{rejected.id}/reject",
        json={"reason": "作品不符合决赛要求"},
    )
    assert refused.status_code == 200, refused.text
    assert (
        sorted((r.source_ref, r.outcome) for r in _records(session))
        == [(f"competition:{first}:{rejected.id}", "县级选拔：参与（晋级下一轮）")] * 2
    )
    scene.rounds[1].registration_closes_at = clock.now() + timedelta(days=7)  # the final's
    session.add(scene.rounds[1])  # deadline still ahead: the school may withdraw
    session.commit()
    left = api.call(
        side_a.principal(Role.school_staff), "POST", f"/competition-entries/{withdrawn.id}/withdraw"
    )
    assert left.status_code == 200, left.text
    refs = [r.source_ref for r in _records(session)]
    assert refs.count(f"competition:{first}:{withdrawn.id}") == 1
    assert len(refs) == 3


def test_an_advancing_entry_is_in_the_next_rounds_list_without_registering(
    api: Api, session: Session, clock: FrozenClock, side_a: Side, scene: ResultsScene
) -> None:
    first, second = (r.id or 0 for r in scene.rounds)
    up = accepted_entry(session, scene, school=side_a.school)
    out = accepted_entry(session, scene, school=side_a.school)
    _set(api, side_a, first, up.id or 0, "special", True)
    _set(api, side_a, first, out.id or 0, "third", False)
    _notice(api, side_a, first)

    venue = side_a.principal(Role.venue_staff)
    before = api.call(venue, "GET", f"/competition-rounds/{second}/results").json()
    assert before["items"] == []  # not before the results are published
    clock.set(NOTICE_END)
    _publish(api, side_a, first)
    _publish(api, side_a, first)

    places = session.exec(select(RoundEntry).where(RoundEntry.round_id == second)).all()
    assert [(p.entry_id, p.status, p.via, p.holds_quota) for p in places] == [
        (up.id, "recommended", "advanced", False)
    ]  # sent to the final's organiser, who accepts it as any entry sent to it
    accept_advanced(session, entry_id=up.id or 0, round_id=second)
    listed = api.call(venue, "GET", f"/competition-rounds/{second}/results").json()
    assert [(i["entry_id"], i["via"], i["result"]) for i in listed["items"]] == [
        (up.id, "advanced", None)
    ]
    assert [m["name"] for m in listed["items"][0]["members"]] == [
        s.name for s in scene.members[up.id or 0]
    ]


def test_advancing_goes_to_the_next_position_even_with_a_gap(
    api: Api, session: Session, clock: FrozenClock, side_a: Side, scene: ResultsScene
) -> None:
    """Rounds at positions 1 and 3 (a round 2 deleted, or never planned): the next round is the
    smallest position above the current one, not position + 1."""
    first, final = scene.rounds
    final.position = 3
    session.add(final)
    session.flush()
    up = accepted_entry(session, scene, school=side_a.school)
    _set(api, side_a, first.id or 0, up.id or 0, "first", True)
    _notice(api, side_a, first.id or 0)
    clock.set(NOTICE_END)
    _publish(api, side_a, first.id or 0)

    places = session.exec(select(RoundEntry).where(RoundEntry.round_id == final.id)).all()
    assert [(p.entry_id, p.via) for p in places] == [(up.id, "advanced")]


def test_an_objection_holds_the_result_until_the_organiser_resolves_it(
    api: Api,
    session: Session,
    clock: FrozenClock,
    side_a: Side,
    side_b: Side,
    scene: ResultsScene,
) -> None:
    first = scene.rounds[0].id or 0
    disputed = accepted_entry(session, scene, school=side_a.school)
    quiet = accepted_entry(session, scene, school=side_a.school)
    result_id = _set(api, side_a, first, disputed.id or 0, "third", False)["id"]
    _set(api, side_a, first, quiet.id or 0, "second", False)
    _notice(api, side_a, first)

    teacher = side_a.principal(Role.school_staff)
    seen = api.call(teacher, "GET", f"/competition-rounds/{first}/results").json()
    assert {i["entry_id"] for i in seen["items"]} == {disputed.id, quiet.id}
    assert seen["note"] == "竞赛结果不作为中小学招生入学的依据"
    url = f"/competition-results/{result_id}/objections"
    objected = api.call(teacher, "POST", url, json={"reason": "评分表漏计一项，应为二等奖"})
    assert objected.status_code == 201, objected.text
    twice = api.call(teacher, "POST", url, json={"reason": "再次提出"})
    assert twice.json()["code"] == "competition_result_objection_duplicate"
    stranger = api.call(side_b.principal(Role.school_staff), "POST", url, json={"reason": "不对"})
    assert stranger.status_code == 404

    clock.set(NOTICE_END)
    late = api.call(side_a.principal(Role.school_admin), "POST", url, json={"reason": "太晚了"})
    assert late.json()["code"] == "competition_result_notice_closed"
    held = _publish(api, side_a, first)
    assert (held["published"], held["held"]) == (1, 1)
    assert {r.student_id for r in _records(session)} == {s.id for s in scene.members[quiet.id or 0]}

    listed = api.call(
        side_a.principal(Role.bureau), "GET", f"/competition-rounds/{first}/result-objections"
    ).json()
    assert [o["status"] for o in listed] == ["open"]
    resolve = f"/competition-result-objections/{listed[0]['id']}/resolution"
    outsider = api.call(
        side_b.principal(Role.bureau),
        "POST",
        resolve,
        json={"decision": "dismiss", "resolution": "x"},
    )
    assert outsider.status_code == 404
    upheld = api.call(
        side_a.principal(Role.bureau),
        "POST",
        resolve,
        json={"decision": "uphold", "resolution": "复核属实，改为二等奖"},
    )
    assert upheld.status_code == 200, upheld.text
    assert upheld.json()["status"] == "upheld"
    again = api.call(
        side_a.principal(Role.bureau),
        "POST",
        resolve,
        json={"decision": "dismiss", "resolution": "x"},
    )
    assert again.json()["code"] == "competition_result_objection_resolved"

    # back to a draft: corrected, on notice again, published with the corrected award
    assert session.get(Result, result_id).status == "draft"  # type: ignore[union-attr]
    _set(api, side_a, first, disputed.id or 0, "second", False)
    _notice(api, side_a, first)
    assert _publish(api, side_a, first)["published"] == 0
    clock.advance(timedelta(days=14))
    assert _publish(api, side_a, first)["published"] == 1
    outcomes = {r.outcome for r in _records(session) if r.source_ref.endswith(f":{disputed.id}")}
    assert outcomes == {"县级选拔：二等奖"}


def test_a_dismissed_objection_lets_the_result_be_published(
    api: Api, session: Session, clock: FrozenClock, side_a: Side, scene: ResultsScene
) -> None:
    first = scene.rounds[0].id or 0
    entry = accepted_entry(session, scene, school=side_a.school, size=1)
    result_id = _set(api, side_a, first, entry.id or 0, "first", False)["id"]
    _notice(api, side_a, first)
    api.call(
        side_a.principal(Role.school_admin),
        "POST",
        f"/competition-results/{result_id}/objections",
        json={"reason": "请复核"},
    ).raise_for_status()
    clock.set(NOTICE_END)
    assert _publish(api, side_a, first)["held"] == 1
    objection = session.exec(select(ResultObjection)).one()
    api.call(
        side_a.principal(Role.bureau),
        "POST",
        f"/competition-result-objections/{objection.id}/resolution",
        json={"decision": "dismiss", "resolution": "经复核成绩无误"},
    ).raise_for_status()
    assert _publish(api, side_a, first)["published"] == 1
    assert len(_records(session)) == 1


def test_the_worker_publishes_due_results(
    api: Api,
    session: Session,
    clock: FrozenClock,
    settings: Settings,
    side_a: Side,
    scene: ResultsScene,
) -> None:
    first = scene.rounds[0].id or 0
    entry = accepted_entry(session, scene, school=side_a.school)
    _set(api, side_a, first, entry.id or 0, "second", False)
    _notice(api, side_a, first)
    jobs = scheduled_jobs()
    assert "publish-competition-results" in jobs.names()
    assert jobs.run("publish-competition-results", session, NOTICE_END, settings) == 1
    assert jobs.run("publish-competition-results", session, NOTICE_END, settings) == 0
    assert len(_records(session)) == 2
    assert {r.created_by for r in _records(session)} == {"system"}


def test_the_category_decides_the_dimension() -> None:
    """Drama and film have a dimension of their own; the rest take the region's mapping of
    competition records (the record seam: nationally 学业水平, as the captain's record above)."""
    assert dimension_for("robotics") is None
    assert dimension_for("olympiad") is None
    assert dimension_for("science_drama") is Dimension.art
    assert dimension_for("unknown") is None


def test_another_school_taking_part_sees_the_notice_and_may_object(
    api: Api, session: Session, side_a: Side, scene: ResultsScene
) -> None:
    first = scene.rounds[0].id or 0
    theirs = accepted_entry(session, scene, school=side_a.school, size=1)
    create_region(session, "970102", "县970102", "county", "970100")
    rival_school = create_school(session, region_code="970102")
    ours = accepted_entry(session, scene, school=rival_school, size=1)
    result_id = _set(api, side_a, first, theirs.id or 0, "first", False)["id"]
    _set(api, side_a, first, ours.id or 0, "third", False)
    rival = Principal(subject="account:700001", role=Role.school_staff, school_id=rival_school.id)

    hidden = api.call(rival, "GET", f"/competition-rounds/{first}/results").json()
    assert hidden["items"] == []  # drafts are the organiser's
    _notice(api, side_a, first)
    listed = api.call(rival, "GET", f"/competition-rounds/{first}/results").json()
    classes = {i["entry_id"]: i["members"][0]["class_label"] for i in listed["items"]}
    assert classes == {theirs.id: "", ours.id: "四年级1班"}
    objected = api.call(
        rival,
        "POST",
        f"/competition-results/{result_id}/objections",
        json={"reason": "该作品与去年获奖作品相同"},
    )
    assert objected.status_code == 201, objected.text
    assert objected.json()["school_id"] == rival_school.id


def test_a_member_whose_guardian_withdrew_gets_no_record(
    api: Api, session: Session, clock: FrozenClock, side_a: Side, scene: ResultsScene
) -> None:
    first = scene.rounds[0].id or 0
    team = accepted_entry(session, scene, school=side_a.school, size=2)
    _set(api, side_a, first, team.id or 0, "first", False)
    _notice(api, side_a, first)
    withdrawn = session.exec(
        select(EntryMember.student_id).where(EntryMember.entry_id == team.id)
    ).first()
    session.add(  # issue 20: withdrawing stops new records
        ConsentRecord(
            student_id=withdrawn or 0,
            purpose="participation_record",
            decision="withdraw",
            notice_version=NOTICE_VERSION,
            channel="paper",
            guardian_name="王女士",
            recorded_by="account:1",
            recorded_at=NOW,
        )
    )
    session.flush()
    clock.set(NOTICE_END)
    done = _publish(api, side_a, first)
    assert (done["published"], done["records"]) == (1, 1)
    assert withdrawn not in {r.student_id for r in _records(session)}
