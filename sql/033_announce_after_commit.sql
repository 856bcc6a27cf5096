-- A commit that notifies holds a lock, until its flush to disk is over, that
-- every other notifying commit waits for. With the announcement inside every
-- transaction that moves money, no two of those commits could share a flush:
-- the primary's commits were capped at one per flush, whatever the number of
-- hosts, and waited on each other even when the disk was fast.
--
-- A transaction may now ask for its announcement after its commit instead
-- (the service's database layer does for every transaction it opens): it
-- says so with SET LOCAL payments.announce = 'later', the trigger then only
-- records that events were written ('due'), and once the commit is through
-- the service calls announce_committed(), whose own commit flushes nothing.
-- Any other writer (psql, a migration) is announced in its transaction as
-- before. A worker killed between the two leaves the relay to its periodic
-- run.
CREATE OR REPLACE FUNCTION announce_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    CASE current_setting('payments.announce', true)
    WHEN 'due' THEN
        NULL;
    WHEN 'later' THEN
        PERFORM set_config('payments.announce', 'due', true) FROM written LIMIT 1;
    ELSE
        PERFORM pg_notify('payment_events', '') FROM written LIMIT 1;
    END CASE;
    RETURN NULL;
END $$;

-- Its transaction holds nothing but the notification, so nothing is lost
-- by not waiting for its commit record to reach the disk.
CREATE FUNCTION announce_committed() RETURNS void LANGUAGE sql AS $$
    SELECT set_config('synchronous_commit', 'off', true);
    SELECT pg_notify('payment_events', '');
$$;
