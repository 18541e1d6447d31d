"""Settings fit for production, and ``scipass serve`` run as an operator would when it must
refuse to start: shared by the tests of settings, metrics and several instances."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

# Every setting production requires, with values that pass its checks; a test overrides one.
PROD: dict[str, str] = {
    "env": "prod",
    "jwt_keys": "k1:" + "x" * 40,
    "code_signing_keys": "c1:" + "y" * 40,
    "personal_code_keys": "p1:" + base64.b64encode(b"p" * 32).decode(),
    "wechat_mode": "real",
    "wechat_app_id": "wx0123456789abcdef",
    "wechat_app_secret": "s" * 32,
    "child_privacy_officer": "李四（儿童个人信息保护负责人）",
    "child_privacy_contact": "privacy@scipass-operator.cn",
    "child_privacy_complaints": "拨打 0731-12345678 或写信至长沙市某路 1 号",
}


def serve_refused(env: dict[str, str], cwd: Path, *arguments: str) -> str:
    """Run ``scipass serve`` with ``env`` from ``cwd``; it must exit 2 with one line on
    stderr, which is answered."""
    result = subprocess.run(
        [sys.executable, "-m", "scipass", "serve", *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]
