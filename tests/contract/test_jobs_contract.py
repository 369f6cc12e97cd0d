"""StoragePort contract: jobs, holds and their settlement (run against every implementation)."""

from __future__ import annotations

import pytest

from core.domain.catalog import MediaKind
from core.domain.errors import IdempotencyConflict, InsufficientFunds, JobNotFound
from core.domain.jobs import JobStatus, ResultFile
from core.domain.ledger import Balance, EntryKind, release
from core.ports.storage import StoragePort
from tests.contract.factories import at, job, topup

S = JobStatus


async def funded(storage: StoragePort, amount: int = 1000, user_id: int = 1) -> None:
    await storage.post(topup(f"seed:{user_id}", user_id, amount))


async def test_create_job_with_hold_stores_both(storage: StoragePort) -> None:
    await funded(storage)
    created, new = await storage.create_job_with_hold(job("j1", price=300))
    assert new is True
    assert created == job("j1", price=300)
    assert await storage.get_job("j1") == created
    assert await storage.balance(1) == Balance(1000, 300)
    assert [e.key for e in await storage.entries(1)] == ["hold:j1", "seed:1"]


async def test_a_second_confirm_returns_the_first_job_and_holds_once(
    storage: StoragePort,
) -> None:
    await funded(storage)
    first, _ = await storage.create_job_with_hold(job("j1", price=300))
    again, new = await storage.create_job_with_hold(job("j2", price=300, confirm_key="confirm:j1"))
    assert (again, new) == (first, False)
    assert await storage.get_job("j2") is None
    assert await storage.balance(1) == Balance(1000, 300)


async def test_a_job_id_reused_by_another_confirmation_is_a_conflict(
    storage: StoragePort,
) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300))
    with pytest.raises(IdempotencyConflict):
        await storage.create_job_with_hold(job("j1", price=300, confirm_key="other"))
    assert await storage.balance(1) == Balance(1000, 300)


async def test_an_unaffordable_job_stores_nothing(storage: StoragePort) -> None:
    await funded(storage, 250)
    with pytest.raises(InsufficientFunds):
        await storage.create_job_with_hold(job("j1", price=300))
    assert await storage.get_job("j1") is None
    assert await storage.user_jobs(1) == []
    assert await storage.balance(1) == Balance(250, 0)
    assert [e.key for e in await storage.entries(1)] == ["seed:1"]


async def test_transition_applies_only_from_an_expected_state(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1"))
    moved = await storage.transition("j1", {S.QUEUED}, S.SUBMITTING, at(1))
    assert moved is not None
    assert (moved.status, moved.updated_at) == (S.SUBMITTING, at(1))
    assert await storage.transition("j1", {S.QUEUED}, S.SUBMITTING, at(2)) is None
    assert await storage.get_job("j1") == moved


async def test_transition_sets_the_allowed_fields(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1"))
    files = (ResultFile(MediaKind.IMAGE, "https://x/1.png"), ResultFile(MediaKind.VIDEO, "v"))
    await storage.transition("j1", {S.QUEUED}, S.SUBMITTED, at(1), task_id="t1")
    await storage.transition("j1", {S.SUBMITTED}, S.RUNNING, at(2), progress_message_id=77)
    done = await storage.transition("j1", {S.RUNNING}, S.FAILED, at(3), result=files, error="x")
    assert done is not None
    assert (done.task_id, done.progress_message_id, done.result, done.error) == (
        "t1",
        77,
        files,
        "x",
    )
    assert await storage.get_job("j1") == done


async def test_transition_rejects_unknown_jobs_and_fields(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1"))
    with pytest.raises(JobNotFound):
        await storage.transition("nope", {S.QUEUED}, S.SUBMITTING, at(1))
    with pytest.raises(ValueError, match="price"):
        await storage.transition("j1", {S.QUEUED}, S.SUBMITTING, at(1), price=0)
    assert (await storage.get_job("j1")).status is S.QUEUED  # type: ignore[union-attr]


async def test_a_task_id_belongs_to_one_job(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1"))
    await storage.create_job_with_hold(job("j2"))
    await storage.transition("j1", {S.QUEUED}, S.SUBMITTED, at(1), task_id="t1")
    with pytest.raises(IdempotencyConflict):
        await storage.transition("j2", {S.QUEUED}, S.SUBMITTED, at(1), task_id="t1")
    assert (await storage.get_job("j2")).status is S.QUEUED  # type: ignore[union-attr]


async def test_settle_capture_moves_the_job_and_the_money_together(
    storage: StoragePort,
) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300))
    done = await storage.settle("j1", {S.QUEUED}, S.SUCCEEDED, EntryKind.CAPTURE, at(1))
    assert done is not None
    assert done.status is S.SUCCEEDED
    assert await storage.balance(1) == Balance(700, 0)
    # The hold resolved: neither a second capture nor a release moves money again.
    assert await storage.settle("j1", {S.QUEUED}, S.FAILED, EntryKind.RELEASE, at(2)) is None
    assert await storage.balance(1) == Balance(700, 0)


async def test_settle_release_returns_the_hold(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300))
    failed = await storage.settle(
        "j1", {S.QUEUED}, S.FAILED, EntryKind.RELEASE, at(1), error="rejected"
    )
    assert failed is not None
    assert (failed.status, failed.error) == (S.FAILED, "rejected")
    assert await storage.balance(1) == Balance(1000, 0)


async def test_settle_is_atomic_when_the_resolution_conflicts(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300))
    # Someone already released this hold outside the job's state machine.
    await storage.post(release("j1", 1, 300))
    with pytest.raises(IdempotencyConflict):
        await storage.settle("j1", {S.QUEUED}, S.SUCCEEDED, EntryKind.CAPTURE, at(1))
    assert (await storage.get_job("j1")).status is S.QUEUED  # type: ignore[union-attr]
    assert await storage.balance(1) == Balance(1000, 0)


async def test_settle_with_bad_arguments_changes_nothing(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300))
    with pytest.raises(ValueError, match="price"):
        await storage.settle("j1", {S.QUEUED}, S.SUCCEEDED, EntryKind.CAPTURE, at(1), price=1)
    with pytest.raises(ValueError, match="capture or release"):
        await storage.settle("j1", {S.QUEUED}, S.SUCCEEDED, EntryKind.TOPUP, at(1))
    with pytest.raises(JobNotFound):
        await storage.settle("nope", {S.QUEUED}, S.SUCCEEDED, EntryKind.CAPTURE, at(1))
    assert (await storage.get_job("j1")).status is S.QUEUED  # type: ignore[union-attr]
    assert await storage.balance(1) == Balance(1000, 300)


async def test_claim_delivery_is_exclusive_until_the_claim_goes_stale(
    storage: StoragePort,
) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1"))
    assert await storage.claim_delivery("j1", at(1), stale_before=at(0)) is None  # queued
    await storage.settle("j1", {S.QUEUED}, S.SUCCEEDED, EntryKind.CAPTURE, at(1))
    claimed = await storage.claim_delivery("j1", at(2), stale_before=at(0))
    assert claimed is not None
    assert (claimed.status, claimed.updated_at) == (S.DELIVERING, at(2))
    assert await storage.claim_delivery("j1", at(3), stale_before=at(2)) is None  # not stale
    again = await storage.claim_delivery("j1", at(10), stale_before=at(5))
    assert again is not None
    assert again.updated_at == at(10)
    await storage.transition("j1", {S.DELIVERING}, S.DELIVERED, at(11))
    assert await storage.claim_delivery("j1", at(99), stale_before=at(98)) is None
    with pytest.raises(JobNotFound):
        await storage.claim_delivery("nope", at(1), stale_before=at(0))


async def test_jobs_in_lists_untouched_jobs_oldest_first(storage: StoragePort) -> None:
    await funded(storage, 10_000)
    for n, seconds in enumerate([30, 10, 20, 40, 10]):
        await storage.create_job_with_hold(job(f"j{n}", created_at=at(0), updated_at=at(seconds)))
    await storage.transition("j2", {S.QUEUED}, S.SUBMITTED, at(20))
    found = await storage.jobs_in({S.QUEUED, S.SUBMITTED}, updated_before=at(30))
    assert [j.id for j in found] == ["j1", "j4", "j2", "j0"]  # ties keep creation order
    assert [j.id for j in await storage.jobs_in({S.QUEUED}, at(30), limit=2)] == ["j1", "j4"]
    assert [j.id for j in await storage.jobs_in({S.SUBMITTED}, at(19))] == []
    assert await storage.jobs_in(set(), at(99)) == []


async def test_user_jobs_pages_newest_first(storage: StoragePort) -> None:
    await funded(storage, 10_000)
    await funded(storage, 10_000, user_id=2)
    for n in range(5):
        await storage.create_job_with_hold(job(f"a{n}", created_at=at(n), updated_at=at(n)))
    await storage.create_job_with_hold(job("b0", user_id=2, created_at=at(9)))
    assert [j.id for j in await storage.user_jobs(1, limit=2)] == ["a4", "a3"]
    assert [j.id for j in await storage.user_jobs(1, limit=2, offset=2)] == ["a2", "a1"]
    assert [j.id for j in await storage.user_jobs(1, limit=2, offset=4)] == ["a0"]
    assert [j.id for j in await storage.user_jobs(2)] == ["b0"]
