"""Guards of the package's shape: rules named once, modules a newcomer can read."""

from __future__ import annotations

import re
from pathlib import Path

import scipass

PACKAGE = Path(scipass.__file__).parent


def sources() -> dict[str, str]:
    return {
        str(path.relative_to(PACKAGE)): path.read_text(encoding="utf-8")
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_caller_aliases_are_defined_in_one_module() -> None:
    """Which roles a route admits is named once (core/callers.py); a router that builds its
    own alias drifts from the others."""
    elsewhere = [
        name
        for name, text in sources().items()
        if name not in {"core/callers.py", "core/auth.py"} and "Depends(require(" in text
    ]
    assert elsewhere == []
    defined = re.findall(r"^(\w+) = Annotated\[", sources()["core/callers.py"], re.M)
    assert len(defined) == len(set(defined)) > 20
