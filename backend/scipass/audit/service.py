"""Writing and reading the audit log. Entries are only ever added; the one thing that changes
is the client address, cleared once older than ``SCIPASS_CLIENT_ADDRESS_RETENTION_DAYS``
(:func:`clear_client_addresses`, run by the ``purge-telemetry`` job)."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from scipass.audit.models import AuditLog
from scipass.core.auth import Principal, Role, region_prefix
from scipass.core.pagination import PageParams, count_rows


class Action(StrEnum):
    login = "login"
    login_failed = "login_failed"
    wechat_login = "wechat_login"
    refresh_reuse = "refresh_reuse"
    password_changed = "password_changed"  # noqa: S105
    password_change_failed = "password_change_failed"  # noqa: S105
    account_created = "account_created"
    org_created = "org_created"
    roster_imported = "roster_imported"
    binding_codes_exported = "binding_codes_exported"
    student_bound = "student_bound"
    student_unbound = "student_unbound"
    guardian_linked = "guardian_linked"
    guardian_unlinked = "guardian_unlinked"
    consent_granted = "consent_granted"
    consent_refused = "consent_refused"
    consent_withdrawn = "consent_withdrawn"
    students_viewed = "students_viewed"
    venue_reviewed = "venue_reviewed"
    directory_published = "directory_published"
    pairing_changed = "pairing_changed"
    reservation_made = "reservation_made"
    reservation_cancelled = "reservation_cancelled"
    slot_cancelled = "slot_cancelled"
    records_exported = "records_exported"  # written before the first byte is sent
    records_export_finished = "records_export_finished"  # outcome: done, or failed mid-way
    records_viewed = "records_viewed"
    record_voided = "record_voided"
    notice_opened = "notice_opened"
    competition_results_changed = "competition_results_changed"  # entered, noticed, published
    competition_results_viewed = "competition_results_viewed"  # a round's results with names
    evidence_viewed = "evidence_viewed"
    checkin_corrected = "checkin_corrected"
    checkins_exported = "checkins_exported"
    talent_tracking_started = "talent_tracking_started"
    talent_tracking_ended = "talent_tracking_ended"
    talent_tracking_viewed = "talent_tracking_viewed"  # a list or a pupil's history
    checkins_viewed = "checkins_viewed"
    personal_card_issued = "personal_card_issued"
    personal_card_revoked = "personal_card_revoked"
    code_revoked = "code_revoked"
    guardian_acted = "guardian_acted"  # a guardian wrote for a linked child (family mode)
    record_attested = "record_attested"  # a teacher confirmed for a pupil with no phone
    school_settings_changed = "school_settings_changed"  # e.g. teacher attestation on or off
    job_queued = "job_queued"  # a bulk export asked for, to run in the worker
    job_retried = "job_retried"  # its worker was lost; queued again
    job_failed = "job_failed"  # it failed, or its worker was lost too often
    competition_changed = "competition_changed"  # a bureau's catalogue or whitelist
    competition_entry_changed = "competition_entry_changed"  # registered, recommended, ...
    competition_entries_viewed = "competition_entries_viewed"  # an organiser's list of pupils
    volunteer_role_saved = "volunteer_role_saved"  # created or changed
    volunteer_shifts_published = "volunteer_shifts_published"  # one shift or a series
    volunteer_shift_cancelled = "volunteer_shift_cancelled"
    volunteer_signed_up = "volunteer_signed_up"  # a pupil, a guardian, or a school's group
    volunteer_signup_cancelled = "volunteer_signup_cancelled"
    volunteer_minutes_changed = "volunteer_minutes_changed"  # staff changed confirmed minutes
    volunteer_hours_exported = "volunteer_hours_exported"  # a venue's hours, or a pupil's
    policy_review_opened = "policy_review_opened"
    policy_review_frozen = "policy_review_frozen"  # its rows stored as they were
    compliance_ledger_exported = "compliance_ledger_exported"  # a bureau's 工作台账 (XLSX)
    volunteer_hours_viewed = "volunteer_hours_viewed"  # a school's totals of its pupils
    volunteer_certificate_issued = "volunteer_certificate_issued"
    policy_override_created = "policy_override_created"  # a bureau changed a rule's setting
    school_flags_changed = "school_flags_changed"  # area, remote, main urban district
    science_staff_changed = "science_staff_changed"  # a 科学副校长 or 科技辅导员 added or ended
    counsellor_training_recorded = "counsellor_training_recorded"
    mobile_museum_tour_recorded = "mobile_museum_tour_recorded"
    school_calendar_set = "school_calendar_set"
    child_data_copied = "child_data_copied"  # a pupil's data as one JSON copy (PIPL art. 45)
    child_evidence_copied = "child_evidence_copied"  # a pupil's evidence files as a ZIP
    deletion_requested = "deletion_requested"  # a guardian or a pupil of 14+ asked to delete
    # Deletion log (never the content: what kind, how many, why): data deleted because a
    # guardian withdrew or refused consent for a purpose or asked to delete the child's data
    # (reason ``deletion_request:<id>``), and the retention purge's runs.
    data_deleted = "data_deleted"
    data_purged = "data_purged"
    # The yearly audit report of minors' data generated (figures only, no names).
    privacy_report_generated = "privacy_report_generated"
    privacy_incident_recorded = "privacy_incident_recorded"  # the platform's incident log
    privacy_incident_changed = "privacy_incident_changed"  # measures, reported, closed


class ActionKind(StrEnum):
    """How the yearly audit report counts an action: a look at pupils' data (viewed or
    copied), a file of it leaving the platform (exported), or neither."""

    access = "access"
    export = "export"
    other = "other"


_ACCESS = {
    Action.students_viewed,
    Action.records_viewed,
    Action.competition_results_viewed,
    Action.evidence_viewed,
    Action.talent_tracking_viewed,
    Action.checkins_viewed,
    Action.competition_entries_viewed,
    Action.volunteer_hours_viewed,
    Action.child_data_copied,  # the family's own copy (PIPL art. 45)
    Action.child_evidence_copied,
}
_EXPORT = {
    Action.binding_codes_exported,  # names and codes of a class
    Action.records_exported,  # written once per export, before the first byte
    Action.checkins_exported,
    Action.volunteer_hours_exported,
}
# Neither: sign-ins, settings, changes, outcomes. ``records_export_finished`` is the outcome
# of an export already counted; the compliance ledger and the audit report hold figures, no
# pupil; a certificate is handed to the family.
_OTHER = {
    Action.login,
    Action.login_failed,
    Action.wechat_login,
    Action.refresh_reuse,
    Action.password_changed,
    Action.password_change_failed,
    Action.account_created,
    Action.org_created,
    Action.roster_imported,
    Action.student_bound,
    Action.student_unbound,
    Action.guardian_linked,
    Action.guardian_unlinked,
    Action.consent_granted,
    Action.consent_refused,
    Action.consent_withdrawn,
    Action.venue_reviewed,
    Action.directory_published,
    Action.pairing_changed,
    Action.reservation_made,
    Action.reservation_cancelled,
    Action.slot_cancelled,
    Action.records_export_finished,
    Action.record_voided,
    Action.notice_opened,
    Action.competition_results_changed,
    Action.checkin_corrected,
    Action.talent_tracking_started,
    Action.talent_tracking_ended,
    Action.personal_card_issued,
    Action.personal_card_revoked,
    Action.code_revoked,
    Action.guardian_acted,
    Action.record_attested,
    Action.school_settings_changed,
    Action.job_queued,
    Action.job_retried,
    Action.job_failed,
    Action.competition_changed,
    Action.competition_entry_changed,
    Action.volunteer_role_saved,
    Action.volunteer_shifts_published,
    Action.volunteer_shift_cancelled,
    Action.volunteer_signed_up,
    Action.volunteer_signup_cancelled,
    Action.volunteer_minutes_changed,
    Action.policy_review_opened,
    Action.policy_review_frozen,
    Action.compliance_ledger_exported,
    Action.volunteer_certificate_issued,
    Action.policy_override_created,
    Action.school_flags_changed,
    Action.science_staff_changed,
    Action.counsellor_training_recorded,
    Action.mobile_museum_tour_recorded,
    Action.school_calendar_set,
    Action.deletion_requested,
    Action.data_deleted,
    Action.data_purged,
    Action.privacy_report_generated,
    Action.privacy_incident_recorded,
    Action.privacy_incident_changed,
}
# Every action, classified in this one place: tests/audit fail on an action in none of the
# three sets (or in two), so a new action cannot be forgotten by the yearly report.
ACTION_KINDS: dict[Action, ActionKind] = {
    **dict.fromkeys(_OTHER, ActionKind.other),
    **dict.fromkeys(_ACCESS, ActionKind.access),
    **dict.fromkeys(_EXPORT, ActionKind.export),
}


def record(
    session: Session,
    *,
    action: Action,
    at: datetime,
    actor: Principal | None = None,
    actor_subject: str | None = None,
    object_type: str | None = None,
    object_id: object = None,
    school_id: int | None = None,
    region_code: str | None = None,
    client_ip: str | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditLog(
            at=at,
            action=action.value,
            actor=actor.subject if actor else actor_subject,
            actor_role=actor.role.value if actor else None,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            school_id=school_id,
            region_code=region_code,
            client_ip=client_ip,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
        )
    )


def clear_client_addresses(session: Session, *, before: datetime) -> int:
    """Clear the client address of the entries written before ``before``; how many."""
    result = session.exec(
        update(AuditLog)
        .where(col(AuditLog.at) < before, col(AuditLog.client_ip).is_not(None))
        .values(client_ip=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def _scoped(principal: Principal) -> SelectOfScalar[AuditLog]:
    query = select(AuditLog)
    if principal.role is Role.platform_admin:
        return query
    if principal.role is Role.school_admin:
        return query.where(AuditLog.school_id == principal.school_id)
    # bureau: what happened in schools of its region
    prefix = region_prefix(principal.region_code or "")
    return query.where(col(AuditLog.region_code).startswith(prefix))


def list_entries(
    session: Session, *, principal: Principal, page: PageParams, action: str | None = None
) -> tuple[list[AuditLog], int]:
    query = _scoped(principal)
    if action:
        query = query.where(AuditLog.action == action)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return list(rows), total
