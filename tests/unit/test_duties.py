"""DutyRunner: a failing duty is retried with backoff and reported, never ends the others."""

from __future__ import annotations

import asyncio

import pytest

from core.usecases.duties import Duty, DutyRunner
from tests.fakes.waiting import until


class Sleeps:
    """Records each requested delay and returns at once (the loop still yields)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


async def test_a_one_shot_duty_is_retried_with_growing_delays_until_it_succeeds(caplog) -> None:
    sleeps, attempts = Sleeps(), []
    runner = DutyRunner(sleep=sleeps)

    async def set_webhook() -> None:
        attempts.append(1)
        if len(attempts) < 4:
            raise ConnectionError("network unreachable")

    await runner.run([Duty("set_webhook", set_webhook)])
    assert len(attempts) == 4
    assert sleeps.delays == [1.0, 2.0, 4.0]
    assert runner.status() == {"set_webhook": "done"}
    assert caplog.text.count("duty set_webhook failed") == 3


async def test_a_failing_duty_is_reported_while_the_others_keep_running() -> None:
    sleeps, passes = Sleeps(), {"reconcile": 0, "purge": 0}
    runner = DutyRunner(sleep=sleeps)

    async def reconcile() -> None:
        passes["reconcile"] += 1
        raise RuntimeError("database restarting")

    async def purge() -> None:
        passes["purge"] += 1

    task = asyncio.create_task(
        runner.run([Duty("reconcile", reconcile, every=2), Duty("purge", purge, every=600)])
    )
    await until(lambda: passes["reconcile"] >= 3 and passes["purge"] >= 3)
    status = runner.status()
    assert status["reconcile"].startswith("retrying (")
    assert "RuntimeError: database restarting" in status["reconcile"]
    assert status["purge"] == "running"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runner.status() == {"reconcile": "stopped", "purge": "stopped"}


async def test_a_recovered_duty_resets_its_backoff() -> None:
    sleeps, calls = Sleeps(), []
    runner = DutyRunner(sleep=sleeps, backoff_cap=4)

    async def flaky() -> None:
        calls.append(1)
        if len(calls) in (1, 2, 3, 5):
            raise OSError("down")

    task = asyncio.create_task(runner.run([Duty("reconcile", flaky, every=10)]))
    await until(lambda: len(calls) >= 7)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # 1, 2, 4 (capped at 4), then the pass interval; a failure after a success starts at 1.
    assert sleeps.delays[:6] == [1.0, 2.0, 4.0, 10.0, 1.0, 10.0]
