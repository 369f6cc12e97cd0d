"""Kie.ai answers → the GenerationPort's errors, checking HTTP status AND envelope ``code``."""

from __future__ import annotations

from typing import Any

import httpx

from core.ports.generation import (
    GenerationAmbiguous,
    GenerationError,
    GenerationRejected,
    GenerationUnavailable,
)


class KieUnavailable(GenerationUnavailable):
    """Not the user's fault: bad key, no credits, rate limit, maintenance, server error."""

    def __init__(self, code: int, reason: str, message: str, retryable: bool) -> None:
        super().__init__(f"{reason} (Kie.ai {code}: {message})" if message else reason)
        self.code = code
        self.reason = reason
        self.retryable = retryable


class KieInvalidInput(GenerationRejected):
    """Kie.ai refused the input; its own message is kept so the user can fix it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"invalid input: {message or 'rejected by Kie.ai'}")
        self.code = code
        self.kie_message = message


class KieNotFound(GenerationError):
    """recordInfo does not know the task (yet: it may appear a moment after createTask)."""


class KieTransportError(GenerationAmbiguous):
    """The request may or may not have reached Kie.ai."""

    retryable = True


# code → (reason, retryable); kie-api.md §6.
_UNAVAILABLE = {
    401: ("bad API key", False),
    402: ("no Kie.ai credits", False),
    405: ("rate limited", True),
    429: ("rate limited", True),
    430: ("rate limited", True),
    433: ("API key usage cap reached", False),
    455: ("Kie.ai maintenance", True),
    500: ("Kie.ai server error", True),
    502: ("Kie.ai server error", True),
    503: ("Kie.ai server error", True),
    504: ("Kie.ai server error", True),
    505: ("feature disabled", False),
}
_INVALID = {400, 408, 409, 413, 422, 451, 501, 531}


def message_of(body: Any) -> str:
    """Kie.ai spells it ``msg``; some pages show ``message`` (⚠ §1.4)."""
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


def check(response: httpx.Response) -> Any:
    """Return ``data`` of a successful envelope, or raise the mapped port error.

    Both readings of ⚠ §1.4 are handled: an error in the HTTP status (with or without an
    envelope) and an error hidden in an HTTP-200 envelope's ``code``.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("code") if isinstance(body, dict) else None
    if response.status_code >= 400:
        # An envelope's own code is the more precise one (e.g. HTTP 400 carrying 422).
        effective = code if isinstance(code, int) and code != 200 else response.status_code
        raise error_for(effective, message_of(body) or response.reason_phrase)
    if not isinstance(body, dict):
        raise KieUnavailable(response.status_code, "Kie.ai answered no JSON", "", True)
    if code != 200:
        number = code if isinstance(code, int) else int(str(code)) if str(code).isdigit() else 500
        raise error_for(number, message_of(body))
    return body.get("data")


def is_retryable(exc: Exception) -> bool:
    """Safe to repeat for idempotent calls (queries, uploads); never used for createTask."""
    if isinstance(exc, KieUnavailable | KieTransportError):
        return bool(exc.retryable)
    return isinstance(exc, httpx.TransportError)
