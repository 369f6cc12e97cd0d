"""GenerationPort: the AI provider (Kie.ai or the offline stub)."""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from core.domain.catalog import ModelSpec
from core.domain.jobs import FailureKind, ResultFile


class GenerationError(Exception):
    """Base for provider failures, already translated at the adapter edge.

    ``kind`` is what the user is told; ``reason`` the provider's own short words for a rejected
    input (shown to the user); the message is the technical detail (logs only).
    """

    default_kind: ClassVar[FailureKind] = FailureKind.PROVIDER_ERROR

    def __init__(
        self, detail: str = "", *, kind: FailureKind | None = None, reason: str | None = None
    ) -> None:
        super().__init__(detail)
        self.kind = kind or self.default_kind
        self.reason = reason


class GenerationRejected(GenerationError):
    """The provider refused the task for sure: no task exists, the hold can be released."""

    default_kind = FailureKind.NOT_SUBMITTED


class GenerationUnavailable(GenerationRejected):
    """Bad key, no credits, maintenance or rate limit: not the user's fault."""


class GenerationAmbiguous(GenerationError):
    """We cannot tell whether the task was created (timeout, lost answer)."""


class TaskState(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@attrs.frozen
class TaskStatus:
    state: TaskState
    files: tuple[ResultFile, ...] = ()
    error: str | None = None
    """The technical detail of a failure (logs only)."""
    failure: FailureKind = FailureKind.PROVIDER_ERROR
    """For a failed task: which sentence the user gets."""
    reason: str | None = None
    """For a rejected input: the provider's own short explanation, shown to the user."""


@attrs.frozen
class TaskRequest:
    job_id: str
    model: ModelSpec
    params: Mapping[str, Any]
    callback_url: str | None


class GenerationPort(abc.ABC):
    mode: str

    @abc.abstractmethod
    async def submit(self, request: TaskRequest) -> str:
        """Create the task once and return the provider's task id (never retried blindly)."""

    @abc.abstractmethod
    async def status(self, task_id: str) -> TaskStatus: ...
