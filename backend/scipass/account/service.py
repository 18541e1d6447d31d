"""Sign-in and tokens for staff and WeChat users; staff accounts. Services flush, never commit."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from scipass.account import passwords
from scipass.account.errors import (
    AccountScopeForbidden,
    InvalidCredentials,
    LoginRateLimited,
    PasswordWeak,
    PasswordWrong,
    RefreshTokenInvalid,
    RefreshTokenReused,
    UsernameTaken,
)
from scipass.account.models import Account, RefreshToken, WeChatUser
from scipass.audit import service as audit_service
from scipass.core import ratelimit
from scipass.core.auth import Principal, Role, issue_access_token
from scipass.core.config import Settings
from scipass.core.db import Database
from scipass.org import service as org_service
from scipass.roster import service as roster_service
from scipass.wechat.client import WeChat

REFRESH_TOKEN_TTL = timedelta(days=30)
# Every attempt counts, per client address and per account name (counting only failures
# would need a read before the check, which parallel guesses slip past).
LOGIN_PER_ADDRESS = ratelimit.Window(limit=30, length=timedelta(minutes=5))
LOGIN_PER_ACCOUNT = ratelimit.Window(limit=10, length=timedelta(minutes=15))
PASSWORD_CHANGE_PER_ACCOUNT = ratelimit.Window(limit=5, length=timedelta(minutes=15))
# A whole class logs in from one school or venue network: be generous per address.
WECHAT_LOGIN_PER_ADDRESS = ratelimit.Window(limit=600, length=timedelta(minutes=1))

STAFF_ROLES = frozenset(
    {
        Role.school_staff,
        Role.school_admin,
        Role.venue_staff,
        Role.venue_admin,
        Role.bureau,
        Role.platform_admin,
    }
)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    principal: Principal


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- principals ---------------------------------------------------------------------------


def principal_for_account(session: Session, account: Account) -> Principal:
    region_code = None
    if account.bureau_id is not None:
        region_code = org_service.get_bureau(session, account.bureau_id).region_code
    return Principal(
        subject=f"account:{account.id}",
        role=Role(account.role),
        password_change_required=account.must_change_password,
        school_id=account.school_id,
        venue_id=account.venue_id,
        bureau_id=account.bureau_id,
        region_code=region_code,
    )


def principal_for_wechat_user(session: Session, user_id: int) -> Principal:
    """The role follows the bindings in the database: student, guardian, or not yet bound."""
    subject = f"wechat:{user_id}"
    student = roster_service.student_of_wechat_user(session, user_id)
    if student is not None:
        return Principal(
            subject=subject, role=Role.student, school_id=student.school_id, student_id=student.id
        )
    if roster_service.has_guardian_links(session, user_id):
        return Principal(subject=subject, role=Role.guardian)
    return Principal(subject=subject, role=Role.wechat_user)


def issue_tokens(
    session: Session,
    settings: Settings,
    principal: Principal,
    *,
    now: datetime,
    family: str | None = None,
) -> TokenPair:
    access, expires_in = issue_access_token(settings, principal, now=now)
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=_hash(refresh),
            family=family or secrets.token_hex(16),
            subject=principal.subject,
            issued_at=now,
            expires_at=now + REFRESH_TOKEN_TTL,
        )
    )
    session.flush()
    return TokenPair(
        access_token=access,
        expires_in=expires_in,
        refresh_token=refresh,
        refresh_expires_in=int(REFRESH_TOKEN_TTL.total_seconds()),
        principal=principal,
    )


# --- staff login ---------------------------------------------------------------------------


def _count_then_fetch(
    database: Database,
    *,
    limits: list[tuple[str, ratelimit.Window]],
    which: ColumnElement[bool],
    now: datetime,
) -> tuple[int, str] | None:
    """Count the attempt under every key (the database decides, so parallel guesses cannot slip
    past a limit) and read the password hash, in one short transaction committed at once: the
    slow hash check that follows holds no transaction and no lock."""
    with database.transaction() as counters:
        for key, window in limits:
            if ratelimit.hit(counters, key, window, now=now) > window.limit:
                raise LoginRateLimited(retry_after=ratelimit.retry_after(now, window))
        row = counters.exec(
            select(Account.id, Account.password_hash).where(which, col(Account.is_active).is_(True))
        ).first()
    if row is None:
        return None
    account_id, password_hash = row
    assert account_id is not None  # the primary key
    return int(account_id), password_hash


def login(
    session: Session,
    database: Database,
    settings: Settings,
    *,
    username: str,
    password: str,
    client_ip: str,
    now: datetime,
) -> TokenPair:
    """A staff login to the API: the account checked by :func:`authenticate`, then tokens."""
    principal = authenticate(
        session, database, username=username, password=password, client_ip=client_ip, now=now
    )
    return issue_tokens(session, settings, principal, now=now)


def authenticate(
    session: Session,
    database: Database,
    *,
    username: str,
    password: str,
    client_ip: str,
    now: datetime,
    channel: str | None = None,
) -> Principal:
    """Check a staff member's name and password under the login limits (per address, per
    account), audited either way; the API's login and the console's sign-in both use it.
    ``channel`` names a login that is not the API's (``console``) in its audit entry."""
    via: dict[str, Any] = {"channel": channel} if channel else {}
    username = username.strip().lower()
    found = _count_then_fetch(
        database,
        limits=[
            (f"login:ip:{client_ip}", LOGIN_PER_ADDRESS),
            (f"login:account:{username}", LOGIN_PER_ACCOUNT),
        ],
        which=col(Account.username) == username,
        now=now,
    )
    valid = passwords.verify_password(found[1] if found else None, password)
    account = session.get(Account, found[0]) if found and valid else None
    if account is None:
        audit_service.record(
            session,
            action=audit_service.Action.login_failed,
            at=now,
            actor_subject=f"account:{found[0]}" if found else None,
            client_ip=client_ip,
            username=username[:64],
            **via,
        )
        raise InvalidCredentials()

    if passwords.needs_rehash(account.password_hash):
        account.password_hash = passwords.hash_password(password)
        session.add(account)
    principal = principal_for_account(session, account)
    audit_service.record(
        session,
        action=audit_service.Action.login,
        at=now,
        actor=principal,
        client_ip=client_ip,
        school_id=account.school_id,
        region_code=principal.region_code,
        **via,
    )
    return principal


# --- WeChat login --------------------------------------------------------------------------


def wechat_login(
    session: Session,
    database: Database,
    settings: Settings,
    wechat: WeChat,
    *,
    code: str,
    client_ip: str,
    now: datetime,
) -> tuple[TokenPair, bool]:
    """Exchange a ``wx.login`` code for our tokens; also says whether the user is new.

    The attempt is counted first, in its own short transaction, so that failed codes count
    too; WeChat is then called with no transaction (and, on SQLite, no lock) held."""
    window = WECHAT_LOGIN_PER_ADDRESS
    if ratelimit.hit_now(database, f"wechat:ip:{client_ip}", window, now=now) > window.limit:
        raise LoginRateLimited(retry_after=ratelimit.retry_after(now, window))
    identity = wechat.code2session(code)
    user = session.exec(select(WeChatUser).where(WeChatUser.openid == identity.openid)).first()
    created = False
    if user is None:
        user = WeChatUser(
            openid=identity.openid, unionid=identity.unionid, created_at=now, last_login_at=now
        )
        try:
            with session.begin_nested():
                session.add(user)
                session.flush()
            created = True
        except IntegrityError:  # the same user logging in twice at once
            user = session.exec(
                select(WeChatUser).where(WeChatUser.openid == identity.openid)
            ).one()
    user.last_login_at = now
    if identity.unionid and not user.unionid:
        user.unionid = identity.unionid
    session.add(user)
    session.flush()
    assert user.id is not None
    principal = principal_for_wechat_user(session, user.id)
    audit_service.record(
        session,
        action=audit_service.Action.wechat_login,
        at=now,
        actor=principal,
        client_ip=client_ip,
        school_id=principal.school_id,
    )
    return issue_tokens(session, settings, principal, now=now), created


# --- refresh, logout ----------------------------------------------------------------------


def _principal_for_subject(session: Session, subject: str) -> Principal | None:
    kind, _, raw_id = subject.partition(":")
    if kind == "account":
        account = session.get(Account, int(raw_id))
        if account is None or not account.is_active:
            return None
        return principal_for_account(session, account)
    if kind == "wechat":
        return principal_for_wechat_user(session, int(raw_id))
    return None


def _revoke_family(session: Session, family: str, now: datetime) -> None:
    table = RefreshToken.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
    session.execute(
        update(table)
        .where(table.c.family == family, table.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def refresh(session: Session, settings: Settings, *, token: str, now: datetime) -> TokenPair:
    """Spend a refresh token and issue the next one of its family.

    Spending is a conditional update, so of two concurrent uses exactly one succeeds; presenting
    a token that was already spent means it was copied, and revokes the whole family."""
    row = session.exec(select(RefreshToken).where(RefreshToken.token_hash == _hash(token))).first()
    if row is None:
        raise RefreshTokenInvalid()
    table = RefreshToken.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
    spent = session.exec(
        update(table)
        .where(
            table.c.id == row.id,
            table.c.spent_at.is_(None),
            table.c.revoked_at.is_(None),
            table.c.expires_at > now,
        )
        .values(spent_at=now)
    )
    if spent.rowcount != 1:
        session.refresh(row)
        if row.spent_at is not None and row.revoked_at is None:
            _revoke_family(session, row.family, now)
            audit_service.record(
                session,
                action=audit_service.Action.refresh_reuse,
                at=now,
                actor_subject=row.subject,
                family=row.family,
            )
            raise RefreshTokenReused()
        raise RefreshTokenInvalid()
    principal = _principal_for_subject(session, row.subject)
    if principal is None:
        raise RefreshTokenInvalid()
    return issue_tokens(session, settings, principal, now=now, family=row.family)


def logout(session: Session, *, token: str, now: datetime) -> None:
    """Revoke the family of a refresh token; an unknown token is already logged out."""
    row = session.exec(select(RefreshToken).where(RefreshToken.token_hash == _hash(token))).first()
    if row is not None:
        _revoke_family(session, row.family, now)


def change_password(
    session: Session,
    database: Database,
    *,
    actor: Principal,
    current: str,
    new: str,
    now: datetime,
) -> None:
    # Counted and read in a short transaction of its own; the request's session is untouched
    # until the hash has been checked, so no lock is held meanwhile.
    found = _count_then_fetch(
        database,
        limits=[(f"password:{actor.subject}", PASSWORD_CHANGE_PER_ACCOUNT)],
        which=col(Account.id) == actor.account_id,
        now=now,
    )
    if found is None or not passwords.verify_password(found[1], current):
        audit_service.record(
            session,
            action=audit_service.Action.password_change_failed,
            at=now,
            actor=actor,
            school_id=actor.school_id,
        )
        raise PasswordWrong()
    account = session.get(Account, found[0])
    assert account is not None
    reason = passwords.weakness(new)
    if reason is not None:
        raise PasswordWeak(reason)
    if new == current:
        raise PasswordWeak("新密码不能与当前密码相同", "The new password equals the current one")
    account.password_hash = passwords.hash_password(new)
    account.password_changed_at = now
    account.must_change_password = False
    session.add(account)
    table = RefreshToken.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
    session.execute(
        update(table)
        .where(table.c.subject == actor.subject, table.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    audit_service.record(
        session,
        action=audit_service.Action.password_changed,
        at=now,
        actor=actor,
        school_id=account.school_id,
    )


# --- staff accounts -----------------------------------------------------------------------

_ADMIN_MAY_CREATE = {
    Role.school_admin: {Role.school_staff, Role.school_admin},
    Role.venue_admin: {Role.venue_staff, Role.venue_admin},
}
_ORG_OF_ROLE = {
    Role.school_staff: "school_id",
    Role.school_admin: "school_id",
    Role.venue_staff: "venue_id",
    Role.venue_admin: "venue_id",
    Role.bureau: "bureau_id",
}


def create_account(
    session: Session,
    *,
    actor: Principal | None,
    username: str,
    display_name: str,
    role: Role,
    org_id: int | None,
    now: datetime,
    password: str | None = None,
) -> tuple[Account, str]:
    """Create a staff account; returns it and its initial password (shown once).

    The platform admin (or the CLI, ``actor=None``) creates any account, including the first
    admin of an organisation; an organisation's admin creates accounts of its own organisation.
    """
    if role not in STAFF_ROLES:
        raise AccountScopeForbidden("只能创建工作人员账号", "Only staff accounts can be created")
    org_field = _ORG_OF_ROLE.get(role)
    if actor is not None and actor.role is not Role.platform_admin:
        allowed = _ADMIN_MAY_CREATE.get(actor.role, set())
        own_org = getattr(actor, org_field) if org_field else None
        if role not in allowed or own_org is None:
            raise AccountScopeForbidden()
        org_id = own_org  # an admin always creates accounts of their own organisation
    if org_field is None:
        org_id = None
    elif org_id is None:
        raise AccountScopeForbidden("该角色需要指定所属单位", "This role needs an organisation")
    else:
        {
            "school_id": org_service.get_school,
            "venue_id": org_service.get_venue,
            "bureau_id": org_service.get_bureau,
        }[org_field](session, org_id)
    initial = password or passwords.generate_password()
    reason = passwords.weakness(initial)
    if reason is not None:
        raise PasswordWeak(reason)
    # The one organisation column of the role (school_id, venue_id or bureau_id), if any.
    org_column: dict[str, Any] = {org_field: org_id} if org_field else {}
    account = Account(
        username=username.strip().lower(),
        password_hash=passwords.hash_password(initial),
        display_name=display_name,
        role=role.value,
        must_change_password=password is None,
        created_at=now,
        password_changed_at=now,
        **org_column,
    )
    session.add(account)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise UsernameTaken() from None
    audit_service.record(
        session,
        action=audit_service.Action.account_created,
        at=now,
        actor=actor,
        actor_subject=None if actor else "cli",
        object_type="account",
        object_id=account.id,
        school_id=account.school_id,
        role=role.value,
    )
    return account, initial


def list_accounts(session: Session, *, actor: Principal) -> list[Account]:
    query = select(Account).order_by(col(Account.id))
    if actor.role is Role.school_admin:
        query = query.where(Account.school_id == actor.school_id)
    elif actor.role is Role.venue_admin:
        query = query.where(Account.venue_id == actor.venue_id)
    elif actor.role is not Role.platform_admin:
        query = query.where(Account.id == actor.account_id)
    return list(session.exec(query).all())
