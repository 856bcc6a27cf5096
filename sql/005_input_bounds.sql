-- Bounds on what callers who prove nothing can make the service keep.

-- Webhook and callback deliveries that failed authentication (or name no
-- payment), summarised instead of stored: what an operator needs to notice
-- an attack or a misconfigured key, never the body. One row per (provider,
-- body digest), counted; once the table holds its cap (inbox.h) any further
-- new digest is counted in the provider's single 'overflow' row, so an
-- anonymous caller can grow neither the inbox nor this table.
CREATE TABLE webhook_rejects (
    id          bigserial PRIMARY KEY,
    provider    text NOT NULL CHECK (provider IN ('shkeeper', 'shkeeper_payout', 'bvnk', 'callback')),
    body_digest text NOT NULL CHECK (body_digest ~ '^([0-9a-f]{64}|overflow)$'),
    reason      text NOT NULL CHECK (length(reason) <= 100),
    body_bytes  integer NOT NULL CHECK (body_bytes >= 0),
    headers     jsonb NOT NULL DEFAULT '{}' CHECK (length(headers::text) <= 4096),
    source      text CHECK (length(source) <= 64),
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    count       bigint NOT NULL DEFAULT 1 CHECK (count > 0)
);
CREATE UNIQUE INDEX webhook_rejects_once ON webhook_rejects (provider, body_digest);
CREATE INDEX webhook_rejects_recent ON webhook_rejects (last_seen DESC);

-- Metadata merged over many updates stays bounded (the API refuses an update
-- that would pass 16 KiB; this is the schema's own limit, with room for the
-- service's notes). NOT VALID: rows written before it are not re-checked.
ALTER TABLE payments ADD CONSTRAINT payments_metadata_size
    CHECK (octet_length(metadata::text) <= 65536) NOT VALID;
