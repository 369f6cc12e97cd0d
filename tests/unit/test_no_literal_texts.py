"""Users read only translated texts: no handler, keyboard or chat adapter sends a literal.

A text the bot sends is the first argument or the ``text``/``caption`` keyword of a send,
edit, answer or button call. A string literal there may carry layout (spaces, line breaks,
punctuation, emoji, placeholders) but no word: every word comes from the translations.
"""

from __future__ import annotations

import ast
import unicodedata
from pathlib import Path

TELEGRAM = Path(__file__).resolve().parents[2] / "adapters" / "telegram"
# Where each call takes its text positionally (the Bot's sends take the chat first).
SENDERS = {
    "answer": 0,
    "edit_text": 0,
    "edit_message_text": 0,
    "edit_caption": 0,
    "send_message": 1,
    "button": None,
}
TEXT_KEYWORDS = {"text", "caption", "description"}


def _has_a_word(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("L") for ch in text)


def _literal_words(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if _has_a_word(node.value) else []
    if isinstance(node, ast.JoinedStr):
        return [
            part.value
            for part in node.values
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
            if _has_a_word(part.value)
        ]
    if isinstance(node, ast.BinOp):
        return _literal_words(node.left) + _literal_words(node.right)
    return []


def literal_texts(source: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if name not in SENDERS:
            continue
        position = SENDERS[name]
        texts = node.args[position : position + 1] if position is not None else []
        texts += [k.value for k in node.keywords if k.arg in TEXT_KEYWORDS]
        for text in texts:
            found += [(node.lineno, words) for words in _literal_words(text)]
    return sorted(found)


def test_the_checker_finds_literals_and_lets_layout_through() -> None:
    source = (
        'await message.answer("Hello there")\n'
        'await message.answer(tr("menu-title"))\n'
        'await bot.send_message(chat, f"{caption}\\n\\n{body}")\n'
        'await bot.send_message(chat, f"Done: {x}")\n'
        'kb.button(text=f"• {label} · {price}", callback_data=x)\n'
        'kb.button(text="Back", callback_data=x)\n'
        'await query.answer(text="Готово")\n'
    )
    assert literal_texts(source) == [(1, "Hello there"), (4, "Done: "), (6, "Back"), (7, "Готово")]


def test_no_literal_text_reaches_a_user() -> None:
    files = sorted(TELEGRAM.rglob("*.py"))
    assert len(files) >= 10
    found = {
        f"{path.relative_to(TELEGRAM)}:{line}": words
        for path in files
        for line, words in literal_texts(path.read_text(encoding="utf-8"))
    }
    assert found == {}
