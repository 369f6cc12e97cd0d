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


def test_a_key_defined_in_two_files_of_one_language_is_refused(tmp_path) -> None:
    import pytest

    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "a.ftl").write_text("hello = Hello\n", encoding="utf-8")
    (tmp_path / "en" / "b.ftl").write_text("hello = Hi\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"en/b\.ftl: hello is also in a\.ftl"):
        Translator(tmp_path)


def test_the_areas_of_a_language_read_into_one_bundle(tmp_path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "a.ftl").write_text("hello = Hello\n", encoding="utf-8")
    (tmp_path / "en" / "b.ftl").write_text("bye = Bye, { $name }\n", encoding="utf-8")
    translator = Translator(tmp_path)
    assert translator("en", "hello") == "Hello"
    assert translator("en", "bye", name="Ann") == "Bye, Ann"
