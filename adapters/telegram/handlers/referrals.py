"""Invite friends: the user's invite link and what it has brought (``/invite``, the menu's 🎁
button), and the referral part of ``/start ref_<code>``."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.deep_linking import create_start_link

from adapters.telegram.callbacks import MenuCb
from adapters.telegram.context import BotServices, Tr
from adapters.telegram.keyboards import invite_menu
from core.domain.users import User
from core.usecases.referrals import Accepted

log = logging.getLogger(__name__)


async def invite_view(
    bot: Bot, services: BotServices, tr: Tr, user: User
) -> tuple[str, InlineKeyboardMarkup]:
    invite = await services.referrals.invite(user.id)
    link = await create_start_link(bot, invite.payload)  # bot.me() is cached by aiogram
    fmt = services.pricing.format
    accept = services.referrals.accept
    if accept.inviter_bonus or accept.invitee_bonus:
        how = tr(
            "invite-how",
            inviter_bonus=fmt(accept.inviter_bonus),
            invitee_bonus=fmt(accept.invitee_bonus),
        )
    else:
        how = tr("invite-how-no-bonus")
    stats = tr("invite-stats", invited=invite.stats.invited, earned=fmt(invite.stats.earned))
    text = "\n\n".join([tr("invite-title"), how, tr("invite-link", link=link), stats])
    return text, invite_menu(tr, link)


async def invite_command(
    message: Message, bot: Bot, services: BotServices, tr: Tr, user: User
) -> None:
    text, markup = await invite_view(bot, services, tr, user)
    await message.answer(text, reply_markup=markup)


async def invite_button(
    query: CallbackQuery, bot: Bot, services: BotServices, tr: Tr, user: User
) -> None:
    await query.answer()
    text, markup = await invite_view(bot, services, tr, user)
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)
    else:  # the menu message is too old to edit: show the screen anew
        await bot.send_message(user.id, text, reply_markup=markup)


async def accept_referral(
    bot: Bot, services: BotServices, tr: Tr, user: User, start_arg: str | None, new_user: bool
) -> str | None:
    """Pay the referral a /start carries, if it is one; the note for the invitee, or None.

    Anything that is not a valid invite for a brand-new user is ignored without a word: the
    user gets the usual greeting.
    """
    accepted = await services.referrals.accept(user.id, start_arg, new_user=new_user)
    if accepted is None:
        return None
    log.info("referral accepted: user %s invited by %s", user.id, accepted.inviter_id)
    await notify_inviter(bot, services, accepted)
    if not accepted.invitee_bonus:
        return None
    return tr("referral-welcome-bonus", amount=services.pricing.format(accepted.invitee_bonus))


async def notify_inviter(bot: Bot, services: BotServices, accepted: Accepted) -> None:
    """Tell the inviter about their bonus, best effort: the money is already theirs, and a
    failure here (they blocked the bot, Telegram is down) must not make the invitee's /start
    fail and be retried."""
    if not accepted.inviter_bonus:
        return
    inviter = await services.storage.get_user(accepted.inviter_id)
    tr = Tr(services.translator, inviter.lang if inviter else "en")
    text = tr("referral-inviter-notice", amount=services.pricing.format(accepted.inviter_bonus))
    try:
        await bot.send_message(accepted.inviter_id, text)
    except TelegramAPIError as exc:
        log.info("inviter %s not told about the referral: %s", accepted.inviter_id, exc)


def build() -> Router:
    router = Router(name="referrals")
    router.message.register(invite_command, Command("invite"))
    router.callback_query.register(invite_button, MenuCb.filter(F.action == "invite"))
    return router
