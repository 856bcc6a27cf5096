-- Idempotency-Key: one row per (caller, key). A request that sends a key takes
-- the row's lease (locked_at) and runs; its answer is kept here so a repeat is
-- answered with the same bytes. A row whose request died mid-way stays
-- `started` and is taken over once its lease has run out. Rows are pruned by
-- the retention job once older than idempotency_key_hours.
CREATE TABLE idempotency_keys (
    id               bigserial PRIMARY KEY,
    caller           text NOT NULL CHECK (length(caller) BETWEEN 1 AND 64),
    idem_key         text NOT NULL CHECK (idem_key ~ '^[!-~]{1,255}$'),
    method           text NOT NULL CHECK (method IN ('POST', 'PUT', 'PATCH', 'DELETE')),
    path             text NOT NULL CHECK (length(path) BETWEEN 1 AND 2048),
    -- SHA-256 of method, path, query and body: the same key with another request is refused.
    request_hash     bytea NOT NULL CHECK (length(request_hash) = 32),
    recovery_point   text NOT NULL DEFAULT 'started' CHECK (recovery_point IN ('started', 'finished')),
    locked_at        timestamptz,
    response_status  integer CHECK (response_status BETWEEN 200 AND 499),
    response_type    text,
    response_headers text,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (caller, idem_key),
    -- Started: leased, nothing kept. Finished: the whole answer, no lease.
    CHECK (CASE recovery_point
               WHEN 'started' THEN locked_at IS NOT NULL AND response_status IS NULL AND response_body IS NULL
               ELSE locked_at IS NULL AND response_status IS NOT NULL AND response_type IS NOT NULL
                    AND response_headers IS NOT NULL AND response_body IS NOT NULL AND finished_at IS NOT NULL
           END)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
