"""Science counsellor trainings (科技辅导员培训): a bureau records each session with its
attendees, one row a person-time (000 二.7: Xiangxiang, 100 person-times a year; 001
二.(一).7: Xiangtan, 200). An attendee from one of the region's schools names it; one from
outside the region (a venue, a university) names none. Services flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import Principal, Role, region_contains, region_prefix
from scipass.core.db import flush_unique
from scipass.core.pagination import PageParams, count_rows
from scipass.org import service as org_service
from scipass.org.errors import OutsideRegion, RegionNotFound, TrainingExists, TrainingInvalid
from scipass.org.measures_models import CounsellorTraining, CounsellorTrainingAttendee
from scipass.org.measures_schemas import TrainingCreate
from scipass.org.models import Region, School

_ATTENDEES = CounsellorTrainingAttendee.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


@dataclass(frozen=True, slots=True)
class TrainingRow:
    training: CounsellorTraining
    person_times: int


def create(
    session: Session, *, actor: Principal, data: TrainingCreate, now: datetime
) -> tuple[CounsellorTraining, list[CounsellorTrainingAttendee]]:
    """Record a training and its attendees in one go; a school named must be one of the
    bureau's region (or below), else nothing is written."""
    bureau = org_service.get_bureau(session, actor.bureau_id or 0)
    named = {a.school_id for a in data.attendees if a.school_id is not None}
    if named:
        found = dict(
            session.exec(
                select(School.id, School.region_code).where(col(School.id).in_(named))
            ).all()
        )
        outside = sorted(
            school_id
            for school_id in named
            if school_id not in found or not region_contains(bureau.region_code, found[school_id])
        )
        if outside:
            raise TrainingInvalid(
                f"学校 {', '.join(map(str, outside[:10]))} 不在本辖区；辖区外人员不填学校",
                "Schools outside the region; leave the school out for people from outside",
                school_ids=outside[:100],
            )
    training = CounsellorTraining(
        bureau_id=bureau.id or 0,
        region_code=bureau.region_code,
        title=data.title.strip(),
        held_on=data.held_on,
        hours=data.hours,
        created_by=actor.subject,
        created_at=now,
    )
    session.add(training)
    flush_unique(session, TrainingExists())
    rows = [
        {"training_id": training.id, "name": a.name.strip(), "school_id": a.school_id}
        for a in data.attendees
    ]
    session.execute(insert(_ATTENDEES), rows)
    audit_service.record(
        session,
        action=audit_service.Action.counsellor_training_recorded,
        at=now,
        actor=actor,
        object_type="counsellor_training",
        object_id=training.id,
        region_code=training.region_code,
        held_on=training.held_on,
        person_times=len(rows),
    )
    return training, attendees_of(session, training.id or 0)


def attendees_of(session: Session, training_id: int) -> list[CounsellorTrainingAttendee]:
    return list(
        session.exec(
            select(CounsellorTrainingAttendee)
            .where(CounsellorTrainingAttendee.training_id == training_id)
            .order_by(col(CounsellorTrainingAttendee.id))
        ).all()
    )


def _scope(session: Session, actor: Principal, region_code: str | None) -> str | None:
    """The region whose trainings the caller reads: the one asked for, inside the bureau's
    own (by default the bureau's own); anywhere for the platform admin (None: everywhere)."""
    if region_code is not None and session.get(Region, region_code) is None:
        raise RegionNotFound(f"没有代码为 {region_code} 的行政区划", f"No region {region_code}")
    if actor.role is Role.platform_admin:
        return region_code
    own = actor.region_code or ""
    if region_code is None:
        return own
    if not (own and region_contains(own, region_code)):
        raise OutsideRegion()
    return region_code


def list_trainings(
    session: Session,
    *,
    actor: Principal,
    region_code: str | None,
    school_year: int | None,
    page: PageParams,
) -> tuple[list[TrainingRow], int, int]:
    """Trainings held by bureaus of a region and the regions below it (a city sees its
    counties'), newest first, each with its person-times; the count of all that match and
    their person-times."""
    scope = _scope(session, actor, region_code)
    conditions = []
    if scope is not None:
        conditions.append(col(CounsellorTraining.region_code).startswith(region_prefix(scope)))
    if school_year is not None:
        conditions += [
            col(CounsellorTraining.held_on) >= date(school_year, 9, 1),
            col(CounsellorTraining.held_on) < date(school_year + 1, 9, 1),
        ]
    trainings = select(CounsellorTraining).where(*conditions)
    total = count_rows(session, trainings)
    all_person_times = session.exec(
        select(func.count(col(CounsellorTrainingAttendee.id)))
        .join(
            CounsellorTraining, col(CounsellorTraining.id) == CounsellorTrainingAttendee.training_id
        )
        .where(*conditions)
    ).one()
    rows = session.exec(
        trainings.order_by(
            col(CounsellorTraining.held_on).desc(), col(CounsellorTraining.id).desc()
        )
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    counts = dict(
        session.exec(
            select(CounsellorTrainingAttendee.training_id, func.count())
            .where(col(CounsellorTrainingAttendee.training_id).in_([t.id for t in rows]))
            .group_by(col(CounsellorTrainingAttendee.training_id))
        ).all()
    )
    items = [TrainingRow(t, int(counts.get(t.id or 0, 0))) for t in rows]
    return items, total, int(all_person_times)
