-- Money left for a person, and checkout templates.

-- A delivery that reports money the service does not act on (paid on a
-- closed payment, …) is finished as 'review': a payment-needs-review event
-- and an admin notification were written with it, and it can be replayed.
ALTER TABLE webhook_inbox DROP CONSTRAINT webhook_inbox_outcome_check;
ALTER TABLE webhook_inbox ADD CONSTRAINT webhook_inbox_outcome_check
    CHECK (outcome IN ('received', 'applied', 'duplicate', 'stale', 'ignored', 'unknown_payment',
                       'rejected', 'recorded', 'failed', 'review'));

-- The admins' needs-review list is a filter on the outbox.
CREATE INDEX events_event ON events (event, id);

-- What a template checkout sells: its seller, price and currency come from
-- here, never from the buyer. A checkout names it as the purchase request
-- "template-checkout-<id>". Deactivated, never deleted: payments name it.
CREATE TABLE checkout_templates (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seller_id  text NOT NULL CHECK (seller_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    price      numeric NOT NULL CHECK (price > 0 AND scale(price) <= 18),
    currency   text NOT NULL CHECK (currency ~ '^[A-Z0-9]{2,10}$'),
    active     boolean NOT NULL DEFAULT true,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checkout_templates_seller ON checkout_templates (seller_id, created_at DESC);
