-- 008: the free tier's daily uses.
--
-- One row per free job, written in the transaction that creates the job (with price 0), so a
-- job takes at most one use however often its confirmation is replayed: the primary key says
-- so. A job that ends without a result gives its use back (returned_at, set in the transaction
-- that releases its hold); a delivered one keeps it. The quota counts, per user and UTC day,
-- the rows not given back.

CREATE TABLE free_uses (
    job_id      TEXT PRIMARY KEY REFERENCES jobs (id),
    user_id     BIGINT NOT NULL,
    day         DATE NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    returned_at TIMESTAMPTZ
);

CREATE INDEX free_uses_taken_idx ON free_uses (user_id, day) WHERE returned_at IS NULL;
