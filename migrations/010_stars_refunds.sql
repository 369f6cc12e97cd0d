-- 010: giving a Stars payment back.
--
-- stars_refunds  at most one row per credited payment, keyed by the payment's charge id. The
--                row is written in the same transaction as the ledger entry
--                stars-refund:<charge_id> that takes the credit back, so a refund is never
--                recorded without its reversal or reversed twice. amount is what the payment
--                credited (in minor units), stars what Telegram is asked to return.
--                confirmed_at stays NULL until Telegram has returned the Stars; until then
--                the request is repeated, each try counted in attempts with the last failure
--                kept in last_error.

CREATE TABLE stars_refunds (
    charge_id     TEXT PRIMARY KEY REFERENCES stars_payments (charge_id),
    user_id       BIGINT NOT NULL,
    stars         INTEGER NOT NULL,
    amount        BIGINT NOT NULL,
    requested_by  BIGINT NOT NULL,
    requested_at  TIMESTAMPTZ NOT NULL,
    confirmed_at  TIMESTAMPTZ,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    CONSTRAINT stars_refunds_amount_check CHECK (amount > 0)
);

-- The refunds still to be sent to Telegram, oldest first.
CREATE INDEX stars_refunds_pending_idx ON stars_refunds (requested_at)
    WHERE confirmed_at IS NULL;
