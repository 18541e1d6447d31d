"""The console's menu for each role: the pages a role works in, in the order of its day.

A page is listed here when it is built; the tests check that every entry opens for its role."""

from __future__ import annotations

from typing import Any

from scipass.core.auth import Role

ROLE_NAMES: dict[Role, str] = {
    Role.school_staff: "学校教师",
    Role.school_admin: "学校管理员",
    Role.venue_staff: "场馆工作人员",
    Role.venue_admin: "场馆管理员",
    Role.bureau: "教育局",
    Role.platform_admin: "平台管理员",
    Role.student: "学生",
    Role.guardian: "家长",
    Role.wechat_user: "微信用户",
}

VENUE: tuple[tuple[str, str], ...] = (
    ("/console/venue/activities", "活动"),
    ("/console/venue/records", "待确认记录"),
    ("/console/venue/volunteering", "志愿服务"),
    ("/console/venue/exports", "导出"),
    ("/console/venue/profile", "场馆资料"),
)
SCHOOL: tuple[tuple[str, str], ...] = (
    ("/console/school/records", "记录审核"),
    ("/console/school/notices", "公示与异议"),
    ("/console/school/roster", "学生名单"),
    ("/console/school/visits", "团体参观"),
    ("/console/school/exports", "导出"),
    ("/console/school/entries", "竞赛推荐"),
    ("/console/school/scans", "扫码记录"),
    ("/console/school/compliance", "达标情况"),
)
BUREAU: tuple[tuple[str, str], ...] = (
    ("/console/bureau/compliance", "达标情况"),
    ("/console/bureau/venues", "场馆审核"),
    ("/console/bureau/competitions", "竞赛管理"),
    ("/console/bureau/notice-setting", "公示期"),
)
DOOR: tuple[tuple[str, str], ...] = (("/console/door", "门口扫码"),)

MENUS: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.venue_staff: VENUE + DOOR,
    Role.venue_admin: VENUE + DOOR,
    Role.school_staff: SCHOOL,
    Role.school_admin: SCHOOL,
    Role.bureau: BUREAU,
    Role.platform_admin: BUREAU,
}


def nav(caller: Any) -> list[tuple[str, str]]:
    """The menu of ``caller`` (a :class:`scipass.console.deps.Caller`)."""
    if caller.principal.password_change_required:
        return [("/console/password", "修改密码")]
    return [
        ("/console", "首页"),
        *MENUS.get(caller.principal.role, ()),
        ("/console/password", "修改密码"),
    ]
