"""The Cancel button under a job's progress message."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery

from adapters.telegram.callbacks import JobCancelCb
from adapters.telegram.context import BotServices, Tr
from core.domain.users import User
from core.usecases.cancel import CancelOutcome


async def cancel_job(
    query: CallbackQuery, callback_data: JobCancelCb, services: BotServices, tr: Tr, user: User
) -> None:
    outcome = await services.cancel_job(user.id, callback_data.job_id)
    if outcome is CancelOutcome.CANCELLED:
        await query.answer(tr("cancelled"))
    elif outcome is CancelOutcome.SUBMITTED:
        # Said in an alert: the button stays until the next step replaces the message.
        await query.answer(tr("cancel-too-late"), show_alert=True)
    else:
        await query.answer(tr("stale-button"))


def build() -> Router:
    router = Router(name="progress")
    router.callback_query.register(cancel_job, JobCancelCb.filter())
    return router
