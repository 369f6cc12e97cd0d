"""Every text exists in every language, and formats."""

from __future__ import annotations

from adapters.telegram.i18n import Translator


def test_all_languages_have_the_same_keys() -> None:
    translator = Translator()
    assert translator.languages == ["en", "ru"]
    assert translator.keys("ru") == translator.keys("en")


def test_unknown_language_falls_back_to_english() -> None:
    translator = Translator()
    assert translator("de", "menu-title") == "Main menu"
    assert translator("ru", "menu-title") == "Главное меню"
