"""Key material: key rings with key ids, so that keys rotate without breaking what is signed."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

_KID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")


class KeyRingError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class KeyRing:
    """Secrets by key id. ``active_kid`` signs; every key in the ring verifies."""

    active_kid: str
    keys: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        """Parse ``"kid:secret,kid:secret"``; the first pair is the active key."""
        keys: dict[str, str] = {}
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            kid, sep, secret = item.partition(":")
            if not sep or not secret:
                raise KeyRingError("expected 'kid:secret' pairs separated by commas")
            if not _KID.match(kid):
                raise KeyRingError(f"key id '{kid}' must be 1-16 letters, digits, '_' or '-'")
            if kid in keys:
                raise KeyRingError(f"key id '{kid}' appears twice")
            keys[kid] = secret
        if not keys:
            raise KeyRingError("at least one key is required")
        return cls(active_kid=next(iter(keys)), keys=keys)

    @property
    def active_secret(self) -> str:
        return self.keys[self.active_kid]

    def get(self, kid: str) -> str | None:
        return self.keys.get(kid)


def personal_seed(text: str) -> bytes:
    """A 32-byte Ed25519 seed from its base64 (standard or url-safe) text."""
    try:
        seed = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "==")
    except (ValueError, TypeError):
        raise ValueError("an Ed25519 seed must be base64") from None
    if len(seed) != 32:
        raise ValueError("an Ed25519 seed must be 32 bytes")
    return seed
