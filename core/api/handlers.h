/* handlers: every endpoint's handler; routes.c says which path, method and access each serves. */
#ifndef PAY_HANDLERS_H
#define PAY_HANDLERS_H

#include "api/app.h"
#include "http/router.h"

/* service.c */
handler_fn h_health, h_configuration, h_shkeeper_config;
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
/* observe.c */
handler_fn h_webhook_stats, h_wallet_monitor_status, h_auto_webhook_status, h_admin_events, h_admin_jobs,
    h_admin_webhooks;
/* events.c: catch-up and nginx's subrequest for live streams; deliveries.c: webhooks to subscribers */
handler_fn h_events_list, h_events_authorize, h_admin_deliveries, h_deliveries_redeliver;
/* wallet_direct.c, chain_verify.c: wallet-direct payments and on-chain verification */
handler_fn h_chain_save, h_chain_status, h_chain_update, h_chain_receiver, h_chain_history;
handler_fn h_chain_verify, h_chain_verify_all, h_chain_fetch_tx, h_chain_fetch_missing;

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
#endif
