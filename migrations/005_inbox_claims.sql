-- 005: tie an inbox claim to its claimer's liveness, not only to a lease.
-- Each process's inbox takes a key from the sequence and holds the session advisory lock
-- (class, key) on a connection of its own for as long as it lives. A claim records that key; the
-- claim is free to others once the lock is no longer held (the process died: PostgreSQL drops
-- the lock with its connection) or once the lease in locked_until ends (the process hangs and
-- stops renewing it). A NULL claimed_by with a running lease is an older claimer's lease-only
-- claim and is respected until the lease ends.

ALTER TABLE update_inbox ADD COLUMN claimed_by INTEGER;

-- Keys are never handed out twice, so a new process cannot mistake a dead one's claims for its
-- own; CYCLE only matters after two billion starts.
CREATE SEQUENCE update_inbox_claimer_seq AS integer MINVALUE 1 CYCLE;

-- Lease renewal looks up the pending rows one claimer holds.
CREATE INDEX update_inbox_claimed_idx ON update_inbox (claimed_by)
    WHERE claimed_by IS NOT NULL AND processed_at IS NULL AND parked_at IS NULL;
