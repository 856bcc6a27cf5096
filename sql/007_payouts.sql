-- Outgoing payments: a release to the seller or a refund to the buyer, paid
-- from the escrow wallet by an admin (admin_wallet) or from the service's hot
-- wallet (hot_wallet); SHKeeper and BVNK payouts use the same rows.
--
-- An outgoing payment is a payments row with direction 'out', linked to the
-- pay-in whose money it pays out (payin_id). Its recipient, amount, token and
-- the wallet it must come from are a snapshot taken when it is created
-- (receiver_address, amount, currency, network, token, token_contract,
-- sender_address): later profile changes do not move it.

-- What the marketplace calls a request whose goods arrived, and one the buyer
-- is confirming: the states a release may follow.
ALTER TABLE purchase_requests DROP CONSTRAINT purchase_requests_status_check;
ALTER TABLE purchase_requests ADD CONSTRAINT purchase_requests_status_check
    CHECK (status IN ('open', 'offers', 'payment', 'processing', 'delivered', 'confirming',
                      'seller_paid', 'completed', 'cancelled', 'refunded'));

-- admin_wallet: signed by an admin's own wallet (the escrow signer), checked on chain.
ALTER TABLE payments DROP CONSTRAINT payments_provider_check;
ALTER TABLE payments ADD CONSTRAINT payments_provider_check
    CHECK (provider IN ('manual', 'shkeeper', 'decentralized', 'bvnk', 'hot_wallet', 'admin_wallet'));

-- kind: release (to the seller) or refund (to the buyer).
-- basis: which money it pays out: the escrow of a funded pay-in (escrow), what
-- a partly paid pay-in received (partial), an overpayment's excess (excess),
-- or money that arrived for a failed or cancelled pay-in (closed).
ALTER TABLE payments ADD COLUMN kind text CHECK (kind IN ('release', 'refund'));
ALTER TABLE payments ADD COLUMN payin_id uuid REFERENCES payments (id);
ALTER TABLE payments ADD COLUMN basis text CHECK (basis IN ('escrow', 'partial', 'excess', 'closed'));
ALTER TABLE payments ADD CONSTRAINT payments_outgoing_shape CHECK (
    (direction = 'in' AND kind IS NULL AND payin_id IS NULL AND basis IS NULL) OR
    (direction = 'out' AND kind IS NOT NULL AND payin_id IS NOT NULL AND basis IS NOT NULL
     AND (kind = 'refund' OR basis = 'escrow')));

-- One active outgoing payment per pay-in, kind and basis: a repeated request
-- finds the existing one. A failed or cancelled one no longer counts, so an
-- admin's retry may create the next.
DROP INDEX payments_one_active_payout;
CREATE UNIQUE INDEX payments_one_active_outgoing ON payments (payin_id, kind, basis)
    WHERE direction = 'out' AND status NOT IN ('failed', 'cancelled');
-- A transaction hash pays at most one outgoing payment per network.
CREATE UNIQUE INDEX payments_out_tx_once ON payments (coalesce(network, ''), lower(tx_hash))
    WHERE direction = 'out' AND tx_hash IS NOT NULL;
CREATE INDEX payments_outgoing ON payments (created_at DESC, id) WHERE direction = 'out';
CREATE INDEX payments_payin ON payments (payin_id) WHERE payin_id IS NOT NULL;

-- Hot-wallet transactions: one per outgoing payment, ever. The signed bytes
-- and their hash are committed before the first broadcast; every later
-- broadcast sends those same bytes.
ALTER TABLE hot_wallet_txs ADD COLUMN broadcasts integer NOT NULL DEFAULT 0 CHECK (broadcasts >= 0);
ALTER TABLE hot_wallet_txs ADD COLUMN last_error text;
ALTER TABLE hot_wallet_txs ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE UNIQUE INDEX hot_wallet_txs_payment ON hot_wallet_txs (payment_id);
CREATE UNIQUE INDEX hot_wallet_txs_hash ON hot_wallet_txs (chain_id, tx_hash);
CREATE INDEX hot_wallet_txs_live ON hot_wallet_txs (chain_id, lower(address), nonce)
    WHERE status IN ('signed', 'broadcast');
