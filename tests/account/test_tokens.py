"""Staff login, access tokens and refresh-token families."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.account import service as account_service
from scipass.account.models import RefreshToken
from scipass.audit.models import AuditLog
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from tests.factories import NOW, Side, auth, token

PASSWORD = "Kexue-2026!"


@pytest.fixture
def teacher(session: Session, side_a: Side) -> str:
    account_service.create_account(
        session,
        actor=None,
        username="Teacher.Li",
        display_name="李老师",
        role=Role.school_staff,
        org_id=side_a.school.id,
        password=PASSWORD,
        now=NOW,
    )
    return "teacher.li"


def _login(client: TestClient, username: str, password: str = PASSWORD):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_login_issues_signed_tokens(
    client: TestClient, settings: Settings, teacher: str, side_a: Side
) -> None:
    response = _login(client, "TEACHER.LI")  # usernames are case-insensitive
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "school_staff"
    assert body["expires_in"] == 900
    header = jwt.get_unverified_header(body["access_token"])
    assert header == {"alg": "HS256", "kid": "dev", "typ": "JWT"}
    claims = jwt.decode(body["access_token"], "ignored", options={"verify_signature": False})
    assert claims["role"] == "school_staff"
    assert claims["org"] == f"school:{side_a.school.id}"
    assert claims["sub"].startswith("account:")
    assert claims["exp"] - claims["iat"] == 900
    assert {"jti", "iss", "aud"} <= claims.keys()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["account"]["username"] == "teacher.li"


def test_wrong_password_and_unknown_user_look_the_same(
    client: TestClient, teacher: str, session: Session
) -> None:
    wrong = _login(client, teacher, "not-the-password")
    unknown = _login(client, "nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    failures = session.exec(select(AuditLog).where(AuditLog.action == "login_failed")).all()
    assert len(failures) == 2  # the refusals were recorded although the requests failed


def test_failed_logins_lock_the_account_for_a_while(
    client: TestClient, teacher: str, clock: FrozenClock
) -> None:
    # every attempt counts, right or wrong: ten per quarter hour per account
    assert _login(client, teacher).status_code == 200
    for _ in range(9):
        assert _login(client, teacher, "guess").status_code == 401
    locked = _login(client, teacher)  # even the right password
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_rate_limited"
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    clock.advance(timedelta(minutes=16))
    assert _login(client, teacher).status_code == 200


def test_one_address_cannot_try_many_accounts(client: TestClient) -> None:
    answers = [_login(client, f"user{i}", "guess").status_code for i in range(31)]
    assert answers[:30] == [401] * 30
    assert answers[30] == 429


def test_refresh_rotates_and_reuse_revokes_the_family(
    client: TestClient, teacher: str, session: Session
) -> None:
    first = _login(client, teacher).json()["refresh_token"]
    second_pair = client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert second_pair.status_code == 200
    second = second_pair.json()["refresh_token"]
    assert second != first

    # The spent first token shows up again: someone copied it.
    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert reused.status_code == 401
    assert reused.json()["code"] == "refresh_token_reused"
    # ... and the legitimate newest token of that family is dead too.
    after = client.post("/api/v1/auth/refresh", json={"refresh_token": second})
    assert after.status_code == 401
    assert after.json()["code"] == "refresh_token_invalid"
    family = session.exec(select(RefreshToken)).all()
    assert len(family) == 2
    assert all(row.revoked_at is not None for row in family)

    # A separate login is a separate family, untouched.
    other = _login(client, teacher).json()["refresh_token"]
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": other}).status_code == 200


def test_logout_and_expiry_end_refresh(
    client: TestClient, teacher: str, clock: FrozenClock
) -> None:
    refresh = _login(client, teacher).json()["refresh_token"]
    assert client.post("/api/v1/auth/logout", json={"refresh_token": refresh}).status_code == 204
    gone = client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
    assert gone.json()["code"] == "refresh_token_invalid"

    late = _login(client, teacher).json()["refresh_token"]
    clock.advance(timedelta(days=31))
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": late}).status_code == 401


def test_password_change_revokes_refresh_tokens(client: TestClient, teacher: str) -> None:
    pair = _login(client, teacher).json()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    weak = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "12345678"},
        headers=headers,
    )
    assert weak.json()["code"] == "password_weak"
    wrong = client.post(
        "/api/v1/auth/password",
        json={"current_password": "nope", "new_password": "Better-pass-1"},
        headers=headers,
    )
    assert wrong.json()["code"] == "password_wrong"
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "Better-pass-1"},
        headers=headers,
    )
    assert changed.status_code == 204
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.status_code == 401
    assert _login(client, teacher).status_code == 401
    assert _login(client, teacher, "Better-pass-1").status_code == 200


PRINCIPAL = Principal(subject="account:1", role=Role.platform_admin)


def _me(client: TestClient, access: str):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})


def test_expired_token_is_refused(client: TestClient, settings: Settings) -> None:
    fresh = token(settings, PRINCIPAL, now=NOW - timedelta(minutes=14))
    stale = token(settings, PRINCIPAL, now=NOW - timedelta(minutes=16))
    assert _me(client, fresh).status_code == 200
    response = _me(client, stale)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"  # the client refreshes quietly
    assert response.headers["www-authenticate"].startswith("Bearer")
    # an expired token whose signature does not hold is forged, not expired: log in again
    header, payload, signature = stale.split(".")
    forged = ".".join((header, payload, ("A" if signature[0] != "A" else "B") + signature[1:]))
    assert _me(client, forged).json()["code"] == "token_invalid"


def test_tampered_token_is_refused(client: TestClient, settings: Settings) -> None:
    good = token(settings, Principal(subject="account:1", role=Role.school_staff, school_id=1))
    header, _payload, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    claims["role"] = "platform_admin"
    forged_payload = jwt.utils.base64url_encode(
        jwt.api_jws.json.dumps(claims, separators=(",", ":")).encode()
    ).decode()
    assert _me(client, f"{header}.{forged_payload}.{signature}").status_code == 401
    assert _me(client, good[:-2] + ("AA" if good[-2:] != "AA" else "BB")).status_code == 401
    assert _me(client, "not-a-jwt").status_code == 401


def test_unknown_kid_and_other_algorithms_are_refused(
    client: TestClient, settings: Settings
) -> None:
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "account:1",
        "role": "platform_admin",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
        "jti": "x",
    }
    secret = settings.jwt_keyring.active_secret
    unknown_kid = jwt.encode(claims, secret, algorithm="HS256", headers={"kid": "k9"})
    no_kid = jwt.encode(claims, secret, algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "dev"})
    wrong_audience = jwt.encode(
        {**claims, "aud": "someone-else"}, secret, algorithm="HS256", headers={"kid": "dev"}
    )
    good = jwt.encode(claims, secret, algorithm="HS256", headers={"kid": "dev"})
    for forged in (unknown_kid, no_kid, unsigned, wrong_audience):
        assert _me(client, forged).status_code == 401
    assert _me(client, good).status_code == 200


def test_old_key_verifies_until_removed(client: TestClient, settings: Settings) -> None:
    old = token(settings, PRINCIPAL)
    settings.jwt_keys = settings.jwt_keys.__class__(
        "k2:" + "n" * 40 + "," + settings.jwt_keys.get_secret_value()
    )
    assert _me(client, old).status_code == 200
    settings.jwt_keys = settings.jwt_keys.__class__("k2:" + "n" * 40)
    assert _me(client, old).status_code == 401


def test_staff_tokens_need_the_right_role(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    response = client.get(
        "/api/v1/students", headers=auth(settings, side_a.principal(Role.venue_admin))
    )
    assert response.status_code == 403
    assert response.json()["code"] == "role_forbidden"
