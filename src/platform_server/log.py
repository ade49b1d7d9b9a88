"""Structured logs: JSON in production, one request id on every line, secrets redacted."""

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEY_PATTERN = re.compile(
    r"(authorization|token|secret|password|api_key|apikey|cookie|code_verifier|client_secret|^code$)",
    re.IGNORECASE,
)
# Values that look like credentials are masked wherever they appear, even inside free text.
_SECRET_VALUE_PATTERN = re.compile(r"(plat_[A-Za-z0-9_\-]{8,}|Bearer\s+[A-Za-z0-9._~+/=\-]+)")
REDACTED = "[redacted]"


def redact_secrets(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if _SECRET_KEY_PATTERN.search(key):
            event_dict[key] = REDACTED
        elif isinstance(value, str):
            event_dict[key] = _SECRET_VALUE_PATTERN.sub(REDACTED, value)
    return event_dict


def configure_logging(level: str, json_output: bool) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # Tracebacks become text before redaction, so a secret in an exception message is masked too.
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        # Not cached: module-level loggers must follow a later configure (each create_app, tests, the CLI);
        # the per-call cost is a few microseconds.
        cache_logger_on_first_use=False,
    )
    # Route the standard library's loggers (uvicorn, sqlalchemy, alembic) through the same renderer.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared, processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # Our middleware writes one access line per request with the request id; uvicorn's would duplicate it.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
