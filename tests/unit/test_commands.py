"""The command menu: every language, the admin commands only in the admins' own chats."""

from __future__ import annotations

from typing import Any

from adapters.telegram.commands import USER_COMMANDS, CommandMenu
from adapters.telegram.i18n import Translator


class RecordingBot:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def set_my_commands(self, commands: Any, scope: Any, language_code: Any) -> bool:
        self.calls.append({"commands": commands, "scope": scope, "language": language_code})
        return True


async def test_users_get_the_user_commands_and_admins_the_admin_ones_too() -> None:
    bot = RecordingBot()
    await CommandMenu(bot, Translator(), admins={42}).publish()  # type: ignore[arg-type]
    by_scope = {
        (c["scope"].type, getattr(c["scope"], "chat_id", None), c["language"]): c
        for c in bot.calls
    }
    assert set(by_scope) == {
        ("default", None, None),
        ("default", None, "ru"),
        ("chat", 42, None),
        ("chat", 42, "ru"),
    }
    users = [c.command for c in by_scope[("default", None, None)]["commands"]]
    assert users == list(USER_COMMANDS)
    admin = [c.command for c in by_scope[("chat", 42, "ru")]["commands"]]
    assert admin == [*USER_COMMANDS, "admin", "credits", "refund"]
    descriptions = [c.description for c in by_scope[("default", None, "ru")]["commands"]]
    assert "Главное меню" in descriptions
    assert all(1 <= len(d) <= 256 for d in descriptions)
