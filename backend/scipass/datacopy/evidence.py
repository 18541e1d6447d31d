"""A pupil's evidence files as one ZIP with a manifest, made by a job the client polls.

Evidence files can be large (photos, PDFs) and many, so the ZIP is always a job
(``data-copy-evidence``): the request checks who asks and for which pupil, answers 202 with the
job, and the worker writes the ZIP into the job's result store. The ZIP holds the served files
of the pupil's own records only, named ``<record id>-<evidence id>-<file name>``, and
``manifest.json``: for each evidence row, its name in the ZIP (or why it is not there: a
quarantined file is no longer served, a file may be missing from storage), the record it
belongs to, and its hash, type and size. Audited when it ends (``child_evidence_copied``: how
many files, how it ended).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import Principal, Role
from scipass.core.clock import local_date
from scipass.datacopy.collect import child_for_copy, still_theirs
from scipass.jobs import queue as job_queue
from scipass.jobs.exporter import BundleExport, run_bundle_export
from scipass.jobs.models import Job
from scipass.jobs.queue import JobContext, JobKind, JobResult
from scipass.org.models import School
from scipass.record import data_copy as record_copy
from scipass.record import storage as evidence_storage
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import GuardianLink, Student

EVIDENCE_JOB = "data-copy-evidence"
MANIFEST = "manifest.json"


def queue_evidence_copy(session: Session, *, principal: Principal, now: datetime) -> Job:
    """Queue the ZIP of the principal's pupil's evidence (who asks is checked now, and again
    when the job runs: a guardian link revoked meanwhile stops it)."""
    student = child_for_copy(session, principal=principal, today=local_date(now))
    return job_queue.enqueue(
        session, kind=EVIDENCE_KIND, params={"student_id": student.id}, owner=principal, now=now
    )


def _still_allowed(session: Session, owner: Principal, student_id: int) -> Student:
    if owner.student_id != student_id:
        raise StudentNotFound()
    if owner.role is Role.guardian:
        live = session.exec(
            select(GuardianLink.id).where(
                GuardianLink.student_id == student_id,
                GuardianLink.guardian_id == owner.wechat_user_id,
                col(GuardianLink.revoked_at).is_(None),
            )
        ).first()
        if live is None:
            raise StudentNotFound()
    student = session.get(Student, student_id)
    if student is None or not still_theirs(owner, student):
        raise StudentNotFound()
    return student


def run_evidence_job(context: JobContext) -> JobResult:
    """The ``data-copy-evidence`` job: the pupil's evidence files and the manifest, one ZIP."""
    owner = context.owner
    student_id = int(context.params["student_id"])
    now = context.clock.now()
    settings = context.settings

    def prepare(session: Session) -> BundleExport:
        student = _still_allowed(session, owner, student_id)
        school = session.get(School, student.school_id)
        rows = record_copy.evidence_of(session, student_id=student_id)

        def files() -> Iterator[tuple[str, bytes]]:
            manifest: list[dict[str, Any]] = []
            for row in rows:
                evidence = row.evidence
                item: dict[str, Any] = {
                    "evidence_id": evidence.id,
                    "record_id": row.record_id,
                    "record_title": row.record_title,
                    "filename": evidence.filename,
                    "media_type": evidence.media_type,
                    "size": evidence.size,
                    "sha256": evidence.sha256,
                    "uploaded_at": evidence.uploaded_at.isoformat(),
                    "file": None,
                    "withheld": None,
                }
                if evidence.quarantined_at is not None:
                    item["withheld"] = "quarantined"  # no longer served (e.g. not a clean image)
                elif (data := evidence_storage.read_served(settings, evidence.sha256)) is None:
                    item["withheld"] = "missing"
                else:
                    name = f"{row.record_id}-{evidence.id}-{evidence.filename}"
                    item["file"] = name
                    yield name, data
                manifest.append(item)
            body = {"student_id": student_id, "generated_at": now.isoformat(), "files": manifest}
            yield MANIFEST, json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")

        def audit(audit_session: Session, written: int, error: str | None) -> None:
            audit_service.record(
                audit_session,
                action=audit_service.Action.child_evidence_copied,
                at=context.clock.now(),
                actor=owner,
                object_type="student",
                object_id=student_id,
                school_id=student.school_id,
                region_code=school.region_code if school else None,
                files=written,
                job_id=context.job_id,
                outcome="done" if error is None else "failed",
                error=error,
            )

        day = local_date(now).isoformat()
        return BundleExport(
            files=files(),
            total=len(rows) + 1,
            filename=f"证明材料-{student.student_no}-{day}.zip",
            plain_filename=f"evidence-{student.student_no}-{day}.zip",
            audit=audit,
        )

    return run_bundle_export(context, prepare=prepare)


EVIDENCE_KIND = JobKind(EVIDENCE_JOB, run_evidence_job)
