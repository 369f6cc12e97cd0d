-- 007: invite links and the referrals they brought.
--
-- referral_codes  each user's invite code, made the first time they open the invite screen and
--                 never changed afterwards, so links already shared keep working
-- referrals       who invited whom: the invitee is the primary key, so nobody is ever credited
--                 to two inviters or twice to the same one; the bonuses each side received are
--                 written with the ledger entries that paid them, in the same transaction

CREATE TABLE referral_codes (
    user_id     BIGINT PRIMARY KEY REFERENCES users (id),
    code        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT referral_codes_code_key UNIQUE (code)
);

CREATE TABLE referrals (
    invitee_id      BIGINT PRIMARY KEY REFERENCES users (id),
    inviter_id      BIGINT NOT NULL REFERENCES users (id),
    created_at      TIMESTAMPTZ NOT NULL,
    inviter_bonus   BIGINT NOT NULL DEFAULT 0,
    invitee_bonus   BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT referrals_not_self_check CHECK (invitee_id <> inviter_id),
    CONSTRAINT referrals_bonus_check CHECK (inviter_bonus >= 0 AND invitee_bonus >= 0)
);

-- The invite screen counts an inviter's referrals.
CREATE INDEX referrals_inviter_idx ON referrals (inviter_id);
