"""Console sessions: started at sign-in, read on every console request, ended at sign-out.

The cookie holds a random token; the database holds its SHA-256 (:class:`ConsoleSession`). The
CSRF token of every form and script request is derived from the cookie's token, so it needs no
storage and a page of another origin, which cannot read the cookie, cannot know it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from scipass.account.models import Account
from scipass.console.models import ConsoleSession
from scipass.core.config import Settings

COOKIE = "scipass_console"
# The sign-in form's own token (double submit), before there is a session: a page of another
# origin cannot sign a browser in to an account of its choosing.
SIGN_IN_COOKIE = "scipass_console_signin"
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token that goes with a session's (or a sign-in form's) cookie token."""
    return hashlib.sha256(b"scipass-console-csrf\0" + token.encode()).hexdigest()[:40]


def csrf_matches(token: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(csrf_token(token), sent or "")


@dataclass(frozen=True, slots=True)
class Signed:
    """A live session and its account, as read for one request."""

    session_id: int
    account: Account
    flash: dict[str, Any] | None


def start(session: Session, settings: Settings, *, account_id: int, now: datetime) -> str:
    """A new session for ``account_id``; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=_hash(token),
            account_id=account_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.console_session_hours),
        )
    )
    return token


def resolve(session: Session, settings: Settings, *, token: str, now: datetime) -> Signed | None:
    """The session ``token`` opens, or None when it is unknown, idle or too old, or its
    account is disabled. Reading it keeps it alive and hands over its flash, once."""
    row = session.exec(
        select(ConsoleSession, Account)
        .join(Account, col(Account.id) == col(ConsoleSession.account_id))
        .where(ConsoleSession.token_hash == _hash(token))
    ).first()
    if row is None:
        return None
    found, account = row
    idle = now - found.last_seen_at > timedelta(minutes=settings.console_idle_minutes)
    # a session begun before the password last changed (by the API, or reset) is over
    stale = account.password_changed_at > found.created_at
    if idle or stale or now >= found.expires_at or not account.is_active:
        session.exec(delete(ConsoleSession).where(col(ConsoleSession.id) == found.id))
        return None
    flash = None
    if found.flash is not None:
        # Taken by the request that clears it: two tabs do not both show it.
        taken = session.exec(
            update(ConsoleSession)
            .where(col(ConsoleSession.id) == found.id, col(ConsoleSession.flash).is_not(None))
            .values(flash=None, last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount:
            flash = json.loads(found.flash)
    elif now - found.last_seen_at >= TOUCH_EVERY:
        session.exec(
            update(ConsoleSession)
            .where(col(ConsoleSession.id) == found.id)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
    assert found.id is not None  # a stored row
    return Signed(session_id=found.id, account=account, flash=flash)


def set_flash(session: Session, *, session_id: int, flash: dict[str, Any]) -> None:
    """What the next page shows once: a form's outcome posted without JavaScript."""
    session.exec(
        update(ConsoleSession)
        .where(col(ConsoleSession.id) == session_id)
        .values(flash=json.dumps(flash, ensure_ascii=False, default=str))
        .execution_options(synchronize_session=False)
    )


def end(session: Session, *, token: str) -> None:
    session.exec(delete(ConsoleSession).where(col(ConsoleSession.token_hash) == _hash(token)))


def renew(
    session: Session, settings: Settings, *, account_id: int, now: datetime
) -> tuple[str, int]:
    """The password of ``account_id`` changed at the console: every session of the account
    ends (a cookie left elsewhere, or taken) and the one who changed it gets a new one;
    returns its cookie's token and its id."""
    end_all(session, account_id=account_id)
    token = start(session, settings, account_id=account_id, now=now)
    session.flush()
    found = session.exec(
        select(ConsoleSession.id).where(ConsoleSession.token_hash == _hash(token))
    ).one()
    assert found is not None
    return token, found


def end_all(session: Session, *, account_id: int) -> int:
    """End every session of an account (its password changed); how many."""
    result = session.exec(
        delete(ConsoleSession).where(col(ConsoleSession.account_id) == account_id)
    )
    return int(result.rowcount or 0)


def purge(session: Session, now: datetime, settings: Settings) -> int:
    """The scheduled job ``purge-console-sessions``: delete sessions past their end."""
    idle_since = now - timedelta(minutes=settings.console_idle_minutes)
    result = session.exec(
        delete(ConsoleSession).where(
            (col(ConsoleSession.expires_at) <= now)
            | (col(ConsoleSession.last_seen_at) < idle_since)
        )
    )
    return int(result.rowcount or 0)
