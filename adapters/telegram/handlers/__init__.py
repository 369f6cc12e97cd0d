"""Routers, composed in one place; the fallback router goes last."""

from __future__ import annotations

from aiogram import Router

from . import admin_credits, fallback, generate, history, media_input, menu, start


def build_router() -> Router:
    root = Router(name="root")
    root.include_routers(
        start.build(),
        history.build(),  # before the wizard: /history and /menu work in any step
        menu.build(),
        generate.build(),
        media_input.build(),
        admin_credits.build(),
        fallback.build(),
    )
    return root
