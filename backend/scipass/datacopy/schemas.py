from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

Items = list[dict[str, Any]]


class DataCopy(BaseModel):
    """Everything held about one pupil (see :mod:`scipass.datacopy.collect`)."""

    about: dict[str, Any] = Field(description="本副本的说明：格式版本、生成时间、申请人角色")
    student: dict[str, Any] = Field(description="学籍名册信息（不含绑定码、家长关联码）")
    bindings: dict[str, Any] = Field(
        description="`wechat`：学生本人的微信绑定（未绑定时为 null）；`guardians`：家长关联"
        "（关系、建立与解除时间；其他家长不显示账号）"
    )
    consents: Items = Field(description="同意记录，按时间顺序，含拒绝与撤回")
    visits: Items = Field(description="到馆签到（每次到访），`scans` 为该次到访的扫码记录")
    other_scans: Items = Field(
        description="不属于某次到访的扫码记录（如被拒绝的扫码、志愿服务签到）"
    )
    personal_cards: Items = Field(description="个人签到卡（不含卡片密钥）")
    records: Items = Field(
        description="写实记录；`events` 为变更历史，`evidence` 为证明材料的说明"
        "（文件见 `POST /me/data-copy/evidence`），`objections` 为公示期间的异议（不显示异议人）"
    )
    reservations: Items = Field(
        description="预约：本人的预约，以及所在团体预约中与本人有关的部分（不含团体中的其他学生）"
    )
    competition_entries: Items = Field(
        description="参加的竞赛报名：作品、本人的成员身份、各轮状态与已公示的结果（不含其他成员）"
    )
    volunteering: dict[str, Any] = Field(
        description="志愿服务：`signups` 报名与到岗、确认时长，`certificates` 证明，"
        "`notifications` 通知"
    )
    talent_tracking: Items = Field(description="科技创新后备人才跟踪记录")
    audit_entries: Items = Field(
        description="查看、导出或修改该学生信息的审计记录：时间、操作、操作人与角色、对象；"
        "`scope` 为 `child`（针对该学生）或 `list`（包含该学生的名单或导出）"
    )
