"""Console sessions: a staff member signed in to the browser console (``/console``).

The browser holds only an opaque random token in an HttpOnly cookie; the row holds its SHA-256,
so a copy of the table opens no session. A session ends when it is signed out (the row is
deleted), when it has been idle or alive too long (``SCIPASS_CONSOLE_IDLE_MINUTES``,
``SCIPASS_CONSOLE_SESSION_HOURS``), or when its account is disabled (read on every request).
``flash`` carries the outcome of a form posted without JavaScript to the page it returns to,
once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Text
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime


class ConsoleSession(SQLModel, table=True):
    __tablename__ = "console_session"

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    account_id: int = Field(
        sa_column=Column(IdType, ForeignKey("account.id"), nullable=False, index=True)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    flash: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
