"""Guardian consent for students under 14 (DESIGN.md, "Minors"; PIPL art. 28 and 31), and
for volunteering under 18 (中国注册志愿者管理办法; DOMAIN-NOTES §1.5).

Only the birth year and month are known, so a student counts as under 14 until the end of the
month of their 14th birthday: the rule errs on the side of asking. Each purpose is asked below
an age (:data:`ASKED_UNDER`): 14 for all but ``volunteering``, asked below 18. Consent is per
purpose and append-only; the latest decision for a purpose is the one in force, so a withdrawal
stops new processing from that moment and the history stays. A withdrawal (or a refusal) also
deletes, in the same transaction, what was kept for the purpose (:mod:`scipass.consent.effects`).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
)
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.consent import effects, notices
from scipass.consent.errors import ConsentRequired, NoticeOutdated
from scipass.consent.models import Channel, ConsentRecord, Decision, Purpose
from scipass.consent.notices import NoticeVersion
from scipass.core.auth import Principal
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.roster.models import GuardianLink, Student

# The version a grant must answer (the last of :data:`scipass.consent.notices.NOTICES`);
# which earlier grants still count is decided there, version by version.
NOTICE_VERSION = notices.current().version
# The age below which a purpose needs a guardian's consent.
ASKED_UNDER: dict[Purpose, int] = {Purpose.volunteering: 18}
CHILD_AGE = 14
NOTICE_TITLE = "科学实践护照儿童个人信息保护告知书"
NOTICE_TEXT = """\
为记录孩子参加科技馆参观、科学课程、科技竞赛和志愿服务等科学实践活动，并按学校要求纳入综合素质评价，
科学实践护照需要处理孩子的以下信息。未满 14 周岁儿童的个人信息属于敏感个人信息，须经您单独同意。

一、处理目的与范围（可逐项同意或拒绝）
1. 活动记录（participation_record）：签到时间、活动名称、时长、获奖情况，形成写实记录；
2. 评价导出（record_export）：学校将审核、公示后的记录导出到综合素质评价平台；
   未同意此项时，学校和教育局导出到该平台的文件不含孩子的记录（整条略去，不作标注），
   学校可看到未同意的名单并联系您；孩子本人或您自己下载的记录和档案不受影响；
3. 位置（location）：扫码签到时核对是否在场馆范围内；拒绝后可由工作人员扫码签到；
4. 照片（photos）：孩子或学校上传的活动照片、证书作为证明材料；
5. 通知（notifications）：活动提醒与审核结果的微信订阅消息；
6. 志愿服务（volunteering）：报名场馆或学校的志愿服务岗位（小小志愿者、小小科普辅导员等），
   记录报名、到岗和服务时长。未满 18 周岁的学生报名志愿服务均须监护人同意，
   可在小程序中同意，或签署纸质同意书由学校登记。

二、我们只收集学校名册中的学号、姓名、性别、出生年月、年级和班级，不收集身份证号。
三、存储：信息存储在中华人民共和国境内；位置等原始数据在记录公示结束后 180 天内删除，
    写实记录保存至毕业后学校规定的期限。
四、您可以随时在小程序中撤回同意，撤回后不再产生新的记录；也可以要求更正或删除孩子的信息。
五、拒绝同意的后果：相应功能不可用，不影响孩子在学校的正常学习。
六、联系我们：学校的个人信息保护负责人，或平台运营方的儿童个人信息保护专员。
"""


def is_under(birth_month: date, today: date, age: int) -> bool:
    """Whether the student may still be under ``age`` (until the end of the birthday month)."""
    year, month = birth_month.year + age, birth_month.month + 1
    if month == 13:
        year, month = year + 1, 1
    return today < date(year, month, 1)


def is_under_14(birth_month: date, today: date) -> bool:
    return is_under(birth_month, today, CHILD_AGE)


def asked_under(purpose: Purpose) -> int:
    return ASKED_UNDER.get(purpose, CHILD_AGE)


def needs_consent(birth_month: date, purpose: Purpose, today: date) -> bool:
    """Whether processing a student of this age for ``purpose`` needs a guardian's consent."""
    return is_under(birth_month, today, asked_under(purpose))


def needs_consent_clause(birth_month: Any, purpose: Purpose, today: date) -> ColumnElement[bool]:
    """:func:`needs_consent` as an SQL expression of a birth month (the 1st of the month)."""
    return under_clause(birth_month, asked_under(purpose), today)


def under_clause(birth_month: Any, age: int, today: date) -> ColumnElement[bool]:
    """:func:`is_under` as an SQL expression of a birth month (the 1st of the month): still
    under the age until the end of the birthday month, i.e. born in or after the month ``age``
    years before this one."""
    return birth_month >= date(today.year - age, today.month, 1)


def lacks_consent_clause(
    student_id: Any, birth_month: Any, purpose: Purpose, today: date
) -> ColumnElement[bool]:
    """:func:`has_consent` negated, as an SQL expression: the student's age needs a guardian's
    consent for ``purpose`` and no grant that counts is in force (:func:`in_force_clause`)."""
    return and_(
        needs_consent_clause(birth_month, purpose, today),
        not_(in_force_clause(student_id, purpose.value, today)),
    )


def latest_decision_clause(
    student_id: Any, purpose: Purpose, *, before: datetime | None = None
) -> Any:
    """The latest decision for ``purpose`` (``grant``, ``refuse``, ``withdraw``; NULL without
    one) as a scalar SQL expression, whether or not it counts; with ``before``, the latest
    recorded before that instant (the decision in force then)."""
    return (
        select(_RECORDS.c.decision)
        .where(
            _RECORDS.c.student_id == student_id,
            _RECORDS.c.purpose == purpose.value,
            *_recorded_before(before),
        )
        .order_by(_RECORDS.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def decisions(session: Session, student_id: int) -> dict[Purpose, ConsentRecord]:
    """The decision in force for each purpose that has one."""
    latest = (
        select(ConsentRecord.purpose, func.max(ConsentRecord.id).label("id"))
        .where(ConsentRecord.student_id == student_id)
        .group_by(ConsentRecord.purpose)
        .subquery()
    )
    rows = session.exec(
        select(ConsentRecord).join(latest, col(ConsentRecord.id) == latest.c.id)
    ).all()
    return {Purpose(row.purpose): row for row in rows}


def in_force(session: Session, *, student_id: int, purpose: Purpose, today: date) -> bool:
    """Whether the decision in force for ``purpose`` is a grant that counts on ``today``: the
    notice it answers still covers the purpose (:mod:`scipass.consent.notices`), and its
    guardian is still linked (a paper form recorded by the school has no link). One
    statement, built once per notice table."""
    params = {"student_id": student_id, "purpose": purpose.value, "today": today}
    statement = _in_force_statement(notices.NOTICES)
    return bool(session.connection().execute(statement, params).scalar_one())


_RECORDS = ConsentRecord.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
_LINKS = GuardianLink.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


def in_force_clause(
    student_id: Any, purpose: Any, today: Any, *, before: datetime | None = None
) -> ColumnElement[bool]:
    """:func:`in_force` as an SQL expression of a student id, a purpose and the Beijing date
    (SQL expressions or values), for a statement that reads it with other things: the latest
    decision for the purpose (by the index on student, purpose and id), judged; false without
    one. With ``before`` (an instant; ``today`` is then its Beijing date), as it stood then:
    only decisions recorded before it, and a guardian's link unless revoked before it (the
    yearly audit report, :mod:`scipass.privacy.report`)."""
    linked = (
        _LINKS.c.revoked_at.is_(None)
        if before is None
        else or_(_LINKS.c.revoked_at.is_(None), _LINKS.c.revoked_at >= before)
    )
    latest = (
        select(
            and_(
                _RECORDS.c.decision == Decision.grant.value,
                _answers_a_notice_in_force(today),
                or_(
                    _RECORDS.c.guardian_link_id.is_(None),
                    exists().where(_LINKS.c.id == _RECORDS.c.guardian_link_id, linked),
                ),
            )
        )
        .where(
            _RECORDS.c.student_id == student_id,
            _RECORDS.c.purpose == purpose,
            *_recorded_before(before),
        )
        .order_by(_RECORDS.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(latest, false())


def _recorded_before(before: datetime | None) -> list[ColumnElement[bool]]:
    return [] if before is None else [_RECORDS.c.recorded_at < before]


def _answers_a_notice_in_force(today: Any) -> ColumnElement[bool]:
    """The record answers a notice that still covers its purpose on ``today`` (a date, or an
    SQL expression of one): the table of :mod:`scipass.consent.notices`, written out."""
    terms: list[ColumnElement[bool]] = []
    for notice in notices.NOTICES:
        kept = notices.carried(notice.version)
        assert kept is not None  # a listed version
        version = _RECORDS.c.notice_version == notice.version
        if kept.always:
            terms.append(and_(version, _RECORDS.c.purpose.in_(sorted(kept.always))))
        for purpose, deadline in sorted(kept.until.items()):
            if isinstance(today, date):  # judged here: the statement stays small
                if today <= deadline:
                    terms.append(and_(version, _RECORDS.c.purpose == purpose.value))
            else:
                terms.append(
                    and_(
                        version,
                        _RECORDS.c.purpose == purpose.value,
                        today <= literal(deadline, Date),
                    )
                )
    return or_(*terms) if terms else false()


@lru_cache(maxsize=4)
def _in_force_statement(table: tuple[NoticeVersion, ...]) -> Any:
    """:func:`in_force`'s statement for the notice table in force (``table`` is its key)."""
    del table
    return select(
        in_force_clause(
            bindparam("student_id"), bindparam("purpose"), bindparam("today", type_=Date)
        )
    )


@lru_cache(maxsize=8)
def pg_in_force(
    student_id_sql: str, purpose: Purpose, today_sql: str, table: tuple[NoticeVersion, ...]
) -> str:
    """:func:`in_force_clause` as PostgreSQL text, for a statement written by hand (the
    check-in batch's one read of all its scans): ``student_id_sql`` and ``today_sql`` are that
    statement's SQL for the student's id and the Beijing date; ``table`` is the notice table
    (:data:`scipass.consent.notices.NOTICES`, the cache's key). Built from our own values
    only."""
    del table
    clause = in_force_clause(
        literal_column(student_id_sql), purpose.value, literal_column(today_sql, Date)
    )
    compiled = clause.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return str(compiled)


def has_consent(session: Session, *, student: Student, purpose: Purpose, today: date) -> bool:
    if not needs_consent(student.birth_month, purpose, today):
        return True
    return in_force(session, student_id=student.id or 0, purpose=purpose, today=today)


def require_consent(session: Session, *, student: Student, purpose: Purpose, today: date) -> None:
    """Raise ``consent_required`` unless the student may be processed for ``purpose``."""
    if not has_consent(session, student=student, purpose=purpose, today=today):
        raise ConsentRequired(
            detail_zh=f"未满 {asked_under(purpose)} 周岁须监护人同意：请监护人在小程序"
            "“家长”页面阅读告知书并同意，或向学校提交纸质同意书后再试",
            detail_en=f"Under {asked_under(purpose)}, a guardian must consent first: in the "
            "mini-program, or on a paper form the school records",
            purpose=purpose.value,
        )


def lock_pupil(session: Session, student_id: int) -> None:
    """Serialise a withdrawal (or a deletion) with the writers of what it erases (a scan's
    location, an evidence photo). On PostgreSQL the pupil's row is locked ``FOR UPDATE``: that
    waits for every transaction holding the row's ``KEY SHARE`` lock (the insert of a scan
    event naming the pupil takes one through its foreign key; an evidence upload takes one with
    :func:`share_pupil` before it reads the consent), so the erasure then sees their rows; and
    a writer that comes later waits for the withdrawal to commit, so it then reads the
    withdrawal (a scan event re-checks its location, :func:`scipass.checkin.views.
    keep_location_only_with_consent`). SQLite begins every write transaction ``IMMEDIATE``:
    writers are serial already, and no lock clause is sent."""
    session.exec(select(Student.id).where(Student.id == student_id).with_for_update())


def share_pupil(session: Session, student_id: int) -> None:
    """The writer's side of :func:`lock_pupil`: hold the pupil's row ``KEY SHARE`` until
    commit (it blocks no ordinary update, only a withdrawal), before reading the consent."""
    session.exec(select(Student.id).where(Student.id == student_id).with_for_update(key_share=True))


_ACTIONS = {
    Decision.grant: audit_service.Action.consent_granted,
    Decision.refuse: audit_service.Action.consent_refused,
    Decision.withdraw: audit_service.Action.consent_withdrawn,
}


def record_decision(
    session: Session,
    *,
    actor: Principal,
    student: Student,
    region_code: str,
    purposes: list[Purpose],
    decision: Decision,
    notice_version: str,
    channel: Channel,
    now: datetime,
    guardian_link_id: int | None = None,
    settings: Settings,
    guardian_name: str | None = None,
) -> list[ConsentRecord]:
    # A grant must answer the notice in force; refusing or withdrawing is always possible,
    # whatever version the guardian's screen still shows. A paper form signed under an earlier
    # version is recorded when that version's grants still count for good for every purpose it
    # grants (an editorial change since): the guardian signed what still applies.
    current = notices.current().version
    if decision is Decision.grant and notice_version != current:
        kept = notices.carried(notice_version)
        on_paper = channel is Channel.paper
        if not (on_paper and kept is not None and set(purposes) <= kept.always):
            raise NoticeOutdated(current_version=current)
    records = [
        ConsentRecord(
            student_id=student.id or 0,
            purpose=purpose.value,
            decision=decision.value,
            notice_version=notice_version,
            channel=channel.value,
            guardian_link_id=guardian_link_id,
            guardian_name=guardian_name,
            recorded_by=actor.subject,
            recorded_at=now,
        )
        for purpose in dict.fromkeys(purposes)
    ]
    if decision is not Decision.grant:
        lock_pupil(session, student.id or 0)  # before its effects erase anything
    session.add_all(records)
    session.flush()
    audit_service.record(
        session,
        action=_ACTIONS[decision],
        at=now,
        actor=actor,
        object_type="student",
        object_id=student.id,
        school_id=student.school_id,
        region_code=region_code,
        purposes=[p.value for p in dict.fromkeys(purposes)],
        channel=channel.value,
        notice_version=notice_version,
    )
    if decision is not Decision.grant:
        today = local_date(now)
        effects.on_withdrawn(
            session,
            actor=actor,
            student_id=student.id or 0,
            school_id=student.school_id,
            region_code=region_code,
            purposes=[p for p in purposes if needs_consent(student.birth_month, p, today)],
            now=now,
            settings=settings,
        )
    return records


def history(session: Session, student_id: int) -> list[ConsentRecord]:
    return list(
        session.exec(
            select(ConsentRecord)
            .where(ConsentRecord.student_id == student_id)
            .order_by(col(ConsentRecord.id).desc())
        ).all()
    )
