"""Who organises something: a school, a venue or a bureau (education bureau or science
association), named once for every table that has an organiser.

A row that has an organiser carries three nullable keys, ``school_id``, ``venue_id`` and
``bureau_id``, of which exactly one is set (:func:`one_organiser_check`), and
:class:`OrganiserRef` is how code talks about it: a kind and an id. Competition rounds use it
first (a school's own selection round, a county bureau's round, a venue's round), then
volunteer roles and shifts, activities (a bureau organises them too, issue 19) and mobile
science museum tours.

A national body without an account here is represented by the bureau that runs the local
round (issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sqlalchemy import CheckConstraint
from sqlmodel import Session

from scipass.core.auth import SCHOOL_ROLES, VENUE_ROLES, Principal, Role
from scipass.org.models import Bureau, School, Venue


class OrganiserKind(StrEnum):
    school = "school"
    venue = "venue"
    bureau = "bureau"


ORGANISER_COLUMNS = ("school_id", "venue_id", "bureau_id")


def one_organiser_check(name: str = "one_organiser") -> CheckConstraint:
    """Exactly one of ``school_id``, ``venue_id`` and ``bureau_id`` is set."""
    summed = " + ".join(
        f"(CASE WHEN {column} IS NULL THEN 0 ELSE 1 END)" for column in ORGANISER_COLUMNS
    )
    return CheckConstraint(f"{summed} = 1", name=name)


class Organised(Protocol):
    """A row with an organiser (any of its keys may be absent on older tables)."""

    @property
    def school_id(self) -> int | None: ...

    @property
    def venue_id(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class OrganiserRef:
    kind: OrganiserKind
    id: int

    def columns(self) -> dict[str, int | None]:
        """The three keys of a row organised by this organiser."""
        return {
            f"{kind.value}_id": self.id if kind is self.kind else None for kind in OrganiserKind
        }


def organiser_of(row: Organised) -> OrganiserRef:
    """The organiser of a row (a school, a venue or a bureau)."""
    for kind in OrganiserKind:
        value = getattr(row, f"{kind.value}_id", None)
        if value is not None:
            return OrganiserRef(kind, int(value))
    raise ValueError("the row names no organiser")


def organiser_of_principal(principal: Principal) -> OrganiserRef | None:
    """The organisation a staff caller acts for, as an organiser."""
    if principal.role in SCHOOL_ROLES and principal.school_id is not None:
        return OrganiserRef(OrganiserKind.school, principal.school_id)
    if principal.role in VENUE_ROLES and principal.venue_id is not None:
        return OrganiserRef(OrganiserKind.venue, principal.venue_id)
    if principal.role is Role.bureau and principal.bureau_id is not None:
        return OrganiserRef(OrganiserKind.bureau, principal.bureau_id)
    return None


def is_organiser(principal: Principal, ref: OrganiserRef) -> bool:
    """Whether the caller is staff of the organiser ``ref`` names."""
    return organiser_of_principal(principal) == ref


def organiser_name(session: Session, ref: OrganiserRef) -> str:
    row: School | Venue | Bureau | None
    if ref.kind is OrganiserKind.school:
        row = session.get(School, ref.id)
    elif ref.kind is OrganiserKind.venue:
        row = session.get(Venue, ref.id)
    else:
        row = session.get(Bureau, ref.id)
    return row.name if row is not None else ""
