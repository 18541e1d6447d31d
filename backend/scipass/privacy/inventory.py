"""The processing inventory (个人信息处理清单) of pupils' and guardians' personal information,
built from the code's own declaration rather than typed by hand.

Each column that holds such information says so where it is defined:
``Column(..., info=personal(DataCategory.<key>))`` (:mod:`scipass.privacy.categories`;
SQLAlchemy's ``info`` is not part of the schema: no migration, ``alembic check`` ignores it).
:data:`CATEGORIES` says what each category is, what it serves (a consent purpose, or the basis
the platform processes it on without one) and which files outside the database hold it.
:func:`inventory` walks ``SQLModel.metadata`` and lists, per category, the ``table.column``
places that declare it.

The structure test (tests/privacy/test_inventory.py) makes the declaration hard to forget: a
column whose name looks personal (:data:`PERSONAL_NAME`) is either declared or listed in
:data:`NOT_PERSONAL` with the reason, and every category is used somewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Column, MetaData
from sqlmodel import SQLModel

from scipass.consent.models import Purpose
from scipass.privacy.categories import INFO_KEY, DataCategory

# Bases of processing that no consent purpose covers; the wording says what happens, it
# cites no article (the legal frame is the README's and DOMAIN-NOTES §4's).
SCHOOL_DUTY = "学校履行综合素质评价职责（学校名册与评价档案）"
AGE_RULE = "判断是否须监护人同意（未满 14 周岁、志愿服务未满 18 周岁）"
CONSENT_PROOF = "证明已取得监护人同意（同意记录只增不改）"
SECURITY = "安全保障：登录与操作的安全、频率限制"
AUDIT = "合规审计：谁查看、导出、删除了未成年人的信息"
EXPORT_DELIVERY = "向提出导出的用户交付导出文件"


@dataclass(frozen=True, slots=True)
class Category:
    key: DataCategory
    name: str
    purposes: tuple[Purpose, ...] = ()
    bases: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # where it is kept outside the database


CATEGORIES: tuple[Category, ...] = (
    Category(DataCategory.roster_identity, "学籍身份（学号、姓名、性别）", bases=(SCHOOL_DUTY,)),
    Category(DataCategory.birth_month, "出生年月", bases=(SCHOOL_DUTY, AGE_RULE)),
    Category(DataCategory.school_class, "学段、年级、班级", bases=(SCHOOL_DUTY,)),
    Category(
        DataCategory.wechat_identity,
        "微信标识（openid、unionid）与账号绑定",
        bases=("登录与账号绑定（学生本人或监护人的微信账号）",),
    ),
    Category(
        DataCategory.guardian,
        "监护人信息（与学生的关系、纸质同意书上的姓名）",
        bases=(CONSENT_PROOF, "监护人代孩子操作（家庭模式）"),
    ),
    Category(DataCategory.consent, "同意记录（目的、决定、渠道、时间）", bases=(CONSENT_PROOF,)),
    Category(
        DataCategory.location,
        "位置信息（扫码时的经纬度、精度、与场馆的距离）",
        purposes=(Purpose.location,),
    ),
    Category(
        DataCategory.attendance,
        "签到与预约（时间、场馆、活动、结果）",
        purposes=(Purpose.participation_record,),
    ),
    Category(
        DataCategory.participation,
        "写实记录（活动、时长、角色、获奖）",
        purposes=(Purpose.participation_record,),
        bases=(SCHOOL_DUTY,),
    ),
    Category(
        DataCategory.reflection,
        "心得体会（学生本人或家长代填）",
        purposes=(Purpose.participation_record,),
    ),
    Category(
        DataCategory.evidence,
        "证明材料（照片、证书文件及其元数据）",
        purposes=(Purpose.photos,),
        files=("证明材料文件：服务器上传目录（SCIPASS_UPLOAD_DIR）",),
    ),
    Category(
        DataCategory.competition,
        "竞赛报名、作品与成绩",
        purposes=(Purpose.participation_record,),
        files=("竞赛作品附件：服务器上传目录（SCIPASS_UPLOAD_DIR）",),
    ),
    Category(
        DataCategory.volunteering,
        "志愿服务（报名、到岗、服务时长、证明）",
        purposes=(Purpose.volunteering,),
    ),
    Category(
        DataCategory.notification, "订阅消息（待发送的通知内容）", purposes=(Purpose.notifications,)
    ),
    Category(DataCategory.objection, "公示异议（提出人与理由）", bases=(SCHOOL_DUTY,)),
    Category(
        DataCategory.talent_tracking,
        "创新后备人才跟踪（标记理由）",
        bases=("学校与教育局跟踪培养创新后备人才",),
    ),
    Category(
        DataCategory.network_address,
        "网络地址（客户端 IP）与频率限制计数",
        bases=(SECURITY,),
    ),
    Category(DataCategory.audit_trail, "操作审计记录（操作人、对象、摘要）", bases=(AUDIT,)),
    Category(
        DataCategory.export_file,
        "导出文件（名单、记录、档案、数据副本）",
        purposes=(Purpose.record_export,),
        bases=(EXPORT_DELIVERY,),
        files=("导出结果文件：服务器文件目录（SCIPASS_JOB_RESULTS_DIR）",),
    ),
)

BY_KEY: dict[DataCategory, Category] = {c.key: c for c in CATEGORIES}


# Column names that look like personal information. A matching column is declared, or listed
# in NOT_PERSONAL with the reason.
PERSONAL_NAME = re.compile(
    r"(^|_)(name|username|openid|unionid|phone|contact|lat|lng|latitude|longitude|accuracy|"
    r"distance|ip|birth|student_no|reflection|guardian|gender|address|abstract|attachment|"
    r"payload|filename|relation)(_|$)"
)

STAFF = "工作人员或组织的信息，不是学生或监护人的"
PLACE = "场馆、活动或组织的地点，不是个人的位置"
SETTING = "配置项（地理围栏的精度要求），不是个人信息"
SETTING_OF_COMPETITION = "竞赛届次的要求（是否须提交摘要、附件及大小上限），不是个人信息"
NOT_PERSONAL: dict[str, str] = {
    "account.username": STAFF,
    "account.display_name": STAFF,
    "activity.place_name": PLACE,
    "activity.address": PLACE,
    "activity.latitude": PLACE,
    "activity.longitude": PLACE,
    "activity.geofence_max_accuracy_m": SETTING,
    "bureau.name": STAFF,
    "competition.name": "竞赛名称",
    "competition_division.name": "组别名称",
    "competition_edition.requires_abstract": SETTING_OF_COMPETITION,
    "competition_edition.requires_attachment": SETTING_OF_COMPETITION,
    "competition_edition.attachment_max_bytes": SETTING_OF_COMPETITION,
    "competition_round.name": "赛事轮次名称",
    "competition_whitelist.name": "白名单名称",
    "competition_whitelist_entry.name": "白名单中的竞赛名称",
    "counsellor_training_attendee.name": STAFF + "（参训的科技辅导员）",
    "job_schedule.name": "定时任务名称",
    "participation_record.organiser_name": STAFF + "（组织方）",
    "participation_record.attester_name": STAFF + "（证明人）",
    "participation_record.attester_phone": STAFF + "（证明人的联系电话）",
    "policy_review.name": "评估名称",
    "policy_review_result.school_name": STAFF,
    "policy_review_result.district_name": "区县名称",
    "region.name": "行政区划名称",
    "school.name": STAFF,
    "school.address": PLACE,
    "student.guardian_code": "学校发放的一次性家长绑定码，用后清除；本身不描述任何人",
    "school_science_staff.name": STAFF + "（科学副校长、科技辅导员）",
    "venue.name": STAFF,
    "venue.address": PLACE,
    "venue.latitude": PLACE,
    "venue.longitude": PLACE,
    "venue.phone": STAFF + "（场馆的联系电话）",
    "venue_resource.name": "场馆资源名称",
    "volunteer_certificate.contact": STAFF + "（开具证明的联系人）",
    "volunteer_role.name": "志愿岗位名称",
}


@dataclass(frozen=True, slots=True)
class Entry:
    category: Category
    columns: tuple[str, ...]  # "table.column", sorted


def declared(metadata: MetaData | None = None) -> dict[str, DataCategory]:
    """Every declared column (``table.column``) and its category; raises on an unknown key."""
    metadata = SQLModel.metadata if metadata is None else metadata
    found: dict[str, DataCategory] = {}
    for table in metadata.tables.values():
        for column in table.columns:
            key = _category_of(column)
            if key is not None:
                found[f"{table.name}.{column.name}"] = DataCategory(key)
    return found


def _category_of(column: Column[object]) -> str | None:
    value = column.info.get(INFO_KEY)
    return value if isinstance(value, str) else None


def inventory(metadata: MetaData | None = None) -> list[Entry]:
    """The inventory: every category, in declaration order, with the columns that hold it."""
    places = declared(metadata)
    return [
        Entry(category, tuple(sorted(p for p, key in places.items() if key is category.key)))
        for category in CATEGORIES
    ]
