-- Verified Kie.ai callbacks, stored before they are applied (early ones wait for the task id).
CREATE TABLE IF NOT EXISTS kie_callbacks (
    id          BIGSERIAL PRIMARY KEY,
    job_id      TEXT        NOT NULL,
    task_id     TEXT        NOT NULL,
    state       TEXT        NOT NULL,             -- pending | running | succeeded | failed
    files       JSONB       NOT NULL DEFAULT '[]', -- [{"kind": "image", "url": "..."}]
    error       TEXT,
    raw         TEXT        NOT NULL DEFAULT '',
    received_at TIMESTAMPTZ NOT NULL,
    done_at     TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS kie_callbacks_pending
    ON kie_callbacks (received_at) WHERE done_at IS NULL;
CREATE INDEX IF NOT EXISTS kie_callbacks_job ON kie_callbacks (job_id);
