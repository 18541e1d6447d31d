"""The demo's competitions (issue 17 point 7): a county robotics contest with entries in every
state and a city innovation contest with a published result, a result on notice, an advanced
entry, an archived competition record and a tracked talent, whatever day it is loaded on; and
the accounts file says who tries each step."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.competition.models import (
    Competition,
    Entry,
    EntryMember,
    Invitation,
    Round,
    RoundEntry,
)
from scipass.competition.results_models import Result, ResultNotice
from scipass.competition.talent_models import TalentTracking
from scipass.demo import data
from scipass.record.models import ParticipationRecord
from tests.conftest import FROZEN_AT
from tests.demo.test_demo import NOWS
from tests.demo_world import loaded_on


@loaded_on(*NOWS)
def test_demo_competitions_in_every_state(
    session: Session, demo: dict[str, Any], now: datetime
) -> None:
    summary = demo
    names = {c.name: c for c in session.exec(select(Competition)).all()}
    robotics = names[data.ROBOTICS["name"]]
    innovation = names[data.INNOVATION["name"]]
    assert robotics.whitelist_entry_id is not None
    assert innovation.whitelist_entry_id is not None
    assert (robotics.category, robotics.level) == ("robotics", "county")
    assert (innovation.category, innovation.level) == ("innovation_contest", "city")

    entries = session.exec(select(Entry)).all()
    places = session.exec(select(RoundEntry)).all()
    # every state: forming, withdrawn (the entry); submitted, declined, recommended,
    # accepted, rejected (its place in a round)
    assert {e.status for e in entries} == {"forming", "submitted", "withdrawn"}
    assert set(Counter(p.status for p in places)) == {
        "submitted",
        "declined",
        "recommended",
        "accepted",
        "rejected",
        "withdrawn",
    }
    assert all(p.school_reason for p in places if p.status == "declined")
    assert all(p.organiser_reason for p in places if p.status == "rejected")
    assert {e.registered_by_kind for e in entries} == {"school", "student"}
    # the forming team: a team-mate joined by invitation, another invitation is outstanding
    forming = next(e for e in entries if e.status == "forming")
    invitations = session.exec(select(Invitation).where(Invitation.entry_id == forming.id)).all()
    assert any(i.used_at is not None for i in invitations)
    assert any(i.used_at is None and i.expires_at > now for i in invitations)
    members = session.exec(select(EntryMember).where(EntryMember.entry_id == forming.id)).all()
    assert sorted(m.role for m in members) == ["captain", "member"]

    # registration was open when each entry was made
    rounds = {r.id: r for r in session.exec(select(Round)).all()}
    for entry in entries:
        round_ = rounds[entry.round_id]
        assert round_.registration_opens_at <= entry.created_at < round_.registration_closes_at
        assert entry.updated_at <= now
    assert all(p.updated_at <= now for p in places)

    # a published result (records appended) and one still on notice, for an advanced entry
    results = session.exec(select(Result)).all()
    assert {r.status for r in results} == {"published", "noticed"}
    assert any(p.via == "advanced" and p.status == "accepted" for p in places)
    notices = {n.id: n for n in session.exec(select(ResultNotice)).all()}
    for result in results:
        notice = notices[result.notice_id or 0]
        assert notice.starts_at <= now
        assert (notice.ends_at <= now) == (result.status == "published")

    records = session.exec(
        select(ParticipationRecord).where(ParticipationRecord.source == "competition")
    ).all()
    assert {r.status for r in records} == {"archived", "confirmed"}
    assert all(r.created_at <= now and r.updated_at <= now for r in records)
    winner = next(r.student_id for r in records if r.status == "archived")
    tracked = session.exec(select(TalentTracking)).all()
    assert [(t.student_id, t.ended_at) for t in tracked] == [(winner, None)]
    assert tracked[0].started_at <= now

    tries = {a.get("username") or a.get("wechat_code"): a for a in summary["accounts"]}
    for who in ("dev-lihua", "xx2-admin", "xx2-teacher", "xx-bureau", "xt-bureau", "heping-admin"):
        assert tries[who]["try"], who
    assert tries["dev-lihua"]["invitation_code"]
    assert summary["competition_entries"] == len(entries)


@loaded_on(FROZEN_AT)
def test_demo_competitions_answer_the_api(client: TestClient) -> None:
    def login(**body: str) -> dict[str, str]:
        path = "/api/v1/auth/wechat" if "code" in body else "/api/v1/auth/login"
        response = client.post(path, json=body)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    captain = login(code="dev-lihua")
    mine = client.get("/api/v1/competition-entries", headers=captain)
    assert mine.status_code == 200, mine.text
    assert "forming" in mine.text
    admin = login(username="xx2-admin", password=data.DEMO_PASSWORD)
    school = client.get("/api/v1/competition-entries", headers=admin)
    assert school.status_code == 200, school.text
    assert "submitted" in school.text
