"""FreeQuotaPort: the free tier's daily uses, one per free job.

A use is taken in the same unit of work that creates its job (``JobsPort.create_job_with_hold``
with a ``FreeClaim``) and given back in the same unit of work that releases the job's hold, so
the count of uses can never disagree with the jobs that took them. The storage adapters
implement it beside the jobs for that reason.
"""

from __future__ import annotations

import abc
from datetime import date, datetime

import attrs


@attrs.frozen
class FreeClaim:
    """What a confirmation asks of the storage: make this job free if ``day`` (a UTC day) has
    fewer than ``quota`` uses still taken by the user; otherwise charge its price."""

    day: date
    quota: int = attrs.field()

    @quota.validator
    def _not_negative(self, _attribute: object, value: int) -> None:
        if not isinstance(value, int) or value < 0:
            raise ValueError("a free quota is a whole number of generations, at least 0")


@attrs.frozen
class FreeUse:
    """One free generation: the job that took it, the UTC day it counts against, and when it
    was given back (its job ended without a result), if it was."""

    job_id: str
    user_id: int
    day: date
    created_at: datetime
    returned_at: datetime | None = None

    @property
    def returned(self) -> bool:
        return self.returned_at is not None


class FreeQuotaPort(abc.ABC):
    @abc.abstractmethod
    async def free_used(self, user_id: int, day: date) -> int:
        """How many free generations the user has taken on ``day`` and not been given back."""

    @abc.abstractmethod
    async def free_use(self, job_id: str) -> FreeUse | None:
        """The free use a job took; None for a job that was charged."""
