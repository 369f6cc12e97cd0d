-- 009: top-ups paid in Telegram Stars.
--
-- purchases       one row per invoice, written before the invoice is sent; the invoice carries
--                 only the row's id, and the amount to credit is fixed here at the rate of that
--                 moment, so a later change of rate does not change what an invoice buys
-- stars_payments  every successful payment Telegram reported, keyed by its charge id, so a
--                 payment delivered twice is stored and credited once. A payment that settles
--                 nothing (unknown purchase, someone else's, another amount or currency, or a
--                 purchase already paid) is kept with refused = true, so an operator can find
--                 and refund it. payload is what the invoice carried; purchase_id links the
--                 purchase when one by that id exists.
--
-- The credit itself is the ledger entry stars:<charge_id>, written in the transaction that
-- stores the payment and marks the purchase paid.

CREATE TABLE purchases (
    id                  TEXT PRIMARY KEY,
    user_id             BIGINT NOT NULL REFERENCES users (id),
    stars               INTEGER NOT NULL,
    amount              BIGINT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'open',
    created_at          TIMESTAMPTZ NOT NULL,
    paid_at             TIMESTAMPTZ,
    invoice_message_id  BIGINT,
    CONSTRAINT purchases_stars_check CHECK (stars > 0),
    CONSTRAINT purchases_amount_check CHECK (amount > 0),
    CONSTRAINT purchases_status_check CHECK (status IN ('open', 'paid')),
    CONSTRAINT purchases_paid_at_check CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);

CREATE TABLE stars_payments (
    charge_id           TEXT PRIMARY KEY,
    payload             TEXT NOT NULL,
    purchase_id         TEXT REFERENCES purchases (id),
    user_id             BIGINT NOT NULL,
    stars               INTEGER NOT NULL,
    currency            TEXT NOT NULL,
    provider_charge_id  TEXT NOT NULL DEFAULT '',
    paid_at             TIMESTAMPTZ NOT NULL,
    refused             BOOLEAN NOT NULL DEFAULT false,
    recorded_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A purchase is settled by at most one credited payment, whatever the code above it does.
CREATE UNIQUE INDEX stars_payments_settles_once ON stars_payments (purchase_id)
    WHERE NOT refused;

-- A user's payments, newest first.
CREATE INDEX stars_payments_user_idx ON stars_payments (user_id, paid_at DESC);
