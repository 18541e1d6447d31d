"""Password hashing with argon2id (argon2-cffi's recommended parameters)."""

from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that both paths cost the same.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_LENGTH = 8
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def weakness(password: str) -> str | None:
    """Why a new password is too weak, in Chinese; ``None`` when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 位"
    if len(password) > 128:
        return "密码不能超过 128 位"
    kinds = sum(
        bool(re.search(pattern, password)) for pattern in (r"[a-zA-Z]", r"\d", r"[^a-zA-Z\d]")
    )
    if kinds < 2:
        return "密码需包含字母、数字、符号中的至少两类"
    return None


def generate_password() -> str:
    """An initial password: 12 unambiguous letters and digits, at least one of each."""
    while True:
        candidate = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        if weakness(candidate) is None:
            return candidate
