"""KieGeneration: the GenerationPort (plus uploads and the balance) over Kie.ai's market API."""

from __future__ import annotations

import logging
from decimal import Decimal

from core.domain.catalog import Catalog, MediaKind
from core.domain.errors import InvalidParams
from core.ports.generation import (
    GenerationPort,
    GenerationRejected,
    TaskRequest,
    TaskState,
    TaskStatus,
)
from core.ports.provider import MediaUploader, ProviderAccount

from .client import HttpxKieClient
from .errors import KieNotFound
from .records import parse_record

log = logging.getLogger(__name__)


class KieGeneration(GenerationPort, MediaUploader, ProviderAccount):
    mode = "real"

    def __init__(self, client: HttpxKieClient, catalog: Catalog) -> None:
        self._client = client
        self._outputs = {m.kie_model: m.output for m in catalog.models}

    def output_of(self, kie_model: str) -> MediaKind:
        return self._outputs.get(kie_model, MediaKind.DOCUMENT)

    async def submit(self, request: TaskRequest) -> str:
        model = request.model
        try:
            # Params may have round-tripped through JSON storage: re-validate, then build.
            payload = model.kie_input(model.validate(request.params))
        except InvalidParams as exc:
            raise GenerationRejected(f"invalid input: {exc}") from None
        task_id = await self._client.create_task(model.kie_model, payload, request.callback_url)
        log.info("kie task created job_id=%s task_id=%s", request.job_id, task_id)
        return task_id

    async def status(self, task_id: str) -> TaskStatus:
        try:
            data = await self._client.record_info(task_id)
        except KieNotFound:
            # Right after createTask the record may not be visible yet (⚠ §6, code 404).
            return TaskStatus(TaskState.PENDING)
        reported = data.get("taskId")
        if reported and str(reported) != task_id:
            log.warning("recordInfo answered for another task asked=%s got=%s", task_id, reported)
            return TaskStatus(TaskState.PENDING)
        return parse_record(data, self.output_of)

    async def upload(self, content: bytes, filename: str, mime: str) -> str:
        return await self._client.upload(content, filename, mime)

    async def credits(self) -> Decimal | None:
        return await self._client.credits()
