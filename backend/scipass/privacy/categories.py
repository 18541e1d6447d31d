"""The keys of personal-data categories, and how a column declares the one it holds:
``Column(..., info=personal(DataCategory.location))``. Kept free of imports so that every
domain's models can use it; what each category is and serves is in
:mod:`scipass.privacy.inventory`."""

from __future__ import annotations

from enum import StrEnum

INFO_KEY = "personal"


class DataCategory(StrEnum):
    roster_identity = "roster_identity"
    birth_month = "birth_month"
    school_class = "school_class"
    wechat_identity = "wechat_identity"
    guardian = "guardian"
    consent = "consent"
    location = "location"
    attendance = "attendance"
    participation = "participation"
    reflection = "reflection"
    evidence = "evidence"
    competition = "competition"
    volunteering = "volunteering"
    notification = "notification"
    objection = "objection"
    talent_tracking = "talent_tracking"
    network_address = "network_address"
    audit_trail = "audit_trail"
    export_file = "export_file"


def personal(category: DataCategory) -> dict[str, str]:
    """The ``info`` of a column that holds ``category``."""
    return {INFO_KEY: category.value}
