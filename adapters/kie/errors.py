"""Kie.ai answers → the GenerationPort's errors, checking HTTP status AND envelope ``code``.

Each error carries the failure kind the user is told about; the full detail (codes, Kie.ai's
message) stays in the exception text, which only the log sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import httpx

from core.domain.jobs import FailureKind
from core.ports.generation import (
    GenerationAmbiguous,
    GenerationError,
    GenerationRejected,
    GenerationUnavailable,
    TaskState,
    TaskStatus,
)

MAINTENANCE = 455
REASON_MAX = 200
"""How much of Kie.ai's own explanation a user is shown."""


def short(text: str) -> str:
    """One line of at most REASON_MAX characters."""
    line = " ".join(text.split()).rstrip(" .")
    return line if len(line) <= REASON_MAX else line[: REASON_MAX - 1].rstrip() + "…"


class KieUnavailable(GenerationUnavailable):
    """Not the user's fault: bad key, no credits, rate limit, maintenance, server error."""

    def __init__(self, code: int, reason: str, message: str, retryable: bool) -> None:
        kind = FailureKind.MAINTENANCE if code == MAINTENANCE else FailureKind.NOT_SUBMITTED
        super().__init__(f"{reason} (Kie.ai {code}: {message})" if message else reason, kind=kind)
        self.code = code
        self.cause = reason
        self.retryable = retryable


class KieInvalidInput(GenerationRejected):
    """Kie.ai refused the input; its own message is kept so the user can fix it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(
            f"invalid input: {message or 'rejected by Kie.ai'}",
            kind=FailureKind.REJECTED,
            reason=short(message) if message else None,
        )
        self.code = code
        self.kie_message = message


class KieNotFound(GenerationError):
    """recordInfo does not know the task (yet: it may appear a moment after createTask)."""


# recordInfo's codes that end the task itself, and what the user is told for each.
TASK_ENDED = {501: FailureKind.PROVIDER_ERROR, 408: FailureKind.TIMED_OUT}
# recordInfo's codes while the task's record does not exist yet: 404, and the 422
# "recordInfo is null" that may follow createTask by a moment.
RECORD_NOT_YET = frozenset({404, 422})


class KieTaskEnded(GenerationError):
    """recordInfo's code says the task failed (501) or timed out (408) on Kie.ai's side: it is
    over, so the hold can be released. ``record`` is the task record the answer carried."""

    def __init__(self, code: int, message: str, record: Mapping[str, Any] | None) -> None:
        super().__init__(
            f"task ended (Kie.ai {code}: {message})" if message else f"task ended (Kie.ai {code})",
            kind=TASK_ENDED.get(code, FailureKind.PROVIDER_ERROR),
        )
        self.code = code
        self.kie_message = message
        self.record = record


class KieTransportError(GenerationAmbiguous):
    """The request may or may not have reached Kie.ai."""

    retryable = True


# code → (reason, retryable), as Kie.ai documents its answer codes.
_UNAVAILABLE = {
    401: ("bad API key", False),
    402: ("no Kie.ai credits", False),
    405: ("rate limited", True),
    429: ("rate limited", True),
    430: ("rate limited", True),
    433: ("API key usage cap reached", False),
    MAINTENANCE: ("Kie.ai maintenance", True),
    500: ("Kie.ai server error", True),
    502: ("Kie.ai server error", True),
    503: ("Kie.ai server error", True),
    504: ("Kie.ai server error", True),
    505: ("feature disabled", False),
}
_INVALID = {400, 408, 409, 413, 422, 451, 501, 531}


# A failed task's failCode that blames the input (content policy, bad parameters).
_TASK_REJECTED = {400, 413, 422, 451}


def message_of(body: Any) -> str:
    """Kie.ai spells it ``msg``; some of its pages show ``message``."""
    if not isinstance(body, dict):
        return ""
    text = body.get("msg") or body.get("message") or ""
    return str(text)[:300]


def error_for(code: int, message: str) -> GenerationError:
    if code == 404:
        return KieNotFound(f"not found (Kie.ai 404: {message})")
    if code in _UNAVAILABLE:
        reason, retryable = _UNAVAILABLE[code]
        return KieUnavailable(code, reason, message, retryable)
    if code in _INVALID or 400 <= code < 500:
        return KieInvalidInput(code, message)
    return KieUnavailable(code, "Kie.ai server error", message, True)


def _answer(response: httpx.Response) -> tuple[Any, int | None, str]:
    """The body (None unless JSON), its error code (None for a success) and its message.

    Kie.ai reports errors both ways, so both are read: in the HTTP status (with or without an
    envelope) and hidden in an HTTP-200 envelope's ``code``.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("code") if isinstance(body, dict) else None
    if response.status_code >= 400:
        # An envelope's own code is the more precise one (e.g. HTTP 400 carrying 422).
        effective = code if isinstance(code, int) and code != 200 else response.status_code
        return body, effective, message_of(body) or response.reason_phrase
    if not isinstance(body, dict):
        raise KieUnavailable(response.status_code, "Kie.ai answered no JSON", "", True)
    if code != 200:
        number = code if isinstance(code, int) else int(str(code)) if str(code).isdigit() else 500
        return body, number, message_of(body)
    return body, None, ""


def check(response: httpx.Response) -> Any:
    """Return ``data`` of a successful envelope, or raise the mapped port error."""
    body, code, message = _answer(response)
    if code is not None:
        raise error_for(code, message)
    return body.get("data")


def check_record(response: httpx.Response) -> Any:
    """``check`` for recordInfo, whose answer codes can speak of the task rather than of the
    request: a record that does not exist yet raises KieNotFound (keep waiting), a task that
    failed or timed out raises KieTaskEnded with whatever record came along."""
    body, code, message = _answer(response)
    if code in RECORD_NOT_YET:
        raise KieNotFound(f"no task record yet (Kie.ai {code}: {message})")
    if code in TASK_ENDED:
        data = body.get("data") if isinstance(body, dict) else None
        raise KieTaskEnded(code, message, data if isinstance(data, Mapping) else None)
    if code is not None:
        raise error_for(code, message)
    return body.get("data")


def is_retryable(exc: Exception) -> bool:
    """Safe to repeat for idempotent calls (queries, uploads); never used for createTask."""
    if isinstance(exc, KieUnavailable | KieTransportError):
        return bool(exc.retryable)
    return isinstance(exc, httpx.TransportError)


def _code(value: Any) -> int | None:
    """failCode arrives as a string, a number or null."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None


def classify_failure(
    status: TaskStatus, data: Any, default: FailureKind = FailureKind.PROVIDER_ERROR
) -> TaskStatus:
    """A failed task's record (recordInfo ``data`` or a callback's) → the kind of failure the
    user is told about, with Kie.ai's own short reason when the input was refused; ``default``
    when the record's failCode says nothing more specific."""
    if status.state is not TaskState.FAILED or not isinstance(data, Mapping):
        return status
    code = _code(data.get("failCode"))
    message = str(data.get("failMsg") or data.get("errorMessage") or "")
    if code == MAINTENANCE:
        return attrs.evolve(status, failure=FailureKind.MAINTENANCE, reason=None)
    if code in _TASK_REJECTED:
        reason = short(message) if message else None
        return attrs.evolve(status, failure=FailureKind.REJECTED, reason=reason)
    return attrs.evolve(status, failure=default, reason=None)
