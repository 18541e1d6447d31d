"""What withdrawing consent does to a pupil's records (registered as consent effects, see
:mod:`scipass.consent.effects`; each runs in the decision's transaction and changes nothing the
second time).

* ``photos``: the evidence files of the pupil's records that are not archived are deleted.
  Each row stays as a tombstone, as a quarantined one does (it keeps its checksums and is
  answered 410 ``evidence_quarantined``, reason ``consent_withdrawn``), with a history event
  ``evidence_deleted``. Archived (and voided) records keep theirs: the school keeps the 综评
  file under its own legal duty, and their rows are part of the archive hash chain. A file
  leaves the served tree under the file's lock (record/storage.py) and the disk once the
  transaction has committed, and only when no row still served names
  it (a correction, another pupil's record with the same picture). A row quarantined before
  (an unsafe or unreadable file) is served no more already: it keeps its reason and the
  quarantine copy kept for an administrator. Uploading the same file again after a new grant
  revives the tombstone (record/evidence.py). A record archived later
  hashes its tombstones' checksums, so its chain verifies as any other.
* ``participation_record``: the pupil's records still open to them (pending, confirmed) are
  withdrawn, as the pupil would withdraw them, with the reason in their history. Records the
  school has reviewed go on to the 综评 file under the school's duty. New records are refused
  where they are made (check-in, registration, manual records: ``consent_required``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, or_, update
from sqlmodel import Session, col, select

from scipass.consent import effects as consent_effects
from scipass.consent.models import Purpose
from scipass.core.config import Settings
from scipass.record import storage, transitions
from scipass.record.models import (
    STUDENT_OPEN,
    ParticipationRecord,
    QuarantineReason,
    RecordEvidence,
    RecordStatus,
)

# Records in the archive chain: their evidence is the school's to keep.
ARCHIVED = (RecordStatus.archived, RecordStatus.voided)
WITHDRAWN_NOTE = "监护人撤回同意"


def delete_evidence_of(
    session: Session,
    student_id: int,
    now: datetime,
    settings: Settings,
    *,
    keep_quarantined: bool = True,
) -> int:
    """Delete the evidence files of ``student_id``'s records that are not archived; how many
    rows became tombstones. A withdrawal keeps the copy of a file quarantined before, for the
    administrator who must judge it; a deletion request (``keep_quarantined=False``) deletes
    that copy too, unless a row of another record still keeps it."""
    unarchived = select(ParticipationRecord.id).where(
        ParticipationRecord.student_id == student_id,
        col(ParticipationRecord.status).not_in([s.value for s in ARCHIVED]),
    )
    reason = QuarantineReason.consent_withdrawn.value
    rows = session.exec(
        update(RecordEvidence)
        .where(
            col(RecordEvidence.record_id).in_(unarchived),
            # A file quarantined before (unsafe, unreadable...) is served no more already: it
            # keeps its reason, and the quarantine copy kept for an administrator.
            col(RecordEvidence.quarantined_at).is_(None),
        )
        .values(
            quarantined_at=now,
            quarantine_reason=reason,
            cleaned_at=now,  # never cleaned now: nothing left to clean
        )
        .returning(col(RecordEvidence.record_id), col(RecordEvidence.sha256))
        .execution_options(synchronize_session=False)
    ).all()
    statuses = dict(
        session.exec(
            select(ParticipationRecord.id, ParticipationRecord.status).where(
                col(ParticipationRecord.id).in_({record_id for record_id, _ in rows})
            )
        ).all()
    )
    for record_id, _ in rows:
        status = statuses[record_id]
        transitions.add_event(
            session, record_id, None, "evidence_deleted", status, status, now, WITHDRAWN_NOTE
        )
    # Who keeps a quarantine copy: a row quarantined for another reason (an unsafe file) — of
    # any record for a withdrawal; of another pupil's or an archived record for a deletion.
    keeps_copy = col(RecordEvidence.quarantine_reason) != reason
    quarantined: set[str] = set()
    if not keep_quarantined:
        keeps_copy = keeps_copy & col(RecordEvidence.record_id).not_in(unarchived)
        quarantined = set(
            session.exec(
                select(RecordEvidence.sha256).where(
                    col(RecordEvidence.record_id).in_(unarchived),
                    col(RecordEvidence.quarantine_reason) != reason,
                )
            ).all()
        )
    keys: list[str] = []
    for sha256 in sorted(quarantined | {sha256 for _, sha256 in rows}):
        # An upload of the same bytes for another row has committed, or waits till this ends.
        storage.lock_file(session, sha256)
        if storage.used_elsewhere(session, sha256):
            continue  # e.g. the same PDF is a team's competition attachment
        if not _named(session, sha256, col(RecordEvidence.quarantined_at).is_(None)):
            keys.append(storage.served_key(sha256))
        if not _named(session, sha256, keeps_copy):
            keys.append(storage.quarantine_key(sha256))
    storage.remove_in_transaction(session, settings, keys)
    return len(rows)


def lock_files_of(session: Session, student_ids: list[int]) -> None:
    """Take the lock of every file that :func:`delete_evidence_of` may delete for these pupils,
    in hash order: a job that deletes for several pupils in one transaction takes them all
    before it deletes anything, so it never waits for a pupil's row while holding a file that
    the pupil's withdrawal waits for."""
    shas = session.exec(
        select(RecordEvidence.sha256)
        .join(ParticipationRecord, col(ParticipationRecord.id) == RecordEvidence.record_id)
        .where(
            col(ParticipationRecord.student_id).in_(student_ids),
            col(ParticipationRecord.status).not_in([s.value for s in ARCHIVED]),
        )
        .distinct()
    ).all()
    for sha256 in sorted(shas):
        storage.lock_file(session, sha256)


def _named(session: Session, sha256: str, which: ColumnElement[bool]) -> bool:
    """Whether a row that ``which`` selects names the file ``sha256``."""
    return bool(
        session.exec(select(exists().where(col(RecordEvidence.sha256) == sha256, which))).one()
    )


def withdraw_open_records(
    session: Session, student_id: int, now: datetime, settings: Settings
) -> int:
    """Withdraw ``student_id``'s records still open to them; how many."""
    return _withdraw(session, student_id, now, allowed=STUDENT_OPEN, note=WITHDRAWN_NOTE)


def _withdraw(
    session: Session,
    student_id: int,
    now: datetime,
    *,
    allowed: tuple[RecordStatus, ...],
    note: str,
) -> int:
    moved = transitions.move_all(
        session,
        which=col(ParticipationRecord.student_id) == student_id,
        allowed=allowed,
        to=RecordStatus.withdrawn,
        action="withdrawn",
        now=now,
        note=note,
        status_reason=note,
    )
    return len(moved)


# A deletion request (scipass.deletion.jobs) withdraws every record not yet archived, reviewed
# ones too, and removes their personal content.
NOT_ARCHIVED = (
    RecordStatus.pending,
    RecordStatus.confirmed,
    RecordStatus.reviewed,
    RecordStatus.publicised,
)
DELETION_NOTE = "监护人申请删除个人信息"


def withdraw_unarchived(session: Session, student_id: int, now: datetime) -> int:
    """Withdraw ``student_id``'s records not yet archived (a deletion request); how many."""
    return _withdraw(session, student_id, now, allowed=NOT_ARCHIVED, note=DELETION_NOTE)


def remove_reflections(session: Session, student_id: int, now: datetime) -> int:
    """Remove the reflections of ``student_id``'s records that are not archived; how many."""
    return len(
        session.exec(
            update(ParticipationRecord)
            .where(
                col(ParticipationRecord.student_id) == student_id,
                col(ParticipationRecord.status).not_in([s.value for s in ARCHIVED]),
                or_(
                    col(ParticipationRecord.reflection) != "",
                    col(ParticipationRecord.reflection_by).is_not(None),
                ),
            )
            .values(reflection="", reflection_by=None, updated_at=now)
            .returning(col(ParticipationRecord.id))
            .execution_options(synchronize_session=False)
        ).all()
    )


def register_consent_effects() -> None:
    consent_effects.register(Purpose.photos, "evidence_file", delete_evidence_of)
    consent_effects.register(Purpose.participation_record, "open_record", withdraw_open_records)
