"""Generation jobs and their lifecycle (SPEC §6)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from core.domain.catalog import MediaKind


class JobStatus(enum.StrEnum):
    QUEUED = "queued"  # confirmed: the hold exists, createTask not yet called
    SUBMITTING = "submitting"  # createTask in flight or its answer was lost
    SUBMITTED = "submitted"  # Kie.ai accepted the task
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # captured; waiting for delivery
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def holds_money(self) -> bool:
        """Whether a job in this state still has an unresolved hold."""
        return self in AWAITING_RESULT or self is JobStatus.QUEUED


AWAITING_RESULT = frozenset({JobStatus.SUBMITTING, JobStatus.SUBMITTED, JobStatus.RUNNING})
RELEASABLE = frozenset({JobStatus.QUEUED, *AWAITING_RESULT})


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
    progress_message_id: int | None = None


JOB_FIELDS_SETTABLE = frozenset({"task_id", "result", "error", "progress_message_id"})
