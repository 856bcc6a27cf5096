-- The admins' findings about one transaction, whichever payment they are
-- on: the watcher asks before it reports a transfer nobody placed
-- (flow/chainpay.c), under the coordinator's lock, so the answer must not
-- take a scan of the outbox.
CREATE INDEX events_review_by_tx ON events ((payload->>'kind'), lower(payload->>'transactionHash'))
    WHERE event = 'payment-needs-review';
