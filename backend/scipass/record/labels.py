"""Chinese labels of record fields, as schools and provincial platforms write them."""

from __future__ import annotations

from scipass.record.models import (
    ConfirmedAs,
    Dimension,
    RecordCategory,
    RecordRole,
    RecordSource,
    RecordStatus,
    ReflectionBy,
)

CATEGORY = {
    RecordCategory.science_visit: "科普场馆参观与研学",
    RecordCategory.course_lecture: "科学课程与讲座",
    RecordCategory.inquiry: "科学探究与研究性学习",
    RecordCategory.competition: "科技竞赛",
    RecordCategory.volunteer: "志愿服务",
    RecordCategory.other: "其他科学实践",
}
DIMENSION = {
    Dimension.moral: "思想品德",
    Dimension.academic: "学业水平",
    Dimension.health: "身心健康",
    Dimension.art: "艺术素养",
    Dimension.social_practice: "社会实践",
}
ROLE = {
    RecordRole.participant: "参与者",
    RecordRole.contestant: "参赛选手",
    RecordRole.volunteer: "志愿者",
    RecordRole.science_guide: "小小科普辅导员",
    RecordRole.presenter: "展示者",
    RecordRole.organiser: "组织者",
    RecordRole.other: "其他",
}
STATUS = {
    RecordStatus.pending: "待组织方确认",
    RecordStatus.confirmed: "组织方已确认",
    RecordStatus.reviewed: "学校已审核",
    RecordStatus.publicised: "公示中",
    RecordStatus.archived: "已归档",
    RecordStatus.rejected: "未通过",
    RecordStatus.withdrawn: "已撤回",
    RecordStatus.voided: "已作废",
}
# Marks shown beside a record wherever it appears (the record, the notice list, the exports)
# when someone other than the pupil gave the pupil's side of it.
REFLECTION_BY = {ReflectionBy.student: "", ReflectionBy.guardian: "家长代填"}
CONFIRMED_AS = {
    ConfirmedAs.student: "",
    ConfirmedAs.guardian: "家长代为确认",
    ConfirmedAs.teacher: "教师代为确认",
}


def marks(confirmed_as: str | None, reflection_by: str | None) -> str:
    """The marks of a record, as one cell ("家长代为确认；家长代填"), empty for a pupil's own."""
    found = [
        label(CONFIRMED_AS, confirmed_as) if confirmed_as else "",
        label(REFLECTION_BY, reflection_by) if reflection_by else "",
    ]
    return "；".join(text for text in found if text)


# The national rule that competition results are no basis for school admission
# (教育部全国性竞赛活动管理规定; DOMAIN-NOTES §1.6), worded once: the competition package
# states it wherever a competition or its result is shown, and imports it from here.
NOT_FOR_ADMISSION = "竞赛结果不作为中小学招生入学的依据"

# What a record states wherever it is shown (the record, exports, the PDF file), by its
# source.
SOURCE_NOTE: dict[str, str] = {RecordSource.competition: NOT_FOR_ADMISSION}


def source_note(source: str) -> str:
    """The fixed note of a record of ``source`` (empty for most sources)."""
    return SOURCE_NOTE.get(source, "")


def outcome_with_note(outcome: str, source: str) -> str:
    """The outcome cell of an export or file: the outcome, and the source's note if any."""
    note = source_note(source)
    if not note:
        return outcome
    return f"{outcome}（{note}）" if outcome else note


_GRADES = ("一", "二", "三", "四", "五", "六", "七", "八", "九")
SEMESTER = {"autumn": "第一学期", "spring": "第二学期"}


def class_label(grade_value: int, class_name: str) -> str:
    """年级与班级, as 四年级1班."""
    return f"{grade(grade_value)}{class_name}"


def grade(value: int) -> str:
    """一年级 … 九年级, 高一 … 高三."""
    if 1 <= value <= 9:
        return f"{_GRADES[value - 1]}年级"
    if 10 <= value <= 12:
        return f"高{_GRADES[value - 10]}"
    return str(value)


def label(table: dict, value: str) -> str:
    """The label of a stored enum value (the value itself if it is unknown). The tables are
    keyed by StrEnum members, which hash and compare as their values: one lookup, which an
    export makes four times a row."""
    return table.get(value, value)


def mask_phone(phone: str) -> str:
    """138****8000; a landline keeps its area code and last four digits."""
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) == 11 and digits.isdigit():
        return digits[:3] + "****" + digits[-4:]
    return digits[: max(0, len(digits) - 8)] + "****" + digits[-4:]
