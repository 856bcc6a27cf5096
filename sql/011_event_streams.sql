-- Events carried further: the relay gives every outbox event its place in
-- the stream and publishes it to nginx's pub/sub for browsers; each
-- subscriber (another service of the marketplace) gets its own signed
-- deliveries with their attempts.

-- The rooms the outbox writes to; the stream serves user:, request:, admin
-- and global, services read their own through webhooks.
ALTER TABLE events ADD CONSTRAINT events_room_shape
    CHECK (room ~ '^(user|request|service):[A-Za-z0-9_-]{1,64}$' OR room IN ('admin', 'global'))
    NOT VALID;
ALTER TABLE events VALIDATE CONSTRAINT events_room_shape;
ALTER TABLE events ADD CONSTRAINT events_event_shape CHECK (event ~ '^[a-z][a-z-]{0,63}$') NOT VALID;
ALTER TABLE events VALIDATE CONSTRAINT events_event_shape;

-- Outbox ids follow the order transactions took them, not the order they
-- committed: a later id can commit first. So the relay, the only writer of
-- these columns, numbers events as it takes them (stream_seq), which is the
-- order of the stream and of GET /events; stream_prev is the event before
-- in the same room, so a client can tell it missed one.
CREATE SEQUENCE events_stream_seq;
ALTER TABLE events ADD COLUMN stream_seq bigint;
ALTER TABLE events ADD COLUMN stream_prev bigint;
-- When the relay published it (NULL: not yet), and nginx's id for the
-- message, which a resumed subscription starts after.
ALTER TABLE events ADD COLUMN relayed_at timestamptz;
ALTER TABLE events ADD COLUMN stream_msg_id text CHECK (stream_msg_id ~ '^[0-9]{1,20}:[0-9]{1,6}$');
ALTER TABLE events ADD CONSTRAINT events_relayed_in_order CHECK (relayed_at IS NULL OR stream_seq IS NOT NULL);

-- What was written before there was a relay is history, not news: it takes
-- its place in the stream, and is neither published nor sent to anyone.
UPDATE events e SET stream_seq = s.seq, stream_prev = s.prev, relayed_at = now()
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS seq,
               lag(id) OVER (PARTITION BY room ORDER BY id) AS prev FROM events) s
 WHERE e.id = s.id;
SELECT setval('events_stream_seq', coalesce((SELECT max(stream_seq) FROM events), 0) + 1, false);

CREATE UNIQUE INDEX events_stream_position ON events (stream_seq) WHERE stream_seq IS NOT NULL;
CREATE INDEX events_room_stream ON events (room, stream_seq) WHERE stream_seq IS NOT NULL;
CREATE INDEX events_unsequenced ON events (id) WHERE stream_seq IS NULL;
CREATE INDEX events_unpublished ON events (stream_seq) WHERE relayed_at IS NULL AND stream_seq IS NOT NULL;

-- One event as clients and subscribers see it, on the stream, from
-- GET /events and in a webhook's body: one definition for all three.
CREATE FUNCTION event_message(e events) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', e.id, 'event', e.event, 'room', e.room, 'prev', e.stream_prev,
        'paymentId', e.payment_id,
        'createdAt', to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'data', e.payload)
$$;

-- Every notification reaches its user live, in the transaction that writes it.
CREATE FUNCTION announce_notification() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (event, room, payload, payment_id)
    VALUES ('new-notification', 'user:' || NEW.user_id,
            jsonb_build_object('notificationId', NEW.id, 'kind', NEW.kind, 'title', NEW.title,
                               'body', NEW.body, 'paymentId', NEW.payment_id,
                               'createdAt', to_char(NEW.created_at AT TIME ZONE 'UTC',
                                                    'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
            NEW.payment_id);
    RETURN NEW;
END $$;
CREATE TRIGGER notifications_announce AFTER INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION announce_notification();

-- One delivery per (subscriber, event), made when the relay takes the
-- event: the constraint, not the code, is what keeps a subscriber from
-- getting an event twice except as a retry of the same delivery.
CREATE TABLE event_deliveries (
    id              bigserial PRIMARY KEY,
    event_id        bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    subscriber      text NOT NULL CHECK (subscriber ~ '^[a-z][a-z0-9_]{0,23}$'),
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    give_up_at      timestamptz NOT NULL,
    last_attempt_at timestamptz,
    last_status     integer CHECK (last_status BETWEEN 100 AND 599),
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'delivered') = (delivered_at IS NOT NULL))
);
CREATE UNIQUE INDEX event_deliveries_once ON event_deliveries (subscriber, event_id);
CREATE INDEX event_deliveries_due ON event_deliveries (subscriber, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX event_deliveries_event ON event_deliveries (event_id);

-- Every attempt, as the subscriber answered it (or did not).
CREATE TABLE event_delivery_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES event_deliveries (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    http_status  integer CHECK (http_status BETWEEN 100 AND 599),
    error        text,
    duration_ms  integer NOT NULL CHECK (duration_ms >= 0)
);
CREATE INDEX event_delivery_attempts_delivery ON event_delivery_attempts (delivery_id, id);

-- A job per subscriber: deliver_<name>.
ALTER TABLE job_runs DROP CONSTRAINT job_runs_job_check;
ALTER TABLE job_runs ADD CONSTRAINT job_runs_job_check CHECK (job ~ '^[a-z][a-z0-9_]{0,39}$');
