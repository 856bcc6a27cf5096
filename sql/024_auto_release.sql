-- The automatic release (the jobs process's auto_release, off by default)
-- pays a seller once the goods have been delivered for a grace period,
-- unless the buyer disputes the order. The marketplace owns these rows and
-- sets `disputed`; when a request became delivered is kept by a trigger,
-- whatever writes the status, so the grace period cannot be skipped by a
-- writer that forgets it. Requests delivered before this migration have no
-- delivered_at and are never released automatically.
ALTER TABLE purchase_requests ADD COLUMN delivered_at timestamptz;
ALTER TABLE purchase_requests ADD COLUMN disputed boolean NOT NULL DEFAULT false;

CREATE FUNCTION purchase_request_delivered_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status = 'delivered' THEN
            NEW.delivered_at := coalesce(NEW.delivered_at, now());
        END IF;
    ELSIF NEW.status = 'delivered' AND OLD.status <> 'delivered'
          AND NEW.delivered_at IS NOT DISTINCT FROM OLD.delivered_at THEN
        NEW.delivered_at := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER purchase_requests_delivered_at BEFORE INSERT OR UPDATE OF status ON purchase_requests
    FOR EACH ROW EXECUTE FUNCTION purchase_request_delivered_at();

CREATE INDEX purchase_requests_delivered ON purchase_requests (delivered_at)
    WHERE status = 'delivered' AND NOT disputed;
