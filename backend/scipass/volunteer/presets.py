"""The three volunteer roles of the 2023 Hunan document (003 三.(二)), offered ready to use.

An organiser creates a role from a preset with one call and may change any field; the texts
here are defaults, not rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipass.volunteer.models import DEFAULT_MAX_DAILY_MINUTES, RolePreset


@dataclass(frozen=True, slots=True)
class Preset:
    key: RolePreset
    name: str
    description: str
    duties: str
    stages: tuple[str, ...]
    min_age: int | None
    training: str
    max_daily_minutes: int = DEFAULT_MAX_DAILY_MINUTES


PRESETS: dict[RolePreset, Preset] = {
    RolePreset.little_volunteer: Preset(
        key=RolePreset.little_volunteer,
        name="小小志愿者",
        description="在场馆或校园科技节协助开展服务，体验志愿服务。",
        duties="引导参观、维持秩序、分发资料、协助签到。",
        stages=("primary", "junior", "senior", "vocational"),
        min_age=8,
        training="上岗前参加场馆组织的安全与服务礼仪培训（约 30 分钟）。",
    ),
    RolePreset.little_docent: Preset(
        key=RolePreset.little_docent,
        name="小小科普辅导员",
        description="经培训后为观众讲解展品、演示科学实验。",
        duties="展品讲解、科学实验演示、回答观众提问。",
        stages=("primary", "junior", "senior", "vocational"),
        min_age=10,
        training="参加讲解培训并通过试讲；建议先担任小小志愿者。",
    ),
    RolePreset.science_star: Preset(
        key=RolePreset.science_star,
        name="科普小达人",
        description="有一定科学特长的学生，策划并主持小型科普活动。",
        duties="策划科普小活动、主持科学小课堂、带领同伴探究。",
        stages=("junior", "senior", "vocational"),
        min_age=12,
        training="有科普讲解经验；建议先担任小小科普辅导员。",
    ),
}
