"""Everything held about one pupil, as one JSON document (PIPL art. 45: access and copy).

Who asks (:func:`child_for_copy`): a guardian for a linked child (family mode, as
``/me/record-file``), or a pupil of 14 and over for themselves. A pupil under 14 asks through
the guardian (:class:`CopyThroughGuardian`).

What it holds, each read by the pupil's id and nothing else:

* the roster entry (without the binding and guardian codes: they are keys that bind an account
  to the pupil, not data about the pupil), the WeChat binding and the guardian links;
* every consent decision, in order (the history, not only what is in force);
* the visits (check-ins) with their scan events, and the pupil's other scans (refused, at a
  volunteer shift); the pupil's personal check-in cards (without their secret nonce);
* the participation records with their events (the history), evidence metadata (the files are
  the ZIP: :mod:`scipass.datacopy.evidence`) and objections (without who raised them);
* reservations: the pupil's own, and the pupil's place in a group reservation (the group's
  label, slot and status, never its other pupils);
* competition entries the pupil is a member of: the entry, the pupil's membership, the rounds
  and results (never the other members);
* volunteering: sign-ups with attendance and confirmed minutes, certificates, notifications;
* talent tracking;
* the audit entries about the pupil (:mod:`scipass.datacopy.trail`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, SQLModel, col, select

from scipass.account.models import WeChatUser
from scipass.activity.models import Activity
from scipass.audit import service as audit_service
from scipass.checkin.models import CheckIn, PersonalCard, ScanEvent
from scipass.competition.models import Entry, EntryMember, RoundEntry
from scipass.competition.results_models import Result
from scipass.competition.talent_models import TalentTracking
from scipass.consent.models import ConsentRecord
from scipass.consent.service import is_under_14
from scipass.core.auth import Principal, Role
from scipass.core.clock import local_date
from scipass.datacopy import trail
from scipass.datacopy.errors import CopyThroughGuardian
from scipass.org.models import School
from scipass.record import data_copy as record_copy
from scipass.reservation.models import Reservation, ReservationMember, TimeSlot
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import GuardianLink, Student
from scipass.volunteer.models import (
    NotificationOutbox,
    VolunteerCertificate,
    VolunteerShift,
    VolunteerSignup,
)

FORMAT_VERSION = 1

ABOUT = (
    "本文件是平台保存的该学生个人信息的副本（《个人信息保护法》第四十五条）：学籍名册信息、"
    "微信绑定与家长关联、同意记录（含历次变更）、到馆签到及扫码记录、写实记录及其变更历史、"
    "证明材料的说明（文件本身另行打包下载）、预约、竞赛报名、志愿服务、后备人才跟踪，"
    "以及查看或导出该学生信息的审计记录。不含其他学生的任何信息；绑定码、家长关联码等"
    "用于绑定账号的凭据不在副本中。"
)


def _row(obj: SQLModel, *, drop: Iterable[str] = ()) -> dict[str, Any]:
    return obj.model_dump(mode="json", exclude=set(drop))


def _rows(objs: Iterable[SQLModel], *, drop: Iterable[str] = ()) -> list[dict[str, Any]]:
    return [_row(o, drop=drop) for o in objs]


def child_for_copy(session: Session, *, principal: Principal, today: date) -> Student:
    """The pupil a copy is about: the acting principal's pupil (a guardian's link was checked
    by :data:`scipass.roster.acting.ActingStudent`); a pupil under 14 is refused."""
    student = session.get(Student, principal.student_id) if principal.student_id else None
    if student is None or not still_theirs(principal, student):
        raise StudentNotFound()
    if principal.role is Role.student and is_under_14(student.birth_month, today):
        raise CopyThroughGuardian()
    return student


def still_theirs(principal: Principal, student: Student) -> bool:
    """A pupil's token still names their own binding (the school may have unbound it since
    the token was issued); a guardian's link is checked where the child is chosen."""
    if principal.role is Role.student:
        return student.wechat_user_id is not None and (
            student.wechat_user_id == principal.wechat_user_id
        )
    return True


def _bindings(session: Session, student: Student, principal: Principal) -> dict[str, Any]:
    user = session.get(WeChatUser, student.wechat_user_id) if student.wechat_user_id else None
    links = session.exec(
        select(GuardianLink)
        .where(GuardianLink.student_id == student.id)
        .order_by(col(GuardianLink.id))
    ).all()
    return {
        "wechat": None
        if user is None
        else {
            "bound_at": student.bound_at.isoformat() if student.bound_at else None,
            "openid": user.openid,
            "unionid": user.unionid,
            "created_at": user.created_at.isoformat(),
            "last_login_at": user.last_login_at.isoformat(),
        },
        # another guardian is named by relation only, not by account
        "guardians": [
            {
                **_row(link, drop=("guardian_id", "student_id")),
                "is_requester": principal.subject == f"wechat:{link.guardian_id}",
            }
            for link in links
        ],
    }


def _visits(session: Session, student_id: int, objects: trail.Objects) -> dict[str, Any]:
    visits = session.exec(
        select(CheckIn).where(CheckIn.student_id == student_id).order_by(col(CheckIn.entered_at))
    ).all()
    scans = session.exec(
        select(ScanEvent)
        .where(ScanEvent.student_id == student_id)
        .order_by(col(ScanEvent.server_time), col(ScanEvent.id))
    ).all()
    titles = {
        a.id: a.title
        for a in session.exec(
            select(Activity).where(col(Activity.id).in_({v.activity_id for v in visits}))
        ).all()
    }
    by_visit: dict[int | None, list[dict[str, Any]]] = {}
    for scan in scans:
        by_visit.setdefault(scan.check_in_id, []).append(_row(scan, drop=("student_id",)))
    cards = session.exec(select(PersonalCard).where(PersonalCard.student_id == student_id)).all()
    objects.add("check_in", (v.id for v in visits))
    objects.add("personal_card", (c.id for c in cards))
    objects.visited_activities.update(str(v.activity_id) for v in visits)
    return {
        "visits": [
            {
                **_row(v, drop=("student_id",)),
                "activity_title": titles.get(v.activity_id),
                "scans": by_visit.get(v.id, []),
            }
            for v in visits
        ],
        "other_scans": [
            s for key, group in by_visit.items() if key not in {v.id for v in visits} for s in group
        ],
        "personal_cards": _rows(cards, drop=("nonce", "student_id")),
    }


def _reservations(
    session: Session, student_id: int, objects: trail.Objects
) -> list[dict[str, Any]]:
    own = session.exec(
        select(Reservation, TimeSlot)
        .join(TimeSlot, col(TimeSlot.id) == Reservation.slot_id)
        .where(Reservation.student_id == student_id)
    ).all()
    groups = session.exec(
        select(Reservation, TimeSlot)
        .join(ReservationMember, col(ReservationMember.reservation_id) == Reservation.id)
        .join(TimeSlot, col(TimeSlot.id) == Reservation.slot_id)
        .where(
            ReservationMember.student_id == student_id,
            or_(col(Reservation.student_id).is_(None), col(Reservation.student_id) != student_id),
        )
    ).all()
    objects.add("reservation", (r.id for r, _ in own))

    def slot(s: TimeSlot) -> dict[str, Any]:
        return {
            "venue_id": s.venue_id,
            "starts_at": s.starts_at.isoformat(),
            "ends_at": s.ends_at.isoformat(),
        }

    shown = [{**_row(r, drop=("student_id", "idempotency_key")), "slot": slot(s)} for r, s in own]
    # a group's reservation: only what concerns this pupil's place in it
    shown += [
        {
            "id": r.id,
            "kind": r.kind,
            "school_id": r.school_id,
            "group_label": r.group_label,
            "status": r.status,
            "created_at": r.created_at.isoformat(),
            "cancelled_at": r.cancelled_at.isoformat() if r.cancelled_at else None,
            "slot": slot(s),
        }
        for r, s in groups
    ]
    return sorted(shown, key=lambda item: (item["slot"]["starts_at"], item["id"]))


ENTRY_FIELDS = (
    "id",
    "number",
    "edition_id",
    "division_id",
    "round_id",
    "school_id",
    "title",
    "abstract",
    "attachment_media_type",
    "attachment_size",
    "attachment_name",
    "status",
    "registered_by_kind",
    "created_at",
    "submitted_at",
    "withdrawn_at",
    "updated_at",
)


def _entries(session: Session, student_id: int, objects: trail.Objects) -> list[dict[str, Any]]:
    memberships = session.exec(
        select(EntryMember)
        .where(EntryMember.student_id == student_id)
        .order_by(col(EntryMember.id))
    ).all()
    entry_ids = [m.entry_id for m in memberships]
    entries = {e.id: e for e in session.exec(select(Entry).where(col(Entry.id).in_(entry_ids)))}
    rounds = session.exec(
        select(RoundEntry)
        .where(col(RoundEntry.entry_id).in_(entry_ids))
        .order_by(col(RoundEntry.id))
    ).all()
    results = session.exec(
        select(Result).where(col(Result.entry_id).in_(entry_ids)).order_by(col(Result.id))
    ).all()
    objects.add("competition_entry", entry_ids)
    shown = []
    for member in memberships:
        entry = entries[member.entry_id]
        shown.append(
            {
                **_row(entry, drop=set(Entry.model_fields) - set(ENTRY_FIELDS)),
                "membership": _row(member, drop=("student_id", "joined_by")),
                "rounds": _rows(
                    (r for r in rounds if r.entry_id == entry.id), drop=("school_decided_by",)
                ),
                "results": _rows(
                    (r for r in results if r.entry_id == entry.id and r.status != "draft"),
                    drop=("entered_by",),
                ),
            }
        )
    return shown


def _volunteering(session: Session, student_id: int, objects: trail.Objects) -> dict[str, Any]:
    signups = session.exec(
        select(VolunteerSignup, VolunteerShift)
        .join(VolunteerShift, col(VolunteerShift.id) == VolunteerSignup.shift_id)
        .where(VolunteerSignup.student_id == student_id)
        .order_by(col(VolunteerShift.starts_at), col(VolunteerSignup.id))
    ).all()
    certificates = session.exec(
        select(VolunteerCertificate)
        .where(VolunteerCertificate.student_id == student_id)
        .order_by(col(VolunteerCertificate.id))
    ).all()
    notifications = session.exec(
        select(NotificationOutbox)
        .where(NotificationOutbox.student_id == student_id)
        .order_by(col(NotificationOutbox.id))
    ).all()
    objects.add("volunteer_signup", (s.id for s, _ in signups))
    objects.add("volunteer_certificate", (c.id for c in certificates))
    return {
        "signups": [
            {
                **_row(s, drop=("student_id", "idempotency_key")),
                "shift": {
                    "venue_id": shift.venue_id,
                    "school_id": shift.school_id,
                    "place": shift.place,
                    "starts_at": shift.starts_at.isoformat(),
                    "ends_at": shift.ends_at.isoformat(),
                },
            }
            for s, shift in signups
        ],
        "certificates": _rows(certificates, drop=("student_id",)),
        "notifications": _rows(notifications, drop=("student_id",)),
    }


def data_copy(session: Session, *, principal: Principal, now: datetime) -> dict[str, Any]:
    """The copy of everything held about the principal's pupil; audited
    (``child_data_copied``, with how many items of each category it held)."""
    student = child_for_copy(session, principal=principal, today=local_date(now))
    student_id = student.id or 0
    school = session.get(School, student.school_id)
    guardians = session.exec(
        select(GuardianLink.guardian_id).where(GuardianLink.student_id == student_id)
    ).all()
    family = {f"wechat:{g}" for g in guardians}
    if student.wechat_user_id:
        family.add(f"wechat:{student.wechat_user_id}")
    objects = trail.Objects()
    objects.add("student", [student_id])
    consents = session.exec(
        select(ConsentRecord)
        .where(ConsentRecord.student_id == student_id)
        .order_by(col(ConsentRecord.recorded_at), col(ConsentRecord.id))
    ).all()
    tracking = session.exec(
        select(TalentTracking).where(TalentTracking.student_id == student_id)
    ).all()
    objects.add("talent_tracking", (t.id for t in tracking))
    visits = _visits(session, student_id, objects)
    records = record_copy.records_of(session, student_id=student_id, family=family)
    objects.add("participation_record", [*records.record_ids, f"student:{student_id}"])
    objects.add("record_evidence", records.evidence_ids)
    document: dict[str, Any] = {
        "about": {
            "format_version": FORMAT_VERSION,
            "generated_at": now.isoformat(),
            "requested_by_role": principal.role.value,
            "description": ABOUT,
        },
        "student": {
            **_row(student, drop=("binding_code", "guardian_code", "wechat_user_id")),
            "school_name": school.name if school else None,
        },
        "bindings": _bindings(session, student, principal),
        "consents": _rows(consents, drop=("student_id",)),
        **visits,
        "records": records.items,
        "reservations": _reservations(session, student_id, objects),
        "competition_entries": _entries(session, student_id, objects),
        "volunteering": _volunteering(session, student_id, objects),
        "talent_tracking": _rows(tracking, drop=("student_id",)),
    }
    document["audit_entries"] = trail.entries(
        session,
        student=student,
        school_region=school.region_code if school else "",
        objects=objects,
        family=family,
    )
    counts = {key: len(value) for key, value in document.items() if isinstance(value, list)}
    audit_service.record(
        session,
        action=audit_service.Action.child_data_copied,
        at=now,
        actor=principal,
        object_type="student",
        object_id=student_id,
        school_id=student.school_id,
        region_code=school.region_code if school else None,
        counts=counts,
    )
    return document
