"""KieGeneration: the GenerationPort over Kie.ai's market API (createTask, recordInfo).

Uploads and the credit balance are other ports, with their own adapters on the same client:
``KieUploader`` (``uploader.py``) and ``KieAccount`` (``account.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from adapters.kie.client import HttpxKieClient
from adapters.kie.errors import KieNotFound, KieTaskEnded, classify_failure, short
from adapters.kie.records import output_kinds, parse_record
from core.domain.catalog import Catalog
from core.domain.errors import InvalidParams
from core.domain.jobs import FailureKind
from core.ports.generation import (
    GenerationPort,
    GenerationRejected,
    TaskRequest,
    TaskState,
    TaskStatus,
)

log = logging.getLogger(__name__)


class KieGeneration(GenerationPort):
    mode = "real"

    def __init__(self, client: HttpxKieClient, catalog: Catalog) -> None:
        self._client = client
        self._output_of = output_kinds(catalog)

    async def submit(self, request: TaskRequest) -> str:
        model = request.model
        try:
            # Params may have round-tripped through JSON storage: re-validate, then build.
            payload = model.kie_input(model.validate(request.params))
        except InvalidParams as exc:
            raise GenerationRejected(
                f"invalid input: {exc}", kind=FailureKind.REJECTED, reason=short(str(exc))
            ) from None
        task_id = await self._client.create_task(model.kie_model, payload, request.callback_url)
        log.info("kie task created job_id=%s task_id=%s", request.job_id, task_id)
        return task_id

    async def status(self, task_id: str) -> TaskStatus:
        try:
            data = await self._client.record_info(task_id)
        except KieNotFound:
            # Right after createTask the record may not exist yet (404, or 422 "recordInfo is
            # null"): the task is still on its way, and the job's expiry bounds the wait.
            return TaskStatus(TaskState.PENDING)
        except KieTaskEnded as exc:
            return self._ended(task_id, exc)
        if not _is_record_of(task_id, data):
            return TaskStatus(TaskState.PENDING)
        return classify_failure(parse_record(data, self._output_of), data)

    def _ended(self, task_id: str, exc: KieTaskEnded) -> TaskStatus:
        """recordInfo's code ended the task. A record that came along still names the state
        (``data.state``) and the cause; without one the code alone makes it a failure."""
        record: dict[str, Any] = dict(exc.record or {})
        if not _is_record_of(task_id, record):
            return TaskStatus(TaskState.PENDING)
        if not (record.get("failMsg") or record.get("errorMessage")):
            record["failMsg"] = exc.kie_message or str(exc)
        if record.get("failCode") in (None, ""):
            record["failCode"] = exc.code
        status = parse_record(record, self._output_of, envelope_code=exc.code)
        return classify_failure(status, record, default=exc.kind)


def _is_record_of(task_id: str, data: Mapping[str, Any]) -> bool:
    """A record naming another task is never trusted (a record without a name is)."""
    reported = data.get("taskId")
    if reported and str(reported) != task_id:
        log.warning("recordInfo answered for another task asked=%s got=%s", task_id, reported)
        return False
    return True
