"""Callbacks through the Litestar route: forged, replayed, duplicate, late, out of order, early."""

from __future__ import annotations

import json
import logging

import attrs
import httpx
import pytest
import respx

from core.domain.jobs import FailureKind, JobStatus
from core.domain.ledger import EntryKind
from core.ports.chat import Progress

from .world import (
    CDN,
    CREATE,
    HMAC_KEY,
    PNG,
    RECORD,
    World,
    created,
    fail_body,
    record,
    running_body,
    sign,
    success_body,
)

PRICE = 76  # z-image: 0.8 credits at the default pricing


def cdn(kie: respx.MockRouter) -> respx.Route:
    return kie.get(f"{CDN}/r.png").mock(
        return_value=httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})
    )


def captures(world: World) -> int:
    return sum(e.kind is EntryKind.CAPTURE for e in world.storage.ledger)


async def submitted(world: World, kie: respx.MockRouter, task_id: str = "t-1"):  # type: ignore[no-untyped-def]
    kie.post(CREATE).mock(return_value=created(task_id))
    job = await world.job()
    assert await world.runner.run_once() == 1
    return await world.storage.get_job(job.id)


async def test_success_callback_captures_and_delivers_once(kie: respx.MockRouter) -> None:
    world = World()
    cdn(kie)
    job = await submitted(world, kie)
    sent = json.loads(kie.calls.last.request.content)
    assert sent["callBackUrl"] == f"https://bot.test/kie/callback/{job.id}/{job.callback_token}"

    response = await world.post(job, success_body("t-1"))

    assert response.status_code == 200
    assert world.storage.jobs[job.id].status is JobStatus.DELIVERED
    assert [d[1][0][2] for d in world.chat.delivered] == ["image/png"]
    assert await world.balance() == (10_000 - PRICE, 0)


async def test_forged_token_is_refused_and_changes_nothing(kie: respx.MockRouter) -> None:
    world = World()
    job = await submitted(world, kie)
    response = await world.post(job, success_body("t-1"), token="guessed-token")
    unknown = await world.post(attrs.evolve(job, id="no-such-job"), success_body("t-1"))
    assert (response.status_code, unknown.status_code) == (403, 403)
    assert world.callbacks.rows == []
    assert world.storage.jobs[job.id].status is JobStatus.SUBMITTED


async def test_duplicate_and_both_paths_capture_and_deliver_once(kie: respx.MockRouter) -> None:
    world = World()
    download = cdn(kie)
    job = await submitted(world, kie)
    kie.get(RECORD).mock(return_value=record("t-1", success_body("t-1")))

    await world.post(job, success_body("t-1"))
    await world.post(job, success_body("t-1"))  # Kie.ai may send the same callback again
    world.clock.advance(seconds=5)
    await world.reconcile.run_once()  # and polling reports the same success

    assert captures(world) == 1
    assert len(world.chat.delivered) == 1
    assert download.call_count == 1
    assert await world.balance() == (10_000 - PRICE, 0)


async def test_polling_first_then_callback_also_settles_once(kie: respx.MockRouter) -> None:
    world = World()
    cdn(kie)
    job = await submitted(world, kie)
    kie.get(RECORD).mock(return_value=record("t-1", success_body("t-1")))
    world.clock.advance(seconds=5)
    await world.reconcile.run_once()
    response = await world.post(job, success_body("t-1"))
    assert response.status_code == 200
    assert (captures(world), len(world.chat.delivered)) == (1, 1)


async def test_out_of_order_failure_after_success_changes_nothing(kie: respx.MockRouter) -> None:
    world = World()
    cdn(kie)
    job = await submitted(world, kie)
    await world.post(job, success_body("t-1"))
    await world.post(job, running_body("t-1"))
    await world.post(job, fail_body("t-1"))
    assert world.storage.jobs[job.id].status is JobStatus.DELIVERED
    assert world.chat.failed == []
    assert await world.balance() == (10_000 - PRICE, 0)


async def test_running_then_failure_refunds(kie: respx.MockRouter) -> None:
    world = World()
    job = await submitted(world, kie)
    await world.post(job, running_body("t-1"))
    assert world.storage.jobs[job.id].status is JobStatus.RUNNING
    await world.post(job, fail_body("t-1"))
    failed = world.storage.jobs[job.id]
    assert (failed.status, failed.failure) == (JobStatus.FAILED, FailureKind.PROVIDER_ERROR)
    assert "Internal error" in (failed.error or "")  # the detail is kept for the log only
    assert world.chat.failed == [(job.id, FailureKind.PROVIDER_ERROR, None)]
    assert await world.balance() == (10_000, 0)


async def test_a_refused_input_callback_tells_the_user_kies_reason(kie: respx.MockRouter) -> None:
    world = World()
    job = await submitted(world, kie)
    body = fail_body("t-1")
    body["data"].update(failCode="422", failMsg="Your prompt was flagged by the safety system.")
    assert (await world.post(job, body)).status_code == 200
    assert world.chat.failed == [
        (job.id, FailureKind.REJECTED, "Your prompt was flagged by the safety system")
    ]
    assert await world.balance() == (10_000, 0)


async def test_a_maintenance_failure_callback_has_its_kind(kie: respx.MockRouter) -> None:
    world = World()
    job = await submitted(world, kie)
    body = fail_body("t-1")
    body["data"].update(failCode=455, failMsg="Service unavailable: system maintenance")
    await world.post(job, body)
    assert world.storage.jobs[job.id].failure is FailureKind.MAINTENANCE


async def test_a_callback_for_another_task_is_refused_with_409(
    kie: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()
    cdn(kie)
    job = await submitted(world, kie)
    # The app configures logging when it starts: listen on the use case's logger itself.
    logger = logging.getLogger("core.usecases.callbacks")
    logger.addHandler(caplog.handler)
    try:
        response = await world.post(job, success_body("someone-elses-task"))
    finally:
        logger.removeHandler(caplog.handler)

    assert response.status_code == 409  # visible in Kie.ai's retries and here, as an error
    assert world.callbacks.rows == []
    assert world.storage.jobs[job.id].status is JobStatus.SUBMITTED
    assert captures(world) == 0
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "task mismatch" in error.getMessage()
    assert f"job_id={job.id}" in error.getMessage()

    # The job's own task is still welcome, and so are its duplicates.
    assert (await world.post(job, success_body("t-1"))).status_code == 200
    assert (await world.post(job, success_body("t-1"))).status_code == 200
    assert (captures(world), len(world.chat.delivered)) == (1, 1)


async def test_late_callback_after_expiry_is_logged_not_captured(kie: respx.MockRouter) -> None:
    world = World()
    cdn(kie)
    job = await submitted(world, kie)
    kie.get(RECORD).mock(return_value=record("t-1", running_body("t-1")))
    world.clock.advance(minutes=16)  # images give up after 15 minutes
    report = await world.reconcile.run_once()
    assert report.expired == 1

    response = await world.post(job, success_body("t-1"))

    assert response.status_code == 200
    assert world.storage.jobs[job.id].status is JobStatus.EXPIRED
    assert captures(world) == 0
    assert world.chat.delivered == []
    assert await world.balance() == (10_000, 0)


async def test_early_callback_before_create_answer_is_kept_and_applied(
    kie: respx.MockRouter,
) -> None:
    world = World()
    cdn(kie)
    job = await world.job()
    statuses: list[int] = []

    async def create_with_early_callback(request: httpx.Request) -> httpx.Response:
        # Kie.ai finished so fast that its callback beats createTask's own answer.
        statuses.append((await world.post(job, success_body("t-early"))).status_code)
        assert world.storage.jobs[job.id].task_id is None
        return created("t-early")

    kie.post(CREATE).mock(side_effect=create_with_early_callback)
    await world.runner.run_once()

    assert statuses == [200]
    assert world.storage.jobs[job.id].status is JobStatus.DELIVERED
    assert (captures(world), len(world.chat.delivered)) == (1, 1)


async def test_ambiguous_submit_is_not_retried_and_a_callback_settles_it(
    kie: respx.MockRouter,
) -> None:
    world = World()
    cdn(kie)
    create = kie.post(CREATE).mock(side_effect=httpx.ReadTimeout("lost answer"))
    recorded = kie.get(RECORD).mock(return_value=record("t-9", success_body("t-9")))
    job = await world.job()
    await world.runner.run_once()
    assert world.chat.progress == [(job.id, Progress.CHECKING)]
    world.clock.advance(seconds=40)
    await world.reconcile.run_once()
    assert create.call_count == 1
    assert world.storage.jobs[job.id].status is JobStatus.SUBMITTING

    await world.post(job, success_body("t-9"))

    # The token proved the task is this job's; recordInfo (the authority) gave the result.
    assert recorded.calls.last.request.url.params["taskId"] == "t-9"
    assert world.storage.jobs[job.id].status is JobStatus.DELIVERED
    assert captures(world) == 1


async def test_ambiguous_submit_without_news_is_released_after_minutes(
    kie: respx.MockRouter,
) -> None:
    world = World()
    create = kie.post(CREATE).mock(side_effect=httpx.ReadTimeout("lost answer"))
    job = await world.job()
    await world.runner.run_once()
    world.clock.advance(minutes=3, seconds=1)  # an image waits three minutes, not fifteen
    report = await world.reconcile.run_once()
    assert (report.unconfirmed, create.call_count) == (1, 1)
    assert world.storage.jobs[job.id].failure is FailureKind.UNCONFIRMED
    assert await world.balance() == (10_000, 0)


async def test_hmac_signature_required_and_bounded_in_time(kie: respx.MockRouter) -> None:
    world = World(hmac_key=HMAC_KEY)
    cdn(kie)
    job = await submitted(world, kie)
    now = int(world.clock.now().timestamp())
    body = success_body("t-1")

    unsigned = await world.post(job, body)
    wrong_key = await world.post(job, body, headers=sign("t-1", now, key="other"))
    replayed = await world.post(job, body, headers=sign("t-1", now - 3600))
    assert [r.status_code for r in (unsigned, wrong_key, replayed)] == [401, 401, 401]
    assert world.callbacks.rows == []

    good = await world.post(job, body, headers=sign("t-1", now))
    assert good.status_code == 200
    assert world.storage.jobs[job.id].status is JobStatus.DELIVERED


async def test_malformed_and_oversized_bodies_are_4xx(kie: respx.MockRouter) -> None:
    world = World()
    job = await submitted(world, kie)
    bad_json = await world.post(job, b"{not json")
    not_object = await world.post(job, b"[1, 2]")
    huge = await world.post(job, b'{"pad": "' + b"x" * 400_000 + b'"}')
    assert [r.status_code for r in (bad_json, not_object, huge)] == [400, 400, 413]
    assert world.callbacks.rows == []


async def test_stored_callback_left_by_a_crash_is_applied_by_the_reconciler(
    kie: respx.MockRouter,
) -> None:
    world = World()
    cdn(kie)
    job = await submitted(world, kie)
    # Stored, but the after-response step never ran (process died).
    outcome = await world.receive(job.id, job.callback_token, "t-1", _status_of(world, "t-1"))
    assert outcome.value == "stored"
    await world.reconcile.run_once()
    assert world.storage.jobs[job.id].status is JobStatus.SUCCEEDED
    await world.runner.run_once()
    assert world.storage.jobs[job.id].status is JobStatus.DELIVERED


def _status_of(world: World, task_id: str):  # type: ignore[no-untyped-def]
    from adapters.kie.records import output_kinds, parse_callback

    return parse_callback(success_body(task_id), output_kinds(world.catalog))[1]
