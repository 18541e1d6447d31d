"""The pupils who block an export to the 综评 platform (issue 20 point 1): under 14, with
records in the export's filter, and no guardian's ``record_export`` consent in force. The one
exporter leaves their records out (:mod:`scipass.jobs.exporter`); this list is the school's
review screen for them, so that a teacher can ask the guardians (in the mini-program, or on a
paper form the school records) before exporting.

The same scope, filter and rule as the export itself: the filter is narrowed by
:func:`scipass.record.exports.scoped_filter` (a school sees its own pupils, a bureau its
region's, names masked as :func:`scipass.roster.visibility.shown_name` says), and the pupils
are chosen by :func:`scipass.jobs.exporter.withheld_students`, so the list names exactly the
pupils an export of the same filter, run now, would leave out. It shows the latest decision
(refused, withdrawn, a grant no longer in force, or none) so the teacher knows whom to ask.
"""

from __future__ import annotations

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from scipass.consent import service as consent_service
from scipass.consent.models import Decision
from scipass.core.auth import SCHOOL_ROLES, Principal
from scipass.core.clock import Clock, local_date
from scipass.core.pagination import Page, PageParams, count_rows
from scipass.jobs.exporter import EXPORT_PURPOSE, withheld_students
from scipass.org.models import School
from scipass.record import exports as record_exports
from scipass.record.repository import RecordFilter
from scipass.record.schemas import WithheldPupil
from scipass.roster.models import Student
from scipass.roster.visibility import shown_name


def withheld_page(
    session: Session,
    clock: Clock,
    *,
    principal: Principal,
    requested: RecordFilter,
    page: PageParams,
) -> Page[WithheldPupil]:
    """The pupils an export of ``requested`` by ``principal`` would leave out, by school,
    grade, class and student number."""
    record_filter = record_exports.scoped_filter(session, principal=principal, requested=requested)
    students = record_exports.record_students(principal, record_filter)
    blocked = withheld_students(students, today=local_date(clock.now())).subquery()
    query = (
        sa_select(
            col(Student.id),
            col(Student.student_no),
            col(Student.name),
            col(Student.grade),
            col(Student.class_name),
            col(Student.school_id),
            col(School.name),
            blocked.c.rows,
            consent_service.latest_decision_clause(col(Student.id), EXPORT_PURPOSE),
        )
        .select_from(blocked)
        .join(Student, col(Student.id) == blocked.c.student_id)
        .join(School, col(School.id) == col(Student.school_id))
        .order_by(
            col(Student.school_id),
            col(Student.grade),
            col(Student.class_name),
            col(Student.student_no),
            col(Student.id),
        )
    )
    total = count_rows(session, query)
    # The school asks the guardians: it sees whom and what they decided. A bureau or the
    # platform sees how many, by school and class, and a masked name, not more.
    own_school = principal.role in SCHOOL_ROLES
    items = [
        WithheldPupil(
            student_id=student_id,
            student_no=student_no if own_school else None,
            name=shown_name(principal, name, school_id=school_id, student_id=student_id),
            grade=grade,
            class_name=class_name,
            school_id=school_id,
            school_name=school_name,
            withheld_records=rows,
            decision=Decision(decision) if decision and own_school else None,
        )
        for (
            student_id,
            student_no,
            name,
            grade,
            class_name,
            school_id,
            school_name,
            rows,
            decision,
        ) in session.execute(query.limit(page.limit).offset(page.offset))
    ]
    return Page.of(items, total, page)
