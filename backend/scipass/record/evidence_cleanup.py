"""Evidence files stored before uploads were cleaned (see :mod:`scipass.record.sanitise`) are
cleaned once: by the ``clean-evidence`` job (``scipass clean-evidence``, and ``serve`` at
start-up and periodically), and by a download that meets a file not cleaned yet, so that no
file is served uncleaned in between.

A file is taken with every row that names it (a correction shares the files of the record it
replaced), and each row keeps its id, so every download link stays valid:

* an image is re-encoded: its rows take the new file's ``sha256`` and ``size``, and keep the
  old hash in ``original_sha256``. The archive hash chain (:mod:`scipass.record.chain`) covers
  ``original_sha256`` where it is set: every student's chain verifies as before, and
  ``sha256`` goes on naming the file that is served;
* a PDF without active content is only marked cleaned: it is served as it was;
* a PDF with active content, or a file that cannot be decoded or is over the limits, is
  quarantined: its rows stay (they are part of the record, and of its archive hash), marked
  with the reason and answered 410 ``evidence_quarantined``; the file is moved to
  ``<upload_dir>/quarantine/``, out of the served tree, for an administrator to look at;
* an image whose cleaned file another row of the same record has already (the same picture
  uploaded twice with different metadata) cannot name it too, a file being attached once per
  record: it is quarantined as a ``duplicate`` (the picture stays on the other row);
* a row whose file is missing is quarantined as ``missing`` (unless other rows had the same
  file and were cleaned before: it then gets their verdict).

Every row whose file was replaced or quarantined gets a history event (``evidence_cleaned``,
``evidence_quarantined``). An old file leaves the served tree only after the transaction has
committed, and only when no row that is still served names it; nothing empties the quarantine
(an administrator decides: a duplicate's original still holds its EXIF). The rows are marked
(``cleaned_at``), so a later run finds nothing to do. One run stops after :data:`BUDGET_SECONDS`
of work, since on SQLite it holds the only write lock meanwhile; ``scipass clean-evidence``
runs until everything is done.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from scipass.core.config import Settings
from scipass.core.db import after_commit
from scipass.core.errors import ProblemError
from scipass.record import sanitise, storage, transitions
from scipass.record.errors import EvidencePdfActiveContent, EvidenceTooComplex
from scipass.record.models import ParticipationRecord, QuarantineReason, RecordEvidence

BUDGET_SECONDS = 2.0
BATCH = 100  # files looked up per run, at most


@dataclass
class _Outcome:
    rows: int = 0
    obsolete: list[str] = field(default_factory=list)  # hashes of files no longer served


@dataclass(frozen=True)
class _Verdict:
    """What becomes of a stored file: cleaned into ``sha256`` (whose bytes, when given, are
    still to be written), or quarantined for ``reason``."""

    sha256: str | None = None
    size: int = 0
    data: bytes | None = None
    reason: QuarantineReason | None = None
    note: str = ""


def clean_stored(
    session: Session, *, settings: Settings, now: datetime, budget_seconds: float | None = None
) -> int:
    """Clean files not cleaned yet, oldest first, until ``budget_seconds`` (by default
    :data:`BUDGET_SECONDS`) are spent; at least one. Returns how many rows were cleaned or
    quarantined (0: nothing was left)."""
    budget = BUDGET_SECONDS if budget_seconds is None else budget_seconds
    started = time.monotonic()
    pending = session.exec(
        select(RecordEvidence.sha256)
        .where(col(RecordEvidence.cleaned_at).is_(None))
        .group_by(col(RecordEvidence.sha256))
        .order_by(func.min(RecordEvidence.id))
        .limit(BATCH)
    ).all()
    done = _Outcome()
    for sha256 in pending:
        outcome = _clean_content(session, settings=settings, sha256=sha256, now=now)
        done.rows += outcome.rows
        done.obsolete += outcome.obsolete
        if time.monotonic() - started >= budget:
            break
    _remove_after_commit(session, settings, done.obsolete)
    return done.rows


def clean_now(
    session: Session, *, settings: Settings, evidence: RecordEvidence, now: datetime
) -> RecordEvidence:
    """Clean the file of ``evidence`` at once (a download met it not cleaned yet); the row as
    it now is."""
    outcome = _clean_content(session, settings=settings, sha256=evidence.sha256, now=now)
    _remove_after_commit(session, settings, outcome.obsolete)
    session.refresh(evidence)
    return evidence


def _remove_after_commit(session: Session, settings: Settings, shas: list[str]) -> None:
    # a file is named by its hash; another table (an entry's attachment) may still name it
    keys = [storage.served_key(s) for s in shas if not storage.used_elsewhere(session, s)]
    if keys:
        after_commit(session, lambda: storage.remove(settings, keys))


def _clean_content(session: Session, *, settings: Settings, sha256: str, now: datetime) -> _Outcome:
    rows = session.exec(
        select(RecordEvidence)
        .where(RecordEvidence.sha256 == sha256, col(RecordEvidence.cleaned_at).is_(None))
        .order_by(col(RecordEvidence.id))
    ).all()
    if not rows:
        return _Outcome()
    verdict = _judge(settings, sha256)
    if verdict.reason is QuarantineReason.missing:
        verdict = _earlier_verdict(session, sha256) or verdict
    if verdict.data is not None and verdict.sha256 is not None:
        storage.store(settings, verdict.data, verdict.sha256)
    outcome = _Outcome()
    quarantined = False
    for row in rows:
        reason, note = verdict.reason or QuarantineReason.unreadable, verdict.note
        if verdict.sha256 is not None:
            changed = _replace(session, row, verdict.sha256, verdict.size, now)
            if changed is not None:
                outcome.rows += changed
                continue
            reason, note = QuarantineReason.duplicate, ""
        outcome.rows += _quarantine(session, row, reason, note, now)
        quarantined = True
    if quarantined:
        storage.quarantine(settings, sha256)
    still_served = session.exec(
        select(
            exists().where(
                col(RecordEvidence.sha256) == sha256,
                col(RecordEvidence.quarantined_at).is_(None),
            )
        )
    ).one()
    if not still_served:
        outcome.obsolete.append(sha256)
    return outcome


def _judge(settings: Settings, sha256: str) -> _Verdict:
    """What becomes of the stored file ``sha256``, by its bytes."""
    data = storage.read_served(settings, sha256)
    if data is None:
        return _Verdict(reason=QuarantineReason.missing)
    try:
        _, stored = sanitise.clean(data)
    except EvidencePdfActiveContent as refusal:
        found = ", ".join(refusal.extra.get("found", []))
        return _Verdict(reason=QuarantineReason.active_content, note=found)
    except EvidenceTooComplex:
        return _Verdict(reason=QuarantineReason.too_complex)
    except ProblemError:  # unreadable, or not a type that is accepted
        return _Verdict(reason=QuarantineReason.unreadable)
    new_sha256 = hashlib.sha256(stored).hexdigest()
    return _Verdict(
        sha256=new_sha256, size=len(stored), data=None if new_sha256 == sha256 else stored
    )


def _earlier_verdict(session: Session, sha256: str) -> _Verdict | None:
    """The verdict on the same content when other rows had it before its file left the served
    tree (a correction that copied a row while the job cleaned it)."""
    cleaned = session.exec(
        select(RecordEvidence.sha256, RecordEvidence.size).where(
            RecordEvidence.original_sha256 == sha256,
            col(RecordEvidence.quarantined_at).is_(None),
        )
    ).first()
    if cleaned is not None:
        return _Verdict(sha256=cleaned[0], size=cleaned[1])
    reason = session.exec(
        select(RecordEvidence.quarantine_reason).where(
            RecordEvidence.sha256 == sha256,
            col(RecordEvidence.quarantine_reason).in_(
                [r.value for r in QuarantineReason if r is not QuarantineReason.duplicate]
            ),
        )
    ).first()
    return None if reason is None else _Verdict(reason=QuarantineReason(reason))


def _replace(
    session: Session, row: RecordEvidence, new_sha256: str, size: int, now: datetime
) -> int | None:
    """Point ``row`` at its cleaned file: 1, or 0 when another run did first; None when its
    record has that file on another row already."""
    values: dict[str, object] = {"cleaned_at": now}
    if new_sha256 != row.sha256:  # an image re-encoded (a PDF, or a clean image, stays)
        values |= {"sha256": new_sha256, "size": size, "original_sha256": row.sha256}
    try:
        with session.begin_nested():
            changed = _update_if_not_cleaned(session, row, values)
    except IntegrityError:
        return None
    if changed and new_sha256 != row.sha256:
        _event(session, row, "evidence_cleaned", row.filename, now)
    return changed


def _quarantine(
    session: Session, row: RecordEvidence, reason: QuarantineReason, note: str, now: datetime
) -> int:
    changed = _update_if_not_cleaned(
        session,
        row,
        {"cleaned_at": now, "quarantined_at": now, "quarantine_reason": reason.value},
    )
    if changed:
        detail = f"{row.filename}：{reason.value}" + (f"（{note}）" if note else "")
        _event(session, row, "evidence_quarantined", detail, now)
    return changed


def _update_if_not_cleaned(session: Session, row: RecordEvidence, values: dict[str, object]) -> int:
    """One conditional update: another run (or download) that cleaned the row first wins."""
    result = session.exec(
        update(RecordEvidence)
        .where(col(RecordEvidence.id) == row.id, col(RecordEvidence.cleaned_at).is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def _event(session: Session, row: RecordEvidence, action: str, note: str, now: datetime) -> None:
    status = session.exec(
        select(ParticipationRecord.status).where(ParticipationRecord.id == row.record_id)
    ).one()
    transitions.add_event(session, row.record_id, None, action, status, status, now, note)
