-- The outbox's triggers run once per statement, not once per row. A paid
-- pay-in writes about ten events and three notifications; per row, that was
-- ten PL/pgSQL calls with a NOTIFY each, and three more calls each inserting
-- one event through its own statement.

-- The relay only needs waking: it reads the outbox itself, so the payload
-- names nothing, and PostgreSQL folds a transaction's identical
-- notifications into one. An insert of no rows (a review already written)
-- announces nothing: a notifying commit takes a lock every other notifying
-- commit waits for.
DROP TRIGGER events_announce ON events;
DROP FUNCTION announce_event();
CREATE FUNCTION announce_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM written) THEN
        PERFORM pg_notify('payment_events', '');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER events_announce AFTER INSERT ON events
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION announce_events();

-- Every notification still reaches its user live, in the transaction that
-- writes it: one event per notification, in the order they were written.
DROP TRIGGER notifications_announce ON notifications;
DROP FUNCTION announce_notification();
CREATE FUNCTION announce_notifications() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- An insert of no rows writes no events.
    IF NOT EXISTS (SELECT FROM written) THEN
        RETURN NULL;
    END IF;
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
CREATE TRIGGER notifications_announce AFTER INSERT ON notifications
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION announce_notifications();
