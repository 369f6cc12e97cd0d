-- 001: users, the append-only money ledger with its per-user balance row, and generation jobs.

CREATE TABLE users (
    id          BIGINT PRIMARY KEY,
    lang        TEXT NOT NULL,
    username    TEXT,
    first_name  TEXT,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE ledger_entries (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key         TEXT NOT NULL,
    user_id     BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    amount      BIGINT NOT NULL DEFAULT 0,
    held        BIGINT NOT NULL DEFAULT 0,
    job_id      TEXT,
    reason      TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The idempotency key of every money command: a replay can never post twice.
    CONSTRAINT ledger_entries_key_key UNIQUE (key),
    CONSTRAINT ledger_entries_kind_check CHECK (
        kind IN ('topup', 'bonus', 'adjust', 'hold', 'capture', 'release', 'refund')
    )
);

CREATE INDEX ledger_entries_user_idx ON ledger_entries (user_id, seq DESC);
CREATE INDEX ledger_entries_job_idx ON ledger_entries (job_id) WHERE job_id IS NOT NULL;

-- Mistakes are corrected by new entries, never by edits (predecessor bugs 37, 39, 54).
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER ledger_entries_no_edit
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

CREATE TRIGGER ledger_entries_no_truncate
    BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only();

-- A cache of Σamount and Σheld per user. Its row is what a user's money commands lock, so they
-- serialise per user (not globally, unlike the predecessor's one JSON blob). The trigger below is
-- the only writer, so the cache cannot drift from the ledger; the CHECK is the last line of
-- defence against an overdraft, holds included.
CREATE TABLE balances (
    user_id     BIGINT PRIMARY KEY,
    total       BIGINT NOT NULL DEFAULT 0,
    held        BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT balances_available_check CHECK (total - held >= 0)
);

CREATE FUNCTION ledger_entries_fold() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE balances
       SET total = total + NEW.amount, held = held + NEW.held
     WHERE user_id = NEW.user_id;
    IF NOT FOUND THEN
        INSERT INTO balances (user_id, total, held) VALUES (NEW.user_id, NEW.amount, NEW.held);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER ledger_entries_fold
    AFTER INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_fold();

CREATE TABLE jobs (
    id                  TEXT PRIMARY KEY,
    -- Insertion order, to break ties between equal timestamps the same way every time.
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY,
    confirm_key         TEXT NOT NULL,
    user_id             BIGINT NOT NULL,
    chat_id             BIGINT NOT NULL,
    lang                TEXT NOT NULL,
    model_id            TEXT NOT NULL,
    sku_id              TEXT NOT NULL,
    params              JSONB NOT NULL,
    price               BIGINT NOT NULL,
    status              TEXT NOT NULL,
    callback_token      TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    task_id             TEXT,
    result              JSONB NOT NULL DEFAULT '[]'::jsonb,
    error               TEXT,
    progress_message_id BIGINT,
    CONSTRAINT jobs_confirm_key_key UNIQUE (confirm_key),
    CONSTRAINT jobs_seq_key UNIQUE (seq),
    CONSTRAINT jobs_price_check CHECK (price >= 0),
    CONSTRAINT jobs_status_check CHECK (
        status IN ('queued', 'submitting', 'submitted', 'running', 'succeeded',
                   'delivering', 'delivered', 'failed', 'cancelled', 'expired')
    )
);

-- A Kie.ai task belongs to exactly one job: callbacks are matched by it.
CREATE UNIQUE INDEX jobs_task_id_key ON jobs (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX jobs_status_updated_idx ON jobs (status, updated_at, seq);
CREATE INDEX jobs_user_created_idx ON jobs (user_id, created_at DESC, seq);
