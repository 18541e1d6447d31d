"""Entries and teams: registration by a pupil, a guardian or the school; invitations; the
school's recommendation and the organiser's decision; and every refusal, which writes nothing."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from scipass.account.models import Account
from scipass.competition.models import (
    Entry,
    EntryMember,
    Invitation,
    Quota,
    RoundEntry,
    WhitelistEntry,
)
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from tests.factories import (
    NOW,
    CompetitionScene,
    Side,
    auth,
    bound_student,
    create_competition,
    create_student,
    grant_consent,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def scene(session: Session, side_a: Side) -> CompetitionScene:
    return create_competition(session, bureau=side_a.bureau, region_code=side_a.region_code)


def pupil(session: Session, side: Side, **overrides: Any) -> Principal:
    """A bound pupil of 15 (no consent needed) in grade 4 of side's school, unless overridden."""
    values: dict[str, Any] = {"birth_month": NOW.date().replace(year=2011, day=1)}
    values.update(overrides)
    _, principal = bound_student(session, school_id=side.school.id or 0, **values)
    return principal


def call(
    client: TestClient,
    settings: Settings,
    who: Principal,
    method: str,
    url: str,
    **kwargs: Any,
) -> Any:
    return client.request(method, "/api/v1" + url, headers=auth(settings, who), **kwargs)


def entries_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Entry)).one()


def test_team_from_registration_to_the_organisers_acceptance(
    client: TestClient, settings: Settings, session: Session, side_a: Side, scene: CompetitionScene
) -> None:
    captain = pupil(session, side_a)
    mate = pupil(session, side_a, name="李小红", class_name="2班")
    teacher = Account(
        username="advisor-a",
        display_name="王老师",
        role="school_staff",
        school_id=side_a.school.id,
        password_hash="x",
        created_at=NOW,
        password_changed_at=NOW,
    )
    session.add(teacher)
    session.flush()

    created = call(
        client,
        settings,
        captain,
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id, "title": "智能垃圾分类机器人"},
    )
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["status"] == "forming"
    assert entry["number"].startswith("C2026-")
    assert [m["role"] for m in entry["members"]] == ["captain"]

    code = call(
        client, settings, captain, "POST", f"/competition-entries/{entry['id']}/invitations"
    )
    assert code.status_code == 201
    joined = call(
        client, settings, mate, "POST", "/competition-invitations/accept", json=code.json()
    )
    assert joined.status_code == 200, joined.text
    assert len(joined.json()["members"]) == 2
    advisor = call(
        client,
        settings,
        captain,
        "POST",
        f"/competition-entries/{entry['id']}/advisors",
        json={"account_id": teacher.id},
    )
    assert advisor.json()["advisors"][0]["name"] == "王老师"
    submitted = call(
        client, settings, captain, "POST", f"/competition-entries/{entry['id']}/submit"
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["rounds"][0]["status"] == "submitted"

    staff = side_a.principal(Role.school_staff)
    school_list = call(client, settings, staff, "GET", "/competition-entries").json()
    assert [e["id"] for e in school_list["items"]] == [entry["id"]]
    recommended = call(
        client, settings, staff, "POST", f"/competition-entries/{entry['id']}/recommend"
    )
    assert recommended.json()["rounds"][0]["status"] == "recommended"

    organiser = side_a.principal(Role.bureau)
    sent = call(client, settings, organiser, "GET", f"/competition-rounds/{scene.round.id}/entries")
    assert sent.status_code == 200, sent.text
    [item] = sent.json()["items"]
    assert item["school_name"] == side_a.school.name
    assert [set(m) for m in item["members"]] == [{"name", "class_name", "class_label"}] * 2
    assert {m["name"] for m in item["members"]} == {"张小明", "李小红"}
    accepted = call(
        client,
        settings,
        organiser,
        "POST",
        f"/competition-rounds/{scene.round.id}/entries/{entry['id']}/accept",
    )
    assert accepted.json()["status"] == "accepted"

    mine = call(client, settings, mate, "GET", "/competition-entries").json()["items"]
    assert [(e["id"], e["rounds"][0]["status"]) for e in mine] == [(entry["id"], "accepted")]


def test_a_guardian_registers_for_a_child_and_the_school_for_pupils_without_phones(
    client: TestClient, settings: Settings, session: Session, side_a: Side, scene: CompetitionScene
) -> None:
    child = side_a.student  # 10 years old: consent first
    grant_consent(
        session, student=child, link=side_a.guardian_link, purposes=["participation_record"]
    )
    guardian = side_a.principal(Role.guardian)
    by_guardian = client.post(
        f"/api/v1/competition-rounds/{scene.round.id}/entries",
        params={"student_id": child.id},
        json={"division_id": scene.division.id},
        headers=auth(settings, guardian),
    )
    assert by_guardian.status_code == 201, by_guardian.text
    assert by_guardian.json()["members"][0]["student_id"] == child.id

    no_phones = [
        create_student(
            session,
            school_id=side_a.school.id or 0,
            birth_month=NOW.date().replace(year=2011, day=1),
        )
        for _ in range(2)
    ]
    by_school = call(
        client,
        settings,
        side_a.principal(Role.school_admin),
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id, "student_ids": [s.id for s in no_phones]},
    )
    assert by_school.status_code == 201, by_school.text
    assert by_school.json()["registered_by_kind"] == "school"
    assert [m["role"] for m in by_school.json()["members"]] == ["captain", "member"]


def test_an_under_14_pupil_needs_consent_to_join(
    client: TestClient, settings: Settings, session: Session, side_a: Side, scene: CompetitionScene
) -> None:
    captain = pupil(session, side_a)
    entry = call(
        client,
        settings,
        captain,
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id},
    ).json()
    code = call(
        client, settings, captain, "POST", f"/competition-entries/{entry['id']}/invitations"
    )
    young = side_a.principal(Role.student)  # side A's pupil is 10, no consent recorded
    refused = call(
        client, settings, young, "POST", "/competition-invitations/accept", json=code.json()
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "consent_required"
    assert session.exec(select(Invitation.used_at)).one() is None  # the code is still usable


# --- every refusal, with its own code, writing nothing ----------------------------------------


@pytest.mark.parametrize("moment", [-timedelta(days=2), timedelta(days=8)], ids=["early", "late"])
def test_outside_the_window(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    scene: CompetitionScene,
    clock: FrozenClock,
    moment: timedelta,
) -> None:
    captain = pupil(session, side_a)
    clock.set(NOW + moment)
    response = client.post(
        f"/api/v1/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id},
        headers=auth(settings, captain, now=NOW + moment),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "competition_outside_window"
    assert entries_count(session) == 0


def test_the_division_must_fit_the_stage(
    client: TestClient, settings: Settings, session: Session, side_a: Side, scene: CompetitionScene
) -> None:
    junior = pupil(session, side_a, stage="junior", grade=8)
    response = call(
        client,
        settings,
        junior,
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "competition_division_mismatch"
    assert entries_count(session) == 0


def _school_entry(
    client: TestClient, settings: Settings, side: Side, scene: CompetitionScene, ids: list[int]
) -> Any:
    return call(
        client,
        settings,
        side.principal(Role.school_staff),
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id, "student_ids": ids, "title": "水质检测仪"},
    )


def _old_pupils(session: Session, side: Side, n: int) -> list[int]:
    return [
        create_student(
            session, school_id=side.school.id or 0, birth_month=NOW.date().replace(year=2011, day=1)
        ).id
        or 0
        for _ in range(n)
    ]


def test_team_too_large_and_too_small(
    client: TestClient, settings: Settings, session: Session, side_a: Side, scene: CompetitionScene
) -> None:
    too_many = _school_entry(client, settings, side_a, scene, _old_pupils(session, side_a, 4))
    assert too_many.status_code == 409
    assert too_many.json()["code"] == "competition_team_too_large"
    assert entries_count(session) == 0

    alone = _school_entry(client, settings, side_a, scene, _old_pupils(session, side_a, 1)).json()
    too_few = call(
        client,
        settings,
        side_a.principal(Role.school_staff),
        "POST",
        f"/competition-entries/{alone['id']}/submit",
    )
    assert too_few.status_code == 422
    assert too_few.json()["code"] == "competition_team_too_small"
    assert session.exec(select(func.count()).select_from(RoundEntry)).one() == 0
    assert session.get(Entry, alone["id"]).status == "forming"  # type: ignore[union-attr]


def test_a_full_team_refuses_one_more_by_invitation(
    client: TestClient, settings: Settings, session: Session, side_a: Side, scene: CompetitionScene
) -> None:
    entry = _school_entry(client, settings, side_a, scene, _old_pupils(session, side_a, 3)).json()
    staff = side_a.principal(Role.school_staff)
    code = call(client, settings, staff, "POST", f"/competition-entries/{entry['id']}/invitations")
    response = call(
        client,
        settings,
        pupil(session, side_a),
        "POST",
        "/competition-invitations/accept",
        json=code.json(),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "competition_team_too_large"
    assert session.exec(select(func.count()).select_from(EntryMember)).one() == 3


def test_a_pupil_is_in_one_entry_of_a_division(
    client: TestClient, settings: Settings, session: Session, side_a: Side, scene: CompetitionScene
) -> None:
    ids = _old_pupils(session, side_a, 2)
    assert _school_entry(client, settings, side_a, scene, ids).status_code == 201
    again = _school_entry(
        client, settings, side_a, scene, [_old_pupils(session, side_a, 1)[0], ids[1]]
    )
    assert again.status_code == 409
    assert again.json()["code"] == "competition_already_entered"
    assert entries_count(session) == 1


def test_a_withdrawal_frees_the_pupils(
    client: TestClient, settings: Settings, session: Session, side_a: Side, scene: CompetitionScene
) -> None:
    ids = _old_pupils(session, side_a, 2)
    first = _school_entry(client, settings, side_a, scene, ids).json()
    staff = side_a.principal(Role.school_staff)
    withdrawn = call(
        client, settings, staff, "POST", f"/competition-entries/{first['id']}/withdraw"
    )
    assert withdrawn.json()["status"] == "withdrawn"
    assert _school_entry(client, settings, side_a, scene, ids).status_code == 201


def _submitted(
    client: TestClient, settings: Settings, session: Session, side: Side, scene: CompetitionScene
) -> int:
    entry = _school_entry(client, settings, side, scene, _old_pupils(session, side, 2)).json()
    staff = side.principal(Role.school_staff)
    assert (
        call(
            client, settings, staff, "POST", f"/competition-entries/{entry['id']}/submit"
        ).status_code
        == 200
    )
    return entry["id"]


def test_the_school_quota_and_a_withdrawal_giving_the_place_back(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    scene = create_competition(
        session, bureau=side_a.bureau, region_code=side_a.region_code, round={"school_quota": 1}
    )
    first, second = (_submitted(client, settings, session, side_a, scene) for _ in range(2))
    staff = side_a.principal(Role.school_staff)
    assert (
        call(client, settings, staff, "POST", f"/competition-entries/{first}/recommend").status_code
        == 200
    )
    full = call(client, settings, staff, "POST", f"/competition-entries/{second}/recommend")
    assert full.status_code == 409
    assert full.json()["code"] == "competition_school_quota_reached"
    assert session.exec(select(Quota.used)).one() == 1
    assert (
        session.exec(select(RoundEntry.status).where(RoundEntry.entry_id == second)).one()
        == "submitted"
    )

    call(
        client, settings, staff, "POST", f"/competition-entries/{first}/withdraw"
    ).raise_for_status()
    assert session.exec(select(Quota.used)).one() == 0
    assert (
        call(
            client, settings, staff, "POST", f"/competition-entries/{second}/recommend"
        ).status_code
        == 200
    )


def test_the_school_declines_with_a_reason(
    client: TestClient, settings: Settings, session: Session, side_a: Side, scene: CompetitionScene
) -> None:
    entry = _submitted(client, settings, session, side_a, scene)
    staff = side_a.principal(Role.school_staff)
    declined = call(
        client,
        settings,
        staff,
        "POST",
        f"/competition-entries/{entry}/decline",
        json={"reason": "作品尚未完成"},
    )
    assert declined.json()["rounds"][0]["status"] == "declined"
    assert declined.json()["rounds"][0]["school_reason"] == "作品尚未完成"
    organiser = side_a.principal(Role.bureau)
    sent = call(client, settings, organiser, "GET", f"/competition-rounds/{scene.round.id}/entries")
    assert sent.json()["total"] == 0


def test_whitelisted_only_school_cannot_enter_a_competition_off_the_list(
    client: TestClient, settings: Settings, session: Session, side_a: Side, scene: CompetitionScene
) -> None:
    admin = side_a.principal(Role.school_admin)
    switched = call(
        client,
        settings,
        admin,
        "PATCH",
        f"/schools/{side_a.school.id}/settings",
        json={"whitelisted_competitions_only": True},
    )
    assert switched.json()["whitelisted_competitions_only"] is True
    captain = pupil(session, side_a)
    refused = call(
        client,
        settings,
        captain,
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id},
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "competition_not_whitelisted"
    assert entries_count(session) == 0

    from tests.factories import national_entry_id

    listed = create_competition(
        session,
        bureau=side_a.bureau,
        region_code=side_a.region_code,
        whitelist_entry_id=national_entry_id(session),
    )
    allowed = call(
        client,
        settings,
        captain,
        "POST",
        f"/competition-rounds/{listed.round.id}/entries",
        json={"division_id": listed.division.id},
    )
    assert allowed.status_code == 201, allowed.text


def test_whitelisted_only_school_cannot_enter_a_division_of_stages_the_list_does_not_admit(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    """The national list's entry no. 6 admits senior pupils only: it does not whitelist the
    competition's primary division."""
    side_a.school.whitelisted_competitions_only = True
    session.add(side_a.school)
    session.flush()
    senior_only = session.exec(select(WhitelistEntry.id).where(WhitelistEntry.number == 6)).one()
    scene = create_competition(
        session,
        bureau=side_a.bureau,
        region_code=side_a.region_code,
        whitelist_entry_id=senior_only,
    )
    refused = call(
        client,
        settings,
        pupil(session, side_a),
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id},
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "competition_not_whitelisted"
    assert entries_count(session) == 0


def test_attachment_wrong_type_and_too_large(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    scene = create_competition(
        session,
        bureau=side_a.bureau,
        region_code=side_a.region_code,
        edition={"attachment_max_bytes": 1024},
    )
    captain = pupil(session, side_a)
    entry = call(
        client,
        settings,
        captain,
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id},
    ).json()
    url = f"/competition-entries/{entry['id']}/attachment"
    gif = call(
        client,
        settings,
        captain,
        "PUT",
        url,
        files={"file": ("a.png", b"GIF89a" + bytes(64), "image/png")},
    )
    assert gif.status_code == 415
    assert gif.json()["code"] == "competition_attachment_type_invalid"
    big = call(
        client,
        settings,
        captain,
        "PUT",
        url,
        files={"file": ("a.pdf", b"%PDF-1.4\n" + bytes(2048), "application/pdf")},
    )
    assert big.status_code == 413
    assert big.json()["code"] == "competition_attachment_too_large"
    assert session.get(Entry, entry["id"]).attachment_sha256 is None  # type: ignore[union-attr]


def test_attachment_accepted_and_required_fields_at_submission(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    from PIL import Image

    scene = create_competition(
        session,
        bureau=side_a.bureau,
        region_code=side_a.region_code,
        edition={"requires_abstract": True, "requires_attachment": True},
        division={"kind": "individual", "min_members": 1, "max_members": 1},
    )
    captain = pupil(session, side_a)
    entry = call(
        client,
        settings,
        captain,
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id},
    ).json()
    missing = call(client, settings, captain, "POST", f"/competition-entries/{entry['id']}/submit")
    assert missing.status_code == 422
    assert missing.json()["code"] == "competition_entry_field_missing"
    assert missing.json()["fields"] == ["title", "abstract", "attachment"]
    assert session.get(Entry, entry["id"]).status == "forming"  # type: ignore[union-attr]

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    attached = call(
        client,
        settings,
        captain,
        "PUT",
        f"/competition-entries/{entry['id']}/attachment",
        files={"file": ("作品照片.png", buffer.getvalue(), "image/png")},
    )
    assert attached.status_code == 200, attached.text
    assert attached.json()["has_attachment"] is True
    call(
        client,
        settings,
        captain,
        "PATCH",
        f"/competition-entries/{entry['id']}",
        json={"title": "校园噪声调查", "abstract": "测量了课间噪声"},
    ).raise_for_status()
    done = call(client, settings, captain, "POST", f"/competition-entries/{entry['id']}/submit")
    assert done.status_code == 200, done.text
    download = call(
        client, settings, captain, "GET", f"/competition-entries/{entry['id']}/attachment"
    )
    assert download.status_code == 200
    assert download.content.startswith(PNG)


def test_the_organiser_of_a_round_the_entry_was_sent_to_downloads_its_attachment(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    """The bureau organising the round reads the PDF once the school recommended the entry; a
    bureau of another region, a venue not organising it and the bureau before the school sent
    it do not (404, as for an entry they cannot see)."""
    from tests.record.samples import plain_pdf

    scene = create_competition(
        session,
        bureau=side_a.bureau,
        region_code=side_a.region_code,
        division={"kind": "individual", "min_members": 1, "max_members": 1},
    )
    captain = pupil(session, side_a)
    entry = call(
        client,
        settings,
        captain,
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id, "title": "校园噪声调查"},
    ).json()
    url = f"/competition-entries/{entry['id']}/attachment"
    pdf = plain_pdf()
    attached = call(
        client, settings, captain, "PUT", url, files={"file": ("报告.pdf", pdf, "application/pdf")}
    )
    assert attached.status_code == 200, attached.text
    call(client, settings, captain, "POST", f"/competition-entries/{entry['id']}/submit")
    organiser = side_a.principal(Role.bureau)
    assert call(client, settings, organiser, "GET", url).status_code == 404  # not sent yet

    staff = side_a.principal(Role.school_staff)
    sent = call(client, settings, staff, "POST", f"/competition-entries/{entry['id']}/recommend")
    assert sent.status_code == 200, sent.text
    download = call(client, settings, organiser, "GET", url)
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/pdf"
    assert download.content.startswith(b"%PDF-")
    for outsider in (side_b.principal(Role.bureau), side_a.principal(Role.venue_staff)):
        refused = call(client, settings, outsider, "GET", url)
        assert refused.status_code == 404, outsider.role
        assert refused.json()["code"] == "competition_entry_not_found"


def test_invitation_expired_or_used(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    scene: CompetitionScene,
    clock: FrozenClock,
) -> None:
    captain = pupil(session, side_a)
    entry = call(
        client,
        settings,
        captain,
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id},
    ).json()
    first = call(
        client, settings, captain, "POST", f"/competition-entries/{entry['id']}/invitations"
    ).json()
    second = call(
        client, settings, captain, "POST", f"/competition-entries/{entry['id']}/invitations"
    ).json()
    mate, late = pupil(session, side_a), pupil(session, side_a)
    assert (
        call(
            client,
            settings,
            mate,
            "POST",
            "/competition-invitations/accept",
            json={"code": first["code"]},
        ).status_code
        == 200
    )
    used = call(
        client,
        settings,
        late,
        "POST",
        "/competition-invitations/accept",
        json={"code": first["code"]},
    )
    assert used.status_code == 409
    assert used.json()["code"] == "competition_invitation_used"

    later = NOW + timedelta(minutes=31)
    clock.set(later)
    expired = client.post(
        "/api/v1/competition-invitations/accept",
        json={"code": second["code"]},
        headers=auth(settings, late, now=later),
    )
    assert expired.status_code == 409
    assert expired.json()["code"] == "competition_invitation_expired"
    assert session.exec(select(func.count()).select_from(EntryMember)).one() == 2
    unknown = client.post(
        "/api/v1/competition-invitations/accept",
        json={"code": "ZZZZZZZZ"},
        headers=auth(settings, late, now=later),
    )
    assert unknown.json()["code"] == "competition_invitation_invalid"


def test_the_captain_removes_a_member_until_submission(
    client: TestClient, settings: Settings, session: Session, side_a: Side, scene: CompetitionScene
) -> None:
    captain = pupil(session, side_a)
    entry = call(
        client,
        settings,
        captain,
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id, "title": "桥梁模型"},
    ).json()
    for _ in range(2):
        code = call(
            client, settings, captain, "POST", f"/competition-entries/{entry['id']}/invitations"
        ).json()
        call(
            client,
            settings,
            pupil(session, side_a),
            "POST",
            "/competition-invitations/accept",
            json=code,
        ).raise_for_status()
    members = call(client, settings, captain, "GET", f"/competition-entries/{entry['id']}").json()[
        "members"
    ]
    removed = call(
        client,
        settings,
        captain,
        "DELETE",
        f"/competition-entries/{entry['id']}/members/{members[2]['id']}",
    )
    assert len(removed.json()["members"]) == 2
    call(
        client, settings, captain, "POST", f"/competition-entries/{entry['id']}/submit"
    ).raise_for_status()
    late = call(
        client,
        settings,
        captain,
        "DELETE",
        f"/competition-entries/{entry['id']}/members/{members[1]['id']}",
    )
    assert late.status_code == 409
    assert late.json()["code"] == "competition_entry_state_invalid"
    # a member who is not the captain cannot remove anyone
    mate = Principal(
        subject="wechat:0",
        role=Role.student,
        school_id=side_a.school.id,
        student_id=members[1]["student_id"],
    )
    assert (
        call(
            client, settings, mate, "POST", f"/competition-entries/{entry['id']}/withdraw"
        ).status_code
        == 409
    )


def test_withdrawal_after_the_deadline_is_refused(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    scene: CompetitionScene,
    clock: FrozenClock,
) -> None:
    entry = _submitted(client, settings, session, side_a, scene)
    later = NOW + timedelta(days=8)
    clock.set(later)
    response = client.post(
        f"/api/v1/competition-entries/{entry}/withdraw",
        headers=auth(settings, side_a.principal(Role.school_staff), now=later),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "competition_outside_window"
    assert session.get(Entry, entry).status == "submitted"  # type: ignore[union-attr]


def test_other_schools_and_organisers_see_nothing(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    scene: CompetitionScene,
) -> None:
    entry = _submitted(client, settings, session, side_a, scene)
    other = call(
        client,
        settings,
        side_b.principal(Role.school_staff),
        "GET",
        f"/competition-entries/{entry}",
    )
    assert other.status_code == 404
    assert (
        call(
            client, settings, side_b.principal(Role.school_staff), "GET", "/competition-entries"
        ).json()["total"]
        == 0
    )
    venue = call(
        client,
        settings,
        side_a.principal(Role.venue_staff),
        "GET",
        f"/competition-rounds/{scene.round.id}/entries",
    )
    assert venue.status_code == 404
    # side B's pupils cannot register in side A's county round
    far = call(
        client,
        settings,
        side_b.principal(Role.school_staff),
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id, "student_ids": [side_b.student.id]},
    )
    assert far.status_code == 404
    assert far.json()["code"] == "competition_round_not_found"


def test_a_rejected_entry_withdrawn_gives_its_quota_place_back(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    """The organiser rejects one of the school's recommended entries before the deadline; the
    school withdraws it and recommends another in its place (issue 17: a withdrawal frees the
    place and the quota)."""
    scene = create_competition(
        session, bureau=side_a.bureau, region_code=side_a.region_code, round={"school_quota": 1}
    )
    first, second = (_submitted(client, settings, session, side_a, scene) for _ in range(2))
    staff = side_a.principal(Role.school_staff)
    call(client, settings, staff, "POST", f"/competition-entries/{first}/recommend")
    rejected = call(
        client,
        settings,
        side_a.principal(Role.bureau),
        "POST",
        f"/competition-rounds/{scene.round.id}/entries/{first}/reject",
        json={"reason": "缺少研究报告"},
    )
    assert rejected.status_code == 200, rejected.text
    full = call(client, settings, staff, "POST", f"/competition-entries/{second}/recommend")
    assert full.json()["code"] == "competition_school_quota_reached"  # the rejected one holds it
    call(
        client, settings, staff, "POST", f"/competition-entries/{first}/withdraw"
    ).raise_for_status()
    assert session.exec(select(Quota.used)).one() == 0
    again = call(client, settings, staff, "POST", f"/competition-entries/{second}/recommend")
    assert again.status_code == 200, again.text
    assert session.exec(select(Quota.used)).one() == 1


def test_a_captain_cannot_put_a_schoolmate_into_the_team(
    client: TestClient, settings: Settings, session: Session, side_a: Side, scene: CompetitionScene
) -> None:
    """Team-mates join by accepting the captain's invitation; only the school adds a pupil
    directly (pupils without phones)."""
    captain = pupil(session, side_a)
    schoolmate, _ = bound_student(
        session, school_id=side_a.school.id or 0, birth_month=NOW.date().replace(year=2011, day=1)
    )
    entry = call(
        client,
        settings,
        captain,
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id, "title": "水质监测浮标"},
    ).json()
    path = f"/competition-entries/{entry['id']}/members"
    refused = call(client, settings, captain, "POST", path, json={"student_id": schoolmate.id})
    assert refused.status_code == 403
    assert refused.json()["code"] == "role_forbidden"
    members = select(EntryMember.student_id).where(EntryMember.entry_id == entry["id"])
    assert list(session.exec(members)) == [captain.student_id]
    added = call(
        client,
        settings,
        side_a.principal(Role.school_staff),
        "POST",
        path,
        json={"student_id": schoolmate.id},
    )
    assert added.status_code == 201, added.text
