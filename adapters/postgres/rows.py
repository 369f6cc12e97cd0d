"""Conversions between table rows and domain objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from psycopg.types.json import Jsonb

from adapters.postgres.jsonb import jsonb
from core.domain.catalog import MediaKind
from core.domain.jobs import FailureKind, Job, JobStatus, ResultFile
from core.domain.ledger import EntryKind, LedgerEntry
from core.domain.users import User


def user_from(row: Mapping[str, Any]) -> User:
    return User(
        id=row["id"],
        lang=row["lang"],
        created_at=row["created_at"],
        username=row["username"],
        first_name=row["first_name"],
    )


def entry_from(row: Mapping[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        key=row["key"],
        user_id=row["user_id"],
        kind=EntryKind(row["kind"]),
        amount=row["amount"],
        held=row["held"],
        job_id=row["job_id"],
        reason=row["reason"],
        created_at=row["created_at"],
    )


def result_json(files: Iterable[ResultFile]) -> Jsonb:
    return Jsonb([{"kind": f.kind.value, "url": f.url} for f in files])


def job_from(row: Mapping[str, Any]) -> Job:
    return Job(
        id=row["id"],
        confirm_key=row["confirm_key"],
        user_id=row["user_id"],
        chat_id=row["chat_id"],
        lang=row["lang"],
        model_id=row["model_id"],
        sku_id=row["sku_id"],
        params=row["params"],
        price=row["price"],
        status=JobStatus(row["status"]),
        callback_token=row["callback_token"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        task_id=row["task_id"],
        result=tuple(ResultFile(MediaKind(f["kind"]), f["url"]) for f in row["result"]),
        error=row["error"],
        progress_message_id=row["progress_message_id"],
        # The outcome columns arrive with migration 006; a new job has none of them yet,
        # so a row written on an older schema still reads (the upgrade tests do that).
        failure=FailureKind(row["failure"]) if row.get("failure") else None,
        failure_reason=row.get("failure_reason"),
        submit_ambiguous_at=row.get("submit_ambiguous_at"),
        delivery_attempts=row.get("delivery_attempts") or 0,
    )


def job_params(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "confirm_key": job.confirm_key,
        "user_id": job.user_id,
        "chat_id": job.chat_id,
        "lang": job.lang,
        "model_id": job.model_id,
        "sku_id": job.sku_id,
        "params": jsonb(dict(job.params)),
        "price": job.price,
        "status": job.status.value,
        "callback_token": job.callback_token,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "task_id": job.task_id,
        "result": result_json(job.result),
        "error": job.error,
        "progress_message_id": job.progress_message_id,
    }
