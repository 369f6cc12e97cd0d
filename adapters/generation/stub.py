"""StubGeneration: placeholder media after a configurable delay, fully offline.

The task id carries the submit time, so a restarted process still answers for it.
A prompt containing ``#fail`` makes the task fail, to try the refund path by hand.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

from core.domain.catalog import MediaKind
from core.domain.jobs import ResultFile
from core.ports.clock import ClockPort
from core.ports.generation import (
    GenerationPort,
    GenerationRejected,
    TaskRequest,
    TaskState,
    TaskStatus,
)

from .placeholder import placeholder_png, placeholder_wav

FAIL_MARKER = "#fail"


class StubGeneration(GenerationPort):
    mode = "stub"

    def __init__(self, clock: ClockPort, delay: timedelta = timedelta(seconds=3)) -> None:
        self._clock = clock
        self._delay = delay

    async def submit(self, request: TaskRequest) -> str:
        prompt = str(request.params.get("prompt", ""))
        if not request.model.kie_model:
            raise GenerationRejected("model has no provider name")
        started = int(self._clock.now().timestamp() * 1000)
        outcome = "fail" if FAIL_MARKER in prompt else "ok"
        return f"stub-{started}-{request.model.output}-{outcome}-{uuid.uuid4().hex[:12]}"

    async def status(self, task_id: str) -> TaskStatus:
        try:
            _, started_ms, output, outcome, _ = task_id.split("-", 4)
            started = datetime.fromtimestamp(int(started_ms) / 1000, UTC)
            kind = MediaKind(output)
        except ValueError:
            return TaskStatus(TaskState.FAILED, error="unknown stub task")
        if self._clock.now() - started < self._delay:
            return TaskStatus(TaskState.RUNNING)
        if outcome == "fail":
            return TaskStatus(TaskState.FAILED, error="stub failure requested with #fail")
        if kind is MediaKind.AUDIO:
            url = "data:audio/wav;base64," + base64.b64encode(placeholder_wav()).decode()
        else:
            kind = MediaKind.IMAGE
            url = "data:image/png;base64," + base64.b64encode(placeholder_png(task_id)).decode()
        return TaskStatus(TaskState.SUCCEEDED, files=(ResultFile(kind, url),))
