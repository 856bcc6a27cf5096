-- The payment service's schema. The rules of the data live here, not only in
-- code: every enumerated column has a CHECK, and idempotency is held by unique
-- indexes that stand even when two workers race past a friendly pre-check.

-- Marketplace rows the payment flows read and update. The marketplace service
-- owns their lifecycle; these columns are what payments need of them.
CREATE TABLE purchase_requests (
    id                text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    buyer_id          text NOT NULL CHECK (buyer_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    status            text NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'offers', 'payment', 'processing', 'seller_paid',
                                        'completed', 'cancelled', 'refunded')),
    selected_offer_id text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE seller_offers (
    id                  text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    purchase_request_id text NOT NULL REFERENCES purchase_requests (id),
    seller_id           text NOT NULL CHECK (seller_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'accepted', 'rejected', 'withdrawn')),
    amount              numeric CHECK (amount > 0),
    currency            text CHECK (currency ~ '^[A-Z0-9]{2,10}$'),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX seller_offers_request ON seller_offers (purchase_request_id);

CREATE TABLE user_wallets (
    user_id    text NOT NULL CHECK (user_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    network    text NOT NULL CHECK (network IN ('bsc', 'ethereum')),
    address    text NOT NULL CHECK (address ~ '^0x[0-9a-fA-F]{40}$'),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, network)
);

-- Every payment, both directions, every provider.
CREATE TABLE payments (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    direction           text NOT NULL CHECK (direction IN ('in', 'out')),
    provider            text NOT NULL
                        CHECK (provider IN ('manual', 'shkeeper', 'decentralized', 'bvnk', 'hot_wallet')),
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled',
                                          'released', 'refunded')),
    escrow_state        text NOT NULL DEFAULT 'unfunded'
                        CHECK (escrow_state IN ('unfunded', 'partial', 'funded', 'releasing', 'released',
                                                'refunding', 'refunded', 'on_hold')),
    purchase_request_id text NOT NULL CHECK (purchase_request_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    seller_offer_id     text CHECK (seller_offer_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    buyer_id            text NOT NULL CHECK (buyer_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    seller_id           text CHECK (seller_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    amount              numeric NOT NULL CHECK (amount > 0 AND scale(amount) <= 18),
    currency            text NOT NULL CHECK (currency ~ '^[A-Z0-9]{2,10}$'),
    network             text CHECK (network IN ('bsc', 'ethereum')),
    token               text CHECK (token ~ '^[A-Z0-9]{2,10}$'),
    token_contract      text CHECK (token_contract ~ '^0x[0-9a-fA-F]{40}$'),
    receiver_address    text CHECK (receiver_address ~ '^0x[0-9a-fA-F]{40}$'),
    sender_address      text CHECK (sender_address ~ '^0x[0-9a-fA-F]{40}$'),
    tx_hash             text CHECK (tx_hash ~ '^0x[0-9a-fA-F]{64}$'),
    confirmations       integer NOT NULL DEFAULT 0 CHECK (confirmations >= 0),
    provider_payment_id text,
    external_id         text,
    payment_url         text,
    crypto_amount       numeric CHECK (crypto_amount >= 0),
    exchange_rate       numeric CHECK (exchange_rate > 0),
    expires_at          timestamptz,
    metadata            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz
);
CREATE INDEX payments_buyer ON payments (buyer_id, created_at DESC);
CREATE INDEX payments_seller ON payments (seller_id, created_at DESC);
CREATE INDEX payments_request ON payments (purchase_request_id);
CREATE INDEX payments_status ON payments (status, created_at);

-- One active pay-in per (buyer, purchase request, provider).
CREATE UNIQUE INDEX payments_one_active_payin ON payments (buyer_id, purchase_request_id, provider)
    WHERE direction = 'in' AND status IN ('pending', 'processing');
-- One active payout per purchase request.
CREATE UNIQUE INDEX payments_one_active_payout ON payments (purchase_request_id)
    WHERE direction = 'out' AND status NOT IN ('failed', 'cancelled');
-- A transaction hash pays at most one payment per network.
CREATE UNIQUE INDEX payments_tx_once ON payments (coalesce(network, ''), lower(tx_hash))
    WHERE direction = 'in' AND tx_hash IS NOT NULL;
-- A provider's payment id is unique per provider.
CREATE UNIQUE INDEX payments_provider_id ON payments (provider, provider_payment_id)
    WHERE provider_payment_id IS NOT NULL;
CREATE UNIQUE INDEX payments_external_id ON payments (provider, external_id)
    WHERE external_id IS NOT NULL;

-- Append-only audit of every state transition.
CREATE TABLE payment_transitions (
    id                bigserial PRIMARY KEY,
    payment_id        uuid NOT NULL REFERENCES payments (id),
    from_status       text,
    to_status         text NOT NULL,
    from_escrow_state text,
    to_escrow_state   text NOT NULL,
    source            text NOT NULL
                      CHECK (source IN ('api', 'admin', 'shkeeper', 'decentralized', 'bvnk', 'chain',
                                        'job', 'callback')),
    actor             text,
    reason            text,
    request_id        text,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_transitions_payment ON payment_transitions (payment_id, id);

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER payment_transitions_append_only BEFORE UPDATE OR DELETE ON payment_transitions
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Every provider delivery, stored raw before it is acted on.
CREATE TABLE webhook_inbox (
    id           bigserial PRIMARY KEY,
    provider     text NOT NULL CHECK (provider IN ('shkeeper', 'shkeeper_payout', 'bvnk', 'callback')),
    received_at  timestamptz NOT NULL DEFAULT now(),
    headers      jsonb NOT NULL DEFAULT '{}',
    body         bytea NOT NULL,
    body_digest  text NOT NULL CHECK (body_digest ~ '^[0-9a-f]{64}$'),
    verdict      text NOT NULL CHECK (verdict IN ('valid', 'invalid', 'unsigned')),
    outcome      text NOT NULL DEFAULT 'received'
                 CHECK (outcome IN ('received', 'applied', 'duplicate', 'stale', 'ignored',
                                    'unknown_payment', 'rejected', 'recorded', 'failed')),
    duplicate_of bigint REFERENCES webhook_inbox (id),
    payment_id   uuid REFERENCES payments (id),
    external_id  text,
    event_key    text,
    detail       text,
    processed_at timestamptz
);
-- A delivery is stored once per (provider, body digest); repeats point at the first.
CREATE UNIQUE INDEX webhook_inbox_once ON webhook_inbox (provider, body_digest)
    WHERE duplicate_of IS NULL AND verdict = 'valid';
CREATE INDEX webhook_inbox_external ON webhook_inbox (provider, external_id);

-- Events for other services, written in the same transaction as the change.
CREATE TABLE events (
    id         bigserial PRIMARY KEY,
    event      text NOT NULL,
    room       text NOT NULL,
    payload    jsonb NOT NULL,
    payment_id uuid REFERENCES payments (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION announce_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('payment_events', NEW.id::text);
    RETURN NEW;
END $$;
CREATE TRIGGER events_announce AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION announce_event();

CREATE TABLE notifications (
    id         bigserial PRIMARY KEY,
    user_id    text NOT NULL CHECK (user_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    kind       text NOT NULL,
    title      text NOT NULL,
    body       text NOT NULL,
    payment_id uuid REFERENCES payments (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at    timestamptz
);
CREATE INDEX notifications_user ON notifications (user_id, created_at DESC);

-- Hot-wallet transactions: signed once, committed before broadcast.
CREATE TABLE hot_wallet_txs (
    id         bigserial PRIMARY KEY,
    payment_id uuid NOT NULL REFERENCES payments (id),
    chain_id   bigint NOT NULL CHECK (chain_id > 0),
    address    text NOT NULL CHECK (address ~ '^0x[0-9a-fA-F]{40}$'),
    nonce      bigint NOT NULL CHECK (nonce >= 0),
    raw_tx     bytea NOT NULL,
    tx_hash    text NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
    status     text NOT NULL DEFAULT 'signed'
               CHECK (status IN ('signed', 'broadcast', 'confirmed', 'failed')),
    created_at timestamptz NOT NULL DEFAULT now()
);
-- A hot-wallet nonce is used once per (chain, address).
CREATE UNIQUE INDEX hot_wallet_txs_nonce ON hot_wallet_txs (chain_id, lower(address), nonce);
