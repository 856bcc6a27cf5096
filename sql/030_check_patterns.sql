-- The same rules for the same columns, in a form PostgreSQL checks several
-- times faster (ten times for the longest repeats). A pattern with a counted
-- repeat ({1,64}, {40}) compiles into one automaton state per repetition,
-- and matching it costs microseconds; a paid pay-in writes some forty such
-- values (its row, three offers, the request, ten events, three
-- notifications, its inbox row). Here the pattern says which characters and
-- a length says how many, which accepts exactly the strings the counted
-- pattern did (tests/e2e/07_db checks each against its original pattern).
--
-- Every constraint keeps its name. The new one is added NOT VALID and the
-- old one dropped in the same statement, so no write goes unchecked, and
-- no table is read under this migration's lock: 031 validates them with a
-- lock that lets writes go on.
--
-- Each ALTER TABLE holds its table exclusively until this migration commits,
-- taken in the order a delivery's transaction takes them, so that neither
-- waits on the other in a circle. A table held by a long reader (an export
-- in progress) is waited for at most 10 s, instead of every statement on it
-- queueing behind this migration: the migration then fails, changes
-- nothing, and `migrate` is run again.
SET LOCAL lock_timeout = '10s';

ALTER TABLE webhook_inbox
    DROP CONSTRAINT webhook_inbox_body_digest_check,
    ADD CONSTRAINT webhook_inbox_body_digest_check
        CHECK (body_digest ~ '^[0-9a-f]+$' AND char_length(body_digest) = 64) NOT VALID;

ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_idem_key_check,
    ADD CONSTRAINT idempotency_keys_idem_key_check
        CHECK (idem_key ~ '^[!-~]+$' AND char_length(idem_key) <= 255) NOT VALID;

ALTER TABLE payments
    DROP CONSTRAINT payments_buyer_id_check,
    ADD CONSTRAINT payments_buyer_id_check
        CHECK (buyer_id ~ '^[A-Za-z0-9_-]+$' AND char_length(buyer_id) <= 64) NOT VALID,
    DROP CONSTRAINT payments_crypto_name_check,
    ADD CONSTRAINT payments_crypto_name_check
        CHECK (crypto_name ~ '^[A-Z0-9]+-[A-Z0-9]+$'
               AND char_length(split_part(crypto_name, '-', 1)) BETWEEN 2 AND 10
               AND char_length(split_part(crypto_name, '-', 2)) BETWEEN 2 AND 10) NOT VALID,
    DROP CONSTRAINT payments_currency_check,
    ADD CONSTRAINT payments_currency_check
        CHECK (currency ~ '^[A-Z0-9]+$' AND char_length(currency) BETWEEN 2 AND 10) NOT VALID,
    DROP CONSTRAINT payments_purchase_request_id_check,
    ADD CONSTRAINT payments_purchase_request_id_check
        CHECK (purchase_request_id ~ '^[A-Za-z0-9_-]+$' AND char_length(purchase_request_id) <= 64) NOT VALID,
    DROP CONSTRAINT payments_receiver_address_check,
    ADD CONSTRAINT payments_receiver_address_check
        CHECK (receiver_address ~ '^0x[0-9a-fA-F]+$' AND char_length(receiver_address) = 42) NOT VALID,
    DROP CONSTRAINT payments_seller_id_check,
    ADD CONSTRAINT payments_seller_id_check
        CHECK (seller_id ~ '^[A-Za-z0-9_-]+$' AND char_length(seller_id) <= 64) NOT VALID,
    DROP CONSTRAINT payments_seller_offer_id_check,
    ADD CONSTRAINT payments_seller_offer_id_check
        CHECK (seller_offer_id ~ '^[A-Za-z0-9_-]+$' AND char_length(seller_offer_id) <= 64) NOT VALID,
    DROP CONSTRAINT payments_sender_address_check,
    ADD CONSTRAINT payments_sender_address_check
        CHECK (sender_address ~ '^0x[0-9a-fA-F]+$' AND char_length(sender_address) = 42) NOT VALID,
    DROP CONSTRAINT payments_token_check,
    ADD CONSTRAINT payments_token_check
        CHECK (token ~ '^[A-Z0-9]+$' AND char_length(token) BETWEEN 2 AND 10) NOT VALID,
    DROP CONSTRAINT payments_token_contract_check,
    ADD CONSTRAINT payments_token_contract_check
        CHECK (token_contract ~ '^0x[0-9a-fA-F]+$' AND char_length(token_contract) = 42) NOT VALID,
    DROP CONSTRAINT payments_tx_hash_check,
    ADD CONSTRAINT payments_tx_hash_check
        CHECK (tx_hash ~ '^0x[0-9a-fA-F]+$' AND char_length(tx_hash) = 66) NOT VALID;

ALTER TABLE hot_wallet_txs
    DROP CONSTRAINT hot_wallet_txs_address_check,
    ADD CONSTRAINT hot_wallet_txs_address_check
        CHECK (address ~ '^0x[0-9a-fA-F]+$' AND char_length(address) = 42) NOT VALID,
    DROP CONSTRAINT hot_wallet_txs_tx_hash_check,
    ADD CONSTRAINT hot_wallet_txs_tx_hash_check
        CHECK (tx_hash ~ '^0x[0-9a-f]+$' AND char_length(tx_hash) = 66) NOT VALID;

ALTER TABLE events
    DROP CONSTRAINT events_event_shape,
    ADD CONSTRAINT events_event_shape
        CHECK (event ~ '^[a-z][a-z-]*$' AND char_length(event) <= 64) NOT VALID,
    -- The first ':' ends the room's kind: an id holds none.
    DROP CONSTRAINT events_room_shape,
    ADD CONSTRAINT events_room_shape
        CHECK (room IN ('admin', 'global')
               OR (room ~ '^(user|request|service):[A-Za-z0-9_-]+$'
                   AND char_length(room) - strpos(room, ':') <= 64)) NOT VALID,
    DROP CONSTRAINT events_stream_msg_id_check,
    ADD CONSTRAINT events_stream_msg_id_check
        CHECK (stream_msg_id ~ '^[0-9]+:[0-9]+$'
               AND char_length(split_part(stream_msg_id, ':', 1)) <= 20
               AND char_length(split_part(stream_msg_id, ':', 2)) <= 6) NOT VALID;

ALTER TABLE purchase_requests
    DROP CONSTRAINT purchase_requests_buyer_id_check,
    ADD CONSTRAINT purchase_requests_buyer_id_check
        CHECK (buyer_id ~ '^[A-Za-z0-9_-]+$' AND char_length(buyer_id) <= 64) NOT VALID,
    DROP CONSTRAINT purchase_requests_id_check,
    ADD CONSTRAINT purchase_requests_id_check
        CHECK (id ~ '^[A-Za-z0-9_-]+$' AND char_length(id) <= 64) NOT VALID;

ALTER TABLE seller_offers
    DROP CONSTRAINT seller_offers_currency_check,
    ADD CONSTRAINT seller_offers_currency_check
        CHECK (currency ~ '^[A-Z0-9]+$' AND char_length(currency) BETWEEN 2 AND 10) NOT VALID,
    DROP CONSTRAINT seller_offers_id_check,
    ADD CONSTRAINT seller_offers_id_check
        CHECK (id ~ '^[A-Za-z0-9_-]+$' AND char_length(id) <= 64) NOT VALID,
    DROP CONSTRAINT seller_offers_seller_id_check,
    ADD CONSTRAINT seller_offers_seller_id_check
        CHECK (seller_id ~ '^[A-Za-z0-9_-]+$' AND char_length(seller_id) <= 64) NOT VALID;

ALTER TABLE notifications
    DROP CONSTRAINT notifications_user_id_check,
    ADD CONSTRAINT notifications_user_id_check
        CHECK (user_id ~ '^[A-Za-z0-9_-]+$' AND char_length(user_id) <= 64) NOT VALID;

ALTER TABLE event_deliveries
    DROP CONSTRAINT event_deliveries_subscriber_check,
    ADD CONSTRAINT event_deliveries_subscriber_check
        CHECK (subscriber ~ '^[a-z][a-z0-9_]*$' AND char_length(subscriber) <= 24) NOT VALID;

ALTER TABLE user_wallets
    DROP CONSTRAINT user_wallets_address_check,
    ADD CONSTRAINT user_wallets_address_check
        CHECK (address ~ '^0x[0-9a-fA-F]+$' AND char_length(address) = 42) NOT VALID,
    DROP CONSTRAINT user_wallets_user_id_check,
    ADD CONSTRAINT user_wallets_user_id_check
        CHECK (user_id ~ '^[A-Za-z0-9_-]+$' AND char_length(user_id) <= 64) NOT VALID;

ALTER TABLE checkout_templates
    DROP CONSTRAINT checkout_templates_currency_check,
    ADD CONSTRAINT checkout_templates_currency_check
        CHECK (currency ~ '^[A-Z0-9]+$' AND char_length(currency) BETWEEN 2 AND 10) NOT VALID,
    DROP CONSTRAINT checkout_templates_seller_id_check,
    ADD CONSTRAINT checkout_templates_seller_id_check
        CHECK (seller_id ~ '^[A-Za-z0-9_-]+$' AND char_length(seller_id) <= 64) NOT VALID;

ALTER TABLE webhook_rejects
    DROP CONSTRAINT webhook_rejects_body_digest_check,
    ADD CONSTRAINT webhook_rejects_body_digest_check
        CHECK (body_digest = 'overflow' OR (body_digest ~ '^[0-9a-f]+$' AND char_length(body_digest) = 64)) NOT VALID;

ALTER TABLE job_runs
    DROP CONSTRAINT job_runs_job_check,
    ADD CONSTRAINT job_runs_job_check
        CHECK (job ~ '^[a-z][a-z0-9_]*$' AND char_length(job) <= 40) NOT VALID;

ALTER TABLE shkeeper_polls
    DROP CONSTRAINT shkeeper_polls_last_outcome_check,
    ADD CONSTRAINT shkeeper_polls_last_outcome_check
        CHECK (last_outcome ~ '^[a-z_]+$' AND char_length(last_outcome) <= 32) NOT VALID,
    DROP CONSTRAINT shkeeper_polls_last_status_check,
    ADD CONSTRAINT shkeeper_polls_last_status_check
        CHECK (last_status ~ '^[A-Za-z_]+$' AND char_length(last_status) <= 32) NOT VALID;
