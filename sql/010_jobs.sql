-- The jobs process: the last run of every job, as the copy that ran it
-- recorded it, for the admin view. Leadership itself is a session advisory
-- lock, never a row: a row would outlive a copy that died holding it.
CREATE TABLE job_runs (
    job              text PRIMARY KEY CHECK (job ~ '^[a-z_]{1,32}$'),
    leader_host      text NOT NULL,
    leader_pid       integer NOT NULL,
    last_started_at  timestamptz NOT NULL,
    last_finished_at timestamptz NOT NULL,
    last_seen        bigint NOT NULL CHECK (last_seen >= 0),
    last_changed     bigint NOT NULL CHECK (last_changed >= 0),
    last_errors      bigint NOT NULL CHECK (last_errors >= 0),
    last_result      text NOT NULL CHECK (last_result IN ('ok', 'failed')),
    backlog          bigint NOT NULL CHECK (backlog >= 0),
    next_run_at      timestamptz NOT NULL
);

-- Retention walks these by age.
CREATE INDEX IF NOT EXISTS webhook_inbox_received ON webhook_inbox (received_at);
CREATE INDEX IF NOT EXISTS events_created ON events (created_at);
