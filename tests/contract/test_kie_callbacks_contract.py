"""The CallbackStorePort contract, run against InMemoryCallbackStore and PostgresCallbackStore."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory.kie_callbacks import InMemoryCallbackStore
from adapters.postgres.kie_callbacks import PostgresCallbackStore, _callback
from adapters.postgres.pool import open_pool
from core.domain.catalog import MediaKind
from core.domain.jobs import FailureKind, ResultFile
from core.ports.callbacks import CallbackStorePort, ProviderCallback
from core.ports.generation import TaskState, TaskStatus

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def callbacks(storage_url: str | None) -> AsyncIterator[CallbackStorePort]:
    if storage_url is None:
        yield InMemoryCallbackStore()
        return
    pool = await open_pool(storage_url, max_size=4)
    try:
        yield PostgresCallbackStore(pool)
    finally:
        await pool.close()


def cb(job_id: str, state: TaskState = TaskState.RUNNING, seconds: int = 0) -> ProviderCallback:
    files = (ResultFile(MediaKind.IMAGE, f"https://cdn.test/{job_id}.png"),)
    status = TaskStatus(
        state,
        files if state is TaskState.SUCCEEDED else (),
        "boom" if state is TaskState.FAILED else None,
    )
    return ProviderCallback(
        job_id, f"task-{job_id}", status, T0 + timedelta(seconds=seconds), "{}"
    )


async def test_saved_callbacks_round_trip_in_order(callbacks: CallbackStorePort) -> None:
    first = await callbacks.save(cb("j1", TaskState.RUNNING))
    second = await callbacks.save(cb("j1", TaskState.SUCCEEDED, 5))
    await callbacks.save(cb("j2", TaskState.FAILED))
    pending = await callbacks.pending("j1")
    assert [i for i, _ in pending] == [first, second]
    assert second > first
    assert pending[1][1] == cb("j1", TaskState.SUCCEEDED, 5)
    assert (await callbacks.pending("j2"))[0][1].status.error == "boom"
    assert await callbacks.pending("nobody") == []


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (FailureKind.REJECTED, "The prompt was flagged by the content policy"),
        (FailureKind.MAINTENANCE, None),
        (FailureKind.TIMED_OUT, None),
    ],
)
async def test_a_failed_callback_keeps_its_kind_and_reason(
    callbacks: CallbackStorePort, failure: FailureKind, reason: str | None
) -> None:
    status = TaskStatus(TaskState.FAILED, error="flagged (400)", failure=failure, reason=reason)
    saved = ProviderCallback("j1", "task-j1", status, T0, "{}")
    await callbacks.save(saved)
    [(_, pending)] = await callbacks.pending("j1")
    assert (pending.status.failure, pending.status.reason) == (failure, reason)
    assert pending == saved


def test_a_row_stored_without_a_kind_reads_as_a_provider_error() -> None:
    # Callbacks saved before the kind had a column of its own.
    row: dict[str, object] = {
        "job_id": "j1",
        "task_id": "task-j1",
        "state": "failed",
        "files": [],
        "error": "boom",
        "failure": None,
        "reason": None,
        "raw": "{}",
        "received_at": T0,
    }
    status = _callback(row).status
    assert (status.state, status.failure, status.reason) == (
        TaskState.FAILED,
        FailureKind.PROVIDER_ERROR,
        None,
    )


async def test_duplicates_are_stored_and_marked_done_one_by_one(
    callbacks: CallbackStorePort,
) -> None:
    a = await callbacks.save(cb("j1", TaskState.SUCCEEDED))
    b = await callbacks.save(cb("j1", TaskState.SUCCEEDED))
    assert a != b
    await callbacks.mark_done(a, T0)
    await callbacks.mark_done(a, T0 + timedelta(minutes=1))  # twice: harmless
    assert [i for i, _ in await callbacks.pending("j1")] == [b]
    await callbacks.mark_done(b, T0)
    assert await callbacks.pending("j1") == []


async def test_jobs_with_pending_oldest_first_limited_and_without_done_ones(
    callbacks: CallbackStorePort,
) -> None:
    j2 = await callbacks.save(cb("j2"))
    await callbacks.save(cb("j1"))
    await callbacks.save(cb("j2"))
    await callbacks.save(cb("j3"))
    assert await callbacks.jobs_with_pending() == ["j2", "j1", "j3"]
    assert await callbacks.jobs_with_pending(limit=2) == ["j2", "j1"]
    await callbacks.mark_done(j2, T0)
    assert await callbacks.jobs_with_pending() == ["j1", "j2", "j3"]
    for i, _ in await callbacks.pending("j2"):
        await callbacks.mark_done(i, T0)
    assert await callbacks.jobs_with_pending() == ["j1", "j3"]
