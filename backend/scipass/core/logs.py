"""Log lines: text or one JSON object a line (``SCIPASS_LOG_FORMAT``), each with the id of the
request that logged it.

:class:`scipass.core.middleware.RequestIdMiddleware` puts the request's id in
:data:`request_id` for the request's whole run: the event loop's part, and the threads a sync
route or dependency runs in (Starlette copies the context into them). Work done for many
requests at once (group commit's threads, the job worker) logs no request id.

The access log is ours (``scipass.access``, written by :class:`scipass.core.middleware.Observe`
after each answer: method, route template, status, duration), not uvicorn's, which knows
neither the route nor the request id; ``scipass serve`` turns uvicorn's off. uvicorn's own
loggers (``uvicorn``, ``uvicorn.error``) go through the same handler and format.
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from scipass.core.config import Settings

request_id: ContextVar[str | None] = ContextVar("scipass_request_id", default=None)

access_logger = logging.getLogger("scipass.access")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

# What every LogRecord has; anything else on a record came as ``extra=`` and goes in the line.
_STANDARD = frozenset(
    set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)
    | {"message", "asctime", "request_id", "color_message", "taskName"}
)


class RequestIdFilter(logging.Filter):
    """Names the current request's id on every record (``-`` outside a request, in text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    ``request_id`` (null outside a request), what the record carries as ``extra`` (the access
    log: ``method``, ``route``, ``path``, ``status``, ``duration_ms``), and ``exception`` with
    the traceback when there is one. Non-ASCII text (Chinese messages) is written as is."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _id_of(record),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger [request id] message``, ``-`` for no request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        return TEXT_FORMAT % (record.__dict__ | {"request_id": _id_of(record) or "-"})


def _id_of(record: logging.LogRecord) -> str | None:
    return getattr(record, "request_id", None)


def config(settings: Settings) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of a SciPass process (also handed to uvicorn, which
    applies it in each of its worker processes): one handler on stderr for every logger,
    uvicorn's included, in the format the settings name."""
    level = settings.log_level.upper()
    formatter = "json" if settings.logs_as_json else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": JsonFormatter}, "text": {"()": TextFormatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": formatter,
                "filters": ["request_id"],
            }
        },
        "root": {"level": level, "handlers": ["default"]},
        "loggers": {
            name: {"level": level, "handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure(settings: Settings) -> None:
    """Configure this process's logging (``scipass worker``, and ``scipass serve`` before it
    hands the same configuration to uvicorn)."""
    logging.config.dictConfig(config(settings))
