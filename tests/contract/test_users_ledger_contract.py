"""StoragePort contract: users and the ledger (run against every implementation)."""

from __future__ import annotations

import pytest

from core.domain.errors import IdempotencyConflict, InsufficientFunds
from core.domain.ledger import Balance, EntryKind, LedgerEntry, hold
from core.ports.storage import Posted, StoragePort
from tests.contract.factories import topup, user


async def test_upsert_user_inserts_then_refreshes_names_but_keeps_language(
    storage: StoragePort,
) -> None:
    stored, new = await storage.upsert_user(user(1, lang="ru", username="ann"))
    assert new is True
    assert stored == user(1, lang="ru", username="ann")

    again, new = await storage.upsert_user(user(1, lang="en", username="bob", first_name="Bob"))
    assert new is False
    assert (again.lang, again.username, again.first_name) == ("ru", "bob", "Bob")
    assert await storage.get_user(1) == again


async def test_set_language_changes_only_that_user(storage: StoragePort) -> None:
    await storage.upsert_user(user(1))
    await storage.upsert_user(user(2))
    await storage.set_language(1, "ru")
    await storage.set_language(99, "ru")  # unknown user: nothing to do, no error
    assert (await storage.get_user(1)).lang == "ru"  # type: ignore[union-attr]
    assert (await storage.get_user(2)).lang == "en"  # type: ignore[union-attr]
    assert await storage.get_user(99) is None


async def test_unknown_user_has_zero_balance(storage: StoragePort) -> None:
    assert await storage.balance(42) == Balance(0, 0)
    assert await storage.entries(42) == []


async def test_replaying_a_command_is_a_duplicate_and_changes_nothing(
    storage: StoragePort,
) -> None:
    assert await storage.post(topup("pay:1", 1, 500)) is Posted.APPLIED
    assert await storage.post(topup("pay:1", 1, 500)) is Posted.DUPLICATE
    assert await storage.balance(1) == Balance(500, 0)
    assert len(await storage.entries(1)) == 1


@pytest.mark.parametrize(
    "changed",
    [
        topup("pay:1", 1, 501),
        topup("pay:1", 2, 500),
        LedgerEntry("pay:1", 1, EntryKind.BONUS, amount=500, reason="test"),
        LedgerEntry("pay:1", 1, EntryKind.TOPUP, amount=500, reason="other"),
    ],
    ids=["amount", "user", "kind", "reason"],
)
async def test_same_key_with_other_parameters_is_a_conflict(
    storage: StoragePort, changed: LedgerEntry
) -> None:
    await storage.post(topup("pay:1", 1, 500))
    with pytest.raises(IdempotencyConflict) as err:
        await storage.post(changed)
    assert err.value.key == "pay:1"
    assert await storage.balance(1) == Balance(500, 0)
    assert await storage.balance(2) == Balance(0, 0)
    assert len(await storage.entries(1)) == 1


async def test_insufficient_funds_changes_nothing(storage: StoragePort) -> None:
    await storage.post(topup("pay:1", 1, 100))
    await storage.post(hold("a", 1, 70))
    with pytest.raises(InsufficientFunds) as err:
        await storage.post(hold("b", 1, 40))  # the first hold counts against the balance
    assert (err.value.available, err.value.required) == (30, 40)
    overdraw = LedgerEntry("adj:1", 1, EntryKind.ADJUST, amount=-31, reason="fix")
    with pytest.raises(InsufficientFunds):
        await storage.post(overdraw)
    assert await storage.balance(1) == Balance(100, 70)
    assert [e.key for e in await storage.entries(1)] == ["hold:a", "pay:1"]
    # The rejected keys were not consumed: the same command succeeds once funds arrive.
    await storage.post(topup("pay:2", 1, 10))
    assert await storage.post(hold("b", 1, 40)) is Posted.APPLIED


async def test_a_replay_is_a_duplicate_even_when_funds_no_longer_suffice(
    storage: StoragePort,
) -> None:
    await storage.post(topup("pay:1", 1, 100))
    await storage.post(hold("a", 1, 100))
    assert await storage.post(hold("a", 1, 100)) is Posted.DUPLICATE
    assert await storage.balance(1) == Balance(100, 100)


async def test_entries_are_newest_first_and_limited(storage: StoragePort) -> None:
    for n in range(5):
        await storage.post(topup(f"pay:{n}", 1, 10 + n))
    await storage.post(topup("other", 2, 1))
    entries = await storage.entries(1, limit=3)
    assert [e.key for e in entries] == ["pay:4", "pay:3", "pay:2"]
    assert entries[0] == topup("pay:4", 1, 14)  # created_at is not part of equality
    assert await storage.balance(1) == Balance(60, 0)
