-- 006: a job's outcomes as typed columns instead of prefixes in its error text.
--
-- failure             why a job ended without a delivered result (one sentence per kind)
-- failure_reason      the provider's own short words for a rejected input
-- submit_ambiguous_at when createTask's answer was found lost (the wait is bounded from it)
-- delivery_attempts   failed downloads of the result so far

ALTER TABLE jobs
    ADD COLUMN failure TEXT,
    ADD COLUMN failure_reason TEXT,
    ADD COLUMN submit_ambiguous_at TIMESTAMPTZ,
    ADD COLUMN delivery_attempts INTEGER NOT NULL DEFAULT 0,
    ADD CONSTRAINT jobs_failure_check CHECK (
        failure IN ('maintenance', 'rejected', 'provider_error', 'timed_out', 'undeliverable',
                    'not_submitted', 'unconfirmed')
    ),
    ADD CONSTRAINT jobs_delivery_attempts_check CHECK (delivery_attempts >= 0);

-- "ambiguous submit: <detail>": the moment it was recorded is the row's last update.
UPDATE jobs
   SET submit_ambiguous_at = updated_at,
       error = NULLIF(regexp_replace(error, '^ambiguous submit:?\s*', ''), '')
 WHERE error ~ '^ambiguous submit';

-- "download attempt N: <detail>": a delivery still being retried.
UPDATE jobs
   SET delivery_attempts = substring(error FROM '^download attempt (\d+)')::integer,
       error = NULLIF(regexp_replace(error, '^download attempt \d+:?\s*', ''), '')
 WHERE error ~ '^download attempt \d+';

-- "result not downloadable after N attempts: <detail>": given up on under the earlier rule,
-- which had already captured the price; the status stays as it was, the kind is recorded.
UPDATE jobs
   SET delivery_attempts = substring(error FROM '^result not downloadable after (\d+) attempts')::integer,
       failure = 'undeliverable',
       error = NULLIF(regexp_replace(error, '^result not downloadable after \d+ attempts:?\s*', ''), '')
 WHERE error ~ '^result not downloadable after \d+ attempts';

-- A stored callback keeps what kind of failure it reported, like the job it is applied to.
ALTER TABLE kie_callbacks
    ADD COLUMN failure TEXT,
    ADD COLUMN reason TEXT;
