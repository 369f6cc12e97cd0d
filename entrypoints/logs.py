"""Structured logs: one JSON event per line, secrets redacted, stdlib loggers included."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

import structlog

REDACTED = "[REDACTED]"
_SECRETS: list[str] = []


def redact_also(*secrets: str) -> None:
    """Secrets learnt after start-up (generated webhook secrets) are redacted from then on."""
    _SECRETS.extend(s for s in secrets if s and len(s) >= 8 and s not in _SECRETS)


def _redactor(secrets: Iterable[str]) -> Any:
    redact_also(*secrets)

    def redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        for key, value in event.items():
            if isinstance(value, str):
                for secret in _SECRETS:
                    value = value.replace(secret, REDACTED)
                event[key] = value
        return event

    return redact


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redactor(secrets),
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiogram.event").setLevel(max(logging.getLevelName(level), logging.INFO))
    # One line per HTTP request (every long poll, every Kie.ai status query) drowns the events
    # that matter; failures are logged by the callers with their context.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.getLevelName(level), logging.WARNING))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
