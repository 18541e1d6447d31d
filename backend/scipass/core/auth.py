"""Who is calling: access tokens, the :class:`Principal` and the role rules routes declare.

Access tokens are short JWTs (HS256 pinned) signed with the active key of
``SCIPASS_JWT_KEYS`` and carrying ``kid`` in the header; ``iss``, ``aud``, ``sub``, ``role``,
``iat``, ``exp`` and ``jti`` are required. Refresh tokens are opaque and live in the account
domain.

Every route declares its access rule: either it sits on a router with
``dependencies=[Depends(public_access)]``, or it takes a caller built by :func:`require`. Both
carry an ``__access__`` marker that the route-matrix test reads, so a route that declares
nothing fails the suite.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.types import Scope

from scipass.core.config import Settings, keyring_of
from scipass.core.errors import Forbidden, Unauthorized

ALGORITHM = "HS256"
ACCESS_TOKEN_TTL = timedelta(minutes=15)


class Role(StrEnum):
    wechat_user = "wechat_user"  # logged in with WeChat, not yet bound to a roster entry
    student = "student"
    guardian = "guardian"
    school_staff = "school_staff"
    school_admin = "school_admin"
    venue_staff = "venue_staff"
    venue_admin = "venue_admin"
    bureau = "bureau"
    platform_admin = "platform_admin"


SCHOOL_ROLES = frozenset({Role.school_staff, Role.school_admin})
VENUE_ROLES = frozenset({Role.venue_staff, Role.venue_admin})
# WeChat users: students, guardians, and those not yet bound. They are also who scans a
# venue's code (POST /checkins, by the route and by the fast path): a pupil, a guardian for a
# linked child (``?student_id=``) and a user not yet bound (told to bind).
WECHAT_ROLES = frozenset({Role.wechat_user, Role.student, Role.guardian})


class TokenInvalid(Unauthorized):
    """Forged, damaged, signed with an unknown key, or for another audience: log in again."""

    code = "token_invalid"
    title_zh = "登录凭证无效，请重新登录"
    title_en = "Invalid token"


class TokenExpired(Unauthorized):
    """A genuine access token past its lifetime: the client refreshes it quietly
    (``POST /auth/refresh``) and sends the request again."""

    code = "token_expired"
    title_zh = "登录已过期，请刷新登录凭证"
    title_en = "The access token has expired"


class PasswordChangeRequired(Forbidden):
    code = "password_change_required"
    title_zh = "请先修改初始密码"
    title_en = "Change the initial password first"


class RoleForbidden(Forbidden):
    code = "role_forbidden"
    title_zh = "当前身份无权进行此操作"
    title_en = "Your role may not do this"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as the access token describes it."""

    subject: str  # "account:<id>" or "wechat:<id>"
    role: Role
    school_id: int | None = None
    venue_id: int | None = None
    bureau_id: int | None = None
    region_code: str | None = None  # a bureau's scope
    # A bound student's own roster entry; for a guardian, the child acted for, set only by
    # scipass.roster.acting after checking the link (guardians' tokens carry none).
    student_id: int | None = None
    password_change_required: bool = False  # an initial password is still in use

    @property
    def account_id(self) -> int | None:
        kind, _, value = self.subject.partition(":")
        return int(value) if kind == "account" else None

    @property
    def wechat_user_id(self) -> int | None:
        kind, _, value = self.subject.partition(":")
        return int(value) if kind == "wechat" else None

    @property
    def org(self) -> str | None:
        if self.school_id is not None:
            return f"school:{self.school_id}"
        if self.venue_id is not None:
            return f"venue:{self.venue_id}"
        if self.bureau_id is not None:
            return f"bureau:{self.bureau_id}"
        return None


def issue_access_token(
    settings: Settings, principal: Principal, *, now: datetime
) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds."""
    ring = settings.jwt_keyring
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": principal.subject,
        "role": principal.role.value,
        "org": principal.org,
        "iat": int(now.timestamp()),
        "exp": int((now + ACCESS_TOKEN_TTL).timestamp()),
        "jti": secrets.token_urlsafe(12),
    }
    if principal.region_code is not None:
        claims["rgn"] = principal.region_code
    if principal.student_id is not None:
        claims["sid"] = principal.student_id
    if principal.password_change_required:
        claims["pwc"] = True
    token = jwt.encode(
        claims, ring.active_secret, algorithm=ALGORITHM, headers={"kid": ring.active_kid}
    )
    return token, int(ACCESS_TOKEN_TTL.total_seconds())


def _org_ids(org: str | None) -> dict[str, int]:
    if not org:
        return {}
    kind, _, value = org.partition(":")
    if kind not in {"school", "venue", "bureau"} or not value.isdigit():
        raise TokenInvalid()
    return {f"{kind}_id": int(value)}


def _key_id(token: str) -> str:
    """The ``kid`` of a token's header, only to choose the key: PyJWT then parses and checks
    the whole token with it (its own header parse costs a third of a verification)."""
    try:
        header = json.loads(base64.urlsafe_b64decode(token.partition(".")[0] + "=="))
    except (ValueError, UnicodeDecodeError):
        return ""
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else ""


def decode_access_token(settings: Settings, token: str, *, now: datetime) -> Principal:
    """Verify a token's signature, key id, issuer, audience and lifetime.

    Expiry is judged by ``now`` (the app's clock), not by PyJWT's wall clock, so that time
    stays testable and one clock decides everywhere."""
    principal, expires_at = _verified(
        token, settings.jwt_keys.get_secret_value(), settings.jwt_audience, settings.jwt_issuer
    )
    if expires_at <= now.timestamp():
        raise TokenExpired()
    return principal


# A mini-program sends the same token with every request for its fifteen minutes, and a
# verification (PyJWT checks every base64 character in Python) costs about 80 µs, a tenth of
# a check-in's server time. Only verified tokens are kept (a refused one raises, and
# ``lru_cache`` keeps no exception), keyed by the key text too, so a key taken out of
# ``SCIPASS_JWT_KEYS`` stops its tokens as soon as the settings change. Expiry is judged
# outside, on every call. 4,096 entries of a few hundred bytes each.
@lru_cache(maxsize=4096)
def _verified(token: str, keys: str, audience: str, issuer: str) -> tuple[Principal, int]:
    """The principal a token carries and when it expires; raises :class:`TokenInvalid`."""
    secret = keyring_of(keys).get(_key_id(token))
    if secret is None:
        raise TokenInvalid()
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={
                "require": ["exp", "iat", "sub", "aud", "iss", "jti", "role"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        role = Role(claims["role"])
        expires_at = int(claims["exp"])
    except (jwt.PyJWTError, ValueError, TypeError):
        raise TokenInvalid() from None
    sid = claims.get("sid")
    principal = Principal(
        subject=str(claims["sub"]),
        role=role,
        region_code=claims.get("rgn"),
        # only a student's token names a student (see Principal.student_id)
        student_id=int(sid) if sid is not None and role is Role.student else None,
        password_change_required=bool(claims.get("pwc", False)),
        **_org_ids(claims.get("org")),
    )
    return principal, expires_at


_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <access_token>`")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("请先登录", "Sign in first")
    return decode_access_token(
        request.app.state.settings, credentials.credentials, now=request.app.state.clock.now()
    )


async def current_principal_of(scope: Scope) -> Principal:
    """The caller of a request not yet routed (an ASGI middleware), by the same rules as
    :func:`current_principal`."""
    scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("请先登录", "Sign in first")
    state = scope["app"].state
    return decode_access_token(state.settings, token.strip(), now=state.clock.now())


def require(
    *roles: Role, during_password_change: bool = False
) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits callers of ``roles`` (role checks only; scope is per object).

    A staff member still on an initial password (set by whoever created the account) may only
    change it, unless the route says ``during_password_change=True``."""
    allowed = frozenset(roles)

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in allowed:
            raise RoleForbidden()
        if principal.password_change_required and not during_password_change:
            raise PasswordChangeRequired()
        return principal

    dependency.__access__ = allowed  # type: ignore[attr-defined]  # a marker for declared_access
    dependency.__name__ = "require_" + "_".join(sorted(r.value for r in allowed))
    return dependency


def declared_access(dependant: Dependant) -> Any:
    """A route's access rule: ``"public"``, the roles :func:`require` admits, or None when
    it declares none (found through its dependencies, those of its routers included)."""
    for dependency in dependant.dependencies:
        access = getattr(dependency.call, "__access__", None)
        if access is not None:
            return access
        found = declared_access(dependency)
        if found is not None:
            return found
    return None


async def public_access() -> None:
    """Marks a router's routes as open to anonymous callers."""


public_access.__access__ = "public"  # type: ignore[attr-defined]  # a marker for declared_access


def region_prefix(code: str) -> str:
    """The code prefix shared by a GB/T 2260 region and all regions below it."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def region_contains(scope: str, code: str) -> bool:
    return code.startswith(region_prefix(scope))
