-- A commit that notifies holds a lock, until its flush to disk is over, that
-- every other notifying commit waits for. With the announcement inside every
-- transaction that moves money, no two of those commits could share a flush,
-- and each queued behind the others' even when the disk was fast.
--
-- A transaction may now ask for its announcement after its commit instead
-- (the service's database layer does for every transaction it opens): it
-- says so with SET LOCAL payments.announce = 'later', and the trigger then
-- only marks the session (payments.announce_due, a session setting, so the
-- mark is undone with a rollback and kept by the commit). Right behind its
-- COMMIT, in the same round trip and so on the same server connection behind
-- a transaction-mode pooler, the service clears the mark and notifies if it
-- was there (core/base/db.c), in a transaction of its own that writes
-- nothing a commit would wait to flush. Any other writer (psql, a migration)
-- is announced in its transaction as before. A worker killed between the two
-- leaves the relay to its periodic run.
CREATE OR REPLACE FUNCTION announce_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('payments.announce', true) = 'later' THEN
        PERFORM set_config('payments.announce_due', 'on', false) FROM written LIMIT 1;
    ELSE
        PERFORM pg_notify('payment_events', '') FROM written LIMIT 1;
    END IF;
    RETURN NULL;
END $$;

