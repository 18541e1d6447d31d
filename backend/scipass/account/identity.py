"""What a WeChat account is: a student's or a guardian's, never both.

The kind is claimed when the account binds to a roster entry (``scipass.roster``) and released
when the binding ends, each by one conditional update, so that concurrent bindings cannot give
one account both roles. Kept apart from the account service, which asks the roster who a
WeChat user is when it issues tokens: the roster imports this module, the account service the
roster, and neither imports the other back.
"""

from __future__ import annotations

from sqlalchemy import or_, update
from sqlmodel import Session

from scipass.account.models import WeChatUser

_USERS = WeChatUser.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


def claim_wechat_kind(session: Session, *, user_id: int, kind: str) -> bool:
    """Mark a WeChat account as a student's or a guardian's; False if it is the other already.
    Decided by one conditional update, so concurrent bindings cannot give both roles."""
    claimed = session.exec(
        update(_USERS)
        .where(_USERS.c.id == user_id, or_(_USERS.c.kind.is_(None), _USERS.c.kind == kind))
        .values(kind=kind)
    ).rowcount
    return claimed == 1


def release_wechat_kind(session: Session, *, user_id: int, kind: str) -> None:
    """The account is no longer a ``kind``'s (its binding ended)."""
    session.execute(
        update(_USERS).where(_USERS.c.id == user_id, _USERS.c.kind == kind).values(kind=None)
    )
