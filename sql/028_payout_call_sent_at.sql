-- When a payout's create call last went out. An admin's word that a lost
-- call paid nothing is believed only once the provider's wallet has had
-- time to send it (flow/shkpayout.c); asking the provider again since does
-- not reset that clock, as updated_at would.
ALTER TABLE payout_calls ADD COLUMN sent_at timestamptz;
UPDATE payout_calls SET sent_at = updated_at WHERE state <> 'idle';
