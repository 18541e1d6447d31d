"""Personal student codes (个人码): the 5-minute code on a pupil's phone, and printed cards for
pupils without one, which a school revokes when lost; venue devices read the revoked nonces."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.checkin import codes
from scipass.checkin.errors import (
    CodeRevoked,
    PersonalCardNotFound,
)
from scipass.checkin.models import (
    PersonalCard,
)
from scipass.core.auth import SCHOOL_ROLES, Principal
from scipass.core.config import Settings
from scipass.roster import service as roster_service
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import Student


def personal_code(
    settings: Settings, *, student_id: int, expires_at: datetime, nonce: bytes | None = None
) -> str:
    keys = codes.personal_keys(settings.personal_code_keys.get_secret_value())
    return codes.personal_payload(keys, student_id, expires_at, nonce)


def personal_card(
    session: Session,
    *,
    settings: Settings,
    actor: Principal,
    student_id: int,
    valid_days: int,
    now: datetime,
) -> tuple[str, PersonalCard]:
    """A printable personal code for a pupil without a phone, issued by the pupil's school.
    The card is kept (its nonce, not the code) so that it can be revoked when lost."""
    student = _own_pupil(session, actor, student_id)
    expires = now + timedelta(days=valid_days)
    nonce = secrets.token_bytes(codes.PERSONAL_NONCE_BYTES)
    card = PersonalCard(
        student_id=student.id or 0,
        school_id=student.school_id,
        nonce=nonce.hex(),
        expires_at=expires,
        issued_by=actor.subject,
        issued_at=now,
    )
    session.add(card)
    session.flush()
    audit_service.record(
        session,
        action=audit_service.Action.personal_card_issued,
        at=now,
        actor=actor,
        object_type="student",
        object_id=student.id,
        school_id=student.school_id,
        valid_days=valid_days,
        card_id=card.id,
    )
    payload = personal_code(settings, student_id=student.id or 0, expires_at=expires, nonce=nonce)
    return payload, card


def _own_pupil(session: Session, actor: Principal, student_id: int) -> Student:
    """A pupil of the caller's school, for its staff only; 404 for anyone else."""
    if actor.role not in SCHOOL_ROLES:
        raise StudentNotFound()
    return roster_service.get_student_for_staff(session, actor=actor, student_id=student_id)


def list_personal_cards(
    session: Session, *, actor: Principal, student_id: int
) -> list[PersonalCard]:
    student = _own_pupil(session, actor, student_id)
    return list(
        session.exec(
            select(PersonalCard)
            .where(PersonalCard.student_id == student.id)
            .order_by(col(PersonalCard.id).desc())
        ).all()
    )


def revoke_personal_card(
    session: Session, *, actor: Principal, card_id: int, reason: str, now: datetime
) -> PersonalCard:
    """Revoke a lost card, once (a second call answers the card as it is): staff scans of
    it are refused from now on, and offline scans uploaded later if they were taken after
    now. Venue devices learn of it from :func:`revoked_personal_codes`."""
    card = session.get(PersonalCard, card_id)
    if card is None or actor.role not in SCHOOL_ROLES or card.school_id != actor.school_id:
        raise PersonalCardNotFound()
    table = PersonalCard.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
    revoked = session.exec(
        update(table)
        .where(table.c.id == card_id, table.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=actor.subject, revoke_reason=reason.strip())
    ).rowcount
    if revoked:
        audit_service.record(
            session,
            action=audit_service.Action.personal_card_revoked,
            at=now,
            actor=actor,
            object_type="personal_card",
            object_id=card_id,
            school_id=card.school_id,
            reason=reason.strip(),
        )
    session.refresh(card)
    return card


def revoked_personal_codes(session: Session, *, now: datetime) -> list[str]:
    """The nonces of revoked cards that have not expired yet (the rest refuse themselves)."""
    return list(
        session.exec(
            select(PersonalCard.nonce)
            .where(col(PersonalCard.revoked_at).is_not(None), PersonalCard.expires_at > now)
            .order_by(col(PersonalCard.id))
        ).all()
    )


def judge_card(session: Session, personal: codes.PersonalCode, at: datetime) -> None:
    """Refuse a printed card revoked by the time of the scan."""
    revoked_at = session.exec(
        select(PersonalCard.revoked_at).where(
            PersonalCard.nonce == personal.nonce, PersonalCard.student_id == personal.student_id
        )
    ).first()
    if revoked_at is not None and revoked_at <= at:
        raise CodeRevoked("这张个人码卡片已挂失停用，请联系学校", "This personal card was revoked")
