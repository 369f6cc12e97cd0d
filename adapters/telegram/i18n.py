"""Translator: Fluent (``.ftl``) messages per language; handlers never hold literal texts.

Each language is a directory (``locales/en/``, ``locales/ru/``) of ``.ftl`` files, one per
area of the bot, read into one bundle; a key defined twice in a language is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fluent.runtime import FluentBundle, FluentResource

LOCALES_DIR = Path(__file__).with_name("locales")
FALLBACK = "en"


class Translator:
    def __init__(self, directory: Path = LOCALES_DIR) -> None:
        self._bundles: dict[str, FluentBundle] = {}
        for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
            files = sorted(folder.glob("*.ftl"))
            if not files:
                continue
            bundle = FluentBundle([folder.name], use_isolating=False)
            seen: dict[str, str] = {}
            for path in files:
                resource = FluentResource(path.read_text(encoding="utf-8"))
                for entry in resource.body:
                    name = getattr(getattr(entry, "id", None), "name", None)
                    if name is None:
                        continue
                    if name in seen:
                        raise ValueError(
                            f"{folder.name}/{path.name}: {name} is also in {seen[name]}"
                        )
                    seen[name] = path.name
                errors = bundle.add_resource(resource)
                if errors:
                    raise ValueError(f"{folder.name}/{path.name}: {errors[0]}")
            self._bundles[folder.name] = bundle
        if FALLBACK not in self._bundles:
            raise ValueError(f"no {FALLBACK}/ translations in {directory}")

    @property
    def languages(self) -> list[str]:
        return sorted(self._bundles)

    def has(self, lang: str, key: str) -> bool:
        """Whether the language (or the fallback one) has the text."""
        bundle = self._bundles.get(lang, self._bundles[FALLBACK])
        return bundle.has_message(key) or self._bundles[FALLBACK].has_message(key)

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
