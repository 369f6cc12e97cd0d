"""Generation jobs, their lifecycle and the one table of state changes storage enforces."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from core.domain.catalog import MediaKind
from core.domain.ledger import EntryKind


class JobStatus(enum.StrEnum):
    QUEUED = "queued"  # confirmed: the hold exists, createTask not yet called
    SUBMITTING = "submitting"  # claimed by a runner: createTask in flight, or its answer lost
    SUBMITTED = "submitted"  # Kie.ai accepted the task
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # the provider produced a result; the money is still only held
    DELIVERING = "delivering"  # claimed for sending
    DELIVERED = "delivered"  # the result reached the user; captured
    FAILED = "failed"  # released; ``Job.failure`` says why
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # released after the provider took too long


class FailureKind(enum.StrEnum):
    """Why a job ended without a delivered result; each has its own sentence for the user."""

    MAINTENANCE = "maintenance"  # the provider is down for maintenance
    REJECTED = "rejected"  # the provider refused the input; its reason is kept
    PROVIDER_ERROR = "provider_error"  # the task failed on the provider's side
    TIMED_OUT = "timed_out"  # no result within the category's time
    UNDELIVERABLE = "undeliverable"  # produced, but the file could not be fetched or sent
    NOT_SUBMITTED = "not_submitted"  # the provider could not take the task (no task exists)
    UNCONFIRMED = "unconfirmed"  # createTask's answer was lost and nothing confirmed the task


AWAITING_RESULT = frozenset({JobStatus.SUBMITTING, JobStatus.SUBMITTED, JobStatus.RUNNING})
HAS_TASK = frozenset({JobStatus.SUBMITTED, JobStatus.RUNNING})
RELEASABLE = frozenset({JobStatus.QUEUED, *AWAITING_RESULT})
"""Where a provider failure or an expiry may end a job (never once a result exists)."""
IN_DELIVERY = frozenset({JobStatus.SUCCEEDED, JobStatus.DELIVERING})
HOLDING = RELEASABLE | IN_DELIVERY
TERMINAL = frozenset(JobStatus) - HOLDING

_S = JobStatus
_RELEASE = EntryKind.RELEASE
_CAPTURE = EntryKind.CAPTURE

TRANSITIONS: Mapping[JobStatus, Mapping[JobStatus, EntryKind | None]] = {
    _S.QUEUED: {
        _S.SUBMITTING: None,
        _S.FAILED: _RELEASE,
        _S.CANCELLED: _RELEASE,
        _S.EXPIRED: _RELEASE,
    },
    _S.SUBMITTING: {
        _S.SUBMITTING: None,  # the answer was found lost: the ambiguity is recorded
        _S.SUBMITTED: None,
        _S.FAILED: _RELEASE,
        _S.EXPIRED: _RELEASE,
    },
    _S.SUBMITTED: {
        _S.RUNNING: None,
        _S.SUCCEEDED: None,
        _S.FAILED: _RELEASE,
        _S.EXPIRED: _RELEASE,
    },
    _S.RUNNING: {_S.SUCCEEDED: None, _S.FAILED: _RELEASE, _S.EXPIRED: _RELEASE},
    _S.SUCCEEDED: {_S.DELIVERING: None},
    _S.DELIVERING: {
        _S.DELIVERING: None,  # a failed download attempt is counted
        _S.DELIVERED: _CAPTURE,  # paid only once the result reached the user
        _S.FAILED: _RELEASE,
    },
}
"""Every allowed state change and the money movement that goes with it (None: no money).

A hold is captured only on delivery and released on every other end, so each job resolves
its hold exactly once; terminal states have no way out."""


class IllegalTransition(ValueError):
    """A state change (or its money movement) the table does not allow: a programming error."""


def check_transition(
    expected: Iterable[JobStatus], to: JobStatus, resolution: EntryKind | None = None
) -> None:
    """Raise IllegalTransition unless every state in ``expected`` may move to ``to`` with
    exactly ``resolution``; checked before storage touches anything."""
    for source in expected:
        moves = TRANSITIONS.get(JobStatus(source), {})
        if to not in moves:
            raise IllegalTransition(f"a job cannot go from {source} to {to}")
        allowed = moves[to]
        if allowed is not resolution:
            wanted = allowed.value if allowed else "no money movement"
            raise IllegalTransition(f"{source} → {to} goes with {wanted}, not {resolution}")


@attrs.frozen
class ResultFile:
    kind: MediaKind
    url: str


@attrs.frozen
class Job:
    id: str
    confirm_key: str
    user_id: int
    chat_id: int
    lang: str
    model_id: str
    sku_id: str
    params: Mapping[str, Any]
    price: int
    status: JobStatus
    callback_token: str
    created_at: datetime
    updated_at: datetime
    task_id: str | None = None
    result: tuple[ResultFile, ...] = ()
    error: str | None = None
    """The last technical detail (for logs and operators), never shown to users."""
    progress_message_id: int | None = None
    failure: FailureKind | None = None
    failure_reason: str | None = None
    """The provider's own short explanation, shown for a rejected input."""
    submit_ambiguous_at: datetime | None = None
    """When createTask's answer was found lost; the wait for a confirmation counts from it."""
    delivery_attempts: int = 0
    """Failed result downloads so far."""


JOB_FIELDS_SETTABLE = frozenset(
    {
        "task_id",
        "result",
        "error",
        "progress_message_id",
        "failure",
        "failure_reason",
        "submit_ambiguous_at",
        "delivery_attempts",
    }
)
