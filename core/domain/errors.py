"""Errors the use cases raise; adapters translate their own failures into these."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the core raises on purpose."""


class InsufficientFunds(DomainError):
    def __init__(self, available: int, required: int) -> None:
        super().__init__(f"available {available} < required {required}")
        self.available = available
        self.required = required

    @property
    def missing(self) -> int:
        return self.required - self.available


class IdempotencyConflict(DomainError):
    """The same idempotency key was reused with different parameters."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} reused with different parameters")
        self.key = key


class UnknownModel(DomainError):
    def __init__(self, model_id: str) -> None:
        super().__init__(f"unknown model {model_id!r}")
        self.model_id = model_id


class InvalidParams(DomainError):
    """User-supplied parameters do not satisfy the model's schema."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class CatalogError(DomainError):
    """A catalog entry is malformed; names the model and the field."""

    def __init__(self, model_id: str, field: str, problem: str) -> None:
        super().__init__(f"catalog model {model_id!r}, field {field!r}: {problem}")
        self.model_id = model_id
        self.field = field
        self.problem = problem


class JobNotFound(DomainError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id!r} not found")
        self.job_id = job_id
