"""The dedicated rules for children's personal information (PIPL art. 31; 《儿童个人信息网络
保护规定》 art. 8 and 9), served as a public page (``/privacy/children``) and its JSON twin
(``GET /api/v1/processing-rules``), versioned with the consent notice.

Nothing here is typed twice: the person responsible and the complaint channel are settings,
the purposes are the notice's, the storage periods are read from the retention settings
(:data:`RETENTION` names each setting; the README's retention table is checked against it by
the tests), and the routes for access, correction and deletion are looked up by their names in
the app, so a renamed route breaks the page's test rather than the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from fastapi import APIRouter, Depends, Request, routing
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from scipass.consent import notices
from scipass.consent.models import Purpose
from scipass.consent.schemas import NoticeVersionRead
from scipass.core.auth import public_access
from scipass.core.config import Settings
from scipass.core.deps import SettingsDep


@dataclass(frozen=True, slots=True)
class Retained:
    what: str
    where: str
    setting: str  # the Settings field holding the period
    unit: str  # "天" or "小时"
    after: str  # what happens when the period ends


RETENTION: tuple[Retained, ...] = (
    Retained(
        "扫码位置（经纬度、精度、与场馆的距离）",
        "scan_event",
        "telemetry_retention_days",
        "天",
        "删除位置，签到记录保留结果与时间",
    ),
    Retained(
        "客户端网络地址（IP）",
        "audit_log.client_ip",
        "client_address_retention_days",
        "天",
        "清除地址，操作记录保留",
    ),
    Retained(
        "频率限制计数（含网络地址、登录名）",
        "rate_limit_counter",
        "rate_limit_retention_hours",
        "小时",
        "删除",
    ),
    Retained(
        "请求去重记录（谁发送了哪个请求）",
        "idempotency_key",
        "idempotency_retention_days",
        "天",
        "删除",
    ),
    Retained(
        "导出文件",
        "服务器文件目录（SCIPASS_JOB_RESULTS_DIR）",
        "job_result_ttl_hours",
        "小时",
        "删除",
    ),
    Retained(
        "未绑定学生的微信账号（openid）",
        "wechat_user",
        "unbound_wechat_retention_days",
        "天（自最后一次登录起）",
        "删除",
    ),
)

# Routes named on the page: (what, route name).
ROUTES: tuple[tuple[str, str], ...] = (
    ("查看同意状态", "me-child-consent-get"),
    ("同意、拒绝或撤回同意（撤回后相关信息随即删除）", "me-child-consent-decide"),
    ("查阅、复制孩子的全部信息（JSON）", "my-data-copy"),
    ("下载孩子的证明材料（ZIP）", "my-data-copy-evidence"),
    ("对公示中的记录提出异议、要求更正", "record-object"),
    ("申请删除孩子的个人信息（已归档的综评记录由学校依法保存）", "my-deletion-request-create"),
    ("查看删除申请的办理情况", "my-deletion-request"),
)

PURPOSES: dict[Purpose, str] = {
    Purpose.participation_record: "活动记录：签到时间、活动名称、时长、获奖情况，形成写实记录",
    Purpose.record_export: "评价导出：学校将审核、公示后的记录导出到综合素质评价平台"
    "（含批量导出的记录表和批量生成的科技实践档案压缩包）；未同意的未满 14 周岁学生整条略去，"
    "孩子本人或家长下载的记录和单个学生的档案不受影响",
    Purpose.location: "位置：扫码签到时核对是否在场馆范围内",
    Purpose.photos: "照片：活动照片、证书等证明材料",
    Purpose.notifications: "通知：活动提醒与审核结果的微信订阅消息",
    Purpose.volunteering: "志愿服务：报名、到岗和服务时长（未满 18 周岁须监护人同意）",
}


class RetentionRead(BaseModel):
    what: str
    where: str
    period: int
    unit: str
    setting: str = Field(description="保存期限的配置项（环境变量）")
    after: str


class RouteRead(BaseModel):
    what: str
    method: str
    path: str


class ProcessingRules(BaseModel):
    title: str
    notice_version: str
    versions: list[NoticeVersionRead]
    responsible: str
    contact: str
    complaints: str
    purposes: dict[Purpose, str]
    storage_place: str
    retention: list[RetentionRead]
    records: str = Field(description="写实记录的保存与删除")
    rights: list[RouteRead]


def rules(settings: Settings, request: Request) -> ProcessingRules:
    served = {c.name: c for c in routing.iter_route_contexts(request.app.routes)}
    rights = []
    for what, name in ROUTES:
        route = served[name]  # a name not served fails the page's test
        method = sorted(route.methods or {"GET"})[0]
        rights.append(RouteRead(what=what, method=method, path=route.path))
    return ProcessingRules(
        title="科学实践护照儿童个人信息处理规则",
        notice_version=notices.current().version,
        versions=[NoticeVersionRead.of(n) for n in notices.NOTICES],
        responsible=settings.child_privacy_officer,
        contact=settings.child_privacy_contact,
        complaints=settings.child_privacy_complaints,
        purposes={p: PURPOSES[p] for p in Purpose},
        storage_place="中华人民共和国境内的服务器；不向境外提供",
        retention=[
            RetentionRead(
                what=r.what,
                where=r.where,
                period=getattr(settings, r.setting),
                unit=r.unit,
                setting=f"SCIPASS_{r.setting.upper()}",
                after=r.after,
            )
            for r in RETENTION
        ],
        records="写实记录及其证明材料是学校依法保存的综合素质评价档案：已归档的记录由学校保存，"
        "不因撤回同意或申请删除而删除。撤回活动记录同意后，待确认、已确认的记录撤回（学校已审核的"
        "记录按学校职责归档）；撤回照片同意后，未归档记录的照片删除。申请删除时，所有未归档的记录"
        "撤回并删除心得与证明材料，同时删除微信绑定、家长绑定、位置和网络地址。",
        rights=rights,
    )


api_router = APIRouter(tags=["consent"], dependencies=[Depends(public_access)])
page_router = APIRouter(include_in_schema=False, dependencies=[Depends(public_access)])


@api_router.get(
    "/processing-rules",
    name="processing-rules-get",
    summary="儿童个人信息处理规则",
    description="负责人、目的、存储地点与期限、期满后的处理、查阅更正删除的方式与投诉渠道；"
    "随告知书版本更新。",
)
def processing_rules(settings: SettingsDep, request: Request) -> ProcessingRules:
    return rules(settings, request)


PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def page(r: ProcessingRules) -> str:
    def items(lines: list[str]) -> str:
        return "<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>\n"

    e = escape
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(r.title)}</title>\n</head>\n<body>\n<main>\n"
        f"<h1>{e(r.title)}</h1>\n<p>告知书版本：{e(r.notice_version)}</p>\n"
        f"<h2>一、负责人</h2>\n<p>{e(r.responsible)}（{e(r.contact)}）</p>\n"
        "<h2>二、处理目的（逐项征得监护人同意）</h2>\n"
        + items([f"{e(p.value)}：{e(text)}" for p, text in r.purposes.items()])
        + f"<h2>三、存储地点与期限</h2>\n<p>{e(r.storage_place)}</p>\n"
        + items(
            [
                f"{e(x.what)}（{e(x.where)}）：{x.period} {e(x.unit)}，期满后{e(x.after)}"
                for x in r.retention
            ]
        )
        + f"<p>{e(r.records)}</p>\n<h2>四、查阅、复制、更正与删除</h2>\n"
        + items([f"{e(x.what)}：{e(x.method)} {e(x.path)}" for x in r.rights])
        + f"<h2>五、投诉渠道</h2>\n<p>{e(r.complaints)}</p>\n"
        "<h2>六、版本</h2>\n"
        + items(
            [
                f"{e(v.version)}（{v.published_on.isoformat()}，"
                f"{'实质性变更' if v.kind == 'material' else '文字调整'}）{e(v.summary)}"
                + (f"；原同意有效至 {v.deadline.isoformat()}" if v.deadline else "")
                for v in r.versions
            ]
        )
        + "</main>\n</body>\n</html>\n"
    )


@page_router.get("/privacy/children", name="processing-rules-page", response_class=HTMLResponse)
def processing_rules_page(settings: SettingsDep, request: Request) -> HTMLResponse:
    return HTMLResponse(page(rules(settings, request)), headers=PAGE_HEADERS)
