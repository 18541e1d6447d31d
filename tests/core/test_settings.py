"""Settings: key rings, list parsing, and prod refusing development secrets."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest

from scipass.core.config import (
    DEV_PERSONAL_CODE_KEYS,
    PLACEHOLDER_CHILD_PRIVACY_COMPLAINTS,
    PLACEHOLDER_CHILD_PRIVACY_CONTACT,
    PLACEHOLDER_CHILD_PRIVACY_OFFICER,
    ConfigurationError,
    Settings,
    load_settings,
)
from scipass.core.security import KeyRing, KeyRingError
from tests.startup import PROD, serve_refused

STRONG = PROD["jwt_keys"]


def _prod(**overrides: object) -> Settings:
    values: dict[str, object] = {**PROD, "_env_file": None}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_prod_with_real_secrets_starts() -> None:
    settings = _prod()
    settings.check()
    assert settings.production_problems() == []


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"jwt_keys": "dev:insecure-dev-jwt-key-do-not-use-in-production"}, "development key"),
        ({"code_signing_keys": "c1:short"}, "shorter than 32"),
        (
            {"personal_code_keys": DEV_PERSONAL_CODE_KEYS},
            "PERSONAL_CODE_KEYS holds the development key",
        ),
        ({"wechat_mode": "fake"}, "WECHAT_MODE=fake"),
        ({"wechat_app_secret": ""}, "WECHAT_APP_SECRET"),
        (
            {"child_privacy_officer": PLACEHOLDER_CHILD_PRIVACY_OFFICER},
            "SCIPASS_CHILD_PRIVACY_OFFICER is a placeholder",
        ),
        (
            {"child_privacy_contact": PLACEHOLDER_CHILD_PRIVACY_CONTACT},
            "SCIPASS_CHILD_PRIVACY_CONTACT is a placeholder",
        ),
        (
            {"child_privacy_contact": "dpo@Example.com"},
            "SCIPASS_CHILD_PRIVACY_CONTACT is a placeholder",
        ),
        (
            {"child_privacy_complaints": PLACEHOLDER_CHILD_PRIVACY_COMPLAINTS + " "},
            "SCIPASS_CHILD_PRIVACY_COMPLAINTS is a placeholder",
        ),
    ],
)
def test_prod_refuses_dev_or_missing_secrets(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        _prod(**overrides).check()
    message = str(raised.value)
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize("seed", ["not base64 at all!", base64.b64encode(b"short").decode()])
def test_a_personal_code_key_must_be_an_ed25519_seed(seed: str) -> None:
    with pytest.raises(ConfigurationError, match="PERSONAL_CODE_KEYS"):
        load_settings(personal_code_keys=f"p1:{seed}", _env_file=None)


def test_prod_names_every_placeholder_privacy_contact_at_once() -> None:
    settings = _prod(
        child_privacy_officer=PLACEHOLDER_CHILD_PRIVACY_OFFICER,
        child_privacy_contact=PLACEHOLDER_CHILD_PRIVACY_CONTACT,
        child_privacy_complaints=PLACEHOLDER_CHILD_PRIVACY_COMPLAINTS,
    )
    assert [p.split(" ")[0] for p in settings.production_problems()] == [
        "SCIPASS_CHILD_PRIVACY_OFFICER",
        "SCIPASS_CHILD_PRIVACY_CONTACT",
        "SCIPASS_CHILD_PRIVACY_COMPLAINTS",
    ]
    # Outside prod the placeholders are fine: dev and test serve the page with them.
    Settings(env="dev", _env_file=None).check()  # type: ignore[call-arg]


def test_default_settings_are_for_dev_only() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    settings.check()  # dev starts with the dev keys
    assert settings.production_problems()  # ... which prod would refuse


def test_serve_in_prod_with_dev_key_exits_with_one_line(tmp_path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCIPASS_")} | {
        "SCIPASS_ENV": "prod",
        "SCIPASS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
    }
    line = serve_refused(env, tmp_path, "--port", "1")
    assert line.startswith("scipass: refusing to start in prod:")
    assert "SCIPASS_JWT_KEYS" in line
    assert "insecure" not in line  # the reason names the key, never prints a secret


def test_invalid_setting_is_one_line() -> None:
    with pytest.raises(ConfigurationError, match="invalid setting"):
        load_settings(jwt_keys="no-colon-here", _env_file=None)


def test_cors_origins_from_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIPASS_CORS_ORIGINS", "https://a.example, https://b.example")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_keyring_first_key_signs_and_all_verify() -> None:
    ring = KeyRing.parse("k2:new-secret, k1:old-secret")
    assert ring.active_kid == "k2"
    assert ring.active_secret == "new-secret"
    assert ring.get("k1") == "old-secret"
    assert ring.get("k0") is None


@pytest.mark.parametrize("text", ["", "k1", "k1:", "k1:a,k1:b", "bad kid!:x", "k" * 17 + ":x"])
def test_keyring_rejects_malformed(text: str) -> None:
    with pytest.raises(KeyRingError):
        KeyRing.parse(text)


def test_demo_data_is_refused_in_prod(tmp_path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCIPASS_")} | {
        "SCIPASS_ENV": "prod",
        "SCIPASS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "SCIPASS_JWT_KEYS": "k1:" + "j" * 40,
        "SCIPASS_CODE_SIGNING_KEYS": "k1:" + "c" * 40,
        "SCIPASS_PERSONAL_CODE_KEYS": "p1:" + base64.b64encode(b"p" * 32).decode(),
        "SCIPASS_WECHAT_MODE": "real",
        "SCIPASS_WECHAT_APP_ID": "wx0123456789abcdef",
        "SCIPASS_WECHAT_APP_SECRET": "s" * 32,
        "SCIPASS_CHILD_PRIVACY_OFFICER": "李四",
        "SCIPASS_CHILD_PRIVACY_CONTACT": "privacy@scipass-operator.cn",
        "SCIPASS_CHILD_PRIVACY_COMPLAINTS": "拨打 0731-12345678",
    }
    result = subprocess.run(
        [sys.executable, "-m", "scipass", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "demo data is not loaded in prod" in result.stderr
    assert not (tmp_path / "var").exists()
