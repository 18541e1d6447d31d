"""The demo's compliance picture (issue 19), on any day of a term after its first week
(nothing can be asked of a term that has just begun): each bureau sees
schools that meet some rules and schools that miss some, with what they lack; Chifeng's rule
waits for its bureau's number; the hints say where to look."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from scipass.core.auth import Principal, Role
from scipass.core.clock import local_date, term_of
from scipass.org.models import Bureau
from scipass.policy import compliance
from tests.demo.test_demo import NOWS
from tests.demo_world import loaded_on


def region_rows(session: Session, name: str, now: datetime) -> dict[str, dict[str, str]]:
    """Per rule, each school's state, as the bureau's view has it."""
    bureau = session.exec(select(Bureau).where(Bureau.name == name)).one()
    actor = Principal(
        subject="test", role=Role.bureau, bureau_id=bureau.id, region_code=bureau.region_code
    )
    today = local_date(now)
    view = compliance.region_view(
        session, actor=actor, region_code=None, term=term_of(today), today=today
    )
    found: dict[str, dict[str, str]] = {}
    for row in view.rows:
        found.setdefault(row.rule_id, {})[row.school_name or "(地区)"] = row.state
    return found


@loaded_on(*NOWS[:3])  # in a term, after its first week
def test_every_demo_region_shows_a_mixed_picture_with_reasons(
    session: Session, demo: dict[str, Any], now: datetime
) -> None:
    summary = demo
    xiangtan = region_rows(session, "湘潭市教育局", now)
    weekly = xiangtan["after_school_science_weekly"]
    assert (weekly["湘潭市雨湖区和平小学"], weekly["湘潭市第九中学"]) == ("met", "missed")
    assert set(xiangtan["venue_visit_yearly"].values()) >= {"met", "missed"}
    jincheng = region_rows(session, "晋城市教育局", now)
    assert jincheng["practice_at_base_semester"]["晋城市城区凤台小学"] == "met"
    assert jincheng["practice_at_base_semester"]["晋城市第六中学"] == "missed"
    assert jincheng["science_first_lesson_semester"]["晋城市第六中学"] == "met"
    assert set(jincheng["science_vice_principal"].values()) == {"met", "missed"}
    assert set(region_rows(session, "赤峰市教育局", now)["venue_visit_regular"].values()) == {
        "open"
    }
    xiangxiang = region_rows(session, "湘乡市教育局", now)
    assert xiangxiang["counsellor_training_county_yearly"]["(地区)"] == "missed"  # 96 of 100
    hints = {a.get("username"): a.get("try", "") for a in summary["accounts"]}
    assert "GET /api/v1/compliance" in hints["xt-bureau"]
    assert "/compliance" in hints["heping-admin"]
