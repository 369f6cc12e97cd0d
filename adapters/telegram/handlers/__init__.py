"""Routers, composed in one place; the fallback router goes last."""

from __future__ import annotations

from aiogram import Router

from . import (
    admin_credits,
    fallback,
    free,
    generate,
    history,
    media_input,
    menu,
    options,
    progress,
    referrals,
    start,
    topup,
)


def build_router() -> Router:
    root = Router(name="root")
    root.include_routers(
        start.build(),
        history.build(),  # before the wizard: /history and /menu work in any step
        free.build(),  # before the wizard too: /free is not a prompt
        referrals.build(),  # before the wizard too: /invite is not a prompt
        topup.build(),  # before the wizard: /topup and a payment are never a prompt
        menu.build(),
        generate.build(),
        options.build(),
        progress.build(),
        media_input.build(),
        admin_credits.build(),
        fallback.build(),
    )
    return root
