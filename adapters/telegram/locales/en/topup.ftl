# Top-ups with Telegram Stars, payment support and terms.
menu-topup = ⭐ Top up
btn-topup = ⭐ Top up
btn-topup-preset = { $stars } ⭐ → { $amount }
btn-topup-other = ✏ Another amount
topup-title = ⭐ Top up with Telegram Stars: 1 ⭐ = { $rate }.
topup-pick = Pick an amount, or choose another one ({ $min } to { $max } ⭐).
topup-no-stars = No Stars yet? Buy them in Telegram: open your profile → My Stars → Top up, then come back here.
topup-ask-amount = How many Stars? Send a whole number from { $min } to { $max }.
invoice-title = Balance top-up: { $amount }
invoice-description = { $stars } ⭐ add { $amount } to your balance in the bot.
invoice-label = Top-up { $amount }
precheckout-unknown = This invoice is not valid any more. Open the top-up menu again.
precheckout-paid = This invoice has already been paid.
precheckout-changed = This invoice is out of date. Open the top-up menu again for a new one.
topup-done = ✅ { $amount } added to your balance. Available now: { $available }.
topup-unmatched = We received your payment but could not match it to a top-up. Nothing is lost: write to /paysupport and it will be credited or refunded.
paysupport-text = Problems with a payment? Write to the bot's operator, and include the date and amount of the payment. A payment that reached us but did not top up your balance is credited or refunded.
terms-text = Terms: top-ups are paid in Telegram Stars and credited to your balance in the bot. Each generation shows its price before you confirm; the price is held while the model works and charged only when the result arrives. Unspent balance can be refunded through /paysupport.
cmd-topup = Top up with Telegram Stars
cmd-paysupport = Help with a payment
cmd-terms = Terms of use
