-- The SHKeeper poll fallback asks SHKeeper about the invoices of open pay-ins
-- whose callback may have been lost. One row per pay-in it has asked about:
-- a run claims an invoice by moving polled_at forward with a conditional
-- update, so no two runs (or copies of the jobs process) ask about the same
-- one at once, and each is asked at most once per interval. What SHKeeper
-- said last, and what came of it, is kept for the status view.
CREATE TABLE shkeeper_polls (
    payment_id   uuid PRIMARY KEY REFERENCES payments (id),
    polled_at    timestamptz NOT NULL,
    polls        integer NOT NULL DEFAULT 1 CHECK (polls > 0),
    last_status  text CHECK (last_status ~ '^[A-Za-z_]{1,32}$'),
    last_outcome text CHECK (last_outcome ~ '^[a-z_]{1,32}$')
);
CREATE INDEX shkeeper_polls_due ON shkeeper_polls (polled_at);
