"""The consent notice's versions, and which grants each version keeps counting.

Every version of the notice is declared here, oldest first (:data:`NOTICES`), as editorial or
material (《儿童个人信息网络保护规定》 art. 10; PIPL art. 14: a change of purpose, method or
scope needs consent again):

* **editorial**: wording, order, an explanation of what already happens. Grants answered
  under earlier versions keep counting as they did.
* **material**: it adds purposes, or adds recipients to a purpose (the purposes it asks
  again). A grant answered before it never covers a purpose it adds. For a purpose it asks
  again, a grant answered before it keeps counting until the platform's deadline (inclusive,
  Beijing date) and no longer: by then the guardian has answered again (a new grant, under the
  current version) or the processing stops. Purposes it does not touch keep counting.

The rule is the same whatever the channel: a paper form a school recorded carries over as a
grant in the mini-program does. A grant must answer the current version (the last one); a
refusal or withdrawal may name any.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from scipass.consent.models import Purpose


class ChangeKind(StrEnum):
    editorial = "editorial"
    material = "material"


@dataclass(frozen=True, slots=True)
class NoticeVersion:
    version: str
    published_on: date
    kind: ChangeKind
    # material only: the purposes it adds (older grants never cover them) ...
    adds_purposes: frozenset[Purpose] = frozenset()
    # ... and, per purpose it asks again, the recipients it adds (pairs, so that a version
    # stays hashable: the SQL built from the table is cached by it);
    adds_recipients: tuple[tuple[Purpose, tuple[str, ...]], ...] = ()
    # until when (inclusive) older grants for the purposes it asks again still count.
    deadline: date | None = None
    summary: str = ""

    @property
    def asks_again(self) -> frozenset[Purpose]:
        """Existing purposes whose older grants count only until :attr:`deadline`."""
        return frozenset(purpose for purpose, _recipients in self.adds_recipients)


NOTICES: tuple[NoticeVersion, ...] = (
    NoticeVersion(
        "2026-09",
        date(2026, 9, 1),
        ChangeKind.material,
        adds_purposes=frozenset(set(Purpose) - {Purpose.volunteering}),
        summary="首版：活动记录、评价导出、位置、照片、通知",
    ),
    NoticeVersion(
        "2026-12",
        date(2026, 12, 1),
        ChangeKind.material,
        adds_purposes=frozenset({Purpose.volunteering}),
        summary="新增志愿服务（未满 18 周岁须监护人同意）；其他目的未变",
    ),
    NoticeVersion(
        "2026-12.1",
        date(2026, 12, 6),
        ChangeKind.editorial,
        summary="说明未同意评价导出时学校导出文件不含孩子的记录；不新增目的或接收方",
    ),
)


def check(notices: tuple[NoticeVersion, ...]) -> None:
    """Refuse a table that could not be applied: versions unique and in date order; an
    editorial version adds nothing; a material one that asks a purpose again has a deadline
    and names only purposes that existed before it."""
    seen: set[str] = set()
    purposes: set[Purpose] = set()
    previous: date | None = None
    for notice in notices:
        if notice.version in seen:
            raise ValueError(f"notice {notice.version}: listed twice")
        if previous is not None and notice.published_on < previous:
            raise ValueError(f"notice {notice.version}: published before the one it follows")
        if notice.kind is ChangeKind.editorial and (
            notice.adds_purposes or notice.adds_recipients or notice.deadline
        ):
            raise ValueError(f"notice {notice.version}: an editorial change adds nothing")
        if notice.asks_again and notice.deadline is None:
            raise ValueError(f"notice {notice.version}: asking again needs a deadline")
        if not notice.asks_again <= purposes:
            raise ValueError(f"notice {notice.version}: asks again a purpose not yet asked")
        seen.add(notice.version)
        purposes |= notice.adds_purposes
        previous = notice.published_on


check(NOTICES)


@dataclass(frozen=True, slots=True)
class Carried:
    """What a grant answered under one version still covers: the purposes it covers for
    good, and those it covers until a date (inclusive)."""

    always: frozenset[Purpose]
    until: Mapping[Purpose, date]


def current() -> NoticeVersion:
    """The version in force: the last one declared."""
    return NOTICES[-1]


def carried(version: str, notices: tuple[NoticeVersion, ...] | None = None) -> Carried | None:
    """What a grant under ``version`` covers now that later versions exist (None for a
    version not in the table: such a grant counts for nothing)."""
    notices = NOTICES if notices is None else notices
    index = next((i for i, n in enumerate(notices) if n.version == version), None)
    if index is None:
        return None
    purposes: set[Purpose] = set()
    for notice in notices[: index + 1]:
        purposes |= notice.adds_purposes
    until: dict[Purpose, date] = {}
    for later in notices[index + 1 :]:
        for purpose in later.asks_again & purposes:
            assert later.deadline is not None  # check() holds it
            until[purpose] = min(later.deadline, until.get(purpose, later.deadline))
    return Carried(frozenset(purposes - set(until)), MappingProxyType(until))


def counts(version: str, purpose: Purpose, today: date) -> bool:
    """Whether a grant for ``purpose`` answered under ``version`` counts on ``today``."""
    kept = carried(version)
    if kept is None:
        return False
    if purpose in kept.always:
        return True
    deadline = kept.until.get(purpose)
    return deadline is not None and today <= deadline


def renewal_due(version: str, purpose: Purpose) -> date | None:
    """The deadline by which a grant for ``purpose`` under ``version`` must be answered again
    (None when nothing asks it again)."""
    kept = carried(version)
    return kept.until.get(purpose) if kept is not None else None


def index_of(version: str) -> int:
    """The version's place in the table (-1 for one not listed)."""
    return next((i for i, n in enumerate(NOTICES) if n.version == version), -1)


def version_at(index: int) -> str | None:
    return NOTICES[index].version if 0 <= index < len(NOTICES) else None


def added_since(version: str | None) -> frozenset[Purpose]:
    """The purposes added by material versions after ``version`` (all of them for None)."""
    index = next((i for i, n in enumerate(NOTICES) if n.version == version), -1)
    added: set[Purpose] = set()
    for notice in NOTICES[index + 1 :]:
        added |= notice.adds_purposes
    return frozenset(added)
