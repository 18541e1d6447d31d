"""An entry's attachment (research report, design drawing, photo of the work): a PDF, JPEG or
PNG, judged by its first bytes (never by its name or the client's content type), within the
edition's size limit.

Stored as evidence files are (:mod:`scipass.record.storage`): made safe first by the same
cleaner (:mod:`scipass.record.sanitise`: an image is decoded and encoded again, which drops
its EXIF and anything appended; a PDF with scripts or embedded files is refused), then kept
once under its SHA-256. The entry names the stored file; a new upload replaces it.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from typing import BinaryIO

from sqlmodel import Session, col, select

from scipass.competition.entries import audit_entry, lock_forming, managed_entry, visible_entry
from scipass.competition.errors import (
    AttachmentTooLarge,
    AttachmentTypeInvalid,
    EntryNotFound,
    EntryStateInvalid,
)
from scipass.competition.models import Edition, Entry, EntryStatus, Round, RoundEntry
from scipass.competition.review import SENT_TO_ORGANISER
from scipass.core.auth import Principal
from scipass.core.config import Settings
from scipass.org.organiser import is_organiser, organiser_of
from scipass.record import sanitise, storage

# The largest limit an edition may set (EditionCreate.attachment_max_mb), read plus one byte.
READ_LIMIT = 10 * 1024 * 1024 + 1
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def _names_file(session: Session, sha256: str) -> bool:
    """Whether an entry's attachment is the stored file ``sha256`` (record.storage asks before
    deleting a file: attachments and evidence share the content-addressed tree)."""
    found = session.exec(select(Entry.id).where(Entry.attachment_sha256 == sha256)).first()
    return found is not None


storage.register_use(_names_file)


def media_type_of(data: bytes) -> str | None:
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    return None


def _safe_name(filename: str | None, media_type: str) -> str:
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')[:100]
    return name or "附件." + media_type.rsplit("/", 1)[-1]


def attach(
    session: Session,
    *,
    actor: Principal,
    settings: Settings,
    entry_id: int,
    data: bytes,
    filename: str | None,
    now: datetime,
) -> Entry:
    entry = managed_entry(session, actor=actor, entry_id=entry_id)
    if entry.status != EntryStatus.forming:
        raise EntryStateInvalid("报名已提交或已撤回", "The entry is no longer forming")
    lock_forming(session, entry, now)  # a submission at the same moment waits, or wins
    edition = session.get(Edition, entry.edition_id)
    assert edition is not None
    if media_type_of(data) is None:
        raise AttachmentTypeInvalid()
    if len(data) > edition.attachment_max_bytes:
        raise AttachmentTooLarge(limit_bytes=edition.attachment_max_bytes)
    media_type, stored = sanitise.clean(data)
    sha256 = hashlib.sha256(stored).hexdigest()
    storage.lock_file(session, sha256)  # no evidence deleter unlinks it before this commits
    storage.store(settings, stored, sha256)
    entry.attachment_sha256 = sha256
    entry.attachment_media_type = media_type
    entry.attachment_size = len(stored)
    entry.attachment_name = _safe_name(filename, media_type)
    entry.updated_at = now
    session.add(entry)
    session.flush()
    audit_entry(session, actor, entry, "attachment", now)
    return entry


def _sent_to(session: Session, actor: Principal, entry_id: int) -> Entry | None:
    """The entry, when the caller organises a round it was sent to."""
    rounds = session.exec(
        select(Round)
        .join(RoundEntry, col(RoundEntry.round_id) == Round.id)
        .where(RoundEntry.entry_id == entry_id, col(RoundEntry.status).in_(SENT_TO_ORGANISER))
    ).all()
    if any(is_organiser(actor, organiser_of(r)) for r in rounds):
        return session.get(Entry, entry_id)
    return None


def open_file(
    session: Session, *, actor: Principal, settings: Settings, entry_id: int
) -> tuple[BinaryIO, Entry]:
    """The stored attachment, open for reading (the caller streams and closes it), and its
    entry: for its members, their school, and organisers it was sent to."""
    try:
        entry: Entry | None = visible_entry(session, actor=actor, entry_id=entry_id)
    except EntryNotFound:
        entry = _sent_to(session, actor, entry_id)
    if entry is None or entry.attachment_sha256 is None:
        raise EntryNotFound("没有附件", "No attachment")
    try:
        return storage.open_served(settings, entry.attachment_sha256), entry
    except FileNotFoundError:
        missing = ("附件文件已不在存储中，请联系管理员", "The stored file is missing")
        raise EntryNotFound(*missing) from None
