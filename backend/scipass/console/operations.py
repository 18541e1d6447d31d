"""The API operations the console calls, by route name: its pages' reads, its forms' writes
and its scripts' requests. Nothing else is reachable through the console; each operation
keeps the API's own access rule and scope (the access matrix checks them there).

A page that needs another operation names it here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI, routing
from starlette.routing import compile_path

from scipass.core.errors import NotFound

# One set per area of the console, so that pages of different areas are added apart.
COMMON = {"me-get", "auth-password-change", "student-list", "student-get"}
VENUE = {
    "managed-activity-list",
    "managed-activity-get",
    "activity-create",
    "activity-publish",
    "activity-cancel",
    "activity-finish",
    "code-list",
    "code-create",
    "code-poster",
    "code-wxacode",
    "code-png",
    "slot-list",
    "slot-create",
    "slot-cancel",
    "arrival-counts",
    "record-list",
    "record-organiser-decide",
    "venue-profile-get",
    "venue-profile-draft-save",
    "venue-profile-draft-submit",
    "attendee-export",
    "attendee-export-job",
    "volunteer-hours-export",
    "volunteer-hours-export-job",
    "job-list",
    "job-get",
    "job-result",
    # volunteering: roles, shifts, their codes, attendance and minutes
    "volunteer-role-preset-list",
    "volunteer-role-list",
    "managed-volunteer-role-get",
    "volunteer-role-create",
    "volunteer-role-update",
    "volunteer-shift-list",
    "managed-volunteer-shift-get",
    "volunteer-shift-create",
    "volunteer-shift-series-create",
    "volunteer-shift-cancel",
    "volunteer-shift-code-list",
    "volunteer-shift-code-create",
    "volunteer-shift-attendance",
    "volunteer-shift-minutes-confirm",
}
SCHOOL: set[str] = {
    # records review
    "record-list",
    "record-get",
    "record-history",
    "record-review",
    "record-review-bulk",
    # public notices and objections
    "notice-open",
    "notice-list",
    "notice-entries",
    "objection-list",
    "objection-resolve",
    # roster
    "roster-template",
    "roster-import",
    "roster-binding-codes",
    # exports and the pupils they leave out
    "record-export",
    "record-export-job",
    "record-export-withheld",
    "record-file",
    "record-files-job",
    "job-list",
    "job-get",
    "job-result",
    # compliance, scans, competition entries
    "school-compliance",
    "school-scan-event-list",
    "competition-entry-list",
    "competition-entry-recommend",
    "competition-entry-decline",
    # group visits: a venue's slots, booking a class, cancelling, checking the class in
    "venue-directory",
    "venue-get",
    "slot-list",
    "group-reservation-create",
    "school-reservation-list",
    "reservation-cancel",
    "group-reservation-members",
    "group-checkin",
}
BUREAU: set[str] = {
    "region-list",
    "region-compliance",
    "region-compliance-ledger",
    "school-compliance",
    "venue-review-list",
    "venue-profile-get",
    "venue-profile-review",
    "directory-edition-list",
    "directory-edition-publish",
    "competition-list",
    "competition-get",
    "competition-create",
    "competition-whitelist-set",
    "competition-edition-create",
    "whitelist-list",
    "whitelist-entries",
    "whitelist-create",
    "whitelist-entry-create",
    "whitelist-import",
    "whitelist-export",
    "notice-setting-get",
    "notice-setting-set",
}
DOOR = {
    "managed-activity-list",
    "personal-code-keys",
    "personal-code-revocations",
    "staff-scan",
    "offline-scan-upload",
}

OPERATIONS: frozenset[str] = frozenset(COMMON | VENUE | SCHOOL | BUREAU | DOOR)


class OperationNotOffered(NotFound):
    code = "console_operation_not_offered"
    title_zh = "控制台不提供此操作"
    title_en = "The console does not offer this operation"


def check(name: str) -> None:
    if name not in OPERATIONS:
        raise OperationNotOffered()


@dataclass(frozen=True, slots=True)
class Offered:
    name: str
    methods: frozenset[str]
    pattern: re.Pattern[str]


def _offered(app: FastAPI) -> tuple[Offered, ...]:
    cached: tuple[Offered, ...] | None = getattr(app.state, "console_offered", None)
    if cached is not None:
        return cached
    found = []
    for context in routing.iter_route_contexts(app.routes):
        if context.name in OPERATIONS and context.path is not None:
            pattern, _, _ = compile_path(context.path)
            found.append(Offered(context.name, frozenset(context.methods or ()), pattern))
    app.state.console_offered = tuple(found)
    return app.state.console_offered


def match(app: FastAPI, method: str, path: str) -> str | None:
    """The name of the offered operation ``method path`` calls, if any."""
    for offered in _offered(app):
        if method.upper() in offered.methods and offered.pattern.match(path):
            return offered.name
    return None


# A path the API reads as it is written: segments of letters, digits and ``-._~``, none of them
# empty, ``.`` or ``..``. An escape (``%2F``), a query or fragment mark, a backslash or a dot
# segment in a path value would match an offered route's pattern here, and then be resolved by
# the HTTP client or decoded by the app into another route.
_PLAIN_PATH = re.compile(r"(?:/(?!\.{1,2}(?:/|$))[A-Za-z0-9._~-]+)+")


def check_path(app: FastAPI, method: str, path: str) -> None:
    if _PLAIN_PATH.fullmatch(path) is None or match(app, method, path) is None:
        raise OperationNotOffered()


def methods(app: FastAPI, name: str) -> frozenset[str]:
    """The methods of the offered operation ``name``."""
    for offered in _offered(app):
        if offered.name == name:
            return offered.methods
    raise OperationNotOffered()
