"""What a QR code says, and how the server knows it said it.

Venue codes are ordinary https links (WeChat opens the mini-program with the link in ``q`` and
the scan time in ``scancode_time``), signed with HMAC-SHA256 under a key id from
``SCIPASS_CODE_SIGNING_KEYS`` (the first key signs, every listed key verifies, so an old key
works until it is removed). Everything after the link base is upper-case base32 and ``.``,
so with an upper-case base the whole link fits QR's alphanumeric mode and the code stays small:

* static code   ``S.<short>.<KID>.<MAC>``, MAC over ``S|short``
* rotating code ``R.<short>.<STEP>.<KID>.<MAC>``, MAC over ``R|short|step``
  (step = unix seconds // step_seconds, in base32)
* kiosk token   ``K.<code id>.<EXP>.<KID>.<MAC>``, opens the screen that shows a rotating code

``short`` (8 base32 characters) names the :class:`~scipass.checkin.models.ActivityCode`; it is
also the ``scene`` of the code's WeChat mini-program code (``c=<short>``), which WeChat alone
can draw, so the scene carries no MAC.

A personal student code is signed with Ed25519 so that a venue tablet holding only the public
keys can verify it offline: ``P.<KID>.<base32(payload ‖ signature)>`` with the 15-byte payload
``version (1) ‖ student id (4, big-endian) ‖ expires, unix seconds (4) ‖ nonce (6)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from scipass.core.security import KeyRing, personal_seed

MAC_BYTES = 10  # 80 bits, 16 base32 characters
SHORT_ID_BYTES = 5  # 8 base32 characters
PERSONAL_VERSION = 1
PERSONAL_PAYLOAD_BYTES = 15
PERSONAL_NONCE_BYTES = 6
SIGNATURE_BYTES = 64
SCENE_PREFIX = "c="
_DIGITS = re.compile(r"[0-9]{1,12}")


class CodeRejected(Exception):
    """The text is not a code of ours: malformed, unknown key id or a wrong MAC/signature."""


def b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb32(text: str) -> bytes:
    try:
        return base64.b32decode(text + "=" * (-len(text) % 8))
    except (ValueError, TypeError):
        raise CodeRejected("not base32") from None


def new_short_id() -> str:
    return b32(secrets.token_bytes(SHORT_ID_BYTES))


def _mac(ring: KeyRing, kid: str, message: str) -> str:
    secret = ring.get(kid)
    if secret is None:
        raise CodeRejected("unknown key id")
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return b32(digest[:MAC_BYTES])


def _kid(ring: KeyRing, text: str) -> str:
    """The ring's own spelling of a key id that the payload carries upper-cased."""
    for kid in ring.keys:
        if kid.upper() == text:
            return kid
    raise CodeRejected("unknown key id")


def _check(ring: KeyRing, kid_text: str, message: str, mac: str) -> None:
    expected = _mac(ring, _kid(ring, kid_text), message)
    if not hmac.compare_digest(expected, mac):
        raise CodeRejected("bad mac")


def static_payload(ring: KeyRing, short_id: str) -> str:
    kid = ring.active_kid
    return f"S.{short_id}.{kid.upper()}.{_mac(ring, kid, 'S|' + short_id)}"


def rotating_step(at: datetime, step_seconds: int) -> int:
    return int(at.timestamp()) // step_seconds


def step_start(step: int, step_seconds: int) -> datetime:
    return datetime.fromtimestamp(step * step_seconds, tz=UTC)


def rotating_payload(ring: KeyRing, short_id: str, step: int) -> str:
    kid = ring.active_kid
    step_text = b32(step.to_bytes(5, "big")).lstrip("A") or "A"
    mac = _mac(ring, kid, f"R|{short_id}|{step}")
    return f"R.{short_id}.{step_text}.{kid.upper()}.{mac}"


def link_for(base: str, payload: str) -> str:
    return base + payload


@dataclass(frozen=True, slots=True)
class VenueCode:
    """A verified venue code: which code, and for a rotating code the step it shows."""

    short_id: str
    step: int | None = None  # None: a static code or a mini-program scene
    signed: bool = True  # False for a mini-program scene, which WeChat vouches for


def parse_venue_code(ring: KeyRing, text: str) -> VenueCode:
    """Verify what a student scanned: the link (as WeChat passes it in ``q``, possibly still
    URL-encoded), the bare payload, or a mini-program ``scene``. Raises :class:`CodeRejected`."""
    text = text.strip()
    if "%" in text:
        text = unquote(text)
    if text.startswith(SCENE_PREFIX):
        short = text[len(SCENE_PREFIX) :]
        if len(short) != 8 or not short.isalnum():
            raise CodeRejected("bad scene")
        return VenueCode(short_id=short.upper(), signed=False)
    payload = text.rsplit("/", 1)[-1].upper()
    parts = payload.split(".")
    if parts[0] == "S" and len(parts) == 4:
        _, short, kid, mac = parts
        _check(ring, kid, "S|" + short, mac)
        return VenueCode(short_id=short)
    if parts[0] == "R" and len(parts) == 5:
        _, short, step_text, kid, mac = parts
        step = int.from_bytes(unb32(step_text.rjust(8, "A")), "big")
        _check(ring, kid, f"R|{short}|{step}", mac)
        return VenueCode(short_id=short, step=step)
    raise CodeRejected("not a venue code")


# --- kiosk tokens ------------------------------------------------------------------------------


def kiosk_token(ring: KeyRing, code_id: int, expires_at: datetime) -> str:
    kid = ring.active_kid
    expires = int(expires_at.timestamp())
    mac = _mac(ring, kid, f"K|{code_id}|{expires}")
    return f"K.{code_id}.{expires}.{kid.upper()}.{mac}"


def parse_kiosk_token(ring: KeyRing, token: str, *, now: datetime) -> int:
    """The code id a kiosk token opens; raises :class:`CodeRejected` when forged or expired."""
    parts = token.strip().upper().split(".")
    if (
        len(parts) != 5
        or parts[0] != "K"
        or not _DIGITS.fullmatch(parts[1])  # ASCII digits only: int() takes any Unicode digit
        or not _DIGITS.fullmatch(parts[2])
    ):
        raise CodeRejected("not a kiosk token")
    _, code_id, expires, kid, mac = parts
    _check(ring, kid, f"K|{int(code_id)}|{int(expires)}", mac)
    if int(expires) <= now.timestamp():
        raise CodeRejected("expired")
    return int(code_id)


# --- personal student codes (Ed25519) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonalKeys:
    """Ed25519 keys by key id, from ``SCIPASS_PERSONAL_CODE_KEYS`` (``kid:<base64 seed>``)."""

    active_kid: str
    private: dict[str, Ed25519PrivateKey]

    def public_raw(self, kid: str) -> bytes:
        return self.private[kid].public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@lru_cache(maxsize=8)
def personal_keys(text: str) -> PersonalKeys:
    """Parse ``kid:seed,kid:seed`` (the first key signs); cached, the keys are immutable."""
    ring = KeyRing.parse(text)
    keys: dict[str, Ed25519PrivateKey] = {}
    for kid, seed_text in ring.keys.items():
        keys[kid] = Ed25519PrivateKey.from_private_bytes(personal_seed(seed_text))
    return PersonalKeys(active_kid=ring.active_kid, private=keys)


@dataclass(frozen=True, slots=True)
class PersonalCode:
    student_id: int
    expires_at: datetime
    nonce: str  # hex


def personal_payload(
    keys: PersonalKeys, student_id: int, expires_at: datetime, nonce: bytes | None = None
) -> str:
    body = struct.pack(">BII", PERSONAL_VERSION, student_id, int(expires_at.timestamp())) + (
        nonce if nonce is not None else secrets.token_bytes(PERSONAL_NONCE_BYTES)
    )
    kid = keys.active_kid
    signature = keys.private[kid].sign(body)
    return f"P.{kid.upper()}.{b32(body + signature)}"


def parse_personal_code(keys: PersonalKeys, text: str) -> PersonalCode:
    """Verify a personal code's signature (not its expiry: the caller judges that against
    the scan time). Raises :class:`CodeRejected`."""
    parts = text.strip().upper().rsplit("/", 1)[-1].split(".")
    if len(parts) != 3 or parts[0] != "P":
        raise CodeRejected("not a personal code")
    kid = next((k for k in keys.private if k.upper() == parts[1]), None)
    if kid is None:
        raise CodeRejected("unknown key id")
    blob = unb32(parts[2])
    if len(blob) != PERSONAL_PAYLOAD_BYTES + SIGNATURE_BYTES:
        raise CodeRejected("bad length")
    body, signature = blob[:PERSONAL_PAYLOAD_BYTES], blob[PERSONAL_PAYLOAD_BYTES:]
    public: Ed25519PublicKey = keys.private[kid].public_key()
    try:
        public.verify(signature, body)
    except InvalidSignature:
        raise CodeRejected("bad signature") from None
    version, student_id, expires = struct.unpack(">BII", body[:9])
    if version != PERSONAL_VERSION:
        raise CodeRejected("unknown version")
    return PersonalCode(
        student_id=student_id,
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
        nonce=body[9:].hex(),
    )
