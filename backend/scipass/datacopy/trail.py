"""The audit entries about one pupil: who read, exported or changed the pupil's data.

The audit log names objects by type and id, so an entry is about the pupil when:

* it names the pupil (``student``), one of the pupil's objects (a record, an evidence file, a
  visit, a reservation of the pupil alone, a volunteer sign-up or certificate, a competition
  entry the pupil is a member of, a talent tracking, a personal card), or the pupil's record
  file (``participation_record`` ``student:<id>``);
* it is a list or an export of records whose filter covers the pupil (the pupil's school,
  grade and class, or the pupil by id), a list or export of the attendees of an activity the
  pupil visited, or a talent list that named the pupil.

Only the entry's time, action, object and who acted are given, never its detail (a list's
detail may name other pupils). A pupil or guardian who acted and is not of this family is
not named (``actor`` is null): another pupil's account is not the pupil's data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.audit.models import AuditLog
from scipass.core.auth import region_prefix
from scipass.roster.models import Student

Action = audit_service.Action

# Lists and exports of many pupils' records: their filter says whom they covered.
RECORD_LISTS = (Action.records_viewed.value, Action.records_exported.value)
# Lists and exports of an activity's attendees.
ATTENDEE_LISTS = (Action.checkins_viewed.value, Action.checkins_exported.value)
# Lists whose detail names the pupils by id.
NAMED_LISTS = (Action.talent_tracking_viewed.value,)
FAMILY_ROLES = ("student", "guardian", "wechat_user")


@dataclass
class Objects:
    """The pupil's objects by audit ``object_type``: ids as the audit log writes them."""

    ids: dict[str, set[str]] = field(default_factory=dict)
    visited_activities: set[str] = field(default_factory=set)

    def add(self, object_type: str, values: Iterable[object]) -> None:
        self.ids.setdefault(object_type, set()).update(str(v) for v in values if v is not None)


def _direct(objects: Objects) -> ColumnElement[bool]:
    clauses = [
        and_(col(AuditLog.object_type) == kind, col(AuditLog.object_id).in_(sorted(ids)))
        for kind, ids in objects.ids.items()
        if ids
    ]
    if objects.visited_activities:
        clauses.append(
            and_(
                col(AuditLog.object_type) == "activity",
                col(AuditLog.object_id).in_(sorted(objects.visited_activities)),
                col(AuditLog.action).in_(ATTENDEE_LISTS),
            )
        )
    return or_(*clauses) if clauses else false()


def _covers(entry: AuditLog, student: Student) -> bool:
    """Whether a list or export of many pupils covered ``student`` (by its filter)."""
    detail: dict[str, Any] = json.loads(entry.detail or "{}")
    if entry.action in NAMED_LISTS:
        return student.id in (detail.get("student_ids") or [])
    if entry.action not in RECORD_LISTS:
        return False
    wanted = detail.get("filter") or {}
    checks = (
        ("student_id", student.id),
        ("school_id", student.school_id),
        ("grade", student.grade),
        ("class_name", student.class_name),
    )
    return all(wanted.get(key) in (None, value) for key, value in checks)


def entries(
    session: Session,
    *,
    student: Student,
    school_region: str,
    objects: Objects,
    family: set[str],
) -> list[dict[str, Any]]:
    """The audit entries about ``student``, oldest first. ``family`` are the subjects of the
    pupil and its guardians (named as actors); ``school_region`` the school's region (a
    bureau's lists carry the region, not a school)."""
    direct = session.exec(select(AuditLog).where(_direct(objects))).all()
    # the regions a bureau's list of this school carries: the province, city and county
    regions = {school_region[:2] + "0000", school_region[:4] + "00", school_region}
    lists = session.exec(
        select(AuditLog).where(
            col(AuditLog.action).in_(RECORD_LISTS + NAMED_LISTS),
            col(AuditLog.at) >= student.created_at,
            or_(
                col(AuditLog.school_id) == student.school_id,
                and_(
                    col(AuditLog.school_id).is_(None),
                    col(AuditLog.region_code).in_(sorted(regions)),
                ),
                and_(col(AuditLog.school_id).is_(None), col(AuditLog.region_code).is_(None)),
            ),
        )
    ).all()
    chosen: dict[int, tuple[AuditLog, str]] = {e.id or 0: (e, "child") for e in direct}
    for entry in lists:
        if entry.id in chosen:
            continue
        regional = entry.school_id is None and entry.region_code is not None
        if regional and not school_region.startswith(region_prefix(entry.region_code or "")):
            continue
        if _covers(entry, student):
            chosen[entry.id or 0] = (entry, "list")
    ordered = sorted(chosen.values(), key=lambda pair: (pair[0].at, pair[0].id or 0))
    return [_shown(entry, scope, family) for entry, scope in ordered]


def _shown(entry: AuditLog, scope: str, family: set[str]) -> dict[str, Any]:
    actor = entry.actor
    if entry.actor_role in FAMILY_ROLES and actor not in family:
        actor = None
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "action": entry.action,
        "actor": actor,
        "actor_role": entry.actor_role,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "scope": scope,
    }
