"""Start uvicorn inside our own event loop, before anything heavy is imported."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from litestar import Litestar


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The runtime owns SIGTERM/SIGINT: it drains workers and releases the lock first.
        yield


class HttpServer:
    def __init__(self, app: Litestar, host: str, port: int) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="off",
            access_log=False,
            log_config=None,
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self, wait_seconds: float = 10.0) -> None:
        """Return once the port is bound and served; OSError (one line) if it cannot be bound."""
        # Bound here rather than by uvicorn, which calls sys.exit() on failure.
        config = self._server.config
        sock = socket.socket(socket.AF_INET6 if ":" in config.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((config.host, config.port))
        except OSError as exc:
            sock.close()
            raise OSError(
                f"cannot listen on {config.host}:{config.port}: {exc.strerror}"
            ) from None
        sock.listen(2048)
        self._task = asyncio.create_task(self._server.serve([sock]), name="http-server")
        loop = asyncio.get_running_loop()
        end = loop.time() + wait_seconds
        while not self._server.started:
            if self._task.done():
                raise OSError(f"HTTP server did not start on port {config.port}")
            if loop.time() > end:
                raise TimeoutError("HTTP server did not start")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await self._task
