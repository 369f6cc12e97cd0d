"""Use cases on in-memory adapters: confirm, submit, settle, deliver, reconcile."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.catalog.loader import load_catalog
from adapters.generation.stub import StubGeneration
from adapters.media.downloader import HttpxDownloader
from adapters.memory.storage import InMemoryStorage
from adapters.system import ManualClock, RandomIds
from core.domain.errors import InsufficientFunds, InvalidParams
from core.domain.jobs import JobStatus
from core.domain.ledger import EntryKind, LedgerEntry
from core.domain.money import Pricing
from core.ports.generation import (
    GenerationAmbiguous,
    GenerationPort,
    GenerationUnavailable,
    TaskRequest,
    TaskState,
    TaskStatus,
)
from core.usecases.generation import (
    ApplyTaskStatus,
    ConfirmGeneration,
    DeliverResult,
    FailJob,
    SubmitJob,
)
from core.usecases.reconcile import ReconcileJobs
from core.usecases.users import RegisterUser
from tests.fakes.chat import RecordingChat

USER = 7
PRICE = 76  # z-image: 0.8 credits × 0.005 × 95 × 2 = 0.76 RUB


class ScriptedGeneration(GenerationPort):
    """Raises or answers what the test scripts, and counts createTask calls."""

    mode = "test"

    def __init__(self, submit_error: Exception | None = None) -> None:
        self.submit_error = submit_error
        self.submitted: list[TaskRequest] = []
        self.statuses: dict[str, TaskStatus] = {}

    async def submit(self, request: TaskRequest) -> str:
        self.submitted.append(request)
        if self.submit_error:
            raise self.submit_error
        return f"task-{len(self.submitted)}"

    async def status(self, task_id: str) -> TaskStatus:
        return self.statuses.get(task_id, TaskStatus(TaskState.RUNNING))


class World:
    def __init__(self, generation: GenerationPort | None = None, balance: int = 1_000) -> None:
        self.clock = ManualClock()
        self.storage = InMemoryStorage()
        self.chat = RecordingChat()
        self.catalog = load_catalog()
        self.generation = generation or StubGeneration(self.clock, timedelta(seconds=3))
        self.confirm = ConfirmGeneration(
            self.storage, self.catalog, Pricing(), self.clock, RandomIds()
        )
        self.fail = FailJob(self.storage, self.chat, self.clock)
        self.submit = SubmitJob(
            self.storage,
            self.generation,
            self.catalog,
            self.clock,
            self.fail,
            "https://bot.example",
        )
        self.deliver = DeliverResult(self.storage, HttpxDownloader(None), self.chat, self.clock)  # type: ignore[arg-type]
        self.apply = ApplyTaskStatus(self.storage, self.clock, self.fail, self.deliver)
        self.reconcile = ReconcileJobs(
            self.storage,
            self.generation,
            self.clock,
            self.submit,
            self.apply,
            self.fail,
            self.deliver,
            expire_after=timedelta(minutes=10),
        )
        self.balance = balance

    async def start(self) -> None:
        await RegisterUser(self.storage, self.clock, self.balance)(USER, "en")

    async def confirm_job(self, key: str = "draft-1", prompt: str = "a fox"):  # type: ignore[no-untyped-def]
        result = await self.confirm(
            confirm_key=key,
            user_id=USER,
            chat_id=USER,
            lang="en",
            model_id="z-image",
            params={"prompt": prompt},
        )
        return result.job


@pytest.fixture
async def world() -> World:
    w = World()
    await w.start()
    return w


async def test_confirm_creates_job_and_hold_counted_against_balance(world: World) -> None:
    job = await world.confirm_job()
    balance = await world.storage.balance(USER)
    assert job.status is JobStatus.QUEUED
    assert job.price == PRICE
    assert (balance.total, balance.held, balance.available) == (1_000, PRICE, 1_000 - PRICE)


async def test_double_confirm_starts_one_job_and_one_hold(world: World) -> None:
    first = await world.confirm_job("same-draft")
    second = await world.confirm_job("same-draft")
    assert first.id == second.id
    assert len(world.storage.jobs) == 1
    assert (await world.storage.balance(USER)).held == PRICE


async def test_insufficient_balance_changes_nothing() -> None:
    world = World(balance=PRICE - 1)
    await world.start()
    ledger_before = list(world.storage.ledger)
    with pytest.raises(InsufficientFunds) as caught:
        await world.confirm_job()
    assert caught.value.missing == 1
    assert world.storage.jobs == {}
    assert world.storage.ledger == ledger_before


async def test_invalid_params_are_rejected_before_any_money_is_held(world: World) -> None:
    with pytest.raises(InvalidParams) as caught:
        await world.confirm_job(prompt="x" * 1001)
    assert caught.value.field == "prompt"
    assert (await world.storage.balance(USER)).held == 0


async def test_success_captures_once_and_delivers_the_placeholder(world: World) -> None:
    job = await world.confirm_job()
    await world.submit(job.id)
    world.clock.advance(seconds=4)

    report = await world.reconcile.run_once()
    again = await world.reconcile.run_once()

    assert (report.polled, report.delivered) == (1, 1)
    assert (again.polled, again.delivered) == (0, 0)
    assert world.storage.jobs[job.id].status is JobStatus.DELIVERED
    [(delivered_id, files)] = world.chat.delivered
    assert delivered_id == job.id
    assert files[0][1].startswith(b"\x89PNG")
    assert files[0][2] == "image/png"
    balance = await world.storage.balance(USER)
    assert (balance.total, balance.held) == (1_000 - PRICE, 0)
    kinds = [e.kind for e in world.storage.ledger]
    assert kinds == [EntryKind.BONUS, EntryKind.HOLD, EntryKind.CAPTURE]


async def test_failed_generation_releases_the_hold_and_tells_the_user(world: World) -> None:
    job = await world.confirm_job(prompt="#fail please")
    await world.submit(job.id)
    world.clock.advance(seconds=4)
    await world.reconcile.run_once()

    assert world.storage.jobs[job.id].status is JobStatus.FAILED
    assert world.chat.failed == [(job.id, "stub failure requested with #fail")]
    balance = await world.storage.balance(USER)
    assert (balance.total, balance.held) == (1_000, 0)


async def test_success_reported_twice_captures_and_delivers_once(world: World) -> None:
    job = await world.confirm_job()
    await world.submit(job.id)
    world.clock.advance(seconds=4)
    status = await world.generation.status(world.storage.jobs[job.id].task_id or "")
    await world.apply(job.id, status)
    await world.apply(job.id, status)
    await world.apply(job.id, TaskStatus(TaskState.FAILED, error="late failure"))

    assert len(world.chat.delivered) == 1
    assert world.chat.failed == []
    assert [e.kind for e in world.storage.ledger].count(EntryKind.CAPTURE) == 1
    assert (await world.storage.balance(USER)).total == 1_000 - PRICE


async def test_rejected_submit_releases_the_hold() -> None:
    world = World(ScriptedGeneration(GenerationUnavailable("Kie.ai is under maintenance")))
    await world.start()
    job = await world.confirm_job()
    await world.submit(job.id)

    assert world.storage.jobs[job.id].status is JobStatus.FAILED
    assert world.chat.failed == [(job.id, "Kie.ai is under maintenance")]
    assert (await world.storage.balance(USER)).held == 0


async def test_ambiguous_submit_is_never_retried_and_expires_with_a_refund() -> None:
    generation = ScriptedGeneration(GenerationAmbiguous("read timeout"))
    world = World(generation)
    await world.start()
    job = await world.confirm_job()
    await world.submit(job.id)
    await world.submit(job.id)  # a second call must not create a second paid task
    world.clock.advance(minutes=1)
    await world.reconcile.run_once()

    assert len(generation.submitted) == 1
    assert world.storage.jobs[job.id].status is JobStatus.SUBMITTING
    assert (await world.storage.balance(USER)).held == PRICE

    world.clock.advance(minutes=10)
    report = await world.reconcile.run_once()

    assert report.expired == 1
    assert world.storage.jobs[job.id].status is JobStatus.EXPIRED
    assert len(generation.submitted) == 1
    balance = await world.storage.balance(USER)
    assert (balance.total, balance.held) == (1_000, 0)


async def test_reconciler_submits_a_job_left_queued_by_a_crash(world: World) -> None:
    job = await world.confirm_job()
    world.clock.advance(minutes=1)
    report = await world.reconcile.run_once()
    assert report.submitted == 1
    resumed = world.storage.jobs[job.id]
    assert resumed.task_id is not None
    assert resumed.status in {JobStatus.SUBMITTED, JobStatus.RUNNING}


async def test_a_stale_delivery_claim_is_sent_again(world: World) -> None:
    job = await world.confirm_job()
    await world.submit(job.id)
    world.clock.advance(seconds=4)
    status = await world.generation.status(world.storage.jobs[job.id].task_id or "")
    now = world.clock.now()
    await world.storage.settle(
        job.id,
        {JobStatus.SUBMITTED},
        JobStatus.SUCCEEDED,
        EntryKind.CAPTURE,
        now,
        result=status.files,
    )
    # A worker claimed it and died before sending.
    assert await world.storage.claim_delivery(job.id, now, now - timedelta(minutes=5))
    assert await world.deliver(job.id) is None  # the live claim is respected

    world.clock.advance(minutes=6)
    report = await world.reconcile.run_once()

    assert report.delivered == 1
    assert len(world.chat.delivered) == 1


async def test_welcome_balance_is_credited_once_per_user(world: World) -> None:
    await RegisterUser(world.storage, world.clock, 1_000)(USER, "ru")
    assert (await world.storage.balance(USER)).total == 1_000
    assert [e.kind for e in world.storage.ledger] == [EntryKind.BONUS]


async def test_replayed_money_command_changes_nothing(world: World) -> None:
    entry = LedgerEntry("topup:charge-1", USER, EntryKind.TOPUP, amount=500)
    await world.storage.post(entry)
    await world.storage.post(entry)
    assert (await world.storage.balance(USER)).total == 1_500
