#include "api/routes.h"

#include "api/handlers.h"

#define P "/api/payment"

/* Literal paths come before the `/:id` patterns they would otherwise match. */
const struct route app_routes[] = {
	{ HTTP_GET,  P "/health",                    h_health,           ACCESS_PUBLIC, ROUTE_DB | ROUTE_OPT_AUTH },
	{ HTTP_POST, P "/configuration",             h_configuration,    ACCESS_PUBLIC, 0 },
	{ HTTP_GET,  P "/shkeeper/config",           h_shkeeper_config,  ACCESS_PUBLIC, 0 },
	{ HTTP_GET,  P "/openapi.json",              h_openapi,          ACCESS_PUBLIC, 0 },
	{ HTTP_GET,  P "/metrics",                   h_metrics,          ACCESS_METRICS, 0 },
	{ HTTP_POST, P "/callback",                  h_callback,         ACCESS_PUBLIC, ROUTE_DB },

	/* SHKeeper pay-ins, their callbacks, and what admins watch. */
	{ HTTP_POST, P "/shkeeper/intents",          h_shkeeper_intent,  ACCESS_USER,   ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_POST, P "/shkeeper/webhook",          h_shkeeper_webhook, ACCESS_PUBLIC, ROUTE_DB },
	{ HTTP_POST, P "/shkeeper/confirm-transaction", h_shk_confirm,   ACCESS_USER,   ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_GET,  P "/shkeeper/webhook-stats",    h_webhook_stats,    ACCESS_ADMIN,  ROUTE_DB },
	{ HTTP_GET,  P "/shkeeper/wallet-monitor/status", h_wallet_monitor_status, ACCESS_PUBLIC, ROUTE_DB },
	{ HTTP_GET,  P "/shkeeper/auto-webhook/status",   h_auto_webhook_status,   ACCESS_PUBLIC, ROUTE_DB },

	/* Seller payouts SHKeeper signs and sends (shkeeper_payouts.c); its callback is signed, not tokened. */
	{ HTTP_POST, P "/shkeeper/payout",           h_shk_payout,       ACCESS_ADMIN,  ROUTE_DB },
	{ HTTP_POST, P "/shkeeper/payout/webhook",   h_shk_payout_webhook, ACCESS_PUBLIC, ROUTE_DB },
	{ HTTP_GET,  P "/shkeeper/payout/status/:taskId", h_shk_payout_status, ACCESS_ADMIN, ROUTE_DB },
	{ HTTP_GET,  P "/shkeeper/payout/:taskId",   h_shk_payout_status, ACCESS_ADMIN, ROUTE_DB },

	/* Seller payouts BVNK sends (bvnk.c); its webhooks are signed, not tokened. */
	{ HTTP_POST, P "/bvnk/payout",               h_bvnk_payout,      ACCESS_ADMIN,  ROUTE_DB },
	{ HTTP_GET,  P "/bvnk/payout/status/:uuid",  h_bvnk_payout_status, ACCESS_ADMIN, ROUTE_DB },
	{ HTTP_POST, P "/bvnk/webhook",              h_bvnk_webhook,     ACCESS_PUBLIC, ROUTE_DB },
	{ HTTP_GET,  P "/admin/events",              h_admin_events,     ACCESS_ADMIN,  ROUTE_DB },
	{ HTTP_GET,  P "/admin/webhooks",            h_admin_webhooks,   ACCESS_ADMIN,  ROUTE_DB },
	{ HTTP_GET,  P "/admin/jobs",                h_admin_jobs,       ACCESS_ADMIN,  ROUTE_DB },
	{ HTTP_POST, P "/admin/webhooks/:deliveryId/replay", h_webhook_replay, ACCESS_ADMIN, ROUTE_DB },
	{ HTTP_POST, P "/admin/confirm-tx/:paymentId", h_admin_confirm_tx, ACCESS_ADMIN, ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_GET,  P "/admin/payouts",             h_admin_payouts,    ACCESS_ADMIN,  ROUTE_DB },
	{ HTTP_GET,  P "/admin/deliveries",          h_admin_deliveries, ACCESS_ADMIN,  ROUTE_DB },
	{ HTTP_POST, P "/admin/deliveries/redeliver", h_deliveries_redeliver, ACCESS_ADMIN, ROUTE_DB },
	{ HTTP_POST, P "/admin/deliveries/:deliveryId/redeliver", h_deliveries_redeliver, ACCESS_ADMIN, ROUTE_DB },

	/* Events: the catch-up of a room, and nginx's subrequest before it holds a live stream
	 * (an internal location in nginx: clients never reach it). Rooms are checked by the handler. */
	{ HTTP_GET,  P "/events",                    h_events_list,      ACCESS_USER,   ROUTE_DB },
	{ HTTP_GET,  P "/events/authorize",          h_events_authorize, ACCESS_USER,   ROUTE_DB },
	{ HTTP_POST, P "/shkeeper/test",             h_shk_test,         ACCESS_PUBLIC, ROUTE_DEV },
	{ HTTP_GET,  P "/shkeeper/callback-test",    h_shk_callback_test, ACCESS_PUBLIC, ROUTE_DEV },
	{ HTTP_POST, P "/shkeeper/callback-test",    h_shk_callback_test, ACCESS_PUBLIC, ROUTE_DEV },
	{ HTTP_POST, P "/shkeeper/create-test-payment", h_shk_create_test_payment, ACCESS_PUBLIC, ROUTE_DEV | ROUTE_DB },
	{ HTTP_POST, P "/shkeeper/trigger-webhook",  h_shk_trigger_webhook, ACCESS_USER, ROUTE_DEV | ROUTE_DB },

	/* Checkout templates: what a template checkout sells, owned by a seller. */
	{ HTTP_POST,   P "/templates",               h_template_create,  ACCESS_SELLER, ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_GET,    P "/templates",               h_template_list,    ACCESS_SELLER, ROUTE_DB },
	{ HTTP_GET,    P "/templates/:id",           h_template_get,     ACCESS_USER,   ROUTE_DB },
	{ HTTP_DELETE, P "/templates/:id",           h_template_delete,  ACCESS_SELLER, ROUTE_DB },

	/* Wallet-direct payments and on-chain verification. */
	{ HTTP_POST, P "/decentralized/save",        h_chain_save,       ACCESS_USER,   ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_POST, P "/decentralized/create",      h_chain_save,       ACCESS_USER,   ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_POST, P "/decentralized/verify-all-pending", h_chain_verify_all, ACCESS_JOB,    ROUTE_DB },
	{ HTTP_POST, P "/decentralized/verify/:paymentId", h_chain_verify, ACCESS_USER,  ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_POST, P "/decentralized/verify",      h_chain_verify,     ACCESS_USER,   ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_POST, P "/verify",                    h_chain_verify,     ACCESS_USER,   ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_GET,  P "/decentralized/status/:paymentId", h_chain_status, ACCESS_USER,  ROUTE_DB },
	{ HTTP_PUT,  P "/decentralized/update",      h_chain_update,     ACCESS_ADMIN,  ROUTE_DB },
	{ HTTP_GET,  P "/decentralized/receiver",    h_chain_receiver,   ACCESS_PUBLIC, 0 },
	{ HTTP_GET,  P "/decentralized/history/:userId", h_chain_history, ACCESS_SELF,  ROUTE_DB },
	{ HTTP_POST, P "/payments/auto-fetch-missing", h_chain_fetch_missing, ACCESS_ADMIN, ROUTE_DB },
	{ HTTP_POST, P "/decentralized/admin-payout", h_hot_wallet_payout, ACCESS_ADMIN, ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_POST, P "/decentralized/admin-payout/resume", h_hot_wallet_resume, ACCESS_JOB, ROUTE_DB },
	{ HTTP_GET,  P "/decentralized/admin-payout/wallet", h_hot_wallet_status, ACCESS_ADMIN, ROUTE_DB },
	{ HTTP_POST, P "/payments/:id/fetch-tx",     h_chain_fetch_tx,   ACCESS_USER,   ROUTE_DB },
	/* The older manual re-checker's spelling of the same. */
	{ HTTP_GET,  P "/fetch-tx/:paymentId",       h_chain_fetch_tx,   ACCESS_USER,   ROUTE_DB },

	{ HTTP_GET,  P "/stats",                     h_stats,            ACCESS_SELF,   ROUTE_DB },
	{ HTTP_GET,  P "/stats/:userId",             h_stats,            ACCESS_SELF,   ROUTE_DB },
	/* The admin dashboard's spelling: everyone's totals, admins only. */
	{ HTTP_GET,  P "/payments/stats",            h_stats,            ACCESS_ADMIN,  ROUTE_DB },
	{ HTTP_GET,  P "/export",                    h_export,           ACCESS_SELF,   ROUTE_DB },
	{ HTTP_GET,  P "/export/:userId",            h_export,           ACCESS_SELF,   ROUTE_DB },
	{ HTTP_GET,  P "/user/:userId",              h_payment_by_user,  ACCESS_SELF,   ROUTE_DB },
	{ HTTP_POST, P "/payments/cleanup-pending",  h_cleanup_pending,  ACCESS_ADMIN,  ROUTE_DB },
	{ HTTP_POST, P,                              h_payment_create,   ACCESS_USER,   ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_GET,  P,                              h_payment_list,     ACCESS_USER,   ROUTE_DB },
	{ HTTP_GET,  P "/:id/debug",                 h_payment_debug,    ACCESS_ADMIN,  ROUTE_DB },

	/* The escrow's exit, signed by an admin's wallet (release.c); seed 001's /shkeeper/ spellings alias them. */
	{ HTTP_POST, P "/:id/release",               h_payout_release,   ACCESS_ADMIN,  ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_POST, P "/:id/release/confirm",       h_payout_release_confirm, ACCESS_ADMIN, ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_POST, P "/:id/refund",                h_payout_refund,    ACCESS_ADMIN,  ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_POST, P "/:id/refund/confirm",        h_payout_refund_confirm, ACCESS_ADMIN, ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_POST, P "/shkeeper/:id/release",      h_payout_release,   ACCESS_ADMIN,  ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_POST, P "/shkeeper/:id/release/confirm", h_payout_release_confirm, ACCESS_ADMIN, ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_POST, P "/shkeeper/:id/refund",       h_payout_refund,    ACCESS_ADMIN,  ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_POST, P "/shkeeper/:id/refund/confirm", h_payout_refund_confirm, ACCESS_ADMIN, ROUTE_DB | ROUTE_IDEMPOTENT },
	{ HTTP_GET,  P "/:id",                       h_payment_get,      ACCESS_USER,   ROUTE_DB },
	{ HTTP_PUT,  P "/:id",                       h_payment_update,   ACCESS_USER,   ROUTE_DB },
};

const size_t app_routes_len = sizeof(app_routes) / sizeof(app_routes[0]);
