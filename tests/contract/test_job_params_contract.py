"""A job's parameters as the wizard validates them (numbers are Decimals) are stored and read."""

from __future__ import annotations

from decimal import Decimal

from core.ports.storage import StoragePort
from tests.contract.factories import job, topup, user


async def test_decimal_parameters_are_stored_with_the_job_and_read_back(
    storage: StoragePort,
) -> None:
    await storage.upsert_user(user(1))
    await storage.post(topup("t1", 1, 1_000))
    params = {"prompt": "hello", "stability": Decimal("0.5"), "speed": Decimal("1.25")}
    created, _ = await storage.create_job_with_hold(job("j-dec", params=params))
    stored = await storage.get_job(created.id)
    assert stored is not None
    assert stored.params["prompt"] == "hello"
    assert Decimal(str(stored.params["stability"])) == Decimal("0.5")
    assert Decimal(str(stored.params["speed"])) == Decimal("1.25")
