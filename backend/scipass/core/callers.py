"""Every caller alias, defined once: which roles a route admits, by name.

A route takes one of these as a parameter (``caller: SchoolStaff``); the role check happens
before the route runs, and the access-matrix test reads the rule from it. Whether the caller
may touch the object it names (its school, its venue, its region) is the service's check.
Two aliases never admit the same roles under different names, and one name never means two
sets of roles.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from scipass.core.auth import (
    SCHOOL_ROLES,
    VENUE_ROLES,
    WECHAT_ROLES,
    Principal,
    Role,
    require,
)

STAFF_ROLES = frozenset(set(Role) - WECHAT_ROLES)

# Anyone logged in, even on an initial password (reads their own account).
AnyUser = Annotated[Principal, Depends(require(*Role, during_password_change=True))]

# WeChat users: students, guardians, and those not yet bound; also who scans a venue's code
# (POST /checkins), the roles its fast path admits.
WeChatCaller = Annotated[Principal, Depends(require(*WECHAT_ROLES))]
StudentCaller = Annotated[Principal, Depends(require(Role.student))]
GuardianCaller = Annotated[Principal, Depends(require(Role.guardian))]

# Staff of any organisation.
StaffCaller = Annotated[Principal, Depends(require(*STAFF_ROLES))]
PasswordChanger = Annotated[Principal, Depends(require(*STAFF_ROLES, during_password_change=True))]

# One kind of organisation.
SchoolStaff = Annotated[Principal, Depends(require(*SCHOOL_ROLES))]
SchoolAdmin = Annotated[Principal, Depends(require(Role.school_admin))]
VenueStaff = Annotated[Principal, Depends(require(*VENUE_ROLES, Role.platform_admin))]
VenueAdmin = Annotated[Principal, Depends(require(Role.venue_admin, Role.platform_admin))]
BureauCaller = Annotated[Principal, Depends(require(Role.bureau))]
BureauOrPlatform = Annotated[Principal, Depends(require(Role.bureau, Role.platform_admin))]
PlatformAdmin = Annotated[Principal, Depends(require(Role.platform_admin))]
OrgAdmin = Annotated[
    Principal, Depends(require(Role.school_admin, Role.venue_admin, Role.platform_admin))
]
AuditReader = Annotated[
    Principal, Depends(require(Role.school_admin, Role.bureau, Role.platform_admin))
]

# Who reads a school's compliance with the policy rules: its own staff, the bureau of its
# region, the platform (scipass.policy.compliance checks which school).
ComplianceReader = Annotated[
    Principal, Depends(require(*SCHOOL_ROLES, Role.bureau, Role.platform_admin))
]

# Organisers who confirm records (谁组织谁记录) and run volunteer shifts and check-in: a venue's
# or a school's staff (a bureau's activities confirm their records in advance). The platform
# admin also issues codes and reads attendance (support), but never confirms a record.
Organiser = Annotated[Principal, Depends(require(*VENUE_ROLES, *SCHOOL_ROLES))]
OrganiserOrPlatform = Annotated[
    Principal, Depends(require(*VENUE_ROLES, *SCHOOL_ROLES, Role.platform_admin))
]

# Both sides of a pairing (结对), and who reads pairings.
PairingAdmin = Annotated[Principal, Depends(require(Role.school_admin, Role.venue_admin))]
PairingReader = Annotated[
    Principal, Depends(require(*SCHOOL_ROLES, *VENUE_ROLES, Role.bureau, Role.platform_admin))
]

# Organisers of anything a bureau organises too (scipass.org.organiser): a competition round
# (a school's own selection, a venue's, a county, city or province round), an activity (a
# bureau's science lecture, issue 19), a mobile science museum tour.
OrganiserOrBureau = Annotated[Principal, Depends(require(*SCHOOL_ROLES, *VENUE_ROLES, Role.bureau))]

# Pupils and the guardians acting for them: scipass.roster.acting (ActingStudent, ...).

# Participation records (写实记录).
RecordReader = Annotated[
    Principal,
    Depends(
        require(
            Role.student,
            Role.guardian,
            *SCHOOL_ROLES,
            *VENUE_ROLES,
            Role.bureau,
            Role.platform_admin,
        )
    ),
]
Family = Annotated[Principal, Depends(require(Role.student, Role.guardian, *SCHOOL_ROLES))]
StudentFileReader = Annotated[
    Principal,
    Depends(require(Role.student, Role.guardian, *SCHOOL_ROLES, Role.bureau, Role.platform_admin)),
]
StaffFileReader = Annotated[
    Principal, Depends(require(*SCHOOL_ROLES, Role.bureau, Role.platform_admin))
]
# Who reads a region's policy pack (the rules its schools are held to): schools, bureaus, the
# platform admin.
PolicyReader = Annotated[
    Principal, Depends(require(*SCHOOL_ROLES, Role.bureau, Role.platform_admin))
]
# Who marks and lists 创新后备人才 (talent tracking): schools, bureaus, the platform admin.
TalentTracker = Annotated[
    Principal, Depends(require(*SCHOOL_ROLES, Role.bureau, Role.platform_admin))
]
RecordExporter = Annotated[
    Principal, Depends(require(Role.student, *SCHOOL_ROLES, Role.bureau, Role.platform_admin))
]
# Who sees the pupils an export to the 综评 platform leaves out for want of the guardian's
# consent (to ask the guardians): schools, bureaus, the platform admin; never a pupil.
WithheldReader = Annotated[
    Principal, Depends(require(*SCHOOL_ROLES, Role.bureau, Role.platform_admin))
]

# Who queues bulk exports (jobs) and reads them back: everyone who exports something (a
# guardian: the copy of a child's evidence files, scipass.datacopy).
JobOwner = Annotated[
    Principal,
    Depends(
        require(
            Role.student,
            Role.guardian,
            *SCHOOL_ROLES,
            *VENUE_ROLES,
            Role.bureau,
            Role.platform_admin,
        )
    ),
]
