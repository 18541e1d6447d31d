"""The shipped policy packs (the ``*.toml`` files beside this module) and what the rest of
the code asks of them.

One file per region that has a document of its own, plus the national default at the top of
every chain (README, "Policy packs: adding a region"). The files are loaded once, at start-up
(:func:`scipass.main.create_app` and the ``scipass`` command call :func:`current`), and a
broken file stops the start with a message naming the file, the rule and the field
(:class:`~scipass.policy.loader.PackLoadError`). A bureau changes a threshold or switches a
rule off for its region in the database, not here (:mod:`scipass.policy.effective`).

The record seam (:mod:`scipass.record.append`) asks :func:`dimension_for` which evaluation
dimension a new record of a school counts in: the mapping of the pack of the school's region.
A stored record keeps the dimension it was given.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import bindparam, select
from sqlmodel import Session

from scipass.org.models import School
from scipass.policy.loader import PackSet, load_packs
from scipass.record.models import Dimension, RecordCategory

PACK_DIR = Path(__file__).parent


@lru_cache(maxsize=1)
def shipped() -> PackSet:
    """The packs shipped with the package, read once per process."""
    return load_packs(PACK_DIR)


def current() -> PackSet:
    """The packs the app runs with: the shipped ones (a test may put others in place)."""
    return shipped()


def dimension_in(region_code: str, category: RecordCategory) -> Dimension:
    """The dimension a record of ``category`` counts in for a school of ``region_code``."""
    return current().for_region(region_code).category_dimensions[category]


_SCHOOLS = School.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
_REGION_OF_SCHOOL = select(_SCHOOLS.c.region_code).where(_SCHOOLS.c.id == bindparam("school_id"))


def dimension_for(session: Session, school_id: int, category: RecordCategory) -> Dimension:
    """The dimension a new record of ``category`` counts in for a pupil of ``school_id``.

    While every pack maps the categories as the national pack does (the shipped packs do),
    this reads nothing: the check-in path appends a record per scan."""
    packs = current()
    if packs.uniform_mapping:
        return packs.root.category_dimensions[category]
    region_code = (
        session.connection().execute(_REGION_OF_SCHOOL, {"school_id": school_id}).scalar_one()
    )
    return dimension_in(region_code, category)
