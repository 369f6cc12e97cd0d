"""Webhook ingest benchmark: ``kiebot webhook`` (durable inbox) vs aiogram's stock handler.

Not collected by pytest (no ``test_`` prefix). Run from the repository root:

    .venv/bin/python -m tests.bench.bench_ingest [--seconds 10] [--concurrency 50]

Uses TEST_DATABASE_URL when set, else a throw-away embedded PostgreSQL. Loopback only; the
load generator (aiohttp, closed loop) runs in this process. Prints one JSON line per server.
"""

# The blocking calls run before or after a load phase, when the loop has nothing else to do.
# ruff: noqa: ASYNC220, ASYNC251

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp
import psutil

from tests.fakes.processes import ROOT, TOKEN, free_port

SECRET = "bench-secret-7f3a9c1e"
PATH = "bench-path-0a1b2c3d4e5f"
TEXT = "Please draw my cat sitting on a windowsill at sunset, in watercolor style"


def update(n: int) -> bytes:
    user = {"id": 5123456789, "is_bot": False, "first_name": "Alice", "language_code": "ru"}
    chat = {"id": 5123456789 + n % 50, "first_name": "Alice", "type": "private"}
    msg = {"message_id": n, "from": user, "chat": chat, "date": 1732905600, "text": TEXT}
    return json.dumps({"update_id": n, "message": msg}).encode()


async def load(url: str, seconds: float, concurrency: int, base: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(base, base + 10**8))
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    end = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < end:
                body = update(next(counter))
                t0 = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

        t_start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t_start
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)

    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def wait_http(url: str, deadline: float = 60.0) -> float:
    import urllib.request

    start = time.monotonic()
    while time.monotonic() - start < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"{url} never answered")


def rss_mib(pid: int) -> float:
    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


async def measure(name: str, proc: subprocess.Popen[bytes], port: int, args: Any) -> dict:
    url = f"http://127.0.0.1:{port}/webhook/{PATH}"
    idle = rss_mib(proc.pid)
    await load(url, 2, args.concurrency, 10**9 + hash(name) % 10**6 * 1000)  # warm-up
    peak = [idle]

    async def sample() -> None:
        while True:
            peak.append(rss_mib(proc.pid))
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    result = await load(
        url, args.seconds, args.concurrency, 2 * 10**9 + hash(name) % 10**6 * 10**4
    )
    sampler.cancel()
    return {"server": name, **result, "rss_idle_mib": idle, "rss_load_mib": max(peak)}


def stock_server(port: int) -> None:
    """aiogram's SimpleRequestHandler on aiohttp (handle_in_background, not durable)."""
    from aiogram import Bot, Dispatcher, Router
    from aiogram.client.session.base import BaseSession
    from aiogram.types import Message
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web

    class NoNetwork(BaseSession):
        async def make_request(self, *a: Any, **k: Any) -> Any:
            raise RuntimeError("no network in the benchmark")

        async def stream_content(self, *a: Any, **k: Any) -> Any:
            raise RuntimeError

        async def close(self) -> None:
            return None

    router, seen = Router(), [0]

    @router.message()
    async def count(message: Message) -> None:
        seen[0] += 1

    dp = Dispatcher()
    dp.include_router(router)
    bot = Bot(TOKEN, session=NoNetwork())
    app = web.Application()

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "seen": seen[0]})

    app.router.add_get("/health", health)
    SimpleRequestHandler(dp, bot, secret_token=SECRET, handle_in_background=True).register(
        app, path=f"/webhook/{PATH}"
    )
    setup_application(app, dp, bot=bot)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def main(args: Any) -> None:
    server = None
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        from adapters.postgres.embedded import start_embedded

        server = start_embedded(tempfile.mkdtemp(prefix="kiebot-bench-"), cleanup_mode="delete")
        url = server.url
    results = []
    try:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "KIE_MODE": "stub",
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "WEBHOOK_PATH_SECRET": PATH,
            "WEBHOOK_SECRET_TOKEN": SECRET,
            "WEBHOOK_BASE_URL": f"http://127.0.0.1:{port}",
            # Nothing answers there: setWebhook is retried in the background, never sent out.
            "TELEGRAM_API_BASE": "http://127.0.0.1:9",
            "INBOX_WORKERS": "0",  # ingest only: Telegram is not reachable from here
            "LOG_LEVEL": "WARNING",
        }
        cmd = [sys.executable, "-m", "entrypoints.cli", "webhook"]
        spawned = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        try:
            first = wait_http(f"http://127.0.0.1:{port}/health")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with __import__("urllib.request").request.urlopen(
                    f"http://127.0.0.1:{port}/health"
                ) as r:
                    if json.loads(r.read())["status"] == "ok":
                        break
                time.sleep(0.05)
            ready = time.monotonic() - spawned  # workers, lock and aiogram all up
            result = await measure("kiebot webhook (durable inbox)", proc, port, args)
            result.update(first_health_s=round(first, 2), ready_s=round(ready, 2))
            results.append(result)
        finally:
            proc.terminate()
            proc.wait(30)
        port = free_port()
        cmd = [sys.executable, "-m", "tests.bench.bench_ingest", "--stock-server", str(port)]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=os.environ.copy())
        try:
            first = wait_http(f"http://127.0.0.1:{port}/health")
            result = await measure("aiogram SimpleRequestHandler (stock)", proc, port, args)
            result.update(first_health_s=round(first, 2))
            results.append(result)
        finally:
            proc.terminate()
            proc.wait(30)
    finally:
        if server is not None:
            server.stop()
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "concurrency": args.concurrency,
        "seconds": args.seconds,
    }
    print(json.dumps(meta))
    for result in results:
        print(json.dumps(result))
    ratio = results[0]["rps"] / max(1, results[1]["rps"])
    print(json.dumps({"durable_vs_stock": round(ratio, 2)}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--stock-server", type=int, default=0, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.stock_server:
        stock_server(options.stock_server)
    else:
        asyncio.run(main(options))
