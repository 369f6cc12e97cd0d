"""The bot's command menu (Telegram's "/" list), in every language the bot speaks.

Everyone gets the user commands; each admin's own chat also lists the admin ones. Telegram
keeps these lists itself, so setting them again is harmless: the lock holder does it once
each time it takes over.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from adapters.telegram.i18n import FALLBACK, Translator

USER_COMMANDS = (
    "start",
    "menu",
    "topup",
    "history",
    "balance",
    "free",
    "invite",
    "language",
    "help",
    "paysupport",
    "terms",
)
ADMIN_COMMANDS = ("admin", "credits", "refund")


class CommandMenu:
    def __init__(self, bot: Bot, translator: Translator, admins: Iterable[int]) -> None:
        self._bot = bot
        self._tr = translator
        self._admins = sorted(admins)

    def commands(self, lang: str, *, admin: bool = False) -> list[BotCommand]:
        names = USER_COMMANDS + (ADMIN_COMMANDS if admin else ())
        return [BotCommand(command=n, description=self._tr(lang, f"cmd-{n}")) for n in names]

    async def publish(self) -> None:
        for lang in self._tr.languages:
            # The fallback language is also what users of any other language see.
            code = None if lang == FALLBACK else lang
            await self._bot.set_my_commands(
                self.commands(lang), scope=BotCommandScopeDefault(), language_code=code
            )
            for admin in self._admins:
                await self._bot.set_my_commands(
                    self.commands(lang, admin=True),
                    scope=BotCommandScopeChat(chat_id=admin),
                    language_code=code,
                )
