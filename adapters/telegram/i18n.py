"""Translator: Fluent (``.ftl``) messages per language; handlers never hold literal texts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fluent.runtime import FluentBundle, FluentResource

LOCALES_DIR = Path(__file__).with_name("locales")
FALLBACK = "en"


class Translator:
    def __init__(self, directory: Path = LOCALES_DIR) -> None:
        self._bundles: dict[str, FluentBundle] = {}
        for path in sorted(directory.glob("*.ftl")):
            bundle = FluentBundle([path.stem], use_isolating=False)
            errors = bundle.add_resource(FluentResource(path.read_text(encoding="utf-8")))
            if errors:
                raise ValueError(f"{path.name}: {errors[0]}")
            self._bundles[path.stem] = bundle
        if FALLBACK not in self._bundles:
            raise ValueError(f"no {FALLBACK}.ftl in {directory}")

    @property
    def languages(self) -> list[str]:
        return sorted(self._bundles)

    def keys(self, lang: str) -> set[str]:
        return set(self._bundles[lang]._messages)

    def __call__(self, lang: str, key: str, **args: Any) -> str:
        bundle = self._bundles.get(lang, self._bundles[FALLBACK])
        if not bundle.has_message(key):
            bundle = self._bundles[FALLBACK]
        message = bundle.get_message(key)  # KeyError for a key no language has
        if message.value is None:
            raise KeyError(key)
        text, errors = bundle.format_pattern(message.value, args)
        if errors:
            raise ValueError(f"{lang}/{key}: {errors[0]}")
        return str(text)
