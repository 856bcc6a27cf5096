-- The chain watcher's place on each network: every block up to last_block
-- has been scanned and its effects committed. head_block and safe_block
-- are what the node said at that run, for the lag the status shows.
CREATE TABLE chain_cursors (
    network     text PRIMARY KEY CHECK (network IN ('bsc', 'ethereum')),
    last_block  bigint NOT NULL CHECK (last_block >= 0),
    safe_block  bigint NOT NULL CHECK (safe_block >= 0),
    head_block  bigint NOT NULL CHECK (head_block >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
