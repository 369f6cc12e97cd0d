"""The lock's key and SQL, kept apart from the state machine in ``lock.py``.

Every statement names the lock by a pair of non-negative int32 keys, cast explicitly, and finds
the holder in pg_locks of the current database only (advisory locks are per database while
pg_locks lists all of them). Values are always bound parameters.
"""

from __future__ import annotations

import hashlib


def lock_key(name: str) -> tuple[int, int]:
    """Two non-negative int32 halves of SHA-256(name).

    Non-negative int32s fit ``pg_try_advisory_lock(int4, int4)`` and compare with pg_locks'
    oid columns without sign or range surprises (lessons 3, 4 and 5).
    """
    digest = hashlib.sha256(name.encode()).digest()
    return (
        int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF,
        int.from_bytes(digest[4:8], "big") & 0x7FFF_FFFF,
    )


TRY_LOCK = "SELECT pg_try_advisory_lock(%(k1)s::int4, %(k2)s::int4)"
UNLOCK = "SELECT pg_advisory_unlock(%(k1)s::int4, %(k2)s::int4)"
CLAIM = """
    INSERT INTO lock_heartbeat AS h
        (name, epoch, holder_pid, instance_id, acquired_at, last_heartbeat, released_at)
    VALUES (%(name)s, 1, pg_backend_pid(), %(instance)s, clock_timestamp(), clock_timestamp(),
            NULL)
    ON CONFLICT (name) DO UPDATE SET
        epoch = h.epoch + 1, holder_pid = EXCLUDED.holder_pid,
        instance_id = EXCLUDED.instance_id, acquired_at = EXCLUDED.acquired_at,
        last_heartbeat = EXCLUDED.last_heartbeat, released_at = NULL
    RETURNING epoch, pg_backend_pid()
"""
# Written and verified in one statement: the row only moves while pg_locks shows the lock
# granted to this very backend and the epoch is still the one we claimed.
HEARTBEAT = """
    UPDATE lock_heartbeat SET last_heartbeat = clock_timestamp()
    WHERE name = %(name)s AND epoch = %(epoch)s AND holder_pid = pg_backend_pid()
      AND EXISTS (
        SELECT 1 FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid::bigint = %(k1)s AND l.objid::bigint = %(k2)s
          AND l.pid = pg_backend_pid())
    RETURNING epoch
"""
# Heartbeat age and idle time by the server's clock, as float8 (numeric is not JSON-serialisable).
OBSERVE = """
    WITH holder AS (
        SELECT l.pid FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid::bigint = %(k1)s AND l.objid::bigint = %(k2)s)
    SELECT holder.pid, h.holder_pid, h.epoch,
           EXTRACT(EPOCH FROM clock_timestamp() - h.last_heartbeat)::float8,
           EXTRACT(EPOCH FROM clock_timestamp() - a.state_change)::float8
    FROM holder
    LEFT JOIN lock_heartbeat h ON h.name = %(name)s
    LEFT JOIN pg_stat_activity a ON a.pid = holder.pid
"""
# The age is checked again in the statement that terminates, so a heartbeat that arrived
# since OBSERVE saves the holder. Waits up to wait_ms for the backend to be gone.
TERMINATE = """
    WITH holder AS (
        SELECT l.pid FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid::bigint = %(k1)s AND l.objid::bigint = %(k2)s)
    SELECT pg_terminate_backend(holder.pid, %(wait_ms)s::bigint)
    FROM holder LEFT JOIN lock_heartbeat h ON h.name = %(name)s
    WHERE holder.pid = %(pid)s
      AND (h.holder_pid IS DISTINCT FROM holder.pid OR h.last_heartbeat IS NULL
           OR clock_timestamp() - h.last_heartbeat > make_interval(secs => %(stale)s::float8))
"""
RELEASE = """
    UPDATE lock_heartbeat SET holder_pid = NULL, released_at = clock_timestamp()
    WHERE name = %(name)s AND epoch = %(epoch)s AND holder_pid = pg_backend_pid()
    RETURNING epoch
"""
