"""Carrying deletion requests out (job ``carry-out-deletions``), and deleting WeChat users who
never bound (job ``delete-unbound-wechat-users``).

A request is carried out at the job's first run after it was recorded (the due date in the
answer, ``SCIPASS_DELETION_PERIOD_DAYS`` after the request, is the latest it may take). The job
claims it by a conditional update, so two workers never carry one out twice, and then, in the
same transaction:

* withdraws the pupil's records not yet archived (pending, confirmed, reviewed, in 公示) and
  removes their personal content: the reflection, and the evidence files (the ``photos``
  withdrawal effect, :func:`scipass.record.withdrawal.delete_evidence_of`: tombstones, files
  that an archived record or another pupil still names stay on disk);
* erases the stored scan locations (the ``location`` withdrawal effect);
* clears client addresses in the audit log of the pupil's own actions and of actions about
  the pupil (a guardian's for the child);
* withdraws every consent still granted (a withdrawal appended, as the guardian would; the
  records stay as proof of what was agreed);
* deletes the WeChat binding and openid mapping: the pupil's binding, their WeChat user (with
  its refresh tokens) when nothing else names it, the guardian links to the pupil (consent
  records keep the guardian's name, not the link), and a guardian's WeChat user that links
  no other child.

Archived (and voided) records stay with their evidence: the school keeps the 综评 file under
its own legal duty. Each kind deleted is written to the deletion log (``data_deleted``, reason
``deletion_request:<id>``): what kind and how many, never the content. Every step changes only
what is still there, so running it again changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, or_, update
from sqlmodel import Session, col, select

from scipass.account.models import RefreshToken, WeChatUser
from scipass.audit import service as audit_service
from scipass.audit.models import AuditLog
from scipass.checkin import visits as checkin_visits
from scipass.consent import service as consent_service
from scipass.consent.models import Channel, ConsentRecord, Decision
from scipass.core.config import Settings
from scipass.core.jobs import Jobs
from scipass.deletion.models import DeletionRequest, DeletionStatus
from scipass.record import withdrawal as record_withdrawal
from scipass.roster.models import GuardianLink, Student


def carry_out_deletions(session: Session, now: datetime, settings: Settings) -> int:
    """Carry out every open request; how many rows were deleted or changed."""
    total = 0
    open_ids = session.exec(
        select(DeletionRequest.id)
        .where(col(DeletionRequest.carried_out_at).is_(None))
        .order_by(col(DeletionRequest.id))
    ).all()
    claimed: list[tuple[int, int]] = []
    for request_id in open_ids:
        row = session.exec(
            update(DeletionRequest)
            .where(
                col(DeletionRequest.id) == request_id, col(DeletionRequest.carried_out_at).is_(None)
            )
            .values(status=DeletionStatus.carried_out.value, carried_out_at=now)
            .returning(col(DeletionRequest.student_id), col(DeletionRequest.school_id))
            .execution_options(synchronize_session=False)
        ).first()
        if row is not None and request_id is not None:
            claimed.append((request_id, row[0]))
    # One transaction for every request: lock every pupil (in id order, as a batch of scans
    # does), then every file to delete (in hash order, as a withdrawal does), before deleting
    # anything, so that no scan, upload or withdrawal in flight and this job wait for each other.
    students = sorted({student_id for _, student_id in claimed})
    for student_id in students:
        consent_service.lock_pupil(session, student_id)
    if students:
        record_withdrawal.lock_files_of(session, students)
    for request_id, student_id in claimed:
        total += carry_out(session, request_id, student_id, now, settings)
    return total


def carry_out(
    session: Session, request_id: int, student_id: int, now: datetime, settings: Settings
) -> int:
    """Delete what a request deletes for ``student_id`` and log it; how many rows changed."""
    student = session.get(Student, student_id)
    assert student is not None
    consent_service.lock_pupil(session, student_id)  # a scan or upload in flight ends first
    done = {
        "open_record": record_withdrawal.withdraw_unarchived(session, student_id, now),
        "reflection": record_withdrawal.remove_reflections(session, student_id, now),
        "evidence_file": record_withdrawal.delete_evidence_of(
            session, student_id, now, settings, keep_quarantined=False
        ),
        "scan_location": checkin_visits.erase_locations_of(session, student_id, now, settings),
    }
    own_user = student.wechat_user_id
    guardians = list(
        session.exec(select(GuardianLink.guardian_id).where(GuardianLink.student_id == student_id))
    )
    # the pupil's own actions and their guardians' (logins carry the addresses), and every
    # action about the pupil
    subjects = [f"wechat:{user}" for user in (own_user, *guardians) if user is not None]
    done["client_address"] = _clear_addresses(session, student_id, subjects)
    done["consent"] = _withdraw_consents(session, student_id, now)
    done["wechat_binding"] = _unbind(session, student_id)
    done["guardian_link"] = _delete_links(session, student_id)
    done["wechat_user"] = delete_unneeded_users(
        session, [user for user in (own_user, *guardians) if user is not None]
    )
    for kind, count in done.items():
        if count:
            audit_service.record(
                session,
                action=audit_service.Action.data_deleted,
                at=now,
                actor_subject="system",
                object_type="student",
                object_id=student_id,
                school_id=student.school_id,
                kind=kind,
                count=count,
                reason=f"deletion_request:{request_id}",
            )
    return sum(done.values())


def _clear_addresses(session: Session, student_id: int, subjects: list[str]) -> int:
    about = (col(AuditLog.object_type) == "student") & (col(AuditLog.object_id) == str(student_id))
    return len(
        session.exec(
            update(AuditLog)
            .where(
                col(AuditLog.client_ip).is_not(None),
                or_(about, col(AuditLog.actor).in_(subjects)) if subjects else about,
            )
            .values(client_ip=None)
            .returning(col(AuditLog.id))
            .execution_options(synchronize_session=False)
        ).all()
    )


def _withdraw_consents(session: Session, student_id: int, now: datetime) -> int:
    """Append a withdrawal to every purpose whose latest decision is a grant: the guardian who
    gave it asked to delete the child's data, and a grant whose link is deleted would
    otherwise read as a paper form's; how many purposes."""
    granted = [
        purpose
        for purpose, record in consent_service.decisions(session, student_id).items()
        if record.decision == Decision.grant.value
    ]
    session.add_all(
        ConsentRecord(
            student_id=student_id,
            purpose=purpose.value,
            decision=Decision.withdraw.value,
            notice_version=consent_service.NOTICE_VERSION,
            channel=Channel.mini_program.value,
            recorded_by="system",
            recorded_at=now,
        )
        for purpose in granted
    )
    session.flush()
    return len(granted)


def _unbind(session: Session, student_id: int) -> int:
    return len(
        session.exec(
            update(Student)
            .where(col(Student.id) == student_id, col(Student.wechat_user_id).is_not(None))
            .values(wechat_user_id=None, bound_at=None)
            .returning(col(Student.id))
            .execution_options(synchronize_session=False)
        ).all()
    )


def _delete_links(session: Session, student_id: int) -> int:
    links = select(GuardianLink.id).where(GuardianLink.student_id == student_id)
    session.exec(
        update(ConsentRecord)
        .where(col(ConsentRecord.guardian_link_id).in_(links))
        .values(guardian_link_id=None)
        .execution_options(synchronize_session=False)
    )
    return len(
        session.exec(
            delete(GuardianLink)
            .where(col(GuardianLink.student_id) == student_id)
            .returning(col(GuardianLink.id))
            .execution_options(synchronize_session=False)
        ).all()
    )


def _unneeded() -> list[object]:
    """Conditions on a WeChat user that nothing needs: no pupil bound, no guardian link."""
    return [
        ~exists().where(col(Student.wechat_user_id) == WeChatUser.id),
        ~exists().where(col(GuardianLink.guardian_id) == WeChatUser.id),
    ]


def delete_unneeded_users(session: Session, user_ids: list[int]) -> int:
    """Delete those of ``user_ids`` that nothing needs, with their refresh tokens."""
    if not user_ids:
        return 0
    return _delete_users(session, col(WeChatUser.id).in_(user_ids))


def _delete_users(session: Session, *conditions: object) -> int:
    deleted = [
        int(user_id)
        for (user_id,) in session.exec(
            delete(WeChatUser)
            .where(*conditions, *_unneeded())  # type: ignore[arg-type]
            .returning(col(WeChatUser.id))
            .execution_options(synchronize_session=False)
        ).all()
    ]
    if deleted:
        session.exec(
            delete(RefreshToken)
            .where(col(RefreshToken.subject).in_([f"wechat:{user}" for user in deleted]))
            .execution_options(synchronize_session=False)
        )
    return len(deleted)


def delete_unbound_wechat_users(session: Session, now: datetime, settings: Settings) -> int:
    """Delete the WeChat users who bound to no roster entry and link no child, once their last
    login is older than ``SCIPASS_UNBOUND_WECHAT_RETENTION_DAYS``; logged as ``data_deleted``
    (how many, never who)."""
    before = now - timedelta(days=settings.unbound_wechat_retention_days)
    count = _delete_users(session, col(WeChatUser.last_login_at) < before)
    if count:
        audit_service.record(
            session,
            action=audit_service.Action.data_deleted,
            at=now,
            actor_subject="system",
            kind="wechat_user",
            count=count,
            reason="unbound_wechat_user",
        )
    return count


def register(jobs: Jobs) -> None:
    jobs.register("carry-out-deletions", carry_out_deletions)
    jobs.register("delete-unbound-wechat-users", delete_unbound_wechat_users)
