"""AiogramStarsRefunder: StarsRefunderPort over the Bot API's ``refundStarPayment``."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from core.ports.refunds import RefundAlreadyDone, StarsRefunderPort


class AiogramStarsRefunder(StarsRefunderPort):
    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def refund(self, user_id: int, charge_id: str) -> None:
        try:
            await self._bot.refund_star_payment(
                user_id=user_id, telegram_payment_charge_id=charge_id
            )
        except TelegramBadRequest as exc:
            if "CHARGE_ALREADY_REFUNDED" in str(exc):
                raise RefundAlreadyDone(charge_id) from exc
            raise
