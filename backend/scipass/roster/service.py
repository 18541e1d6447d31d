"""Rosters, binding codes, student binding and guardian links. Services flush, never commit."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from scipass.account import identity
from scipass.audit import service as audit_service
from scipass.core import ratelimit
from scipass.core.auth import Principal, Role, region_contains
from scipass.core.clock import local_date
from scipass.core.pagination import PageParams, count_rows
from scipass.org import service as org_service
from scipass.org.models import School, decode_stages
from scipass.roster import importer
from scipass.roster.errors import (
    AlreadyBound,
    AlreadyLinked,
    BindingInvalid,
    BindingRateLimited,
    GuardianLinkNotFound,
    RoleConflict,
    RosterFileUnreadable,
    RosterImportConflict,
    RosterInvalid,
    StudentNotFound,
)
from scipass.roster.models import GuardianLink, Student

# Codes are read aloud and typed from paper: no 0/O, 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
BINDING_ATTEMPTS = ratelimit.Window(limit=10, length=timedelta(hours=1))
_FIELDS = ("name", "gender", "birth_month", "stage", "grade", "class_name")


def _audit_student(
    session: Session,
    action: audit_service.Action,
    actor: Principal,
    student: Student,
    now: datetime,
    **detail: Any,
) -> None:
    """An audit entry about one student, filed under the student's school and region."""
    school = org_service.get_school(session, student.school_id)
    audit_service.record(
        session,
        action=action,
        at=now,
        actor=actor,
        object_type="student",
        object_id=student.id,
        school_id=student.school_id,
        region_code=school.region_code,
        **detail,
    )


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return code.strip().upper().replace(" ", "").replace("-", "")


# --- scope --------------------------------------------------------------------------------


def get_student_for_staff(session: Session, *, actor: Principal, student_id: int) -> Student:
    """A student of the caller's own school; any other is "not found" (its existence is private)."""
    student = session.get(Student, student_id)
    if student is None or actor.school_id is None or student.school_id != actor.school_id:
        raise StudentNotFound()
    return student


def can_see_school(actor: Principal, school: School) -> bool:
    if actor.role is Role.platform_admin:
        return True
    if actor.role is Role.bureau:
        return bool(actor.region_code) and region_contains(
            actor.region_code or "", school.region_code
        )
    return actor.school_id == school.id


# --- import -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int


def import_roster(
    session: Session, *, actor: Principal, content: bytes, now: datetime, filename: str
) -> ImportSummary:
    """All-or-nothing: any bad row imports nothing and every bad row is reported."""
    assert actor.school_id is not None
    school = org_service.get_school(session, actor.school_id)
    try:
        rows, errors = importer.parse(
            content, school_stages=decode_stages(school.stages), today=local_date(now)
        )
    except importer.RosterFileError as exc:
        raise RosterFileUnreadable(str(exc)) from None
    if errors:
        raise RosterInvalid(
            f"共 {len(errors)} 处错误，请修改后重新导入",
            f"{len(errors)} error(s); fix them and import again",
            errors=[{"line": e.line, "column": e.column, "reason": e.reason} for e in errors],
        )
    if not rows:
        raise RosterInvalid("文件中没有学生", "The file has no students", errors=[])

    existing = {
        s.student_no: s
        for s in session.exec(select(Student).where(Student.school_id == school.id)).all()
    }
    to_create: list[dict[str, object]] = []
    to_update: list[dict[str, object]] = []
    unchanged = 0
    for row in rows:
        values = {field: getattr(row, field) for field in _FIELDS}
        current = existing.get(row.student_no)
        if current is None:
            to_create.append(
                {
                    **values,
                    "school_id": school.id,
                    "student_no": row.student_no,
                    "binding_code": new_code(),
                    "guardian_code": new_code(),
                    "created_at": now,
                    "updated_at": now,
                }
            )
        elif any(getattr(current, field) != value for field, value in values.items()):
            to_update.append({**values, "_id": current.id, "updated_at": now})
        else:
            unchanged += 1
    table = Student.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
    try:
        with session.begin_nested():
            if to_create:
                session.execute(insert(table), to_create)
            if to_update:
                session.execute(
                    update(table)
                    .where(table.c.id == bindparam("_id"))
                    .values({f: bindparam(f) for f in (*_FIELDS, "updated_at")}),
                    to_update,
                )
    except IntegrityError:
        raise RosterImportConflict() from None
    session.expire_all()
    summary = ImportSummary(created=len(to_create), updated=len(to_update), unchanged=unchanged)
    audit_service.record(
        session,
        action=audit_service.Action.roster_imported,
        at=now,
        actor=actor,
        object_type="school",
        object_id=school.id,
        school_id=school.id,
        region_code=school.region_code,
        filename=filename[:100],
        rows=len(rows),
        created=summary.created,
        updated=summary.updated,
        unchanged=summary.unchanged,
    )
    return summary


# --- listing ------------------------------------------------------------------------------


def audit_viewed(
    session: Session, *, actor: Principal, now: datetime, rows: int, student_id: int | None = None
) -> None:
    """A staff member saw pupils' roster entries (names, 学号): audited, as every read of
    pupils' data by staff is, for the yearly audit's access figures."""
    audit_service.record(
        session,
        action=audit_service.Action.students_viewed,
        at=now,
        actor=actor,
        object_type="student" if student_id is not None else None,
        object_id=student_id,
        school_id=actor.school_id,
        row_count=rows,
    )


def list_students(
    session: Session,
    *,
    actor: Principal,
    page: PageParams,
    grade: int | None = None,
    class_name: str | None = None,
    q: str | None = None,
    bound: bool | None = None,
) -> tuple[list[Student], int]:
    query = select(Student).where(Student.school_id == actor.school_id)
    if grade is not None:
        query = query.where(Student.grade == grade)
    if class_name:
        query = query.where(Student.class_name == class_name)
    if q:
        query = query.where(col(Student.name).contains(q) | col(Student.student_no).startswith(q))
    if bound is not None:
        query = query.where(
            col(Student.wechat_user_id).is_not(None)
            if bound
            else col(Student.wechat_user_id).is_(None)
        )
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(Student.grade), Student.class_name, Student.student_no)
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return list(rows), total


def guardian_counts(session: Session, student_ids: list[int]) -> dict[int, int]:
    if not student_ids:
        return {}
    rows = session.exec(
        select(GuardianLink.student_id, func.count())
        .where(
            col(GuardianLink.student_id).in_(student_ids), col(GuardianLink.revoked_at).is_(None)
        )
        .group_by(col(GuardianLink.student_id))
    ).all()
    return {student_id: int(n) for student_id, n in rows}


# --- binding codes ------------------------------------------------------------------------


def codes_for_export(
    session: Session,
    *,
    actor: Principal,
    grade: int | None,
    class_name: str | None,
    now: datetime,
) -> list[Student]:
    """The students of a class (or grade, or school) with fresh codes where one was used."""
    assert actor.school_id is not None
    table = Student.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
    base = select(Student).where(Student.school_id == actor.school_id)
    if grade is not None:
        base = base.where(Student.grade == grade)
    if class_name:
        base = base.where(Student.class_name == class_name)
    students = list(
        session.exec(
            base.order_by(col(Student.grade), Student.class_name, Student.student_no)
        ).all()
    )
    for student in students:
        values: dict[str, object] = {}
        if student.wechat_user_id is None and student.binding_code is None:
            values["binding_code"] = new_code()
        if student.guardian_code is None:
            values["guardian_code"] = new_code()
        if values:
            # Conditional: a code is only renewed where it is still empty.
            condition = [table.c.id == student.id]
            condition += [table.c[name].is_(None) for name in values]
            session.execute(update(table).where(*condition).values(**values))
    session.expire_all()
    students = list(
        session.exec(
            base.order_by(col(Student.grade), Student.class_name, Student.student_no)
        ).all()
    )
    school = org_service.get_school(session, actor.school_id)
    audit_service.record(
        session,
        action=audit_service.Action.binding_codes_exported,
        at=now,
        actor=actor,
        object_type="school",
        object_id=actor.school_id,
        school_id=actor.school_id,
        region_code=school.region_code,
        grade=grade,
        class_name=class_name,
        rows=len(students),
    )
    return students


def renew_codes(session: Session, *, actor: Principal, student_id: int, now: datetime) -> Student:
    student = get_student_for_staff(session, actor=actor, student_id=student_id)
    if student.wechat_user_id is None:
        student.binding_code = new_code()
    student.guardian_code = new_code()
    student.updated_at = now
    session.add(student)
    session.flush()
    return student


# --- binding ------------------------------------------------------------------------------


def _count_attempt(session: Session, wechat_user_id: int, now: datetime) -> None:
    # Counted first and decided by the count the database returns: parallel attempts cannot
    # slip past the limit.
    if (
        ratelimit.hit(session, f"bind:{wechat_user_id}", BINDING_ATTEMPTS, now=now)
        > BINDING_ATTEMPTS.limit
    ):
        raise BindingRateLimited(retry_after=ratelimit.retry_after(now, BINDING_ATTEMPTS))


def bind_student(
    session: Session,
    *,
    actor: Principal,
    school_id: int,
    student_no: str,
    code: str,
    now: datetime,
) -> Student:
    """Bind the caller's WeChat account to a roster entry. Exactly one of any number of
    concurrent callers wins: the update is conditional on the entry being unbound and the code
    unused, and the unique wechat_user_id is the backstop."""
    wechat_user_id = actor.wechat_user_id
    assert wechat_user_id is not None
    if actor.role is Role.guardian or has_guardian_links(session, wechat_user_id):
        raise RoleConflict()
    if session.exec(select(Student.id).where(Student.wechat_user_id == wechat_user_id)).first():
        raise AlreadyBound()
    _count_attempt(session, wechat_user_id, now)
    table = Student.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
    try:
        with session.begin_nested():
            result = session.exec(
                update(table)
                .where(
                    table.c.school_id == school_id,
                    table.c.student_no == student_no.strip(),
                    table.c.binding_code == normalise_code(code),
                    table.c.wechat_user_id.is_(None),
                )
                .values(
                    wechat_user_id=wechat_user_id, bound_at=now, binding_code=None, updated_at=now
                )
            )
    except IntegrityError:
        raise AlreadyBound() from None
    if result.rowcount != 1:
        raise BindingInvalid(
            "学校、学号或绑定码不正确；如该学生已被绑定，请联系学校解绑",
            "Wrong school, student number or code; if the student is bound already, ask the school",
        )
    if not identity.claim_wechat_kind(session, user_id=wechat_user_id, kind="student"):
        raise RoleConflict()  # became a guardian meanwhile: everything above is rolled back
    student = session.exec(select(Student).where(Student.wechat_user_id == wechat_user_id)).one()
    _audit_student(session, audit_service.Action.student_bound, actor, student, now)
    return student


def unbind_student(
    session: Session, *, actor: Principal, student_id: int, now: datetime
) -> Student:
    student = get_student_for_staff(session, actor=actor, student_id=student_id)
    previous = student.wechat_user_id
    if previous is not None:
        identity.release_wechat_kind(session, user_id=previous, kind="student")
    student.wechat_user_id = None
    student.bound_at = None
    student.binding_code = new_code()
    student.updated_at = now
    session.add(student)
    session.flush()
    _audit_student(
        session, audit_service.Action.student_unbound, actor, student, now, wechat_user=previous
    )
    return student


def link_guardian(
    session: Session,
    *,
    actor: Principal,
    school_id: int,
    student_no: str,
    code: str,
    relation: str,
    now: datetime,
) -> GuardianLink:
    """Link the caller's WeChat account to a child with the school's one-time guardian code.
    A link the school revoked earlier is renewed rather than duplicated."""
    wechat_user_id = actor.wechat_user_id
    assert wechat_user_id is not None
    if actor.role is Role.student or student_of_wechat_user(session, wechat_user_id) is not None:
        raise RoleConflict()
    _count_attempt(session, wechat_user_id, now)
    student = session.exec(
        select(Student).where(
            Student.school_id == school_id, Student.student_no == student_no.strip()
        )
    ).first()
    existing = None
    if student is not None:
        existing = session.exec(
            select(GuardianLink).where(
                GuardianLink.guardian_id == wechat_user_id, GuardianLink.student_id == student.id
            )
        ).first()
        if existing is not None and existing.revoked_at is None:
            raise AlreadyLinked()
    table = Student.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
    used = session.exec(
        update(table)
        .where(
            table.c.school_id == school_id,
            table.c.student_no == student_no.strip(),
            table.c.guardian_code == normalise_code(code),
        )
        .values(guardian_code=None, updated_at=now)
    ).rowcount
    if student is None or used != 1:
        raise BindingInvalid()
    if not identity.claim_wechat_kind(session, user_id=wechat_user_id, kind="guardian"):
        raise RoleConflict()
    if existing is not None:
        link = existing
        link.revoked_at = None
        link.relation = relation
        session.add(link)
        session.flush()
    else:
        link = GuardianLink(
            guardian_id=wechat_user_id,
            student_id=student.id or 0,
            relation=relation,
            created_at=now,
        )
        session.add(link)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            raise AlreadyLinked() from None
    _audit_student(
        session, audit_service.Action.guardian_linked, actor, student, now, relation=relation
    )
    return link


def guardian_links(session: Session, *, guardian_id: int) -> list[tuple[GuardianLink, Student]]:
    rows = session.exec(
        select(GuardianLink, Student)
        .join(Student, col(Student.id) == GuardianLink.student_id)
        .where(GuardianLink.guardian_id == guardian_id, col(GuardianLink.revoked_at).is_(None))
        .order_by(col(GuardianLink.id))
    ).all()
    return [(link, student) for link, student in rows]


def guardian_link_for(session: Session, *, guardian_id: int, student_id: int) -> GuardianLink:
    link = session.exec(
        select(GuardianLink).where(
            GuardianLink.guardian_id == guardian_id,
            GuardianLink.student_id == student_id,
            col(GuardianLink.revoked_at).is_(None),
        )
    ).first()
    if link is None:
        raise StudentNotFound()
    return link


def list_guardians(session: Session, *, actor: Principal, student_id: int) -> list[GuardianLink]:
    student = get_student_for_staff(session, actor=actor, student_id=student_id)
    return list(
        session.exec(
            select(GuardianLink).where(
                GuardianLink.student_id == student.id, col(GuardianLink.revoked_at).is_(None)
            )
        ).all()
    )


def unlink_guardian(
    session: Session, *, actor: Principal, student_id: int, link_id: int, now: datetime
) -> None:
    """Revoke a guardian link. The row stays, so that the consent history keeps who consented;
    consent given through a revoked link no longer counts (see consent.service)."""
    student = get_student_for_staff(session, actor=actor, student_id=student_id)
    link = session.get(GuardianLink, link_id)
    if link is None or link.student_id != student.id or link.revoked_at is not None:
        raise GuardianLinkNotFound()
    link.revoked_at = now
    session.add(link)
    session.flush()
    if not has_guardian_links(session, link.guardian_id):
        identity.release_wechat_kind(session, user_id=link.guardian_id, kind="guardian")
    _audit_student(
        session,
        audit_service.Action.guardian_unlinked,
        actor,
        student,
        now,
        guardian=link.guardian_id,
    )


def student_of_wechat_user(session: Session, wechat_user_id: int) -> Student | None:
    return session.exec(select(Student).where(Student.wechat_user_id == wechat_user_id)).first()


def has_guardian_links(session: Session, wechat_user_id: int) -> bool:
    return (
        session.exec(
            select(GuardianLink.id)
            .where(
                GuardianLink.guardian_id == wechat_user_id, col(GuardianLink.revoked_at).is_(None)
            )
            .limit(1)
        ).first()
        is not None
    )
