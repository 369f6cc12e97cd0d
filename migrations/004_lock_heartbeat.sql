-- 004: the heartbeat of the ACTIVE instance's advisory lock (SPEC §8).
-- One row per lock name. The holder writes it through the very connection that holds the
-- advisory lock, so a fresh row proves that session is alive; PASSIVE instances read its age
-- (never pg_stat_activity idle time, which a healthy holder also accumulates: lesson 1).

CREATE TABLE lock_heartbeat (
    name            TEXT PRIMARY KEY,
    -- Fencing epoch: incremented on every acquisition, so work stamped with an older epoch
    -- can be told apart from the current holder's.
    epoch           BIGINT NOT NULL DEFAULT 0,
    holder_pid      INTEGER,          -- PostgreSQL backend pid of the holding session
    instance_id     TEXT,             -- host:pid of the holding process
    acquired_at     TIMESTAMPTZ,
    last_heartbeat  TIMESTAMPTZ,
    released_at     TIMESTAMPTZ
);
