-- Payouts a provider signs and sends for us (SHKeeper, BVNK): the outgoing
-- payment is the payments row as for every payout; what is kept here is the
-- call that asks the provider to pay, so it is never made twice.
--
-- A call that may create a payout at the provider is recorded as `sending`
-- and committed before it goes out. Whatever happens next (an answer lost to
-- a timeout, a 5xx, a process killed mid-call), the next attempt finds
-- `sending` or `unknown` and asks the provider whether the payout exists
-- before it calls again. `lease_until` lets one caller at a time make the
-- call: a second request for the same payout meanwhile is told it is in
-- flight. The provider's own id (SHKeeper's task, BVNK's uuid) is the
-- payment's provider_payment_id, unique per provider.
CREATE TABLE payout_calls (
    payment_id  uuid PRIMARY KEY REFERENCES payments (id),
    provider    text NOT NULL CHECK (provider IN ('shkeeper', 'bvnk')),
    state       text NOT NULL DEFAULT 'idle'
                CHECK (state IN ('idle', 'sending', 'unknown', 'accepted', 'refused')),
    attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    lease_until timestamptz,
    last_error  text CHECK (length(last_error) <= 500),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
