"""The incident log: the platform admin records, lists and changes incidents; a bureau reads
those of its region. Every write is audited.

An incident is checked whole before anything is written (dates in order and not in the future,
minors at least as many as children, a school or region that exists), so bad input changes
nothing. A change is one conditional update on an open incident (``closed_at IS NULL``): two
admins closing at once close it once, and a closed incident stays as it was closed. The time of
the report to the authority is recorded once (``reported_to_authority_at IS NULL``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import Principal, Role, region_prefix
from scipass.core.clock import SHANGHAI
from scipass.core.pagination import PageParams, count_rows
from scipass.org.models import Region, School
from scipass.privacy.errors import (
    IncidentAlreadyReported,
    IncidentClosed,
    IncidentInvalid,
    IncidentNotFound,
)
from scipass.privacy.models import PrivacyIncident
from scipass.privacy.schemas import IncidentCreate, IncidentUpdate

EARLIEST = datetime(2000, 1, 1, tzinfo=SHANGHAI)


def _invalid(detail_zh: str, detail_en: str, field: str) -> IncidentInvalid:
    return IncidentInvalid(detail_zh, detail_en, field=field)


def create(
    session: Session, *, actor: Principal, body: IncidentCreate, now: datetime
) -> PrivacyIncident:
    if body.occurred_at < EARLIEST:  # an earlier one may not even hold in UTC
        raise _invalid("发生时间不能早于 2000 年", "Occurred before 2000", "occurred_at")
    if body.discovered_at < body.occurred_at:
        raise _invalid("发现时间不能早于发生时间", "Discovered before it occurred", "discovered_at")
    if body.discovered_at > now:
        raise _invalid("发现时间不能晚于现在", "Discovered in the future", "discovered_at")
    if body.affected_minors < body.affected_children:
        raise _invalid(
            "受影响的未成年人数含儿童，不能少于儿童人数",
            "Minors include children: not fewer than children",
            "affected_minors",
        )
    region_code = body.region_code
    if body.school_id is not None:
        school = session.get(School, body.school_id)
        if school is None:
            raise _invalid("没有这所学校", "No such school", "school_id")
        if region_code is not None and region_code != school.region_code:
            raise _invalid(
                "地区与学校所在地区不一致", "The region is not the school's", "region_code"
            )
        region_code = school.region_code
    elif region_code is not None and session.get(Region, region_code) is None:
        raise _invalid("没有这个地区", "No such region", "region_code")
    incident = PrivacyIncident(
        occurred_at=body.occurred_at,
        discovered_at=body.discovered_at,
        recorded_at=now,
        recorded_by=actor.subject,
        title=body.title,
        description=body.description,
        categories=[c.value for c in dict.fromkeys(body.categories)],
        affected_children=body.affected_children,
        affected_minors=body.affected_minors,
        measures=body.measures,
        school_id=body.school_id,
        region_code=region_code,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    audit_service.record(
        session,
        action=audit_service.Action.privacy_incident_recorded,
        at=now,
        actor=actor,
        object_type="privacy_incident",
        object_id=incident.id,
        school_id=incident.school_id,
        region_code=incident.region_code,
        categories=incident.categories,
        affected_children=incident.affected_children,
        affected_minors=incident.affected_minors,
    )
    return incident


def _visible(principal: Principal) -> Any:
    query = select(PrivacyIncident)
    if principal.role is Role.platform_admin:
        return query
    prefix = region_prefix(principal.region_code or "")
    return query.where(col(PrivacyIncident.region_code).startswith(prefix))


def listed(
    session: Session, *, principal: Principal, page: PageParams, open_only: bool = False
) -> tuple[list[PrivacyIncident], int]:
    query = _visible(principal)
    if open_only:
        query = query.where(col(PrivacyIncident.closed_at).is_(None))
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(PrivacyIncident.occurred_at).desc(), col(PrivacyIncident.id).desc())
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return list(rows), total


def get(session: Session, *, principal: Principal, incident_id: int) -> PrivacyIncident:
    found = session.exec(_visible(principal).where(PrivacyIncident.id == incident_id)).first()
    if found is None:
        raise IncidentNotFound()
    return found


def change(
    session: Session, *, actor: Principal, incident_id: int, body: IncidentUpdate, now: datetime
) -> PrivacyIncident:
    incident = get(session, principal=actor, incident_id=incident_id)
    reported = body.reported_to_authority_at
    if reported is not None and not (incident.discovered_at <= reported <= now):
        raise _invalid(
            "报告时间须在发现时间与现在之间",
            "Reported between its discovery and now",
            "reported_to_authority_at",
        )
    if body.measures is None and reported is None and not body.close:
        return incident  # nothing asked: nothing written, nothing logged
    values: dict[str, Any] = {"updated_at": now}
    if body.measures is not None:
        values["measures"] = body.measures
    if reported is not None:
        values["reported_to_authority_at"] = reported
    if body.close:
        values["closed_at"] = now
    conditions: list[ColumnElement[bool]] = [
        col(PrivacyIncident.id) == incident_id,
        col(PrivacyIncident.closed_at).is_(None),
    ]
    if reported is not None:
        conditions.append(col(PrivacyIncident.reported_to_authority_at).is_(None))
    result = session.exec(
        update(PrivacyIncident)
        .where(*conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        session.refresh(incident)
        if incident.closed_at is not None:
            raise IncidentClosed()
        raise IncidentAlreadyReported()
    session.refresh(incident)
    audit_service.record(
        session,
        action=audit_service.Action.privacy_incident_changed,
        at=now,
        actor=actor,
        object_type="privacy_incident",
        object_id=incident.id,
        school_id=incident.school_id,
        region_code=incident.region_code,
        changed=sorted(k for k in values if k != "updated_at"),
    )
    return incident
