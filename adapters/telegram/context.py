"""What handlers receive: the use cases, read models and a translator bound to the user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser

from adapters.telegram.i18n import Translator
from core.domain.catalog import Catalog
from core.domain.money import Pricing
from core.ports.payments import PaymentsPort
from core.ports.provider import AccountPort, UploaderPort
from core.ports.storage import StoragePort
from core.usecases.cancel import CancelJob
from core.usecases.free_tier import ShowFreeTier
from core.usecases.generation import ConfirmGeneration
from core.usecases.history import JobHistory
from core.usecases.launch import LaunchJob
from core.usecases.pricing import QuotePrice, ShowBalance
from core.usecases.referrals import Referrals
from core.usecases.refunds import RefundStars
from core.usecases.topup import CheckPreCheckout, CreditStarsPayment, StarsOffer, StartTopUp
from core.usecases.users import RegisterUser, SetLanguage


@attrs.frozen
class BotServices:
    storage: StoragePort
    catalog: Catalog
    pricing: Pricing
    translator: Translator
    register_user: RegisterUser
    set_language: SetLanguage
    quote: QuotePrice
    confirm: ConfirmGeneration
    launch: LaunchJob
    show_balance: ShowBalance
    history: JobHistory
    cancel_job: CancelJob
    referrals: Referrals
    stars_offer: StarsOffer
    start_topup: StartTopUp
    check_pre_checkout: CheckPreCheckout
    credit_stars: CreditStarsPayment
    payments: PaymentsPort
    refund_stars: RefundStars
    account: AccountPort | None = None
    """The provider account for the admin balance; None when there is none (stub mode)."""
    admins: frozenset[int] = frozenset()
    uploader: UploaderPort | None = None
    """Hosts the user's input files where the provider can read them (Kie.ai or the stub)."""
    download_limit: int = 20 * 1024 * 1024
    """Largest file the bot can fetch from Telegram (getFile: 20 MB on the public Bot API)."""
    free_tier: ShowFreeTier | None = None
    """The Free screen's read model; None shows the free tier as off."""


@attrs.frozen
class Tr:
    """The translator bound to one user's language."""

    translator: Translator
    lang: str

    def __call__(self, key: str, **args: Any) -> str:
        return self.translator(self.lang, key, **args)

    def has(self, key: str) -> bool:
        return self.translator.has(self.lang, key)


class UserContextMiddleware(BaseMiddleware):
    """Loads (or registers) the user behind every update and binds the translator."""

    def __init__(self, services: BotServices) -> None:
        self.services = services

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        lang = "en"
        # Whether this very update registered the user: /start pays referral bonuses only then.
        # A redelivered update finds the user stored and says False.
        new_user = False
        if tg_user is not None and not tg_user.is_bot:
            user = await self.services.storage.get_user(tg_user.id)
            if user is None:
                registration = await self.services.register_user(
                    tg_user.id, tg_user.language_code, tg_user.username, tg_user.first_name
                )
                user = registration.user
                new_user = registration.created
            lang = user.lang
            data["user"] = user
        data["new_user"] = new_user
        data["services"] = self.services
        data["tr"] = Tr(self.services.translator, lang)
        return await handler(event, data)
