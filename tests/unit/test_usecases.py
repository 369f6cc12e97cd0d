"""Use cases on in-memory adapters: confirm, launch, run, settle, deliver, reconcile."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from adapters.catalog.loader import load_catalog
from adapters.memory.storage import InMemoryStorage
from adapters.system import ManualClock
from core.domain.catalog import Category, MediaKind
from core.domain.errors import InsufficientFunds, InvalidParams
from core.domain.jobs import (
    HOLDING,
    TERMINAL,
    TRANSITIONS,
    FailureKind,
    IllegalTransition,
    JobStatus,
    ResultFile,
    check_transition,
)
from core.domain.ledger import EntryKind, LedgerEntry
from core.ports.chat import Progress
from core.ports.generation import (
    GenerationAmbiguous,
    GenerationPort,
    GenerationRejected,
    GenerationUnavailable,
    TaskRequest,
    TaskState,
    TaskStatus,
)
from core.ports.media import Downloaded, DownloaderPort, DownloadError, TooLarge
from core.usecases.runner import JobRunner
from core.usecases.users import RegisterUser
from tests.conftest import ClockSleep, make_settings
from tests.fakes.chat import RecordingChat
from tests.fakes.containers import use_case_container

USER = 7
PRICE = 76  # z-image: 0.8 credits × 0.005 × 95 × 2 = 0.76 RUB
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


class ScriptedGeneration(GenerationPort):
    """Raises or answers what the test scripts, and counts createTask calls.

    ``gate`` (when set) holds every createTask until it opens; ``calls`` counts the calls
    that have started, for tests that wait until the runner reached the provider."""

    mode = "test"

    def __init__(self, submit_error: Exception | None = None) -> None:
        self.submit_error = submit_error
        self.errors_by_prompt: dict[str, BaseException] = {}
        self.submitted: list[TaskRequest] = []
        self.statuses: dict[str, TaskStatus] = {}
        self.gate: asyncio.Event | None = None
        self.calls = Counter()

    async def submit(self, request: TaskRequest) -> str:
        self.submitted.append(request)
        await self.calls.hit()
        if self.gate is not None:
            await self.gate.wait()
        error = self.errors_by_prompt.get(str(request.params.get("prompt")))
        if error is not None:
            raise error
        if self.submit_error:
            raise self.submit_error
        return f"task-{request.job_id}"

    async def status(self, task_id: str) -> TaskStatus:
        return self.statuses.get(task_id, TaskStatus(TaskState.RUNNING))


class Counter:
    """A count that tests can wait on (instead of sleeping until something happened)."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Condition()

    async def hit(self) -> None:
        async with self._changed:
            self.count += 1
            self._changed.notify_all()

    async def reach(self, n: int) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.count >= n), 5)


class ScriptedDownloader(DownloaderPort):
    """Fails the first ``failures`` downloads, then serves a PNG (or says it is too large)."""

    def __init__(self, failures: int = 0, too_large: bool = False) -> None:
        self.failures = failures
        self.too_large = too_large
        self.calls: list[str] = []

    async def download(self, url: str, max_bytes: int) -> Downloaded:
        self.calls.append(url)
        if len(self.calls) <= self.failures:
            raise DownloadError("the result URL answered an HTML/XML/JSON page, not media")
        if self.too_large:
            raise TooLarge("result is over the limit")
        return Downloaded("out.png", PNG, "image/png")


class World:
    """The use cases as the production container wires them, on in-memory adapters."""

    def __init__(
        self,
        generation: GenerationPort | None = None,
        balance: int = 1_000,
        downloader: DownloaderPort | None = None,
    ) -> None:
        self.clock = ManualClock()
        self.chat = RecordingChat()
        self.sleep = ClockSleep(self.clock)
        self.downloader = downloader or ScriptedDownloader()
        container = use_case_container(
            make_settings(welcome_balance=balance, webhook_base_url="https://bot.example"),
            clock=self.clock,
            sleep=self.sleep,
            chat=self.chat,
            generation=generation,
            downloader=self.downloader,
        )
        container.usecases.runner.add_kwargs(concurrency=2)
        usecases = container.usecases
        self.storage: InMemoryStorage = container.adapters.storage()
        self.catalog = container.adapters.catalog()
        self.generation = container.adapters.generation()
        self.doorbell = usecases.doorbell()
        self.register = usecases.register_user()
        self.confirm = usecases.confirm()
        self.fail = usecases.fail()
        self.submit = usecases.submit()
        self.deliver = usecases.deliver()
        self.apply = usecases.apply()
        self.runner = usecases.runner()
        self.launch = usecases.launch()
        self.reconcile = usecases.reconcile()
        self.balance = balance

    async def start(self) -> None:
        await self.register(USER, "en")

    async def confirm_job(  # type: ignore[no-untyped-def]
        self, key: str = "draft-1", prompt: str = "a fox", model: str = "z-image"
    ):
        result = await self.confirm(
            confirm_key=key,
            user_id=USER,
            chat_id=USER,
            lang="en",
            model_id=model,
            params={"prompt": prompt},
        )
        return result.job

    async def money(self) -> tuple[int, int]:
        balance = await self.storage.balance(USER)
        return balance.total, balance.held

    def kinds(self) -> list[EntryKind]:
        return [e.kind for e in self.storage.ledger]


async def make_world(
    generation: GenerationPort | None = None, downloader: DownloaderPort | None = None
) -> World:
    world = World(generation, downloader=downloader)
    await world.start()
    return world


@pytest.fixture
async def world() -> World:
    return await make_world()


async def produced(world: World) -> str:
    """A job whose task succeeded with one image file, not delivered yet."""
    job = await world.confirm_job()
    await world.runner.run_once()
    task_id = world.storage.jobs[job.id].task_id
    assert task_id is not None
    files = (ResultFile(MediaKind.IMAGE, "https://cdn.test/out.png"),)
    await world.apply(job.id, TaskStatus(TaskState.SUCCEEDED, files=files))
    return job.id


# --- confirming ---------------------------------------------------------------------------


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


# --- launching: the update handler's part -----------------------------------------------


async def test_launch_shows_progress_and_wakes_the_runner_without_calling_the_provider() -> None:
    generation = ScriptedGeneration()
    world = await make_world(generation)
    job = await world.confirm_job()

    await world.launch(job)

    assert generation.submitted == []
    stored = world.storage.jobs[job.id]
    assert (stored.status, stored.progress_message_id) == (JobStatus.QUEUED, 1)
    await asyncio.wait_for(world.doorbell.wait(3600), 1)  # rung: returns at once


async def test_the_progress_message_is_kept_even_if_the_runner_was_faster(world: World) -> None:
    job = await world.confirm_job()
    await world.runner.run_once()  # another instance's poll took it before the id was stored
    await world.storage.set_progress_message(job.id, 42)
    stored = world.storage.jobs[job.id]
    assert (stored.status, stored.progress_message_id) == (JobStatus.SUBMITTED, 42)


# --- success: capture only once the result reached the user --------------------------------


async def test_success_is_captured_only_after_the_result_was_sent(world: World) -> None:
    job = await world.confirm_job()
    assert await world.runner.run_once() == 1
    world.clock.advance(seconds=4)

    report = await world.reconcile.run_once()

    assert report.polled == 1
    assert world.storage.jobs[job.id].status is JobStatus.SUCCEEDED
    assert await world.money() == (1_000, PRICE)  # produced, not yet delivered: still held
    assert world.kinds() == [EntryKind.BONUS, EntryKind.HOLD]

    assert await world.runner.run_once() == 1

    assert world.storage.jobs[job.id].status is JobStatus.DELIVERED
    [(delivered_id, files)] = world.chat.delivered
    assert delivered_id == job.id
    assert files[0][1].startswith(b"\x89PNG")
    assert (job.id, Progress.FETCHING) in world.chat.progress
    assert await world.money() == (1_000 - PRICE, 0)
    assert world.kinds() == [EntryKind.BONUS, EntryKind.HOLD, EntryKind.CAPTURE]
    assert await world.runner.run_once() == 0  # nothing left to do


async def test_failed_generation_releases_the_hold_and_tells_the_user(world: World) -> None:
    job = await world.confirm_job(prompt="#fail please")
    await world.runner.run_once()
    world.clock.advance(seconds=4)
    await world.reconcile.run_once()

    stored = world.storage.jobs[job.id]
    assert (stored.status, stored.failure) == (JobStatus.FAILED, FailureKind.PROVIDER_ERROR)
    assert stored.error == "stub failure requested with #fail"
    assert world.chat.failed == [(job.id, FailureKind.PROVIDER_ERROR, None)]
    assert await world.money() == (1_000, 0)


async def test_success_reported_twice_delivers_and_captures_once(world: World) -> None:
    job_id = await produced(world)
    status = TaskStatus(TaskState.SUCCEEDED, files=world.storage.jobs[job_id].result)
    await world.apply(job_id, status)
    await world.runner.run_once()
    await world.apply(job_id, status)
    await world.apply(job_id, TaskStatus(TaskState.FAILED, error="late failure"))
    await world.runner.run_once()

    assert len(world.chat.delivered) == 1
    assert world.chat.failed == []
    assert world.kinds().count(EntryKind.CAPTURE) == 1
    assert await world.money() == (1_000 - PRICE, 0)


async def test_a_success_without_files_is_a_provider_error(world: World) -> None:
    job = await world.confirm_job()
    await world.runner.run_once()
    await world.apply(job.id, TaskStatus(TaskState.SUCCEEDED))
    assert world.storage.jobs[job.id].failure is FailureKind.PROVIDER_ERROR
    assert await world.money() == (1_000, 0)


# --- delivery: retried within seconds, released when it cannot be fetched -----------------


async def test_a_failing_download_is_retried_with_backoff_then_delivered() -> None:
    downloader = ScriptedDownloader(failures=2)
    world = await make_world(downloader=downloader)
    job_id = await produced(world)

    await world.runner.run_once()

    assert world.sleep.waits == [2.0, 4.0]
    assert len(downloader.calls) == 3
    job = world.storage.jobs[job_id]
    assert (job.status, job.delivery_attempts) == (JobStatus.DELIVERED, 2)
    assert await world.money() == (1_000 - PRICE, 0)


async def test_a_result_that_cannot_be_fetched_is_released_and_the_user_told() -> None:
    downloader = ScriptedDownloader(failures=99)
    world = await make_world(downloader=downloader)
    job_id = await produced(world)

    await world.runner.run_once()

    job = world.storage.jobs[job_id]
    assert (job.status, job.failure) == (JobStatus.FAILED, FailureKind.UNDELIVERABLE)
    assert job.delivery_attempts == 3
    assert "HTML" in (job.error or "")
    assert len(downloader.calls) == 3
    assert world.sleep.waits == [2.0, 4.0]  # seconds, not a lease
    assert world.chat.delivered == []
    assert world.chat.failed == [(job_id, FailureKind.UNDELIVERABLE, None)]
    assert await world.money() == (1_000, 0)
    assert world.kinds() == [EntryKind.BONUS, EntryKind.HOLD, EntryKind.RELEASE]
    assert await world.runner.run_once() == 0  # ended: never retried again


async def test_attempts_survive_a_crash_and_count_towards_the_limit() -> None:
    downloader = ScriptedDownloader(failures=99)
    world = await make_world(downloader=downloader)
    job_id = await produced(world)
    now = world.clock.now()
    await world.storage.claim_delivery(job_id, now, now)
    await world.storage.transition(
        job_id, {JobStatus.DELIVERING}, JobStatus.DELIVERING, now, delivery_attempts=2
    )
    world.clock.advance(minutes=6)  # the worker died; its claim went stale

    await world.runner.run_once()

    assert len(downloader.calls) == 1  # the third attempt of three
    assert world.storage.jobs[job_id].failure is FailureKind.UNDELIVERABLE


async def test_a_file_over_the_upload_limit_is_handed_over_as_a_link_and_paid() -> None:
    world = await make_world(downloader=ScriptedDownloader(too_large=True))
    job_id = await produced(world)
    await world.runner.run_once()
    assert world.chat.links == [(job_id, ["https://cdn.test/out.png"])]
    assert world.storage.jobs[job_id].status is JobStatus.DELIVERED
    assert await world.money() == (1_000 - PRICE, 0)


async def test_a_chat_that_cannot_receive_is_not_charged() -> None:
    world = await make_world(downloader=ScriptedDownloader())
    world.chat.reachable = False
    job_id = await produced(world)
    await world.runner.run_once()
    assert world.storage.jobs[job_id].failure is FailureKind.UNDELIVERABLE
    assert await world.money() == (1_000, 0)


async def test_a_stale_delivery_claim_is_sent_again(world: World) -> None:
    job_id = await produced(world)
    now = world.clock.now()
    # A worker claimed it and died before sending.
    assert await world.storage.claim_delivery(job_id, now, now - timedelta(minutes=5))
    assert await world.deliver(job_id) is None  # the live claim is respected
    assert await world.runner.run_once() == 0

    world.clock.advance(minutes=6)
    assert await world.runner.run_once() == 1

    assert len(world.chat.delivered) == 1
    assert world.storage.jobs[job_id].status is JobStatus.DELIVERED


# --- submission outcomes -----------------------------------------------------------------


async def test_maintenance_at_submit_releases_with_its_kind() -> None:
    error = GenerationUnavailable("Kie.ai 455: maintenance", kind=FailureKind.MAINTENANCE)
    world = await make_world(ScriptedGeneration(error))
    job = await world.confirm_job()
    await world.runner.run_once()

    stored = world.storage.jobs[job.id]
    assert (stored.status, stored.failure) == (JobStatus.FAILED, FailureKind.MAINTENANCE)
    assert stored.error == "Kie.ai 455: maintenance"
    assert world.chat.failed == [(job.id, FailureKind.MAINTENANCE, None)]
    assert await world.money() == (1_000, 0)


async def test_a_rejected_input_keeps_the_providers_reason_for_the_user() -> None:
    error = GenerationRejected(
        "invalid input: prompt flagged (Kie.ai 422)",
        kind=FailureKind.REJECTED,
        reason="prompt flagged",
    )
    world = await make_world(ScriptedGeneration(error))
    job = await world.confirm_job()
    await world.runner.run_once()
    assert world.chat.failed == [(job.id, FailureKind.REJECTED, "prompt flagged")]
    assert world.storage.jobs[job.id].failure_reason == "prompt flagged"


async def test_ambiguous_submit_says_checking_at_once_and_is_released_after_the_wait() -> None:
    generation = ScriptedGeneration(GenerationAmbiguous("HTTP 502 from the gateway"))
    world = await make_world(generation)
    job = await world.confirm_job()
    await world.runner.run_once()
    await world.submit(job.id)  # a second call must not create a second paid task

    stored = world.storage.jobs[job.id]
    assert stored.status is JobStatus.SUBMITTING
    assert stored.submit_ambiguous_at == world.clock.now()
    assert stored.error == "HTTP 502 from the gateway"
    assert world.chat.progress == [(job.id, Progress.CHECKING)]  # told at once

    world.clock.advance(minutes=2)
    await world.reconcile.run_once()
    assert len(generation.submitted) == 1
    assert world.storage.jobs[job.id].status is JobStatus.SUBMITTING
    assert await world.money() == (1_000, PRICE)

    world.clock.advance(minutes=1, seconds=1)  # images wait three minutes
    report = await world.reconcile.run_once()

    assert report.unconfirmed == 1
    stored = world.storage.jobs[job.id]
    assert (stored.status, stored.failure) == (JobStatus.FAILED, FailureKind.UNCONFIRMED)
    assert world.chat.failed == [(job.id, FailureKind.UNCONFIRMED, None)]
    assert len(generation.submitted) == 1
    assert await world.money() == (1_000, 0)


async def test_the_wait_for_an_unconfirmed_task_is_longer_for_video() -> None:
    times = load_catalog().times
    assert times[Category.VIDEO].unconfirmed > times[Category.IMAGE].unconfirmed
    generation = ScriptedGeneration(GenerationAmbiguous("read timeout"))
    world = World(generation, balance=100_000)
    await world.start()
    assert world.catalog.get("kling-2-6-t2v").category is Category.VIDEO
    job = await world.confirm_job(prompt="a wave", model="kling-2-6-t2v")
    await world.runner.run_once()
    world.clock.advance(minutes=5)
    await world.reconcile.run_once()
    assert world.storage.jobs[job.id].status is JobStatus.SUBMITTING  # an image would be gone
    world.clock.advance(minutes=5, seconds=1)
    await world.reconcile.run_once()
    assert world.storage.jobs[job.id].failure is FailureKind.UNCONFIRMED


async def test_a_submission_cut_off_mid_call_is_treated_as_unconfirmed(world: World) -> None:
    job = await world.confirm_job()
    # A runner claimed it and its process died before createTask answered.
    await world.storage.claim_queued(world.clock.now(), 10)
    world.clock.advance(minutes=1)
    assert (await world.reconcile.run_once()).stalled == 0  # may still be in flight

    world.clock.advance(minutes=1, seconds=1)
    report = await world.reconcile.run_once()

    assert report.stalled == 1
    assert world.storage.jobs[job.id].submit_ambiguous_at == world.clock.now()
    assert world.chat.progress == [(job.id, Progress.CHECKING)]
    world.clock.advance(minutes=3, seconds=1)
    assert (await world.reconcile.run_once()).unconfirmed == 1
    assert await world.money() == (1_000, 0)


async def test_a_task_that_runs_too_long_expires_with_a_refund() -> None:
    world = await make_world(ScriptedGeneration())
    job = await world.confirm_job()
    await world.runner.run_once()
    world.clock.advance(minutes=14)
    assert (await world.reconcile.run_once()).expired == 0
    world.clock.advance(minutes=1, seconds=1)  # images may take fifteen minutes
    assert (await world.reconcile.run_once()).expired == 1
    stored = world.storage.jobs[job.id]
    assert (stored.status, stored.failure) == (JobStatus.EXPIRED, FailureKind.TIMED_OUT)
    assert await world.money() == (1_000, 0)


async def test_a_job_no_runner_takes_is_released(world: World) -> None:
    job = await world.confirm_job()
    world.clock.advance(minutes=11)
    assert (await world.reconcile.run_once()).unsubmitted == 1
    assert world.storage.jobs[job.id].failure is FailureKind.NOT_SUBMITTED
    assert await world.money() == (1_000, 0)


# --- the runner ----------------------------------------------------------------------------


async def test_the_runner_submits_a_launched_job_when_woken() -> None:
    generation = ScriptedGeneration()
    world = await make_world(generation)
    world.runner.poll_interval = 3600  # only the wake-up can make it look
    runner = asyncio.create_task(world.runner.run())
    job = await world.confirm_job()

    await world.launch(job)
    await generation.calls.reach(1)
    runner.cancel()  # lets work in flight finish first
    await asyncio.gather(runner, return_exceptions=True)

    assert world.storage.jobs[job.id].status is JobStatus.SUBMITTED
    assert [r.job_id for r in generation.submitted] == [job.id]


async def test_the_runner_finds_queued_jobs_nobody_woke_it_for() -> None:
    generation = ScriptedGeneration()
    world = await make_world(generation)
    world.runner.poll_interval = 0.01
    job = await world.confirm_job()  # confirmed by another instance, or left by a crash
    runner = asyncio.create_task(world.runner.run())

    await generation.calls.reach(1)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)

    assert world.storage.jobs[job.id].status is JobStatus.SUBMITTED


async def test_one_jobs_exception_is_logged_and_the_runner_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    generation = ScriptedGeneration()
    generation.errors_by_prompt["boom"] = RuntimeError("bug in an adapter")
    world = await make_world(generation)
    world.runner.poll_interval = 3600
    bad = await world.confirm_job("d1", prompt="boom")
    runner = asyncio.create_task(world.runner.run())
    await world.launch(bad)
    await generation.calls.reach(1)
    good = await world.confirm_job("d2", prompt="fine")
    await world.launch(good)
    await generation.calls.reach(2)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)

    assert world.storage.jobs[good.id].status is JobStatus.SUBMITTED
    assert world.storage.jobs[bad.id].status is JobStatus.SUBMITTING  # left to the reconciler
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"job_id={bad.id}" in record.getMessage()


async def test_the_runner_keeps_at_most_its_concurrency_in_flight() -> None:
    generation = ScriptedGeneration()
    generation.gate = asyncio.Event()
    world = await make_world(generation)
    world.runner.poll_interval = 3600
    jobs = [await world.confirm_job(f"d{n}", prompt=f"fox {n}") for n in range(5)]
    runner = asyncio.create_task(world.runner.run())
    world.runner.wake()

    await generation.calls.reach(2)
    statuses = [world.storage.jobs[j.id].status for j in jobs]
    assert statuses.count(JobStatus.SUBMITTING) == 2  # concurrency=2
    assert statuses.count(JobStatus.QUEUED) == 3
    assert world.runner.in_flight == 2

    generation.gate.set()
    await generation.calls.reach(5)  # freed slots take the rest without a poll
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    assert {world.storage.jobs[j.id].status for j in jobs} == {JobStatus.SUBMITTED}


async def test_a_runner_stopped_mid_claim_still_submits_what_it_claimed() -> None:
    generation = ScriptedGeneration()
    world = await make_world(generation)
    job = await world.confirm_job()
    entered, gate = asyncio.Event(), asyncio.Event()
    claim_queued = world.storage.claim_queued

    async def slow_claim(now, limit):  # type: ignore[no-untyped-def]
        entered.set()
        await gate.wait()
        return await claim_queued(now, limit)

    world.storage.claim_queued = slow_claim  # type: ignore[method-assign]
    runner = asyncio.create_task(world.runner.run())
    await asyncio.wait_for(entered.wait(), 5)

    runner.cancel()  # shutdown while the claim is on its way to the database
    gate.set()
    await asyncio.gather(runner, return_exceptions=True)

    assert runner.cancelled()
    assert world.storage.jobs[job.id].status is JobStatus.SUBMITTED  # not left orphaned


async def test_two_runners_never_submit_the_same_job() -> None:
    generation = ScriptedGeneration()
    world = await make_world(generation)
    for n in range(7):
        await world.confirm_job(f"d{n}", prompt=f"fox {n}")
    other = JobRunner(world.storage, world.submit, world.deliver, world.clock, concurrency=3)

    ran = await asyncio.gather(world.runner.run_once(), other.run_once())

    assert sum(ran) == 7
    assert sorted(r.job_id for r in generation.submitted) == sorted(world.storage.jobs)


# --- the state-change table ----------------------------------------------------------------


def test_money_moves_only_on_the_edges_of_the_table() -> None:
    captures = [(a, b) for a, moves in TRANSITIONS.items() for b, m in moves.items() if m]
    assert [(a, b) for a, b in captures if TRANSITIONS[a][b] is EntryKind.CAPTURE] == [
        (JobStatus.DELIVERING, JobStatus.DELIVERED)
    ]
    for status in TERMINAL:
        assert status not in TRANSITIONS  # nothing leaves a terminal state
    for source, moves in TRANSITIONS.items():
        for target, money in moves.items():
            # Leaving the holding states resolves the hold, staying in them never does.
            assert (money is not None) == (source in HOLDING and target not in HOLDING)


def test_illegal_transitions_are_refused() -> None:
    with pytest.raises(IllegalTransition):
        check_transition({JobStatus.SUBMITTED}, JobStatus.SUCCEEDED, EntryKind.CAPTURE)
    with pytest.raises(IllegalTransition):
        check_transition({JobStatus.DELIVERED}, JobStatus.FAILED, EntryKind.RELEASE)
    with pytest.raises(IllegalTransition):
        check_transition({JobStatus.DELIVERING}, JobStatus.FAILED)  # a release is required
    check_transition({JobStatus.DELIVERING}, JobStatus.DELIVERED, EntryKind.CAPTURE)


async def test_storage_refuses_a_transition_the_table_does_not_allow(world: World) -> None:
    job = await world.confirm_job()
    with pytest.raises(IllegalTransition):
        await world.storage.transition(
            job.id, {JobStatus.QUEUED}, JobStatus.DELIVERED, world.clock.now()
        )
    assert world.storage.jobs[job.id].status is JobStatus.QUEUED


# --- users and money -----------------------------------------------------------------------


async def test_welcome_balance_is_credited_once_per_user(world: World) -> None:
    await RegisterUser(world.storage, world.clock, 1_000)(USER, "ru")
    assert (await world.storage.balance(USER)).total == 1_000
    assert [e.kind for e in world.storage.ledger] == [EntryKind.BONUS]


async def test_replayed_money_command_changes_nothing(world: World) -> None:
    entry = LedgerEntry("topup:charge-1", USER, EntryKind.TOPUP, amount=500)
    await world.storage.post(entry)
    await world.storage.post(entry)
    assert (await world.storage.balance(USER)).total == 1_500
