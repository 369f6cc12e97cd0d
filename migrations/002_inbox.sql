-- 002: the durable update inbox, shared aiogram FSM state, and generated webhook secrets.

CREATE TABLE update_inbox (
    update_id        BIGINT PRIMARY KEY,  -- Telegram's id: a redelivery is a no-op insert
    chat_key         BIGINT,              -- updates of one chat are handled in update_id order
    payload          JSONB NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_until     TIMESTAMPTZ,         -- a worker's lease; expires if the worker dies
    processed_at     TIMESTAMPTZ,
    parked_at        TIMESTAMPTZ,
    last_error       TEXT
);

-- The claim scans only pending rows, and checks "an earlier pending row of my chat" by index.
CREATE INDEX update_inbox_pending_idx ON update_inbox (update_id)
    WHERE processed_at IS NULL AND parked_at IS NULL;
CREATE INDEX update_inbox_chat_pending_idx ON update_inbox (chat_key, update_id)
    WHERE processed_at IS NULL AND parked_at IS NULL;
CREATE INDEX update_inbox_processed_idx ON update_inbox (processed_at)
    WHERE processed_at IS NOT NULL;
CREATE INDEX update_inbox_parked_idx ON update_inbox (parked_at DESC)
    WHERE parked_at IS NOT NULL;

-- aiogram FSM state, so a wizard survives restarts and any worker or process can continue it.
CREATE TABLE fsm_state (
    key         TEXT PRIMARY KEY,
    state       TEXT,
    data        JSONB NOT NULL DEFAULT '{}'::jsonb,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Secrets generated once and shared by every instance (the webhook path and secret token).
CREATE TABLE bot_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
