"""Every table, imported in one place for Alembic's autogenerate and ``alembic check``."""

from scipass.account.models import Account, RefreshToken, WeChatUser
from scipass.activity.models import Activity
from scipass.audit.models import AuditLog
from scipass.checkin.models import ActivityCode, CheckIn, PersonalCard, ScanEvent, WxaCodeImage
from scipass.competition.models import (
    Advisor,
    Competition,
    Division,
    Edition,
    Entry,
    EntryMember,
    Invitation,
    Quota,
    Round,
    RoundEntry,
    Whitelist,
    WhitelistEntry,
)
from scipass.competition.results_models import Result, ResultNotice, ResultObjection
from scipass.competition.talent_models import TalentTracking
from scipass.consent.models import ConsentRecord
from scipass.console.models import ConsoleSession
from scipass.core.idempotency import IdempotencyKeyRecord
from scipass.core.ratelimit import RateLimitCounter
from scipass.deletion.models import DeletionRequest
from scipass.jobs.models import Job, JobSchedule
from scipass.org.measures_models import (
    CounsellorTraining,
    CounsellorTrainingAttendee,
    MobileMuseumTour,
    SchoolCalendar,
    SchoolScienceStaff,
)
from scipass.org.models import Bureau, Region, School, Venue
from scipass.pairing.models import Pairing
from scipass.policy.models import PolicyOverride
from scipass.policy.review_models import PolicyReview, PolicyReviewResult
from scipass.privacy.models import PrivacyIncident
from scipass.record.models import (
    ParticipationRecord,
    RecordEvent,
    RecordEvidence,
    RecordNotice,
    RecordObjection,
)
from scipass.reservation.models import Reservation, ReservationMember, TimeSlot
from scipass.roster.models import GuardianLink, Student
from scipass.venue.models import DirectoryEdition, VenueHoursException, VenueResource
from scipass.volunteer.models import (
    NotificationOutbox,
    VolunteerRole,
    VolunteerShift,
    VolunteerSignup,
)

__all__ = [
    "Account",
    "Activity",
    "ActivityCode",
    "Advisor",
    "AuditLog",
    "Bureau",
    "CheckIn",
    "Competition",
    "ConsentRecord",
    "ConsoleSession",
    "CounsellorTraining",
    "CounsellorTrainingAttendee",
    "DeletionRequest",
    "DirectoryEdition",
    "Division",
    "Edition",
    "Entry",
    "EntryMember",
    "GuardianLink",
    "IdempotencyKeyRecord",
    "Invitation",
    "Job",
    "JobSchedule",
    "MobileMuseumTour",
    "NotificationOutbox",
    "Pairing",
    "ParticipationRecord",
    "PersonalCard",
    "PolicyOverride",
    "PolicyReview",
    "PolicyReviewResult",
    "PrivacyIncident",
    "Quota",
    "RateLimitCounter",
    "RecordEvent",
    "RecordEvidence",
    "RecordNotice",
    "RecordObjection",
    "RefreshToken",
    "Region",
    "Reservation",
    "ReservationMember",
    "Result",
    "ResultNotice",
    "ResultObjection",
    "Round",
    "RoundEntry",
    "ScanEvent",
    "School",
    "SchoolCalendar",
    "SchoolScienceStaff",
    "Student",
    "TalentTracking",
    "TimeSlot",
    "Venue",
    "VenueHoursException",
    "VenueResource",
    "VolunteerRole",
    "VolunteerShift",
    "VolunteerSignup",
    "WeChatUser",
    "Whitelist",
    "WhitelistEntry",
    "WxaCodeImage",
]
