-- 030's constraints checked against the rows written before them, each
-- under a SHARE UPDATE EXCLUSIVE lock: reads and writes go on meanwhile.
-- Every row already passed the counted pattern, so none can fail here.
ALTER TABLE webhook_inbox VALIDATE CONSTRAINT webhook_inbox_body_digest_check;
ALTER TABLE idempotency_keys VALIDATE CONSTRAINT idempotency_keys_idem_key_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_buyer_id_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_crypto_name_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_currency_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_purchase_request_id_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_receiver_address_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_seller_id_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_seller_offer_id_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_sender_address_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_token_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_token_contract_check;
ALTER TABLE payments VALIDATE CONSTRAINT payments_tx_hash_check;
ALTER TABLE hot_wallet_txs VALIDATE CONSTRAINT hot_wallet_txs_address_check;
ALTER TABLE hot_wallet_txs VALIDATE CONSTRAINT hot_wallet_txs_tx_hash_check;
ALTER TABLE events VALIDATE CONSTRAINT events_event_shape;
ALTER TABLE events VALIDATE CONSTRAINT events_room_shape;
ALTER TABLE events VALIDATE CONSTRAINT events_stream_msg_id_check;
ALTER TABLE purchase_requests VALIDATE CONSTRAINT purchase_requests_buyer_id_check;
ALTER TABLE purchase_requests VALIDATE CONSTRAINT purchase_requests_id_check;
ALTER TABLE seller_offers VALIDATE CONSTRAINT seller_offers_currency_check;
ALTER TABLE seller_offers VALIDATE CONSTRAINT seller_offers_id_check;
ALTER TABLE seller_offers VALIDATE CONSTRAINT seller_offers_seller_id_check;
ALTER TABLE notifications VALIDATE CONSTRAINT notifications_user_id_check;
ALTER TABLE event_deliveries VALIDATE CONSTRAINT event_deliveries_subscriber_check;
ALTER TABLE user_wallets VALIDATE CONSTRAINT user_wallets_address_check;
ALTER TABLE user_wallets VALIDATE CONSTRAINT user_wallets_user_id_check;
ALTER TABLE checkout_templates VALIDATE CONSTRAINT checkout_templates_currency_check;
ALTER TABLE checkout_templates VALIDATE CONSTRAINT checkout_templates_seller_id_check;
ALTER TABLE webhook_rejects VALIDATE CONSTRAINT webhook_rejects_body_digest_check;
ALTER TABLE job_runs VALIDATE CONSTRAINT job_runs_job_check;
ALTER TABLE shkeeper_polls VALIDATE CONSTRAINT shkeeper_polls_last_outcome_check;
ALTER TABLE shkeeper_polls VALIDATE CONSTRAINT shkeeper_polls_last_status_check;
