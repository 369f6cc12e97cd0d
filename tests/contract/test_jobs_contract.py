"""StoragePort contract: jobs, holds and their settlement (run against every implementation)."""

from __future__ import annotations

import asyncio

import pytest

from core.domain.catalog import MediaKind
from core.domain.errors import IdempotencyConflict, InsufficientFunds, JobNotFound
from core.domain.jobs import FailureKind, IllegalTransition, JobStatus, ResultFile
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
    await storage.transition("j1", {S.QUEUED}, S.SUBMITTING, at(1))
    lost = await storage.transition(
        "j1", {S.SUBMITTING}, S.SUBMITTING, at(2), submit_ambiguous_at=at(2), error="HTTP 502"
    )
    assert lost is not None
    assert (lost.submit_ambiguous_at, lost.error) == (at(2), "HTTP 502")
    await storage.transition("j1", {S.SUBMITTING}, S.SUBMITTED, at(3), task_id="t1")
    await storage.transition("j1", {S.SUBMITTED}, S.RUNNING, at(4), progress_message_id=77)
    await storage.transition("j1", {S.RUNNING}, S.SUCCEEDED, at(5), result=files, error=None)
    await storage.claim_delivery("j1", at(6), stale_before=at(0))
    await storage.transition("j1", {S.DELIVERING}, S.DELIVERING, at(7), delivery_attempts=2)
    done = await storage.settle(
        "j1",
        {S.DELIVERING},
        S.FAILED,
        EntryKind.RELEASE,
        at(8),
        failure=FailureKind.REJECTED,
        failure_reason="flagged",
        error="x",
    )
    assert done is not None
    assert (done.task_id, done.progress_message_id, done.result, done.error) == (
        "t1",
        77,
        files,
        "x",
    )
    assert (done.failure, done.failure_reason, done.delivery_attempts) == (
        FailureKind.REJECTED,
        "flagged",
        2,
    )
    assert done.submit_ambiguous_at == at(2)  # kept: it is the job's history
    assert await storage.get_job("j1") == done


async def test_transition_rejects_unknown_jobs_and_fields(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1"))
    with pytest.raises(JobNotFound):
        await storage.transition("nope", {S.QUEUED}, S.SUBMITTING, at(1))
    with pytest.raises(ValueError, match="price"):
        await storage.transition("j1", {S.QUEUED}, S.SUBMITTING, at(1), price=0)
    assert (await storage.get_job("j1")).status is S.QUEUED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("expected", "to", "resolution"),
    [
        ({S.QUEUED}, S.SUBMITTED, None),  # skipping the claim
        ({S.QUEUED}, S.DELIVERED, EntryKind.CAPTURE),  # paid without a delivery
        ({S.SUBMITTED}, S.SUCCEEDED, EntryKind.CAPTURE),  # paid before a delivery
        ({S.QUEUED, S.DELIVERED}, S.FAILED, EntryKind.RELEASE),  # out of a terminal state
        ({S.QUEUED}, S.FAILED, None),  # ending without resolving the hold
    ],
)
async def test_changes_the_table_does_not_allow_are_refused_and_change_nothing(
    storage: StoragePort, expected: set[JobStatus], to: JobStatus, resolution: EntryKind | None
) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300))
    move = (
        storage.transition("j1", expected, to, at(1))
        if resolution is None
        else storage.settle("j1", expected, to, resolution, at(1))
    )
    with pytest.raises(IllegalTransition):
        await move
    assert await storage.get_job("j1") == job("j1", price=300)
    assert await storage.balance(1) == Balance(1000, 300)


async def test_a_task_id_belongs_to_one_job(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1"))
    await storage.create_job_with_hold(job("j2"))
    await storage.claim_queued(at(1), 2)
    await storage.transition("j1", {S.SUBMITTING}, S.SUBMITTED, at(1), task_id="t1")
    with pytest.raises(IdempotencyConflict):
        await storage.transition("j2", {S.SUBMITTING}, S.SUBMITTED, at(1), task_id="t1")
    assert (await storage.get_job("j2")).status is S.SUBMITTING  # type: ignore[union-attr]


async def delivering(storage: StoragePort, job_id: str, now: float = 1) -> None:
    """Take a confirmed job along the real path to a delivery claim."""
    await storage.transition(job_id, {S.QUEUED}, S.SUBMITTING, at(now))
    await storage.transition(job_id, {S.SUBMITTING}, S.SUBMITTED, at(now), task_id=f"t-{job_id}")
    files = (ResultFile(MediaKind.IMAGE, "https://x/1.png"),)
    await storage.transition(job_id, {S.SUBMITTED}, S.SUCCEEDED, at(now), result=files)
    assert await storage.claim_delivery(job_id, at(now), stale_before=at(0))


async def test_a_produced_result_still_holds_the_money_until_it_is_delivered(
    storage: StoragePort,
) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300))
    await delivering(storage, "j1")
    assert await storage.balance(1) == Balance(1000, 300)
    done = await storage.settle("j1", {S.DELIVERING}, S.DELIVERED, EntryKind.CAPTURE, at(2))
    assert done is not None
    assert done.status is S.DELIVERED
    assert await storage.balance(1) == Balance(700, 0)
    # The hold resolved: neither a second capture nor a release moves money again.
    again = await storage.settle("j1", {S.DELIVERING}, S.FAILED, EntryKind.RELEASE, at(3))
    assert again is None
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


async def test_an_undeliverable_result_is_released(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300))
    await delivering(storage, "j1")
    failed = await storage.settle(
        "j1",
        {S.DELIVERING},
        S.FAILED,
        EntryKind.RELEASE,
        at(2),
        failure=FailureKind.UNDELIVERABLE,
    )
    assert failed is not None
    assert failed.failure is FailureKind.UNDELIVERABLE
    assert await storage.balance(1) == Balance(1000, 0)


async def test_settle_is_atomic_when_the_resolution_conflicts(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300))
    await delivering(storage, "j1")
    # Someone already released this hold outside the job's state machine.
    await storage.post(release("j1", 1, 300))
    with pytest.raises(IdempotencyConflict):
        await storage.settle("j1", {S.DELIVERING}, S.DELIVERED, EntryKind.CAPTURE, at(2))
    assert (await storage.get_job("j1")).status is S.DELIVERING  # type: ignore[union-attr]
    assert await storage.balance(1) == Balance(1000, 0)


async def test_settle_with_bad_arguments_changes_nothing(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300))
    with pytest.raises(ValueError, match="price"):
        await storage.settle("j1", {S.QUEUED}, S.FAILED, EntryKind.RELEASE, at(1), price=1)
    with pytest.raises(ValueError, match="capture or release"):
        await storage.settle("j1", {S.QUEUED}, S.FAILED, EntryKind.TOPUP, at(1))
    with pytest.raises(JobNotFound):
        await storage.settle("nope", {S.QUEUED}, S.FAILED, EntryKind.RELEASE, at(1))
    assert (await storage.get_job("j1")).status is S.QUEUED  # type: ignore[union-attr]
    assert await storage.balance(1) == Balance(1000, 300)


async def test_claim_delivery_is_exclusive_until_the_claim_goes_stale(
    storage: StoragePort,
) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1"))
    assert await storage.claim_delivery("j1", at(1), stale_before=at(0)) is None  # queued
    await delivering(storage, "j1", now=2)
    claimed = await storage.get_job("j1")
    assert claimed is not None
    assert (claimed.status, claimed.updated_at) == (S.DELIVERING, at(2))
    assert await storage.claim_delivery("j1", at(3), stale_before=at(2)) is None  # not stale
    again = await storage.claim_delivery("j1", at(10), stale_before=at(5))
    assert again is not None
    assert again.updated_at == at(10)
    await storage.settle("j1", {S.DELIVERING}, S.DELIVERED, EntryKind.CAPTURE, at(11))
    assert await storage.claim_delivery("j1", at(99), stale_before=at(98)) is None
    with pytest.raises(JobNotFound):
        await storage.claim_delivery("nope", at(1), stale_before=at(0))


async def test_claim_queued_takes_the_oldest_queued_jobs_once(storage: StoragePort) -> None:
    await funded(storage, 10_000)
    for n, seconds in enumerate([30, 10, 20, 40, 10]):
        await storage.create_job_with_hold(job(f"j{n}", created_at=at(0), updated_at=at(seconds)))
    await storage.settle("j2", {S.QUEUED}, S.CANCELLED, EntryKind.RELEASE, at(20))

    first = await storage.claim_queued(at(50), limit=2)
    rest = await storage.claim_queued(at(51), limit=10)

    assert [j.id for j in first] == ["j1", "j4"]  # ties keep creation order
    assert [j.id for j in rest] == ["j0", "j3"]
    assert {(j.status, j.updated_at) for j in first} == {(S.SUBMITTING, at(50))}
    assert await storage.get_job("j0") == rest[0]
    assert await storage.claim_queued(at(52), limit=10) == []
    assert await storage.claim_queued(at(52), limit=0) == []


async def test_claim_queued_from_many_callers_at_once_gives_each_job_to_one(
    storage: StoragePort,
) -> None:
    await funded(storage, 100_000)
    ids = [f"j{n}" for n in range(30)]
    for job_id in ids:
        await storage.create_job_with_hold(job(job_id))

    batches = await asyncio.gather(*(storage.claim_queued(at(1), limit=4) for _ in range(12)))

    claimed = [j.id for batch in batches for j in batch]
    assert sorted(claimed) == sorted(ids)  # all of them, none twice
    assert all(len(batch) <= 4 for batch in batches)


async def test_claim_deliveries_takes_produced_and_stale_claims(storage: StoragePort) -> None:
    await funded(storage, 10_000)
    for job_id in ("fresh", "stale", "live", "waiting"):
        await storage.create_job_with_hold(job(job_id))
    await delivering(storage, "stale", now=1)
    await delivering(storage, "live", now=8)
    await delivering(storage, "fresh", now=3)
    files = (ResultFile(MediaKind.IMAGE, "https://x/2.png"),)
    await storage.settle("fresh", {S.DELIVERING}, S.FAILED, EntryKind.RELEASE, at(3))
    await storage.transition("waiting", {S.QUEUED}, S.SUBMITTING, at(4))
    await storage.transition("waiting", {S.SUBMITTING}, S.SUBMITTED, at(4), task_id="tw")
    await storage.transition("waiting", {S.SUBMITTED}, S.SUCCEEDED, at(4), result=files)

    claimed = await storage.claim_deliveries(at(10), stale_before=at(5), limit=5)

    assert [j.id for j in claimed] == ["stale", "waiting"]  # oldest first; "live" is live
    assert {(j.status, j.updated_at) for j in claimed} == {(S.DELIVERING, at(10))}
    assert await storage.claim_deliveries(at(11), stale_before=at(5), limit=5) == []
    taken = await asyncio.gather(
        *(storage.claim_deliveries(at(20), stale_before=at(15), limit=1) for _ in range(5))
    )
    assert sorted(j.id for batch in taken for j in batch) == ["live", "stale", "waiting"]


async def test_set_progress_message_changes_no_state(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1"))
    await storage.claim_queued(at(5), limit=1)
    await storage.set_progress_message("j1", 321)
    stored = await storage.get_job("j1")
    assert stored is not None
    assert (stored.status, stored.updated_at, stored.progress_message_id) == (
        S.SUBMITTING,
        at(5),
        321,
    )
    with pytest.raises(JobNotFound):
        await storage.set_progress_message("nope", 1)


async def test_a_new_job_starts_without_outcomes(storage: StoragePort) -> None:
    await funded(storage)
    given = job("j1", failure=FailureKind.TIMED_OUT, delivery_attempts=3)
    created, _ = await storage.create_job_with_hold(given)
    assert (created.failure, created.delivery_attempts) == (None, 0)
    assert await storage.get_job("j1") == created


async def test_jobs_in_lists_untouched_jobs_oldest_first(storage: StoragePort) -> None:
    await funded(storage, 10_000)
    for n, seconds in enumerate([30, 10, 20, 40, 10]):
        await storage.create_job_with_hold(job(f"j{n}", created_at=at(0), updated_at=at(seconds)))
    await storage.transition("j2", {S.QUEUED}, S.SUBMITTING, at(20))
    found = await storage.jobs_in({S.QUEUED, S.SUBMITTING}, updated_before=at(30))
    assert [j.id for j in found] == ["j1", "j4", "j2", "j0"]  # ties keep creation order
    assert [j.id for j in await storage.jobs_in({S.QUEUED}, at(30), limit=2)] == ["j1", "j4"]
    assert [j.id for j in await storage.jobs_in({S.SUBMITTING}, at(19))] == []
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
