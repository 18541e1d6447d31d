"""The ASGI application: ``create_app(settings)`` builds it, ``scipass.main:app`` serves it."""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, routing
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from scipass import __version__
from scipass.account.router import public_router as auth_public_router
from scipass.account.router import router as account_router
from scipass.activity.router import public_router as activity_public_router
from scipass.activity.router import router as activity_router
from scipass.audit.router import router as audit_router
from scipass.checkin import jobs as checkin_jobs
from scipass.checkin import visits as checkin_visits
from scipass.checkin.fastpath import CheckinFastPath
from scipass.checkin.issuing_router import public_router as checkin_public_router
from scipass.checkin.issuing_router import router as checkin_issuing_router
from scipass.checkin.kiosk import kiosk_router
from scipass.checkin.lists_router import router as checkin_lists_router
from scipass.checkin.router import router as checkin_router
from scipass.checkin.views import ScanCache
from scipass.competition import results_publish as competition_results
from scipass.competition.entries_router import router as competition_entries_router
from scipass.competition.results_router import router as competition_results_router
from scipass.competition.review_router import router as competition_review_router
from scipass.competition.router import router as competition_router
from scipass.competition.talent_router import router as talent_router
from scipass.consent.router import public_router as consent_public_router
from scipass.consent.router import router as consent_router
from scipass.consent.rules import api_router as rules_api_router
from scipass.consent.rules import page_router as rules_page_router
from scipass.console import router as console_router
from scipass.console import sessions as console_sessions
from scipass.core import group_commit, idempotency, notify, pdf_fonts
from scipass.core.auth import (
    PasswordChangeRequired,
    RoleForbidden,
    TokenExpired,
    TokenInvalid,
    declared_access,
)
from scipass.core.clock import Clock, SystemClock
from scipass.core.config import Environment, Settings, get_settings
from scipass.core.db import Database
from scipass.core.errors import (
    PROBLEM_MEDIA_TYPE,
    BadRequest,
    DatabaseUnavailable,
    PayloadTooLarge,
    Problem,
    ProblemError,
    Unauthorized,
    ValidationFailed,
    declare_problems,
    install_error_handlers,
)
from scipass.core.inputs import check_url_text
from scipass.core.jobs import Jobs
from scipass.core.middleware import BodyLimits, Observe, RequestIdMiddleware
from scipass.datacopy import evidence as datacopy_evidence
from scipass.datacopy.router import router as datacopy_router
from scipass.deletion import jobs as deletion_jobs
from scipass.deletion.router import router as deletion_router
from scipass.health.router import router as health_router
from scipass.jobs import queue as job_queue
from scipass.jobs.queue import JobKinds
from scipass.jobs.router import router as jobs_router
from scipass.org.measures_router import public_router as measures_public_router
from scipass.org.measures_router import router as measures_router
from scipass.org.router import public_router as org_public_router
from scipass.org.router import router as org_router
from scipass.pairing.router import router as pairing_router
from scipass.policy import packs as policy_packs
from scipass.policy.compliance_router import router as compliance_router
from scipass.policy.router import router as policy_router
from scipass.privacy.router import router as privacy_router
from scipass.record import jobs as record_jobs
from scipass.record.evidence_router import router as record_evidence_router
from scipass.record.export_router import router as record_export_router
from scipass.record.notice_router import router as record_notice_router
from scipass.record.router import router as record_router
from scipass.reservation.router import public_router as reservation_public_router
from scipass.reservation.router import router as reservation_router
from scipass.roster.acting import (
    ChildActsForSelf,
    StudentIdRequired,
    acts_for_a_child,
)
from scipass.roster.errors import StudentNotFound
from scipass.roster.router import me_router as binding_router
from scipass.roster.router import router as roster_router
from scipass.venue import edition_exports
from scipass.venue.router import public_router as venue_public_router
from scipass.venue.router import router as venue_router
from scipass.volunteer import hours as volunteer_hours
from scipass.volunteer.attendance_router import public_router as volunteer_attendance_public_router
from scipass.volunteer.attendance_router import router as volunteer_attendance_router
from scipass.volunteer.router import public_router as volunteer_public_router
from scipass.volunteer.router import router as volunteer_router
from scipass.wechat.client import WeChat, make_wechat

API_PREFIX = "/api/v1"

DESCRIPTION = """\
科学实践护照（SciPass）后端接口，供微信小程序与管理后台使用。

* 所有错误均为 RFC 9457 `application/problem+json`，`code` 为稳定的错误代码，
  `title`/`detail` 默认中文，请求头 `Accept-Language: en` 时为英文。
* 时间一律为带时区的 ISO 8601（存储为 UTC），学年、学期与“今天”按北京时间计算。
* 列表接口使用 `limit`/`offset` 分页，`limit` 最大 100。
"""

TAGS = [
    {"name": "health", "description": "存活与就绪检查"},
    {
        "name": "auth",
        "description": "登录、刷新与退出。微信登录用于学生和家长，账号密码用于工作人员",
    },
    {"name": "accounts", "description": "工作人员账号与当前用户"},
    {"name": "organisations", "description": "行政区划（GB/T 2260）、教育局、学校与场馆"},
    {"name": "roster", "description": "学生名单：导入、查询、绑定码（学校）"},
    {"name": "binding", "description": "微信用户绑定学生身份或作为家长绑定孩子"},
    {"name": "consent", "description": "未满 14 周岁学生的监护人同意（按目的，只增不改）"},
    {"name": "audit", "description": "审计日志"},
    {
        "name": "venues",
        "description": "科普地图：场馆目录、场馆资料与审核、特殊开放日、可预约资源、年度版本",
    },
    {"name": "activities", "description": "场馆或学校组织的活动"},
    {
        "name": "reservations",
        "description": "预约时段、学生个人预约、教师团体预约、候补与取消、学校绿色通道",
    },
    {"name": "pairings", "description": "学校与场馆结对"},
    {
        "name": "policy",
        "description": "政策包：各地区文件规定的达标要求（规则）、评价维度，及教育局对本地区的调整",
    },
    {
        "name": "checkins",
        "description": "签到码（海报码、大屏动态码、小程序码）、学生扫码签到签退、"
        "工作人员扫个人码、教师团体签到、离线上传、到场名单与扫码记录",
    },
    {
        "name": "records",
        "description": "写实记录：组织方确认、学生确认、学校审核、公示与异议、归档与更正、"
        "证明材料与导出",
    },
    {
        "name": "jobs",
        "description": "后台任务：大批量导出在后台进程中生成，提交后查询进度，完成后下载",
    },
]


def _operation_id(route: APIRoute) -> str:
    return route.name


def _build_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with every validation error documented as a problem."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    _declare_common_problems(app, schema)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                if status.startswith(("4", "5")):
                    # What problem_responses declared (Problem, or an anyOf of problem
                    # models) goes under the problem media type; FastAPI's own 422 schema
                    # (HTTPValidationError) is not what the app answers.
                    content = response.get("content", {})
                    declared = content.get(PROBLEM_MEDIA_TYPE) or content.get("application/json")
                    schema_ = (declared or {}).get("schema", {})
                    refs = [o.get("$ref", "") for o in schema_.get("anyOf", [schema_])]
                    if not all(ref.endswith("Problem") for ref in refs):
                        declared = {"schema": problem_ref}
                    response["content"] = {PROBLEM_MEDIA_TYPE: declared}
    if "Problem" not in components:
        components.update(
            Problem.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {})
        )
        components["Problem"] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components["Problem"].pop("$defs", None)
    app.openapi_schema = schema
    return schema


def _declare_common_problems(app: FastAPI, schema: dict[str, Any]) -> None:
    """The answers every operation can give besides its own, declared on each so that the
    document tells the whole truth: 413 and 422 at the door (:mod:`scipass.core.inputs`,
    ``BodyLimits``), 503 when the database is out of reach, 401 and 403 on every route that
    requires a caller, 400 for a multipart body that cannot be parsed, and the answers about
    the child on every route a guardian acts through for a child."""
    by_name = {
        context.name: context.original_route
        for context in routing.iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    }
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            route = by_name.get(operation.get("operationId", ""))
            if route is None:
                continue
            problems: list[type[ProblemError]] = [
                PayloadTooLarge,
                ValidationFailed,
                DatabaseUnavailable,
            ]
            if path.startswith(API_PREFIX) and declared_access(route.dependant) != "public":
                problems += [Unauthorized, TokenInvalid, TokenExpired]
                problems += [RoleForbidden, PasswordChangeRequired]
            if acts_for_a_child(route.dependant):  # family mode: ?student_id= (roster.acting)
                problems += [StudentIdRequired, ChildActsForSelf, StudentNotFound]
            content = operation.get("requestBody", {}).get("content", {})
            if any(media.startswith("multipart/") for media in content):
                problems.append(BadRequest)
            declare_problems(operation["responses"], problems)
            operation["responses"] = dict(sorted(operation["responses"].items()))


def register_consent_effects() -> None:
    """What withdrawing a consent deletes, each domain registering its own tables'
    (:mod:`scipass.consent.effects`); registering again is harmless."""
    checkin_jobs.register_consent_effects()  # location
    record_jobs.register_consent_effects()  # photos, participation_record


def scheduled_jobs() -> Jobs:
    """Every domain's scheduled jobs, in the order they run."""
    jobs = Jobs()
    checkin_jobs.register(jobs)  # close-visits, purge-telemetry
    competition_results.register(jobs)  # publish-competition-results
    record_jobs.register(jobs)  # archive-records, clean-evidence
    idempotency.register_jobs(jobs)  # purge-idempotency-keys
    job_queue.register_jobs(jobs)  # expire-job-results
    deletion_jobs.register(jobs)  # carry-out-deletions, delete-unbound-wechat-users
    jobs.register("purge-console-sessions", console_sessions.purge)
    return jobs


def job_kinds() -> JobKinds:
    """Every domain's kinds of queued job (bulk exports), run by ``scipass worker``."""
    kinds = JobKinds()
    record_jobs.register_kinds(kinds)  # record-export
    checkin_jobs.register_kinds(kinds)  # attendee-export
    edition_exports.register_kinds(kinds)  # directory-edition-export
    kinds.register(volunteer_hours.EXPORT_KIND.name, volunteer_hours.EXPORT_KIND.handler)
    kinds.register(datacopy_evidence.EVIDENCE_KIND.name, datacopy_evidence.EVIDENCE_KIND.handler)
    return kinds


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    wechat: WeChat | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    settings.check()
    policy_packs.current()  # a malformed pack stops the start, naming file, rule and field
    db = database or Database.from_settings(settings)

    wechat_client = wechat or make_wechat(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        app.state.commits.start()  # ready before the first scan
        # On PostgreSQL other processes may revoke a code or cancel an activity: hear of it
        # as soon as it commits (core/notify.py) and drop the cached copy.
        listener = (
            notify.Listener(
                db.engine,
                on_message=app.state.checkin_cache.changed,
                on_reset=app.state.checkin_cache.forget,
            ).start()
            if db.engine.dialect.name == "postgresql"
            else None
        )
        notify.hear_locally(app.state.checkin_cache)  # this process's own changes, at once
        app.state.listener = listener  # /readyz is not ready while it is not listening
        pdf_fonts.warn_if_fallback(settings)  # loads the font once, before the first PDF
        # What start-up built (routes, schemas, mappers) lives as long as the process: keep it
        # out of the collector's full passes, which otherwise pause every request in flight.
        if settings.env is not Environment.test:  # tests build an app per test
            gc.collect()
            gc.freeze()
        yield
        if listener is not None:
            listener.stop()
        if wechat is None:
            wechat_client.close()
        if database is None:
            db.dispose()

    docs = settings.docs_enabled
    app = FastAPI(
        title="SciPass API",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        generate_unique_id_function=_operation_id,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.clock = clock or SystemClock()
    app.state.wechat = wechat_client
    app.state.checkin_cache = ScanCache(seconds=settings.scan_cache_seconds)
    app.state.commits = group_commit.for_database(db)
    app.state.jobs = scheduled_jobs()
    app.openapi = lambda: _build_openapi(app)  # type: ignore[method-assign]  # FastAPI's documented override

    install_error_handlers(app)
    # A key used for a scan is not free for another write, and the other way round.
    idempotency.register_key_store(checkin_visits.key_used)
    register_consent_effects()
    app.add_middleware(CheckinFastPath)  # inside RequestIdMiddleware: answers carry the id
    app.add_middleware(BodyLimits)  # outside the fast path, which reads bodies too
    app.add_middleware(Observe)  # access log and metrics (and /metrics), with the request id
    app.add_middleware(RequestIdMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "X-Row-Count",
                "X-Withheld-Count",
                "X-Withheld-Students",
            ],
        )

    app.include_router(health_router)
    app.include_router(_api_router())
    app.include_router(kiosk_router, dependencies=[Depends(check_url_text)])
    app.include_router(rules_page_router)
    for router in console_router.routers():
        app.include_router(router, dependencies=[Depends(check_url_text)])
    return app


@functools.cache
def _api_router() -> APIRouter:
    """The API's routes, assembled once per process: every app includes the same router
    (the domain routers are module-level already), so an app built per test does not build
    the routes' dependencies and models again on every include (tests/conftest.py)."""
    # The text rule for query and path parameters runs first, on every API route.
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(check_url_text)])
    # Requests are matched against the routes in order: check-in, the most frequent request
    # by far (a science day brings thousands of scans a minute), comes first.
    for router in (
        checkin_router,
        checkin_issuing_router,
        checkin_lists_router,
        checkin_public_router,
        auth_public_router,
        org_public_router,
        measures_public_router,
        consent_public_router,
        rules_api_router,
        venue_public_router,
        activity_public_router,
        reservation_public_router,
        volunteer_public_router,
        volunteer_attendance_public_router,
        account_router,
        org_router,
        measures_router,
        roster_router,
        binding_router,
        consent_router,
        audit_router,
        venue_router,
        activity_router,
        reservation_router,
        pairing_router,
        policy_router,
        record_router,
        record_evidence_router,
        record_notice_router,
        record_export_router,
        datacopy_router,
        deletion_router,
        jobs_router,
        competition_router,
        competition_entries_router,
        competition_review_router,
        competition_results_router,
        talent_router,
        volunteer_router,
        volunteer_attendance_router,
        compliance_router,
        privacy_router,
    ):
        api.include_router(router)
    return api


def __getattr__(name: str) -> Any:
    # ``scipass.main:app`` is built on first use, so importing this module touches nothing.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
