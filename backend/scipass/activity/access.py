"""Who manages an activity: staff of its venue, or of its school (and the platform admin).
Kept apart from the activity service so that check-in, which the service asks how many
visits an activity has, can ask it without importing the service back."""

from __future__ import annotations

from sqlmodel import Session

from scipass.activity.errors import ActivityNotFound
from scipass.activity.models import Activity
from scipass.core.auth import SCHOOL_ROLES, VENUE_ROLES, Principal, Role


def may_manage(actor: Principal, activity: Activity) -> bool:
    if actor.role is Role.platform_admin:
        return True
    if activity.venue_id is not None:
        return actor.role in VENUE_ROLES and actor.venue_id == activity.venue_id
    return actor.role in SCHOOL_ROLES and actor.school_id == activity.school_id


def managed_activity(session: Session, *, actor: Principal, activity_id: int) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None or not may_manage(actor, activity):
        raise ActivityNotFound()
    return activity
