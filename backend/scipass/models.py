"""Every table, imported in one place for Alembic's autogenerate and ``alembic check``."""

from scipass.account.models import Account, RefreshToken, WeChatUser
from scipass.audit.models import AuditLog
from scipass.consent.models import ConsentRecord
from scipass.core.ratelimit import RateLimitCounter
from scipass.org.models import Bureau, Region, School, Venue
from scipass.roster.models import GuardianLink, Student

__all__ = [
    "Account",
    "AuditLog",
    "Bureau",
    "ConsentRecord",
    "GuardianLink",
    "RateLimitCounter",
    "RefreshToken",
    "Region",
    "School",
    "Student",
    "Venue",
    "WeChatUser",
]
