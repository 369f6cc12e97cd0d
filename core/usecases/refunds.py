"""RefundStars: an admin gives a Stars payment back — the reversal first, then Telegram,
repeated until Telegram confirms."""

from __future__ import annotations

import logging

import attrs

from core.ports.clock import ClockPort
from core.ports.refunds import (
    RefundAlreadyDone,
    RefundOutcome,
    RefundsPort,
    StarsRefund,
    StarsRefunderPort,
)

log = logging.getLogger(__name__)


@attrs.define
class RefundStars:
    refunds: RefundsPort
    refunder: StarsRefunderPort
    clock: ClockPort

    async def __call__(self, charge_id: str, admin_id: int) -> tuple[RefundOutcome, bool]:
        """The outcome of recording the refund, and whether Telegram has confirmed it."""
        outcome, refund = await self.refunds.begin_refund(charge_id, admin_id, self.clock.now())
        if refund is None:
            return outcome, False
        if refund.confirmed:
            return outcome, True
        return outcome, await self._send(refund)

    async def retry_pending(self) -> int:
        """The lock holder's duty: ask Telegram again for every recorded, unconfirmed refund.
        Returns how many are confirmed now."""
        confirmed = 0
        for refund in await self.refunds.pending_refunds():
            confirmed += await self._send(refund)
        return confirmed

    async def confirmed_by_telegram(self, charge_id: str) -> StarsRefund | None:
        """A ``refunded_payment`` update: Telegram says the Stars went back."""
        return await self.refunds.confirm_refund(charge_id, self.clock.now())

    async def _send(self, refund: StarsRefund) -> bool:
        try:
            await self.refunder.refund(refund.user_id, refund.charge_id)
        except RefundAlreadyDone:
            pass  # an earlier request went through and its answer was lost
        except Exception as exc:
            await self.refunds.note_refund_attempt(
                refund.charge_id, f"{type(exc).__name__}: {exc}"
            )
            log.warning("Stars refund not confirmed yet charge=%s: %s", refund.charge_id, exc)
            return False
        await self.refunds.note_refund_attempt(refund.charge_id, None)
        await self.refunds.confirm_refund(refund.charge_id, self.clock.now())
        log.info("Stars refund confirmed charge=%s user_id=%s", refund.charge_id, refund.user_id)
        return True
