-- SHKeeper pay-ins: what the buyer is told must be true.
--
-- SHKeeper's recalculate_after is when it re-prices an invoice at the
-- current rate, not an expiry (its invoices never expire): it is kept as
-- recalculate_at, and the expiry it used to be stored as is dropped.
ALTER TABLE payments ADD COLUMN recalculate_at timestamptz;
UPDATE payments SET recalculate_at = expires_at, expires_at = NULL
 WHERE provider = 'shkeeper' AND direction = 'in' AND expires_at IS NOT NULL;

-- `<shkeeper_url>/invoice/<id>` is a page SHKeeper does not have. Such links
-- are dropped; the intent answer builds the EIP-681 transfer link instead.
UPDATE payments SET payment_url = NULL
 WHERE provider = 'shkeeper' AND direction = 'in' AND payment_url NOT LIKE 'ethereum:%';
