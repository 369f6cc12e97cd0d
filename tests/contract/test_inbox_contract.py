"""InboxPort contract: the same tests run on InMemoryInbox and PostgresInbox.

Each test gets ``inbox``, a fresh, empty InboxPort, and ``other``: a second claimer on the same
updates, as a second process would be (a sharing InMemoryInbox, or a PostgresInbox on a pool of
its own).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.memory.inbox import InMemoryInbox
from adapters.postgres.inbox import PostgresInbox
from adapters.postgres.pool import open_pool
from core.ports.inbox import InboxPort
from tests.contract.inbox_support import ids, upd


@pytest.fixture
async def inbox(storage_url: str | None) -> AsyncIterator[InboxPort]:
    if storage_url is None:
        yield InMemoryInbox()
        return
    pool = await open_pool(storage_url, max_size=10)
    pg_inbox = PostgresInbox(pool)
    try:
        yield pg_inbox
    finally:
        await pg_inbox.close()
        await pool.close()


@pytest.fixture
async def other(storage_url: str | None, inbox: InboxPort) -> AsyncIterator[InboxPort]:
    if storage_url is None:
        assert isinstance(inbox, InMemoryInbox)
        yield InMemoryInbox(sharing=inbox)
        return
    pool = await open_pool(storage_url, max_size=4)
    pg_inbox = PostgresInbox(pool)
    try:
        yield pg_inbox
    finally:
        await pg_inbox.close()
        await pool.close()


async def test_duplicate_update_id_is_stored_once(inbox: InboxPort) -> None:
    assert await inbox.store(1, upd(1), 1) is True
    assert await inbox.store(1, upd(1), 1) is False
    assert await inbox.depth() == 1
    claimed = await inbox.claim(10, 60)
    assert [c.update_id for c in claimed] == [1]
    assert claimed[0].payload == upd(1)


async def test_one_update_per_chat_in_flight(inbox: InboxPort) -> None:
    for n, chat in [(1, 7), (2, 7), (3, 8), (4, 7)]:
        await inbox.store(n, upd(n, chat), chat)
    assert await ids(inbox) == [1, 3]
    assert await ids(inbox) == []  # chat 7's next waits for 1; 3 is leased
    await inbox.mark_processed(1)
    assert await ids(inbox) == [2]
    await inbox.mark_processed(2)
    await inbox.mark_processed(3)
    assert await ids(inbox) == [4]


async def test_updates_without_chat_are_not_ordered(inbox: InboxPort) -> None:
    await inbox.store(1, upd(1, None), None)
    await inbox.store(2, upd(2, None), None)
    assert await ids(inbox) == [1, 2]


async def test_failed_update_blocks_its_chat_until_retry(inbox: InboxPort) -> None:
    await inbox.store(1, upd(1), 1)
    await inbox.store(2, upd(2), 1)
    assert await ids(inbox) == [1]
    await inbox.retry_later(1, "boom", 3600)
    assert await ids(inbox) == []  # 1 waits for its backoff; 2 must not overtake it
    assert await inbox.depth() == 2


async def test_retry_counts_attempts(inbox: InboxPort) -> None:
    await inbox.store(1, upd(1), 1)
    await inbox.claim(1, 60)
    await inbox.retry_later(1, "boom", 0)
    await inbox.claim(1, 60)
    await inbox.retry_later(1, "boom again", 0)
    [item] = await inbox.claim(1, 60)
    assert item.attempts == 2


async def test_parked_update_unblocks_chat_and_is_listed(inbox: InboxPort) -> None:
    await inbox.store(1, upd(1), 1)
    await inbox.store(2, upd(2), 1)
    await inbox.claim(1, 60)
    await inbox.park(1, "ValueError: bad")
    assert await ids(inbox) == [2]
    [parked] = await inbox.parked()
    assert (parked.update_id, parked.attempts, parked.last_error) == (1, 1, "ValueError: bad")
    assert await inbox.depth() == 1


async def test_released_lease_is_claimable_again(inbox: InboxPort) -> None:
    await inbox.store(1, upd(1), 1)
    assert await ids(inbox) == [1]
    assert await ids(inbox) == []
    await inbox.release([1])
    [item] = await inbox.claim(1, 60)
    assert (item.update_id, item.attempts) == (1, 0)


async def test_expired_lease_is_claimable_again(inbox: InboxPort) -> None:
    await inbox.store(1, upd(1), 1)
    assert await ids(inbox, lease=0) == [1]
    assert await ids(inbox, lease=60) == [1]  # the first claimer died: its lease ran out


async def test_processed_updates_are_not_claimed_and_purged(inbox: InboxPort) -> None:
    await inbox.store(1, upd(1), 1)
    await inbox.claim(1, 60)
    await inbox.mark_processed(1)
    assert await ids(inbox) == []
    assert await inbox.depth() == 0
    assert await inbox.purge_processed(48 * 3600) == 0  # fresh rows stay (48 h retention)
    assert await inbox.purge_processed(-1) == 1
    # purged ids stay out of the way of nothing: a redelivery would now be stored again
    assert await inbox.store(1, upd(1), 1) is True


async def test_limit_is_respected_in_update_order(inbox: InboxPort) -> None:
    for n in (5, 3, 4):
        await inbox.store(n, upd(n, n), n)
    assert await ids(inbox, limit=2) == [3, 4]


# -- claims tied to the claimer's liveness ------------------------------------------------


async def test_claims_of_a_closed_claimer_are_free_at_once(
    inbox: InboxPort, other: InboxPort
) -> None:
    await inbox.store(1, upd(1), 1)
    assert await ids(inbox, lease=3600) == [1]
    assert await ids(other) == []  # alive, within its lease: not to be taken
    await inbox.close()  # what its process dying amounts to
    assert await ids(other) == [1]  # at once, not in an hour


async def test_renewed_claim_outlives_its_lease(inbox: InboxPort, other: InboxPort) -> None:
    await inbox.store(1, upd(1), 1)
    assert await ids(inbox, lease=0) == [1]  # the lease is over already …
    assert await inbox.renew(3600) == 1  # … but the live claimer renewed it
    assert await ids(other) == []
    assert await ids(inbox) == []


async def test_claim_of_a_live_claimer_that_stopped_renewing_lapses(
    inbox: InboxPort, other: InboxPort
) -> None:
    await inbox.store(1, upd(1), 1)
    assert await ids(inbox, lease=0) == [1]
    assert await ids(other) == [1]  # hung claimer: the lease ended, the update moves on
    assert await inbox.renew(3600) == 0  # no longer the first claimer's to extend
    assert await ids(inbox) == []


async def test_late_outcome_of_a_lost_claim_leaves_the_new_claim_alone(
    inbox: InboxPort, other: InboxPort
) -> None:
    await inbox.store(1, upd(1), 1)
    await inbox.claim(1, 0)
    assert await ids(other, lease=3600) == [1]
    await inbox.retry_later(1, "late failure", 0)
    await inbox.release([1])
    await inbox.park(1, "late failure")
    assert await ids(inbox) == []  # still the second claimer's
    assert await inbox.parked() == []
    await other.mark_processed(1)
    assert await other.depth() == 0


async def test_renew_extends_only_claims_without_an_outcome(inbox: InboxPort) -> None:
    for n in (1, 2, 3):
        await inbox.store(n, upd(n, n), n)
    assert await ids(inbox) == [1, 2, 3]
    await inbox.mark_processed(1)
    await inbox.retry_later(2, "boom", 3600)
    assert await inbox.renew(60) == 1


async def test_chat_order_holds_when_its_claimer_dies(inbox: InboxPort, other: InboxPort) -> None:
    for n, chat in [(1, 7), (2, 7), (3, 8)]:
        await inbox.store(n, upd(n, chat), chat)
    assert await ids(inbox, limit=1, lease=3600) == [1]
    assert await ids(other) == [3]  # chat 7 waits for its first update
    await inbox.close()
    assert await ids(other) == [1]  # the chat's earliest comes back, 2 still waits
    await other.mark_processed(1)
    assert await ids(other) == [2]


async def test_a_closed_claimer_can_claim_again(inbox: InboxPort) -> None:
    await inbox.store(1, upd(1), 1)
    assert await ids(inbox, lease=3600) == [1]
    await inbox.close()
    await inbox.start()
    assert await ids(inbox) == [1]
