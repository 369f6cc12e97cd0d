"""Stars top-ups through the real process, in both runtimes: a purchase paid credits once
even when Telegram delivers the payment twice; a stale invoice is refused at pre-checkout."""

from __future__ import annotations

from tests.fakes.waiting import wait_for
from tests.wire.stack import WELCOME, Stack, press_and_wait

RATE = 180  # minor units per Star, the default


def open_invoice(stack: Stack, user_id: int, preset: int = 100):  # type: ignore[no-untyped-def]
    user = stack.user(user_id)
    user.send_command("/topup")
    menu = user.wait_for_message(lambda m: f"t:{preset}" in m.callback_data)
    press_and_wait(user, f"t:{preset}", message_id=menu.message_id)
    user.wait_for_message(lambda m: m.invoice is not None)
    return user


def test_a_purchase_paid_credits_once_even_when_telegram_delivers_it_twice(stack: Stack) -> None:
    user = open_invoice(stack, 8101)
    [purchase] = stack.query(
        "SELECT id, stars, amount, status FROM purchases WHERE user_id = %s", 8101
    )
    assert purchase[1:] == (100, 100 * RATE, "open")

    paid = user.pay()
    assert paid.answered_ok, paid.error_message
    assert paid.latency is not None
    assert paid.latency < 10  # Telegram gives up on the payment after 10 s
    wait_for(lambda: stack.balance(8101)[0] == WELCOME + 100 * RATE, 10, "credited")
    user.resend_successful_payment(paid)  # Telegram may deliver it again
    receipt = user.wait_for_message(lambda m: "added to your balance" in m.body)
    assert "180.00 RUB" in receipt.body
    wait_for(
        lambda: (
            not stack.query(
                "SELECT 1 FROM update_inbox WHERE processed_at IS NULL AND parked_at IS NULL"
            )
        ),
        10,
        "the redelivery handled",
    )
    assert stack.balance(8101)[0] == WELCOME + 100 * RATE
    assert stack.ledger_kinds(8101).count("topup") == 1
    [row] = stack.query("SELECT charge_id, refused FROM stars_payments WHERE user_id = %s", 8101)
    assert row == (paid.charge_id, False)
    assert stack.query("SELECT status FROM purchases WHERE user_id = %s", 8101) == [("paid",)]
    assert user.invoices() == []  # the paid invoice was tidied away


def test_a_stale_invoice_is_refused_at_pre_checkout_and_nothing_is_credited(
    stack: Stack,
) -> None:
    user = open_invoice(stack, 8201)
    refused = user.pay(stars=99)  # not the amount of the purchase behind the invoice
    assert refused.answered
    assert not refused.answered_ok
    assert refused.error_message == (
        "This invoice is out of date. Open the top-up menu again for a new one."
    )
    assert refused.charge_id is None
    assert stack.balance(8201) == (WELCOME, 0)
    assert "topup" not in stack.ledger_kinds(8201)


def test_a_refund_is_recorded_once_even_when_telegram_answers_already_refunded(
    pg_url: str,
) -> None:
    import json

    from tests.fakes.processes import TOKEN, http

    admin = 8999
    stack = Stack("webhook", pg_url, ADMIN_IDS=str(admin))
    try:
        stack.start()
        user = open_invoice(stack, 8301)
        paid = user.pay()
        assert paid.answered_ok
        wait_for(lambda: stack.balance(8301)[0] == WELCOME + 100 * RATE, 10, "credited")
        # Refunded already, elsewhere: Telegram will answer CHARGE_ALREADY_REFUNDED to us.
        body = json.dumps({"user_id": 8301, "telegram_payment_charge_id": paid.charge_id})
        status, _ = http(
            "POST",
            f"{stack.api.base}/bot{TOKEN}/refundStarPayment",
            body.encode(),
            {"Content-Type": "application/json"},
        )
        assert status == 200
        operator = stack.user(admin)
        operator.send_command(f"/refund {paid.charge_id}")
        operator.wait_for_message(lambda m: m.body.startswith(f"Refunded: {paid.charge_id}."))
        operator.send_command(f"/refund {paid.charge_id}")
        operator.wait_for_message(lambda m: "was refunded before" in m.body)
        assert stack.balance(8301)[0] == WELCOME
        assert stack.ledger_kinds(8301).count("refund") == 1
        [row] = stack.query(
            "SELECT confirmed_at IS NOT NULL, requested_by FROM stars_refunds "
            "WHERE charge_id = %s",
            paid.charge_id,
        )
        assert row == (True, admin)
        # Someone else's refund command reaches nothing.
        stranger = stack.user(8302)
        stranger.send_command(f"/refund {paid.charge_id}")
        stranger.wait_for_message(lambda m: "did not understand" in m.body)
        assert stack.ledger_kinds(8301).count("refund") == 1
    finally:
        stack.close()
