-- SHKeeper pay-ins: the invoice request's lease, and lookups the webhook and
-- the admin views need.

-- While one worker asks SHKeeper for an invoice, others asking for the same
-- pay-in wait for its answer instead of calling SHKeeper a second time. The
-- lease expires, so a worker that died mid-call does not block the pay-in.
ALTER TABLE payments ADD COLUMN upstream_lease_until timestamptz;
ALTER TABLE payments ADD COLUMN crypto_name text CHECK (crypto_name ~ '^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$');

CREATE INDEX events_room ON events (room, id);
CREATE INDEX webhook_inbox_outcome ON webhook_inbox (provider, outcome);
CREATE INDEX payments_pending_deposit ON payments (provider, status)
    WHERE status IN ('pending', 'processing') AND receiver_address IS NOT NULL;
