"""Who manages an activity: staff of its organiser (a venue, a school or a bureau,
:mod:`scipass.org.organiser`), and the platform admin. Kept apart from the activity service so
that check-in, which the service asks how many visits an activity has, can ask it without
importing the service back."""

from __future__ import annotations

from sqlmodel import Session

from scipass.activity.errors import ActivityNotFound
from scipass.activity.models import Activity
from scipass.core.auth import Principal, Role
from scipass.org.organiser import is_organiser, organiser_of


def may_manage(actor: Principal, activity: Activity) -> bool:
    return actor.role is Role.platform_admin or is_organiser(actor, organiser_of(activity))


def managed_activity(session: Session, *, actor: Principal, activity_id: int) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None or not may_manage(actor, activity):
        raise ActivityNotFound()
    return activity
