"""Guards of the package's shape: rules named once, modules a newcomer can read."""

from __future__ import annotations

import ast
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


def imports() -> dict[str, set[str]]:
    """Each module of the package and the modules of the package it imports (anywhere in it,
    function bodies included; not the imports for type annotations only)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("scipass", *parts)).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        type_only = {  # imports under `if TYPE_CHECKING:` are for annotations, never run
            id(child)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
            for child in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scipass"):
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    graph[name].add(target if target in modules else str(node.module))
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name in modules)
    return graph


def test_no_module_imports_itself_through_others() -> None:
    """A circle of imports (account and roster once imported each other, one of them inside
    a function to get away with it) means two domains that cannot be read apart."""
    graph = imports()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            current = todo.pop()
            for following in graph.get(current, ()):
                if following == goal:
                    return True
                if following not in seen:
                    seen.add(following)
                    todo.append(following)
        return False

    circles = sorted(name for name in graph if reaches(name, name))
    assert circles == []


DOMAINS = (
    "account",
    "activity",
    "audit",
    "checkin",
    "competition",
    "consent",
    "datacopy",
    "demo",
    "health",
    "org",
    "pairing",
    "policy",
    "record",
    "reservation",
    "roster",
    "venue",
    "volunteer",
)


def test_core_knows_no_domain() -> None:
    """core/ serves the domains and imports none of them: the domains register what core
    runs for them (scheduled jobs, key stores) with the app."""
    graph = imports()
    reaching = {
        module: sorted(target for target in targets if target.split(".")[1] in DOMAINS)
        for module, targets in graph.items()
        if module.startswith("scipass.core.")
    }
    assert {module: found for module, found in reaching.items() if found} == {}


def test_only_the_record_package_touches_the_record_tables() -> None:
    """Every source appends records through record/append.py (the one seam); no other module
    writes SQL naming the record tables or uses their models. The demo loader (which reads
    what it made) and the registry of models for Alembic are the exceptions."""
    sql = re.compile(r"(INTO|FROM|JOIN|UPDATE)\s+(participation_record|record_event)\b", re.I)
    models = re.compile(r"\b(ParticipationRecord|RecordEvent)\b")
    found = [
        name
        for name, text in sources().items()
        if not name.startswith(("record/", "demo/"))
        and name != "models.py"
        and (sql.search(text) or models.search(text))
    ]
    assert found == []


def test_modules_stay_readable() -> None:
    """No module over about 600 lines (STYLE.md): split by use case instead. The demo's data
    and loader, a script of what the demo holds, are the exception."""
    long = {
        name: text.count("\n")
        for name, text in sources().items()
        if not name.startswith("demo/") and text.count("\n") > 620
    }
    assert long == {}


def test_every_bulk_export_goes_through_the_one_exporter() -> None:
    """The streaming writers of CSV and XLSX are called by the one exporter only
    (jobs/exporter.py, for direct answers and jobs alike), so that the count, the snapshot
    and the audit entry are everywhere the same (issue 16)."""
    writer = re.compile(r"\b(csv_chunks|xlsx_chunks)\b")
    users = sorted(name for name, text in sources().items() if writer.search(text))
    assert users == ["core/exports.py", "jobs/exporter.py"]
