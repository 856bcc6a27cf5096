/* handlers: every endpoint's handler; routes.c says which path, method and access each serves. */
#ifndef PAY_HANDLERS_H
#define PAY_HANDLERS_H

#include "api/app.h"
#include "http/jsoncheck.h"
#include "http/router.h"

/* service.c */
handler_fn h_health, h_configuration, h_shkeeper_config;
/* openapi.c: the embedded OpenAPI document; metrics.c: the Prometheus exposition */
handler_fn h_openapi, h_metrics;
/* payments.c */
handler_fn h_payment_create, h_payment_update, h_payment_list, h_payment_get, h_payment_debug,
    h_payment_by_user;
/* stats.c */
handler_fn h_stats;
/* export.c */
handler_fn h_export;
/* admin.c */
handler_fn h_cleanup_pending, h_callback;
/* shkeeper_intents.c, shkeeper_webhook.c, shkeeper_confirm.c, shkeeper_dev.c */
handler_fn h_shkeeper_intent, h_shkeeper_webhook, h_shk_confirm, h_webhook_replay;
handler_fn h_shk_test, h_shk_callback_test, h_shk_create_test_payment, h_shk_trigger_webhook;
/* templates.c */
handler_fn h_template_create, h_template_list, h_template_get, h_template_delete;
/* observe.c */
handler_fn h_webhook_stats, h_wallet_monitor_status, h_auto_webhook_status, h_admin_events, h_admin_jobs,
    h_admin_webhooks;
/* events.c: catch-up and nginx's subrequest for live streams; subscriber_deliveries.c: webhooks to subscribers */
handler_fn h_events_list, h_events_authorize, h_admin_deliveries, h_deliveries_redeliver;
/* wallet_direct.c, chain_verify.c: wallet-direct payments and on-chain verification */
handler_fn h_chain_save, h_chain_status, h_chain_update, h_chain_receiver, h_chain_history;
handler_fn h_chain_verify, h_chain_verify_all, h_chain_fetch_tx, h_chain_fetch_missing;

/* release.c: admin-signed release and refund of a pay-in's escrow */
handler_fn h_payout_release, h_payout_release_confirm, h_payout_refund, h_payout_refund_confirm;
/* admin_payouts.c: the manual admin payout confirmed by hash, and the list of payouts */
handler_fn h_admin_confirm_tx, h_admin_payouts;
/* hot_wallet.c: payouts from the service's hot wallet */
handler_fn h_hot_wallet_payout, h_hot_wallet_resume, h_hot_wallet_status;
/* shkeeper_payouts.c: payouts SHKeeper signs and sends */
handler_fn h_shk_payout, h_shk_payout_status, h_shk_payout_webhook;
/* bvnk.c: payouts BVNK sends, and its webhooks */
handler_fn h_bvnk_payout, h_bvnk_payout_status, h_bvnk_webhook;
/* deliveries.c: what webhook and callback handlers keep besides a body. */
/* The headers worth keeping with a delivery; signature values only if `credentials`, the API key never. */
json_object *delivery_headers(const struct request *req, bool credentials);
/* Counts a delivery that proves nothing in webhook_rejects, without its body, and in the metrics. */
enum db_status delivery_refused(struct request *req, const char *provider, const char *reason);
/* What every provider delivery must be before its signature is read: at most INBOX_MAX_BODY bytes
 * (413) and JSON (415). `what` names it for the message ("a BVNK webhook"). 0, or -1 answered. */
int delivery_admissible(const struct request *req, struct response *resp, const char *what);
/* A stored, signed delivery that is not one strict JSON object: its row says so, the answer is 400. */
void delivery_unreadable(struct request *req, struct response *resp, const char *provider, long long id,
                         const struct json_fault *fault, const char *what);

enum party { PARTY_BUYER, PARTY_BUYER_OR_SELLER };
/*
 * The payment `id` (a PAYMENT_COLUMNS row, the caller's to PQclear) if an
 * admin asks, or its buyer (or, with PARTY_BUYER_OR_SELLER, its seller);
 * otherwise NULL with a 400 naming `field`, or a 404, written.
 */
PGresult *payment_visible(struct request *req, struct response *resp, const char *id,
                          const char *field, enum party who);

/*
 * The user an ACCESS_SELF route is about: its :userId (the dispatcher has
 * checked the caller may see it), else the caller, or NULL (everyone) for an
 * admin.
 */
const char *scope_user(const struct request *req);
/*
 * Answers a page of payments: those where `user` is buyer or seller (NULL:
 * everyone's), with the request's `status` filter (dflt_status when absent,
 * NULL: any) and `provider` (NULL: any), newest first, with the total.
 */
void payments_list(struct request *req, struct response *resp, const char *user,
                   const char *dflt_status, const char *provider);

/*
 * payment_override.c: PUT /:id's rule for statuses that say money moved
 * (completed, released, refunded): a move to one needs override true and a
 * reason. 0 when the change may go on (*overridden, with reason_out
 * "override: <reason>"), -1 with the answer (400, 409) written.
 */
int payment_override_rule(struct response *resp, const PGresult *cur, const char *status, json_object *override,
                          const char *reason, bool *overridden, char *reason_out, size_t len);
#endif
