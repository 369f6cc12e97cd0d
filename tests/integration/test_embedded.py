"""The embedded server: stops on a normal exit, and survives a SIGKILLed holder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from adapters.postgres.embedded import database_url_or_embedded, start_embedded

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HOLDER = """
import os, signal, sys
from adapters.postgres.embedded import start_embedded
server = start_embedded(sys.argv[1])
print(server.pid, flush=True)
if sys.argv[2] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def pgdata() -> Iterator[Path]:
    # Not under tmp_path: as root the library opens up every parent directory, and the
    # socket path must stay short.
    root = Path(tempfile.mkdtemp(prefix="kiebot-emb-"))
    yield root / "pgdata"
    shutil.rmtree(root, ignore_errors=True)


def run_holder(pgdata: Path, mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", HOLDER, str(pgdata), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return int(done.stdout.split()[0])


def gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether the postmaster has exited (a zombie not yet reaped by PID 1 counts as exited).

    ``pg_ctl -w stop`` returns once postmaster.pid is removed, a moment before the process
    itself is gone, so this polls that condition for a bounded time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def stop_orphan(pid: int) -> None:
    """Only for a failed test: stop the postmaster we started, by its pid."""
    if not gone(pid, timeout=0.1):
        psutil.Process(pid).terminate()
        gone(pid)


def test_a_normal_exit_leaves_no_server_running(pgdata: Path) -> None:
    postmaster = run_holder(pgdata, "exit")
    try:
        assert gone(postmaster)
        assert not (pgdata / "postmaster.pid").exists()
    finally:
        stop_orphan(postmaster)


def test_after_a_sigkill_the_next_run_reuses_the_server_and_stops_it(pgdata: Path) -> None:
    postmaster = run_holder(pgdata, "kill")
    try:
        assert not gone(postmaster, timeout=0.1)  # the library cannot clean up after SIGKILL
        assert json.loads((pgdata / ".handle_pids.json").read_text()) != []

        server = start_embedded(pgdata)
        assert server.pid == postmaster
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        server.stop()
        assert gone(postmaster)
        assert not (pgdata / "postmaster.pid").exists()
    finally:
        stop_orphan(postmaster)


def test_a_configured_url_starts_nothing() -> None:
    assert database_url_or_embedded("postgresql://db/kiebot") == ("postgresql://db/kiebot", None)
