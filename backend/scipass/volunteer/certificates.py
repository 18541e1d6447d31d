"""志愿服务记录证明 (issue 18 point 7): a venue certifies a pupil's service over a period.

* Fields of 民发〔2015〕149号: the volunteer's identity (name and school; no ID number is
  held, so none is printed), the service (hours and content, per role), the issuer (the
  venue, its person in charge, the handler, a contact), a certificate number and the date.
* Issued only from confirmed shifts (谁记录谁证明: the venue's own) whose confirmation has been
  public within the venue for the publicity period (``SCIPASS_VOLUNTEER_PUBLICITY_DAYS``,
  default 7), and whose record still counts.
* Numbers are drawn with :mod:`secrets` (80 bits): the public verification endpoint answers
  ``valid``, ``voided`` or ``unknown`` and, for a known number, only a masked name.
* Voiding: a certificate is ``voided`` as soon as one of its records is voided (an archived
  record replaced by a school's correction), rejected or withdrawn. This is read from the
  records through the record package's service (:func:`scipass.record.service.statuses_of`)
  whenever a certificate is read, verified or a new one is asked for, so no writer of
  records has to know certificates exist (the record package never imports volunteering);
  the row's ``status`` and ``voided_at`` are brought up to date when a new certificate is
  issued for the same pupil. A voided certificate does not block a new one.
* A new certificate counts a voided record's correction (the school's new record that
  replaces it) in its place, with the corrected minutes.
* Issuing is audited (``volunteer_certificate_issued``).
"""

from __future__ import annotations

import base64
import io
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.checkin import render
from scipass.core import pdf_fonts
from scipass.core.auth import SCHOOL_ROLES, VENUE_ROLES, Principal, Role
from scipass.core.clock import SHANGHAI, local_date
from scipass.core.config import Settings
from scipass.core.db import flush_unique
from scipass.core.errors import Conflict, Forbidden, ValidationFailed
from scipass.core.pdf_fonts import MixedText
from scipass.org.models import School, Venue
from scipass.record import service as record_service
from scipass.record.models import RecordStatus
from scipass.roster.models import Student
from scipass.roster.visibility import mask_name
from scipass.volunteer.errors import CertificateExists, CertificateNotFound, NothingToCertify
from scipass.volunteer.hours import hours
from scipass.volunteer.models import (
    CertificateStatus,
    SignupStatus,
    VolunteerCertificate,
    VolunteerCertificateItem,
    VolunteerRole,
    VolunteerShift,
    VolunteerSignup,
)
from scipass.volunteer.schemas import (
    CertificateCheck,
    CertificateCreate,
    CertificateLine,
    CertificateRead,
)

VOIDING = (RecordStatus.voided.value, RecordStatus.rejected.value, RecordStatus.withdrawn.value)
NUMBER_BYTES = 10  # 80 bits, 16 base32 characters


def new_number(issued: date) -> str:
    """``ZYFW-<year>-<16 base32 characters>``: the year for people, the rest unguessable."""
    random = base64.b32encode(secrets.token_bytes(NUMBER_BYTES)).decode("ascii")
    return f"ZYFW-{issued.year}-{random}"


def _window(from_date: date, to_date: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(from_date, time(0), SHANGHAI),
        datetime.combine(to_date + timedelta(days=1), time(0), SHANGHAI),
    )


def current_status(session: Session, certificate: VolunteerCertificate) -> str:
    """``voided`` once it was voided, or once one of its records no longer counts."""
    if certificate.status == CertificateStatus.voided:
        return CertificateStatus.voided.value
    record_ids = session.exec(
        select(VolunteerCertificateItem.record_id).where(
            VolunteerCertificateItem.certificate_id == certificate.id
        )
    ).all()
    statuses = record_service.statuses_of(session, list(record_ids))
    if any(status in VOIDING for status in statuses.values()):
        return CertificateStatus.voided.value
    return CertificateStatus.valid.value


def _bring_up_to_date(session: Session, certificate: VolunteerCertificate, now: datetime) -> str:
    status = current_status(session, certificate)
    if status == CertificateStatus.voided and certificate.status != status:
        certificate.status = status
        certificate.voided_at = now
        certificate.void_reason = "所依据的写实记录已作废"
        session.add(certificate)
    return status


@dataclass(frozen=True, slots=True)
class Counted:
    signup: VolunteerSignup
    role: VolunteerRole
    record: record_service.InForce


def _eligible(
    session: Session,
    *,
    venue_id: int,
    student_id: int,
    from_date: date,
    to_date: date,
    settings: Settings,
    now: datetime,
) -> list[Counted]:
    """The pupil's shifts at the venue in the period that may be certified: confirmed, past
    the publicity period, with their record in force (a voided record's correction counts in
    its place, with the corrected minutes)."""
    start, end = _window(from_date, to_date)
    published_before = now - timedelta(days=settings.volunteer_publicity_days)
    rows = session.exec(
        select(VolunteerSignup, VolunteerShift, VolunteerRole)
        .join(VolunteerShift, col(VolunteerShift.id) == VolunteerSignup.shift_id)
        .join(VolunteerRole, col(VolunteerRole.id) == VolunteerSignup.role_id)
        .where(
            VolunteerShift.venue_id == venue_id,
            VolunteerSignup.student_id == student_id,
            VolunteerSignup.status == SignupStatus.attended.value,
            col(VolunteerSignup.confirmed_minutes) > 0,
            col(VolunteerSignup.record_id).is_not(None),
            col(VolunteerSignup.confirmed_at) <= published_before,
            col(VolunteerShift.starts_at) >= start,
            col(VolunteerShift.starts_at) < end,
        )
        .order_by(col(VolunteerShift.starts_at))
    ).all()
    current = record_service.in_force(session, [s.record_id or 0 for s, _sh, _r in rows])
    return [
        Counted(signup, role, current[signup.record_id or 0])
        for signup, _shift, role in rows
        if signup.record_id in current and current[signup.record_id or 0].minutes > 0
    ]


def issue(
    session: Session,
    *,
    settings: Settings,
    actor: Principal,
    data: CertificateCreate,
    now: datetime,
) -> VolunteerCertificate:
    """A venue's staff issue a pupil's certificate for a period."""
    if actor.venue_id is None:
        raise Forbidden("只有场馆可以出具志愿服务记录证明", "Only a venue issues certificates")
    if data.to_date < data.from_date:
        raise ValidationFailed("结束日期不能早于开始日期", "The period ends before it starts")
    student = session.get(Student, data.student_id)
    rows = (
        _eligible(
            session,
            venue_id=actor.venue_id,
            student_id=data.student_id,
            from_date=data.from_date,
            to_date=data.to_date,
            settings=settings,
            now=now,
        )
        if student is not None
        else []
    )
    if student is None or not rows:
        raise NothingToCertify()
    signup_ids = {row.signup.id for row in rows}
    earlier = session.exec(
        select(VolunteerCertificate).where(
            VolunteerCertificate.student_id == student.id,
            VolunteerCertificate.venue_id == actor.venue_id,
            VolunteerCertificate.status == CertificateStatus.valid.value,
        )
    ).all()
    for certificate in earlier:
        if _bring_up_to_date(session, certificate, now) != CertificateStatus.valid:
            continue
        covered = session.exec(
            select(VolunteerCertificateItem.signup_id).where(
                VolunteerCertificateItem.certificate_id == certificate.id
            )
        ).all()
        if signup_ids & set(covered):
            raise CertificateExists(number=certificate.number, certificate_id=certificate.id)
    lines: dict[int, dict[str, Any]] = defaultdict(dict)
    for row in rows:
        line = lines[row.role.id or 0]
        line.setdefault("role_name", row.role.name)
        line.setdefault("content", row.role.duties or row.role.description)
        line["minutes"] = line.get("minutes", 0) + row.record.minutes
        line["times"] = line.get("times", 0) + 1
    minutes = sum(line["minutes"] for line in lines.values())
    for _attempt in range(3):
        certificate = VolunteerCertificate(
            number=new_number(local_date(now)),
            student_id=student.id or 0,
            school_id=student.school_id,
            venue_id=actor.venue_id,
            from_date=data.from_date,
            to_date=data.to_date,
            minutes=minutes,
            times=len(rows),
            content=list(lines.values()),
            person_in_charge=data.person_in_charge.strip(),
            handler=data.handler.strip(),
            contact=data.contact.strip(),
            issued_by=actor.subject,
            issued_at=now,
        )
        session.add(certificate)
        try:
            flush_unique(session, Conflict())
        except Conflict:  # pragma: no cover - 80 random bits drawn twice
            session.expunge(certificate)
            continue
        break
    for row in rows:
        session.add(
            VolunteerCertificateItem(
                certificate_id=certificate.id or 0,
                signup_id=row.signup.id or 0,
                record_id=row.record.id or 0,
            )
        )
    session.flush()
    audit_service.record(
        session,
        action=audit_service.Action.volunteer_certificate_issued,
        at=now,
        actor=actor,
        object_type="volunteer_certificate",
        object_id=certificate.id,
        school_id=student.school_id,
        student_id=student.id,
        number=certificate.number,
        minutes=minutes,
        signup_ids=sorted(s for s in signup_ids if s is not None),
    )
    return certificate


def readable(session: Session, *, actor: Principal, certificate_id: int) -> VolunteerCertificate:
    """A certificate its venue, the pupil (or a guardian acting for them) or the pupil's
    school may read; 404 otherwise."""
    certificate = session.get(VolunteerCertificate, certificate_id)
    if certificate is None:
        raise CertificateNotFound()
    allowed = (
        actor.role is Role.platform_admin
        or (actor.role in VENUE_ROLES and actor.venue_id == certificate.venue_id)
        or (actor.role in SCHOOL_ROLES and actor.school_id == certificate.school_id)
        or (
            actor.role in (Role.student, Role.guardian)
            and actor.student_id == certificate.student_id
        )
    )
    if not allowed:
        raise CertificateNotFound()
    return certificate


def verify_url(settings: Settings, number: str) -> str:
    return settings.certificate_verify_base + number


@dataclass(frozen=True, slots=True)
class Shown:
    certificate: VolunteerCertificate
    student_name: str
    school_name: str
    venue_name: str
    status: str


def shown(session: Session, certificate: VolunteerCertificate) -> Shown:
    student = session.get(Student, certificate.student_id)
    school = session.get(School, certificate.school_id)
    venue = session.get(Venue, certificate.venue_id)
    return Shown(
        certificate,
        student.name if student else "",
        school.name if school else "",
        venue.name if venue else "",
        current_status(session, certificate),
    )


def read_of(settings: Settings, found: Shown) -> CertificateRead:
    c = found.certificate
    return CertificateRead(
        id=c.id or 0,
        number=c.number,
        student_id=c.student_id,
        student_name=found.student_name,
        school_name=found.school_name,
        venue_name=found.venue_name,
        from_date=c.from_date,
        to_date=c.to_date,
        minutes=c.minutes,
        hours=hours(c.minutes),
        times=c.times,
        lines=[
            CertificateLine(
                role_name=line["role_name"],
                content=line["content"],
                minutes=line["minutes"],
                hours=hours(line["minutes"]),
                times=line["times"],
            )
            for line in c.content
        ],
        person_in_charge=c.person_in_charge,
        handler=c.handler,
        contact=c.contact,
        status=found.status,
        issued_at=c.issued_at,
        verify_url=verify_url(settings, c.number),
    )


def check(session: Session, number: str) -> CertificateCheck:
    """The public verification: valid, voided or unknown, with at most a masked name."""
    certificate = session.exec(
        select(VolunteerCertificate).where(VolunteerCertificate.number == number.strip().upper())
    ).first()
    if certificate is None:
        return CertificateCheck(status="unknown", number=number[:40])
    found = shown(session, certificate)
    return CertificateCheck(
        status=found.status,
        number=certificate.number,
        student_name=mask_name(found.student_name),
        venue_name=found.venue_name,
        hours=hours(certificate.minutes),
        issued_date=local_date(certificate.issued_at),
    )


# --- the PDF ----------------------------------------------------------------------------------


def pdf(settings: Settings, found: Shown) -> bytes:
    """The certificate as an A4 PDF (the Chinese font embedded), with the QR code of its
    verification link."""
    font = pdf_fonts.chinese_font(settings)
    text = MixedText(font.name, font.covered)
    c = found.certificate
    title = ParagraphStyle("title", fontName=font.name, fontSize=20, leading=28, alignment=1)
    body = ParagraphStyle("body", fontName=font.name, fontSize=11, leading=18, wordWrap="CJK")
    cell = ParagraphStyle("cell", fontName=font.name, fontSize=10, leading=14, wordWrap="CJK")
    period = f"{c.from_date:%Y年%m月%d日} 至 {c.to_date:%Y年%m月%d日}"
    story: list[Any] = [
        Paragraph(text("志愿服务记录证明"), title),
        Spacer(1, 4 * mm),
        Paragraph(text(f"证明编号：{c.number}"), body),
        Paragraph(text(f"志愿者姓名：{found.student_name}"), body),
        Paragraph(text(f"所在学校：{found.school_name}"), body),
        Paragraph(text(f"服务期间：{period}"), body),
        Paragraph(
            text(f"服务时长合计：{hours(c.minutes):g} 小时（{c.minutes} 分钟），共 {c.times} 次"),
            body,
        ),
        Spacer(1, 3 * mm),
    ]
    rows: list[list[Any]] = [
        [Paragraph(text(h), cell) for h in ("服务岗位", "服务内容", "次数", "时长（小时）")]
    ]
    for line in c.content:
        rows.append(
            [
                Paragraph(text(line["role_name"]), cell),
                Paragraph(text(line["content"]), cell),
                Paragraph(text(line["times"]), cell),
                Paragraph(text(f"{hours(line['minutes']):g}"), cell),
            ]
        )
    table = Table(rows, colWidths=[40 * mm, 84 * mm, 18 * mm, 30 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EEF4")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    qr = Image(io.BytesIO(render.qr_png(verify_url(settings, c.number), box_size=4)))
    qr.drawWidth = qr.drawHeight = 32 * mm
    story += [
        table,
        Spacer(1, 5 * mm),
        Paragraph(text(f"出具单位：{found.venue_name}"), body),
        Paragraph(text(f"单位负责人：{c.person_in_charge}"), body),
        Paragraph(text(f"经办人：{c.handler}"), body),
        Paragraph(text(f"联系方式：{c.contact}"), body),
        Paragraph(text(f"出具日期：{local_date(c.issued_at):%Y年%m月%d日}"), body),
        Spacer(1, 4 * mm),
        qr,
        Paragraph(text("扫码核验本证明的真伪与状态"), cell),
        Paragraph(
            text(
                "本证明依据《志愿服务记录与证明出具办法（试行）》出具，服务时长以组织单位确认、"
                "并在本单位公示期满的记录为准。"
            ),
            cell,
        ),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title="志愿服务记录证明",
        author=found.venue_name,
    )
    document.build(story)
    return buffer.getvalue()
