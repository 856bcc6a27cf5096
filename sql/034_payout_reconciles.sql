-- The payout reconciliation takes a bounded batch a run, and most of what it
-- looks at it leaves as it was (a payout nobody has signed yet, one its
-- provider still holds, one the chain cannot be asked about now). Ordered
-- by when each payout last moved, the same oldest batch came first on
-- every run, and a payout behind it was never looked at. One row per
-- payout the job has looked at, with when: the least recently looked at
-- come first.
CREATE TABLE payout_reconciles (
    payment_id  uuid PRIMARY KEY REFERENCES payments (id),
    looked_at   timestamptz NOT NULL
);
