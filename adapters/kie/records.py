"""Kie.ai task records (recordInfo ``data`` and callback bodies) → TaskStatus."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any

from core.domain.catalog import Catalog, MediaKind
from core.domain.jobs import ResultFile
from core.ports.generation import TaskState, TaskStatus

_STATES = {
    "waiting": TaskState.PENDING,
    "queuing": TaskState.PENDING,
    "generating": TaskState.RUNNING,
    "success": TaskState.SUCCEEDED,
    "fail": TaskState.FAILED,
}
_EXTENSIONS = {
    MediaKind.IMAGE: (".png", ".jpg", ".jpeg", ".webp", ".gif"),
    MediaKind.VIDEO: (".mp4", ".mov", ".webm"),
    MediaKind.AUDIO: (".mp3", ".wav", ".ogg", ".m4a", ".flac", ".aac"),
}


def task_id_of(body: Mapping[str, Any]) -> str | None:
    """``data.taskId`` on market bodies, ``data.task_id`` on Suno/Runway-style ones (both seen)."""
    data = body.get("data")
    if not isinstance(data, Mapping):
        return None
    value = data.get("taskId") or data.get("task_id")
    return str(value) if isinstance(value, str | int) and str(value) else None


def _loads(value: Any) -> Any:
    """JSON strings may be nested (⚠ double-encoded ``param``/``resultJson``)."""
    for _ in range(3):
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value


def kind_of_url(url: str, default: MediaKind) -> MediaKind:
    path = url.split("?", 1)[0].lower()
    for kind, extensions in _EXTENSIONS.items():
        if path.endswith(extensions):
            return kind
    return default


def result_files(result_json: Any, default: MediaKind) -> tuple[ResultFile, ...]:
    result = _loads(result_json)
    if not isinstance(result, Mapping):
        return ()
    urls = result.get("resultUrls") or []
    if isinstance(urls, str):
        urls = [urls]
    files = tuple(
        ResultFile(kind_of_url(u, default), u)
        for u in urls
        if isinstance(u, str) and u.startswith(("https://", "http://"))
    )
    if files:
        return files
    text = result.get("resultObject")
    if text is not None:
        # Text outputs (speech-to-text…) travel the same download/deliver path as media.
        raw = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False, indent=1)
        encoded = base64.b64encode(raw.encode()).decode()
        return (ResultFile(MediaKind.TEXT, f"data:text/plain;base64,{encoded}"),)
    return ()


def _fail_reason(data: Mapping[str, Any], fallback: str) -> str:
    message = data.get("failMsg") or data.get("errorMessage") or fallback
    code = data.get("failCode")
    code_text = str(code) if code not in (None, "") else ""  # string, number or null, all seen
    return f"{message} ({code_text})" if code_text else str(message)


def output_kinds(catalog: Catalog) -> Callable[[str], MediaKind]:
    """A Kie.ai model name → what the catalog says it produces (DOCUMENT for a model it lacks).

    The kind a result file gets when its URL's extension does not tell.
    """
    kinds = {m.kie_model: m.output for m in catalog.models}
    return lambda kie_model: kinds.get(kie_model, MediaKind.DOCUMENT)


def parse_record(
    data: Mapping[str, Any], output_of: Callable[[str], MediaKind], envelope_code: int = 200
) -> TaskStatus:
    """One record, from recordInfo or from a callback (whose ``code`` may be the only hint)."""
    state = _STATES.get(str(data.get("state", "")).lower())
    if state is None:
        if envelope_code == 200 and data.get("resultJson"):
            state = TaskState.SUCCEEDED
        elif envelope_code in (400, 408, 422, 500, 501, 531):
            state = TaskState.FAILED
        else:
            state = TaskState.PENDING
    if state is TaskState.FAILED:
        return TaskStatus(state, error=_fail_reason(data, "generation failed"))
    if state is TaskState.SUCCEEDED:
        default = output_of(str(data.get("model", "")))
        files = result_files(data.get("resultJson"), default)
        return TaskStatus(state, files=files, error=None if files else "empty result")
    return TaskStatus(state)


def parse_callback(
    body: Mapping[str, Any], output_of: Callable[[str], MediaKind]
) -> tuple[str | None, TaskStatus]:
    data = body.get("data")
    code = body.get("code")
    envelope_code = code if isinstance(code, int) else 200
    if not isinstance(data, Mapping):
        return None, TaskStatus(TaskState.PENDING)
    return task_id_of(body), parse_record(data, output_of, envelope_code)
