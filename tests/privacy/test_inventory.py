"""The processing inventory is the code's own declaration, and the declaration is hard to
forget: every column whose name looks personal is declared or excluded with a reason, every
category is used, and every declared key is a known category."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlmodel import SQLModel

import scipass.models  # noqa: F401  # every table
from scipass.privacy import inventory
from scipass.privacy.categories import INFO_KEY, DataCategory, personal


def _columns() -> list[tuple[str, Column[object]]]:
    return [
        (f"{table.name}.{column.name}", column)
        for table in SQLModel.metadata.tables.values()
        for column in table.columns
    ]


def test_every_personal_looking_column_is_declared_or_excluded_with_a_reason() -> None:
    declared = inventory.declared()
    forgotten = [
        place
        for place, column in _columns()
        if inventory.PERSONAL_NAME.search(column.name)
        and place not in declared
        and place not in inventory.NOT_PERSONAL
    ]
    assert forgotten == [], "declare info=personal(...) or add to NOT_PERSONAL with the reason"


def test_exclusions_are_live_reasoned_and_never_also_declared() -> None:
    places = dict(_columns())
    declared = inventory.declared()
    for place, reason in inventory.NOT_PERSONAL.items():
        assert place in places, f"{place}: excluded but no such column"
        assert place not in declared, f"{place}: both declared and excluded"
        assert inventory.PERSONAL_NAME.search(places[place].name), f"{place}: needs no exclusion"
        assert reason.strip()


def test_every_category_is_described_once_and_used() -> None:
    assert [c.key for c in inventory.CATEGORIES] == list(DataCategory)
    for entry in inventory.inventory():
        assert entry.columns or entry.category.files, f"{entry.category.key}: stored nowhere"
        assert entry.category.purposes or entry.category.bases, f"{entry.category.key}: no basis"
    assert all(c.info[INFO_KEY] in set(DataCategory) for _, c in _columns() if INFO_KEY in c.info)


def test_the_pupils_roster_the_location_and_the_openid_are_declared() -> None:
    declared = inventory.declared()
    assert declared["student.name"] is DataCategory.roster_identity
    assert declared["student.birth_month"] is DataCategory.birth_month
    assert declared["scan_event.latitude"] is DataCategory.location
    assert declared["wechat_user.openid"] is DataCategory.wechat_identity
    assert declared["audit_log.client_ip"] is DataCategory.network_address


def test_a_new_column_without_a_declaration_is_caught() -> None:
    metadata = MetaData()
    Table(
        "pupil_note",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("guardian_phone", String(20)),
        Column("student_no", String(20), info=personal(DataCategory.roster_identity)),
    )
    declared = inventory.declared(metadata)
    assert declared == {"pupil_note.student_no": DataCategory.roster_identity}
    looks_personal = [
        c.name
        for c in metadata.tables["pupil_note"].columns
        if inventory.PERSONAL_NAME.search(c.name)
    ]
    assert "guardian_phone" in looks_personal
