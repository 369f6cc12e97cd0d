"""Two real processes (``python -m tests.lockproc``) compete for the lock on real PostgreSQL.

Each process appends ``<unix time> <event>`` lines to its own file; the tests poll those files
with deadlines and stop processes by their own Popen handle.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT, STALE, RETRY = 0.5, 3.0, 0.3


class Instance:
    def __init__(self, dsn: str, out: Path, stale: float = STALE) -> None:
        self.out = out
        env = {
            **os.environ,
            "LOCK_HEARTBEAT_INTERVAL": str(HEARTBEAT),
            "LOCK_STALE_IDLE_SECONDS": str(stale),
            "LOCK_RETRY_INTERVAL": str(RETRY),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.lockproc", dsn, str(out)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def lines(self) -> list[tuple[float, str]]:
        if not self.out.exists():
            return []
        found = []
        for raw in self.out.read_text().splitlines():
            stamp, _, text = raw.partition(" ")
            found.append((float(stamp), text))
        return found

    def first(self, pattern: str, after: float = 0.0) -> float | None:
        for stamp, text in self.lines():
            if stamp >= after and re.search(pattern, text):
                return stamp
        return None

    def count(self, pattern: str) -> int:
        return sum(1 for _, text in self.lines() if re.search(pattern, text))

    def wait_for(self, pattern: str, within: float, after: float = 0.0) -> float:
        stamp = until(lambda: self.first(pattern, after), within)
        assert stamp is not None, f"no {pattern!r} within {within}s:\n{self.out.read_text()}"
        return stamp

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def until(probe: Callable[[], float | None], within: float) -> float | None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.05)
    return probe()


@pytest.fixture
def spawn(pg_url: str, tmp_path: Path) -> Iterator[Callable[..., Instance]]:
    started: list[Instance] = []

    def start(name: str, **kwargs: float) -> Instance:
        started.append(Instance(pg_url, tmp_path / f"{name}.out", **kwargs))
        return started[-1]

    yield start
    for instance in started:
        instance.stop()


def two_instances(spawn: Callable[..., Instance]) -> tuple[Instance, Instance]:
    a = spawn("a")
    a.wait_for(r"^STATE ACTIVE epoch=1$", within=15)
    b = spawn("b")
    b.wait_for(r"PASSIVE MODE - another instance is ACTIVE", within=15)
    return a, b


def test_two_processes_exactly_one_active_and_kill_9_fails_over_fast(spawn) -> None:
    a, b = two_instances(spawn)
    assert a.count("^STATE ACTIVE") + b.count("^STATE ACTIVE") == 1
    killed_at = time.time()
    a.proc.kill()  # SIGKILL: no clean-up, PostgreSQL drops the session and its lock
    active_at = b.wait_for(r"^STATE ACTIVE epoch=2$", within=10)
    failover = active_at - killed_at
    print(f"kill -9 failover: {failover:.2f}s")
    assert failover < 5.0
    assert b.count("STALE|Terminating") == 0  # freed by PostgreSQL, not by a takeover


def test_sigstopped_holder_is_taken_over_and_resumes_passive_without_work(spawn) -> None:
    a, b = two_instances(spawn)
    a.wait_for(r"^WORK epoch=1$", within=5)
    stopped_at = time.time()
    a.proc.send_signal(signal.SIGSTOP)
    active_at = b.wait_for(r"^STATE ACTIVE epoch=2$", within=STALE + 10)
    assert active_at - stopped_at > STALE - HEARTBEAT  # only once the heartbeat went stale
    assert b.first(r"STALE LOCK: pid=\d+ heartbeat_age=") is not None
    assert b.first(r"Terminating stale process pid=\d+") is not None
    b.wait_for(r"^WORK epoch=2$", within=5)

    resumed_at = time.time()
    a.proc.send_signal(signal.SIGCONT)
    a.wait_for(r"LOST: stepping down", within=5, after=resumed_at)
    a.wait_for(r"^STATE PASSIVE", within=5, after=resumed_at)
    a.wait_for(r"PASSIVE MODE - another instance is ACTIVE", within=5, after=resumed_at)
    # Give the resumed process every chance to misbehave: a few heartbeats of B's.
    b.wait_for(r"^WORK epoch=2$", within=5, after=time.time() + 3 * HEARTBEAT)
    assert a.first(r"^WORK", after=resumed_at) is None
    assert a.count(r"^STATE ACTIVE") == 1
    assert b.count(r"^STATE ACTIVE") == 1


def test_two_healthy_processes_never_take_the_lock_from_each_other(spawn) -> None:
    """Lessons 1 and 12, with the stale threshold barely above 2 x heartbeat."""
    tight = 2 * HEARTBEAT + 0.2
    a = spawn("a", stale=tight)
    a.wait_for(r"^STATE ACTIVE epoch=1$", within=15)
    b = spawn("b", stale=tight)
    b.wait_for(r"PASSIVE MODE - another instance is ACTIVE", within=15)
    watch_from = time.time()
    # Several thresholds long, any takeover, loss or second ACTIVE ends the wait early.
    trouble = until(
        lambda: (
            a.first("STALE|Terminating|LOST|STATE PASSIVE", after=watch_from)
            or b.first("STALE|Terminating|STATE ACTIVE", after=watch_from)
        ),
        within=5 * tight,
    )
    assert trouble is None, a.out.read_text() + b.out.read_text()
    assert a.first(r"^WORK epoch=1$", after=time.time() - 1) is not None  # still working

    stopped_at = time.time()
    a.proc.terminate()  # graceful: releases the lock, so B takes over at its next retry
    assert a.proc.wait(timeout=10) == 0
    assert a.first(r"Released epoch=1") is not None
    active_at = b.wait_for(r"^STATE ACTIVE epoch=2$", within=10)
    assert active_at - stopped_at < 5.0
