-- The outbox's triggers each ran two queries where one does: a paid pay-in
-- fires them five times. Same behaviour: a statement that wrote events
-- wakes the relay once, one that wrote none announces nothing (a notifying
-- commit takes a lock every other notifying commit waits for), and every
-- notification still gets its event, in order. An insert of no
-- notifications inserts no events, and the events trigger that fires for
-- that empty insert announces nothing.
CREATE OR REPLACE FUNCTION announce_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('payment_events', '') FROM written LIMIT 1;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION announce_notifications() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (event, room, payload, payment_id)
    SELECT 'new-notification', 'user:' || n.user_id,
           jsonb_build_object('notificationId', n.id, 'kind', n.kind, 'title', n.title,
                              'body', n.body, 'paymentId', n.payment_id,
                              'createdAt', to_char(n.created_at AT TIME ZONE 'UTC',
                                                   'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
           n.payment_id
    FROM written n
    ORDER BY n.id;
    RETURN NULL;
END $$;
