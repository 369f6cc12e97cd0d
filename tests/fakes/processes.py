"""Run ``kiebot`` as a real process on a free loopback port; stop it by its pid."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from tests.fakes.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "4242:TEST-TOKEN-not-a-real-one"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return None, b""


class Kiebot:
    """``executable`` runs an installed ``kiebot`` script instead of this checkout's module."""

    def __init__(
        self,
        command: str,
        *,
        port: int | None = None,
        executable: str | None = None,
        cwd: Path | None = None,
        **env: Any,
    ) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="kiebot-", suffix=".log", delete=False)  # noqa: SIM115
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("KIE_", "WEBHOOK_"))},
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "KIE_MODE": "stub",
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "INFO",
            **{k: str(v) for k, v in env.items()},
        }
        module = [sys.executable, "-m", "entrypoints.cli"]
        argv = [executable, command] if executable else [*module, command]
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd or ROOT,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def health(self) -> dict[str, Any] | None:
        status, body = http("GET", f"{self.base}/health")
        return json.loads(body) if status == 200 else None

    def wait_healthy(self, status: str = "ok", deadline: float = 30.0) -> dict[str, Any]:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"kiebot exited {self.proc.returncode}:\n{self.output()}")
            body = self.health()
            return body is not None and body["status"] == status

        wait_for(ready, deadline, f"/health status={status}")
        body = self.health()
        assert body is not None
        return body

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            raise AssertionError(f"kiebot ignored SIGTERM:\n{self.output()}") from None
