"""Family mode: a guardian acts for a linked child in the mini-program.

Most pupils these documents are about are in primary school and have no WeChat of their own;
the parent's phone books the visit, scans at the door and types the reflection. So a guardian
may do, for a linked child, what the child could do in the mini-program (DESIGN.md, "Actors"):

* for a child under 14, always, while the link holds;
* for a pupil of 14 or over, only while the pupil has no binding of their own: the pupil's
  own binding ends it (the pupil then acts, and the guardian keeps reading).

**One request shape.** Every student endpoint takes an optional query parameter
``student_id``: a student may leave it out (or name themselves); a guardian must name the child
they act for. :data:`ActingStudent` is the one dependency that reads it and, for a guardian,
checks the link on every request (a link the school revoked stops at once) and answers a
principal whose ``student_id`` and ``school_id`` are the child's and whose ``subject`` stays
the guardian's, so every service records who acted. The check-in hot path reads the same
facts in its own statement and applies :func:`guardian_may_act`.

A guardian principal carries a ``student_id`` only when it came through this module: tokens
of guardians carry none.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Annotated, Protocol

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.consent.service import is_under_14
from scipass.core.auth import SCHOOL_ROLES, VENUE_ROLES, Principal, Role, require
from scipass.core.clock import ClockDep, local_date
from scipass.core.db import SessionDep
from scipass.core.errors import Forbidden, ValidationFailed
from scipass.core.inputs import Id
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import GuardianLink, Student


class StudentIdRequired(ValidationFailed):
    code = "student_id_required"
    title_zh = "家长代孩子操作时，请用 student_id 指明是哪个孩子"
    title_en = "A guardian names the child acted for with student_id"


class ChildActsForSelf(Forbidden):
    code = "child_acts_for_self"
    title_zh = "孩子已满 14 周岁并绑定了自己的微信，请由孩子本人操作"
    title_en = "The pupil is 14 or over and has a WeChat binding of their own"


def guardian_may_act(*, birth_month: date, own_binding: int | None, today: date) -> bool:
    """Whether a live link lets the guardian act for the child: always under 14, and from 14
    only while the pupil has no binding of their own."""
    return own_binding is None or is_under_14(birth_month, today)


def child_of(session: Session, *, guardian: Principal, student_id: int, today: date) -> Student:
    """The child a guardian acts for: 404 unless a live link joins them (another family's
    child and a revoked link look alike), 403 when the pupil acts for themselves."""
    row = session.exec(
        select(Student)
        .join(GuardianLink, col(GuardianLink.student_id) == Student.id)
        .where(
            Student.id == student_id,
            GuardianLink.guardian_id == guardian.wechat_user_id,
            col(GuardianLink.revoked_at).is_(None),
        )
    ).first()
    if row is None:
        raise StudentNotFound()
    if not guardian_may_act(
        birth_month=row.birth_month, own_binding=row.wechat_user_id, today=today
    ):
        raise ChildActsForSelf()
    return row


class Child(Protocol):
    """What :func:`acting_for` needs of a child: a :class:`Student`, or the check-in hot
    path's snapshot of one."""

    @property
    def id(self) -> int | None: ...

    @property
    def school_id(self) -> int: ...


def acting_for(guardian: Principal, child: Child) -> Principal:
    """The principal of a guardian acting for ``child``: the guardian's subject and role, the
    child's student and school."""
    return replace(guardian, student_id=child.id, school_id=child.school_id)


def resolve(
    session: Session,
    caller: Principal,
    student_id: int | None,
    *,
    now: datetime,
    method: str = "GET",
    operation: str = "",
) -> Principal:
    """The principal a student endpoint acts as (see the module's docstring). A guardian's
    write is written to the audit log, with the child and the operation."""
    if caller.role is Role.student:
        if student_id is not None and student_id != caller.student_id:
            raise StudentNotFound()
        return caller
    if student_id is None:
        raise StudentIdRequired()
    child = child_of(session, guardian=caller, student_id=student_id, today=local_date(now))
    if method not in ("GET", "HEAD"):
        audit_service.record(
            session,
            action=audit_service.Action.guardian_acted,
            at=now,
            actor=caller,
            object_type="student",
            object_id=child.id,
            school_id=child.school_id,
            operation=operation,
        )
    return acting_for(caller, child)


ChildParam = Annotated[
    Id | None,
    Query(
        alias="student_id",
        description="家长代孩子操作时必填：孩子的学生 ID（见 `GET /me` 的 `children`）。"
        "学生本人可不填。",
    ),
]


def acting(*roles: Role) -> Callable[..., Principal]:
    """A dependency that admits ``roles`` and resolves the student or guardian among them
    (:func:`resolve`); staff of those roles pass through unchanged."""
    admit = require(*roles)
    # (no ``from __future__ import annotations`` in this module: FastAPI reads the signature
    # below, and ``admit`` is a local it could not resolve from a string)

    def dependency(
        request: Request,
        caller: Annotated[Principal, Depends(admit)],
        session: SessionDep,
        clock: ClockDep,
        student_id: ChildParam = None,
    ) -> Principal:
        if caller.role not in (Role.student, Role.guardian):
            return caller
        route = request.scope.get("route")
        return resolve(
            session,
            caller,
            student_id,
            now=clock.now(),
            method=request.method,
            operation=getattr(route, "name", "") or request.url.path,
        )

    dependency.__name__ = "acting_" + admit.__name__
    dependency.__acting__ = True  # type: ignore[attr-defined]  # a marker for acts_for_a_child
    return dependency


def acts_for_a_child(dependant: Dependant) -> bool:
    """Whether a route takes :data:`ActingStudent` or a sibling (the access-matrix test and
    the OpenAPI description read it)."""
    return any(
        getattr(d.call, "__acting__", False) or acts_for_a_child(d) for d in dependant.dependencies
    )


# A student, or a guardian acting for a linked child (``?student_id=``).
ActingStudent = Annotated[Principal, Depends(acting(Role.student, Role.guardian))]
# ... and school staff, who add evidence to their pupils' records.
ActingUploader = Annotated[Principal, Depends(acting(Role.student, Role.guardian, *SCHOOL_ROLES))]
# The same roles, named for competition entries: the pupil (or a guardian for the pupil) who
# captains an entry, and the school that registers its pupils (学校统一报名).
ActingEntrant = ActingUploader
# Who downloads an entry's attachment: the entry's own side (as ActingEntrant) and the
# organisers of a round it was sent to: a school, a venue, a bureau or science association
# (the roles of scipass.core.callers.OrganiserOrBureau). Which entry is the service's check.
ActingEntryReader = Annotated[
    Principal,
    Depends(acting(Role.student, Role.guardian, *SCHOOL_ROLES, *VENUE_ROLES, Role.bureau)),
]
# Who may cancel a reservation, each their own: the pupil (or a guardian for the pupil), the
# school, the venue.
ActingCanceller = Annotated[
    Principal,
    Depends(acting(Role.student, Role.guardian, *SCHOOL_ROLES, *VENUE_ROLES, Role.platform_admin)),
]
