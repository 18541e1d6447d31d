"""RFC 9457 problem details: one exception hierarchy and the handlers that render it.

Every error a client sees is ``application/problem+json`` with a stable snake_case ``code``
(the mini-program's contract) and a ``title``/``detail`` in Chinese, or in English when the
request prefers it (``Accept-Language: en``). Domains subclass :class:`ProblemError` in their
own ``errors.py``; routers list the classes they may raise in ``responses=problem_responses(...)``
so that the OpenAPI document tells the front end what to expect.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any, ClassVar, Union

import psycopg
from fastapi import FastAPI, Request, routing
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import exc as sqlalchemy_exc
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: TID251
from starlette.routing import compile_path

logger = logging.getLogger("scipass.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:scipass:problem:"


class FieldError(BaseModel):
    field: str = Field(description="出错的字段，如 `body.name`、`query.limit`")
    message: str = Field(description="原因，按请求语言")
    type: str = Field(description="机器可读的错误类型，如 `missing`、`int_parsing`")


class Problem(BaseModel):
    """RFC 9457 problem details, as every error response of this API carries them."""

    type: str = Field(examples=["urn:scipass:problem:not_found"])
    title: str = Field(examples=["资源不存在"])
    status: int = Field(examples=[404])
    detail: str | None = None
    code: str = Field(
        description="稳定的错误代码（snake_case），前端据此判断", examples=["not_found"]
    )
    instance: str | None = Field(default=None, description="请求路径")
    request_id: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="校验失败时列出每个字段")

    model_config = {"extra": "allow"}


class ProblemError(Exception):
    """Base of every error answered to a client."""

    # The body's schema in the OpenAPI document: a subclass whose ``errors`` (or other
    # members) differ from :class:`Problem`'s names its own model.
    problem_model: ClassVar[type[BaseModel]] = Problem
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title_zh: ClassVar[str] = "服务器内部错误"
    title_en: ClassVar[str] = "Internal server error"
    # A refusal that is itself data (a failed login counted, a reused refresh token's family
    # revoked, an audit entry): the request's writes are committed before the problem is sent.
    # Services raising such an error must not have made any other write before it.
    keep_writes: ClassVar[bool] = False
    # Response headers the problem always carries, documented in OpenAPI (name: description).
    documented_headers: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        detail_zh: str | None = None,
        detail_en: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail_en or detail_zh or self.title_en)
        self.detail_zh = detail_zh
        self.detail_en = detail_en
        self.headers = headers or {}
        self.extra = extra

    def to_problem(self, lang: str, instance: str | None = None) -> dict[str, Any]:
        english = lang == "en"
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_PREFIX + self.code,
            "title": self.title_en if english else self.title_zh,
            "status": self.status,
            "code": self.code,
        }
        detail = (
            (self.detail_en or self.detail_zh) if english else (self.detail_zh or self.detail_en)
        )
        if detail:
            body["detail"] = detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class BadRequest(ProblemError):
    status = 400
    code = "bad_request"
    title_zh = "请求有误"
    title_en = "Bad request"


class Unauthorized(ProblemError):
    status = 401
    code = "unauthorized"
    title_zh = "请先登录"
    title_en = "Authentication required"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.headers.setdefault("WWW-Authenticate", 'Bearer realm="scipass"')


class Forbidden(ProblemError):
    status = 403
    code = "forbidden"
    title_zh = "没有权限"
    title_en = "Forbidden"


class NotFound(ProblemError):
    status = 404
    code = "not_found"
    title_zh = "资源不存在"
    title_en = "Not found"


class MethodNotAllowed(ProblemError):
    status = 405
    code = "method_not_allowed"
    title_zh = "不支持该请求方法"
    title_en = "Method not allowed"


class Conflict(ProblemError):
    status = 409
    code = "conflict"
    title_zh = "与现有数据冲突"
    title_en = "Conflict"


class PayloadTooLarge(ProblemError):
    status = 413
    code = "payload_too_large"
    title_zh = "请求内容过大"
    title_en = "Payload too large"


class ValidationFailed(ProblemError):
    status = 422
    code = "validation_failed"
    title_zh = "请求参数校验失败"
    title_en = "Validation failed"


class RateLimited(ProblemError):
    status = 429
    code = "rate_limited"
    title_zh = "操作过于频繁，请稍后再试"
    title_en = "Too many requests"

    def __init__(self, *args: Any, retry_after: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.headers["Retry-After"] = str(max(1, int(retry_after)))


class InternalError(ProblemError):
    pass


class ServiceUnavailable(ProblemError):
    status = 503
    code = "service_unavailable"
    title_zh = "服务暂不可用，请稍后再试"
    title_en = "Service unavailable"
    retry_after_seconds = 5
    documented_headers: ClassVar[dict[str, str]] = {"Retry-After": "多少秒后可以重试（整数）"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.headers.setdefault("Retry-After", str(self.retry_after_seconds))


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached (restarting, failed over, out of connections): nothing
    was written, and the same request may be sent again after ``Retry-After`` seconds."""

    code = "database_unavailable"
    title_zh = "数据库暂时无法访问，请稍后重试"
    title_en = "The database is unavailable; try again shortly"


# What the database drivers raise when the server is out of reach (refused, restarting,
# terminated, timed out) rather than for the statement itself. SQLAlchemy wraps them in its
# OperationalError or InterfaceError; code on the driver's own cursor meets them unwrapped.
_UNREACHABLE: tuple[type[Exception], ...] = (
    sqlalchemy_exc.OperationalError,
    sqlalchemy_exc.InterfaceError,
    sqlalchemy_exc.TimeoutError,  # no connection free in the pool in time
    sqlite3.OperationalError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached (answered 503, not 500)."""
    if isinstance(exc, sqlalchemy_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _UNREACHABLE)


# --- language -----------------------------------------------------------------------------


def preferred_language(request: Request) -> str:
    """``"en"`` when the request prefers English over Chinese, else ``"zh"``."""
    header = request.headers.get("accept-language", "")
    best_lang, best_q = "zh", 0.0
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        lang = "en" if tag.startswith("en") else "zh" if tag.startswith("zh") else None
        # Earlier entries win ties, as browsers list preferences in order.
        if lang and (q > best_q or (q == best_q and position == 0)):
            best_lang, best_q = lang, q
    return best_lang


# --- validation messages ------------------------------------------------------------------

_ZH_MESSAGES: dict[str, str] = {
    "missing": "必填",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "float_parsing": "应为数字",
    "bool_parsing": "应为布尔值",
    "string_type": "应为字符串",
    "string_too_short": "长度不能少于 {min_length}",
    "string_too_long": "长度不能超过 {max_length}",
    "string_pattern_mismatch": "格式不正确",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "enum": "应为以下值之一：{expected}",
    "literal_error": "应为以下值之一：{expected}",
    "date_from_datetime_parsing": "日期格式不正确",
    "date_parsing": "日期格式不正确",
    "datetime_parsing": "时间格式不正确",
    "datetime_from_date_parsing": "时间格式不正确",
    "json_invalid": "JSON 格式不正确",
    "model_attributes_type": "应为对象",
    "dict_type": "应为对象",
    "list_type": "应为数组",
    "extra_forbidden": "不允许的字段",
    "value_error": "取值无效",
    "string_unicode": "含有无效的 Unicode 字符",
    "invalid_characters": "含有不允许的字符（{character}），如控制字符或文字方向控制符",
}


def _field_errors(exc: RequestValidationError, lang: str) -> list[dict[str, str]]:
    items = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        kind = str(error.get("type", "value_error"))
        if lang == "en":
            message = str(error.get("msg", "invalid value"))
        else:
            template = _ZH_MESSAGES.get(kind, "取值无效")
            try:
                ctx = {k: str(v).replace(" or ", ", ") for k, v in (error.get("ctx") or {}).items()}
                message = template.format(**ctx)
            except (KeyError, IndexError):
                message = template
        items.append({"field": ".".join(loc), "message": message, "type": kind})
    return items


# --- handlers -------------------------------------------------------------------------------


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def problem_response(request: Request, error: ProblemError) -> JSONResponse:
    body = error.to_problem(preferred_language(request), instance=request.url.path)
    request_id = _request_id(request)
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(
        body, status_code=error.status, headers=error.headers, media_type=PROBLEM_MEDIA_TYPE
    )


async def _handle_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(request, exc)


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lang = preferred_language(request)
    errors = _field_errors(exc, lang)
    count = len(errors)
    return problem_response(
        request,
        ValidationFailed(
            f"共 {count} 处参数不符合要求", f"{count} field(s) are invalid", errors=errors
        ),
    )


_HTTP_ERRORS: dict[int, type[ProblemError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}


async def _handle_http(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (no route, wrong method) in the same shape."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # A JSON body that is not UTF-8: FastAPI calls it a parse error (400); it is the
        # same mistake as malformed JSON, answered as such.
        return problem_response(
            request,
            ValidationFailed(
                "请求内容不是有效的 UTF-8 JSON",
                "The body is not valid UTF-8 JSON",
                errors=[
                    {
                        "field": "body",
                        "message": "JSON decode error"
                        if preferred_language(request) == "en"
                        else _ZH_MESSAGES["json_invalid"],
                        "type": "json_invalid",
                    }
                ],
            ),
        )
    if exc.status_code == 405:
        # Starlette names only the methods of the first route of the path it met; RFC 9110
        # asks for every method the resource supports.
        exc.headers = {**(exc.headers or {}), "Allow": ", ".join(_allowed(request))}
    error_class = _HTTP_ERRORS.get(exc.status_code)
    if error_class is None:
        error = ProblemError()
        error.status = exc.status_code  # type: ignore[misc]  # a ClassVar set on one instance
    else:
        error = error_class()
    if exc.headers:
        error.headers.update(exc.headers)
    return problem_response(request, error)


def _allowed(request: Request) -> list[str]:
    """Every method some route answers on the request's path: the routes of that literal
    path when there are any (``/records/reviews``), else those whose template matches it
    (``/records/{record_id}``)."""
    table = getattr(request.app.state, "route_methods", None)
    if table is None:
        table = [
            (compile_path(path)[0], "{" not in path, context.methods or set())
            for context in routing.iter_route_contexts(request.app.routes)
            if (path := context.path) is not None
        ]
        request.app.state.route_methods = table
    path = request.url.path
    matching = [(literal, methods) for pattern, literal, methods in table if pattern.match(path)]
    if any(literal for literal, _ in matching):
        matching = [(literal, methods) for literal, methods in matching if literal]
    return sorted({method for _, methods in matching for method in methods})


async def _handle_database(request: Request, exc: Exception) -> JSONResponse:
    """A database error: 503 when the server could not be reached, else a 500 as below."""
    if not database_unreachable(exc):
        return await _handle_unexpected(request, exc)
    logger.warning(
        "database unavailable on %s %s (request %s): %s",
        request.method,
        request.url.path,
        _request_id(request),
        str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
    )
    return problem_response(request, DatabaseUnavailable())


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception(
        "unhandled error on %s %s (request %s)",
        request.method,
        request.url.path,
        _request_id(request),
        exc_info=exc,
    )
    response = problem_response(
        request, InternalError("请求未能完成，请稍后再试", "The request failed")
    )
    return _with_request_id(request, response)


def _with_request_id(request: Request, response: JSONResponse) -> JSONResponse:
    # Rendered by Starlette's outermost middleware, outside RequestIdMiddleware.
    request_id = _request_id(request)
    if request_id:
        response.headers["X-Request-ID"] = request_id
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _handle_problem)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    database_errors: tuple[type[Exception], ...] = (sqlalchemy_exc.DBAPIError, *_UNREACHABLE)
    for database_error in database_errors:
        app.add_exception_handler(database_error, _handle_database)
    app.add_exception_handler(Exception, _handle_unexpected)


def problem_responses(*errors: type[ProblemError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the errors a route may answer, grouped by status."""
    by_status: dict[int, list[type[ProblemError]]] = {}
    documented: tuple[type[ProblemError], ...] = (*errors, ValidationFailed)
    for error in documented:
        by_status.setdefault(error.status, []).append(error)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, classes in sorted(by_status.items()):
        codes = ", ".join(_described(c) for c in dict.fromkeys(classes))
        models = list(dict.fromkeys(c.problem_model for c in classes))
        # A status whose problems differ in shape documents each (an anyOf); the app's
        # document builder moves the schema under application/problem+json.
        model: Any = models[0] if len(models) == 1 else Union[tuple(models)]  # noqa: UP007
        responses[status] = {"model": model, "description": codes}
    return responses


def _described(error: type[ProblemError]) -> str:
    return f"`{error.code}` ({error.title_zh})"


def declare_problems(responses: dict[str, Any], errors: list[type[ProblemError]]) -> None:
    """Add ``errors`` to an OpenAPI operation's ``responses`` (a built document), each under
    its status with the problem schema, next to what the route declared itself."""
    for error in errors:
        status = str(error.status)
        response = responses.setdefault(
            status,
            {
                "description": "",
                "content": {
                    PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            },
        )
        for header, description in error.documented_headers.items():
            response.setdefault("headers", {})[header] = {
                "description": description,
                "schema": {"type": "integer"},
            }
        if f"`{error.code}`" not in response["description"]:
            parts = [response["description"]] if response["description"] else []
            response["description"] = ", ".join([*parts, _described(error)])
