"""Accounts: staff with passwords, WeChat users, and refresh-token families."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime
from scipass.privacy.categories import DataCategory, personal


class Account(SQLModel, table=True):
    """A staff member (school, venue, bureau) or a platform administrator."""

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN school_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN venue_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN bureau_id IS NULL THEN 0 ELSE 1 END) <= 1",
            name="one_organisation",
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    username: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    password_hash: str = Field(sa_column=Column(String(200), nullable=False))
    display_name: str = Field(sa_column=Column(String(50), nullable=False))
    role: str = Field(sa_column=Column(String(20), nullable=False))
    school_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("school.id"), nullable=True, index=True)
    )
    venue_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("venue.id"), nullable=True, index=True)
    )
    bureau_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("bureau.id"), nullable=True, index=True)
    )
    is_active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    must_change_password: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    password_changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class WeChatUser(SQLModel, table=True):
    """A WeChat identity (openid of our mini-program); a student or guardian once bound."""

    __tablename__ = "wechat_user"

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    openid: str = Field(
        sa_column=Column(
            String(64), nullable=False, unique=True, info=personal(DataCategory.wechat_identity)
        )
    )
    unionid: str | None = Field(
        default=None,
        sa_column=Column(String(64), nullable=True, info=personal(DataCategory.wechat_identity)),
    )
    # "student" or "guardian" once bound, never both: claimed by a conditional update.
    kind: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_login_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RefreshToken(SQLModel, table=True):
    """One refresh token (stored hashed). Each use spends it and issues the next of its family;
    presenting a spent token again revokes the whole family (a stolen token was used)."""

    __tablename__ = "refresh_token"
    __table_args__ = (Index("ix_refresh_token_family", "family"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    family: str = Field(sa_column=Column(String(32), nullable=False))
    subject: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    issued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    spent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
