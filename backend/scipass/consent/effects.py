"""What withdrawing consent does to what is stored (PIPL art. 47; 《儿童个人信息网络保护规定》
art. 20): a guardian who withdraws (or refuses after granting) a purpose stops its processing,
and the data kept for it goes at once, in the same transaction as the decision.

The consent package knows no other domain: each domain registers the effects of a purpose on
its own tables (:func:`register`, called by ``scipass.main.register_consent_effects``), and
:func:`on_withdrawn` runs them. An effect deletes what the purpose alone justified and answers
how many rows it changed; running it again changes nothing. Every effect that changed something
is written to the deletion log (the audit log's ``data_deleted``): what kind, how many, when
and why, never the content.

* ``location``: the pupil's stored scan locations and distances (check-in);
* ``photos``: the pupil's evidence files that no archived record needs (record);
* ``participation_record``: the pupil's records still open to them (pending, confirmed) are
  withdrawn (record); new ones are refused where they are made (``consent_required``).

An effect runs only where the purpose needs the guardian's consent for the pupil's age: for an
older pupil the decision changes no processing, so it deletes nothing either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from scipass.audit import service as audit_service
from scipass.consent.models import Purpose
from scipass.core.auth import Principal
from scipass.core.config import Settings

# (session, student id, now, settings) -> how many rows it deleted or changed.
Effect = Callable[[Session, int, datetime, Settings], int]


@dataclass(frozen=True, slots=True)
class Deleted:
    purpose: Purpose
    kind: str  # what was deleted, e.g. "scan_location"
    count: int


_EFFECTS: dict[Purpose, dict[str, Effect]] = {}


def register(purpose: Purpose, kind: str, effect: Effect) -> None:
    """Register what withdrawing ``purpose`` deletes, under a name for the deletion log; the
    same name again replaces the effect (registering twice is harmless)."""
    _EFFECTS.setdefault(purpose, {})[kind] = effect


def registered() -> dict[Purpose, list[str]]:
    return {purpose: sorted(kinds) for purpose, kinds in _EFFECTS.items()}


def on_withdrawn(
    session: Session,
    *,
    actor: Principal,
    student_id: int,
    school_id: int,
    region_code: str,
    purposes: Iterable[Purpose],
    now: datetime,
    settings: Settings,
) -> list[Deleted]:
    """Run the effects of withdrawing ``purposes`` for one pupil, and log what they deleted."""
    done: list[Deleted] = []
    for purpose in dict.fromkeys(purposes):
        for kind, effect in sorted(_EFFECTS.get(purpose, {}).items()):
            count = effect(session, student_id, now, settings)
            if count:
                done.append(Deleted(purpose, kind, count))
                audit_service.record(
                    session,
                    action=audit_service.Action.data_deleted,
                    at=now,
                    actor=actor,
                    object_type="student",
                    object_id=student_id,
                    school_id=school_id,
                    region_code=region_code,
                    kind=kind,
                    count=count,
                    reason=f"consent_withdrawn:{purpose.value}",
                )
    return done
