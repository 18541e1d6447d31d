"""The words the policy rules and the facts they measure share: the named programmes an
activity belongs to, the campaigns it is part of, and the science staff roles of a school.

Kept in one leaf module (it imports nothing of the package) so that the activity and
organisation tables, the packs and the engine all read the same values. The Chinese names are
the documents' own (shared/seeds/).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Programme(StrEnum):
    """A named programme an activity belongs to (at most one)."""

    science_first_lesson = "science_first_lesson"  # 科学第一课进校园 (004 二.4)
    scientist_in_school = "scientist_in_school"  # 科学家（精神）进校园 (004 二.4; 002 二.(一))
    practice_at_base = "practice_at_base"  # 科学实践到基地 (004 二.4)
    top_scientist_talk = "top_scientist_talk"  # 顶尖科学家（院士）报告 (003 三.(一))


PROGRAMME_NAMES = {
    Programme.science_first_lesson: "科学第一课进校园",
    Programme.scientist_in_school: "科学家（精神）进校园",
    Programme.practice_at_base: "科学实践到基地",
    Programme.top_scientist_talk: "顶尖科学家（院士）报告",
}


class Campaign(StrEnum):
    """A national campaign an activity is part of (any number of them)."""

    science_popularisation_day = "science_popularisation_day"  # 全国科普日 (001; 002 二.(二))
    science_week = "science_week"  # 科技活动周 (001)
    science_workers_day = "science_workers_day"  # 全国科技工作者日 (002 二.(二))


CAMPAIGN_NAMES = {
    Campaign.science_popularisation_day: "全国科普日",
    Campaign.science_week: "科技活动周",
    Campaign.science_workers_day: "全国科技工作者日",
}


class StaffRole(StrEnum):
    """A school's science staff (004 二.5: 科学副校长, at least one 科技辅导员)."""

    vice_principal = "vice_principal"  # 科学副校长 (a school leader or an appointed expert)
    counsellor = "counsellor"  # 科技辅导员


STAFF_ROLE_NAMES = {
    StaffRole.vice_principal: "科学副校长",
    StaffRole.counsellor: "科技辅导员",
}

CAMPAIGN_ORDER = tuple(Campaign)


def encode_campaigns(campaigns: Iterable[Campaign | str]) -> str:
    """Campaigns as a comma list in the enum's order ("science_popularisation_day,science_week"),
    the stored form (like ``scipass.org.models.encode_stages``); empty for none."""
    wanted = {Campaign(c) for c in campaigns}
    return ",".join(c.value for c in CAMPAIGN_ORDER if c in wanted)


def decode_campaigns(text: str) -> list[Campaign]:
    return [Campaign(part) for part in text.split(",") if part]


# The seed documents a rule may cite (../shared/seeds/INDEX.md), as people name them: the
# compliance views and the bureau's ledger show "<name> <section>", never the file's name.
SEED_DOCUMENTS: dict[str, str] = {
    "000_bc62f6f6556f55e7.txt": "湘乡市青少年科学素质实施方案（湘乡教通〔2022〕51号）",
    "001_151d3bf122f96dae.txt": "湘潭市全民科学素质实施方案（潭政办发〔2021〕51号）",
    "002_5ae503ea15f2cdb9.txt": "赤峰市青少年科学素质提升工作方案（赤科协发〔2022〕9号）",
    "003_09c4e1dfef763b9a.txt": "湖南省科普教育“双走进”意见（2023年）",
    "004_a42cebf4a1d730ba.txt": "晋城市新时代中小学科学教育实施方案（晋市教校外监字〔2024〕1号）",
}


def cite(file: str, section: str) -> str:
    """A rule's source as the views show it: the document's name and the section."""
    return f"{SEED_DOCUMENTS[file]} {section}"
