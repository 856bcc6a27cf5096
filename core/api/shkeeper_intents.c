/*
 * SHKeeper pay-ins: creating an intent (an invoice at SHKeeper) and taking
 * SHKeeper's signed callbacks. Nothing here holds a database lock while
 * SHKeeper is being called: the pay-in row carries a short lease instead, so
 * concurrent requests for the same pay-in wait for one upstream answer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api/handlers.h"
#include "base/log.h"
#include "flow/shk_onchain.h"
#include "http/jsonin.h"
#include "pay/cascade.h"
#include "pay/coord.h"
#include "pay/inbox.h"
#include "pay/payment.h"
#include "pay/review.h"
#include "shkeeper/shkeeper.h"

/* PAYMENT_COLUMNS plus what an intent answer needs. */
#define INTENT_COLUMNS PAYMENT_COLUMNS ", p.crypto_name, p.metadata #>> '{shkeeper,displayName}'," \
	" p.upstream_lease_until > now(), " PAYMENT_TS("p.recalculate_at")
enum { ICOL_CRYPTO = 29, ICOL_DISPLAY = 30, ICOL_LEASED = 31, ICOL_RECALCULATE = 32 };

/* Template checkouts: a recent pending intent is reused, an older one replaced. */
#define TEMPLATE_DEDUPE_MINUTES "5"
#define TEMPLATE_REUSE_HOURS "24"
/* The longest a request waits for another worker's call to SHKeeper. */
#define AWAIT_MAX_MS 3000

enum { I_REQUEST, I_OFFER, I_SELLER, I_AMOUNT, I_TOKEN, I_NETWORK, I_META, I_N };
static const struct jfield intent_fields[I_N] = {
	[I_REQUEST] = { "purchaseRequestId", JK_ID, true, 0, 0, NULL },
	/* Required but for a template checkout, whose terms are the template's. */
	[I_OFFER] = { "sellerOfferId", JK_ID, false, 0, 0, NULL },
	[I_SELLER] = { "sellerId", JK_ID, false, 0, 0, NULL },
	[I_AMOUNT] = { "amount", JK_AMOUNT, false, 0, 0, NULL },
	[I_TOKEN] = { "token", JK_CURRENCY, false, 0, 0, NULL },
	[I_NETWORK] = { "network", JK_NETWORK, false, 0, 0, NULL },
	[I_META] = { "metadata", JK_OBJECT, false, 0, 8192, NULL },
};

struct intent {
	const char *buyer, *request, *offer, *seller, *network, *token, *metadata;
	char amount[MONEY_TEXT_MAX];
	bool has_amount;
	/* A template checkout's terms, read from its template. */
	char template_request[96], template_id[40], template_seller[ID_MAX + 1];
	char crypto[24];
	const struct token_conf *tok;
	bool template_checkout;
};

static bool is_template(const char *request)
{
	return strncmp(request, TEMPLATE_CHECKOUT_PREFIX, strlen(TEMPLATE_CHECKOUT_PREFIX)) == 0;
}

/*
 * What the buyer needs to pay: the deposit address, the crypto amount (fee
 * included) and a link that pays it (EIP-681; SHKeeper has no invoice page),
 * the link only while the payment still takes payment: a completed one (a
 * template checkout reused) or a closed one must not be paid again with a
 * click. `recalculateAt` is when SHKeeper re-prices the invoice, null when
 * never: SHKeeper's invoices do not expire.
 */
static json_object *intent_json(const struct config *cfg, const PGresult *res)
{
	json_object *d = json_object_new_object();
	const char *display = PQgetisnull(res, 0, ICOL_DISPLAY) ? NULL : PQgetvalue(res, 0, ICOL_DISPLAY);
	const char *status = PQgetvalue(res, 0, PCOL_STATUS);
	char uri[400];
	bool payable = strcmp(status, "pending") == 0 || strcmp(status, "processing") == 0;
	bool has_uri = payable && !PQgetisnull(res, 0, PCOL_PAYMENT_URL);

	/* A pay-in recorded before links were built here: build it from the invoice. */
	if (payable && !has_uri && !PQgetisnull(res, 0, PCOL_RECEIVER) && !PQgetisnull(res, 0, PCOL_CRYPTO_AMOUNT) &&
	    !PQgetisnull(res, 0, PCOL_NETWORK) &&
	    shk_payment_uri(cfg, PQgetvalue(res, 0, PCOL_NETWORK), PQgetvalue(res, 0, PCOL_TOKEN),
	                    PQgetvalue(res, 0, PCOL_RECEIVER), PQgetvalue(res, 0, PCOL_CRYPTO_AMOUNT), uri, sizeof(uri)) == 0)
		has_uri = true;
	else if (has_uri)
		snprintf(uri, sizeof(uri), "%s", PQgetvalue(res, 0, PCOL_PAYMENT_URL));

#define TEXT(col) (PQgetisnull(res, 0, col) ? NULL : json_object_new_string(PQgetvalue(res, 0, col)))
#define DECIMAL(col) (PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col))
	json_object_object_add(d, "paymentId", TEXT(PCOL_ID));
	json_object_object_add(d, "paymentUrl", has_uri ? json_object_new_string(uri) : NULL);
	json_object_object_add(d, "externalId", TEXT(PCOL_EXTERNAL_ID));
	json_object_object_add(d, "recalculateAt", TEXT(ICOL_RECALCULATE));
	json_object_object_add(d, "walletAddress", TEXT(PCOL_RECEIVER));
	json_add_amount(d, "amount", DECIMAL(PCOL_CRYPTO_AMOUNT));
	json_add_amount(d, "fiatAmount", DECIMAL(PCOL_AMOUNT));
	json_object_object_add(d, "fiat", TEXT(PCOL_CURRENCY));
	json_add_amount(d, "exchangeRate", DECIMAL(PCOL_RATE));
	json_object_object_add(d, "displayName", display ? json_object_new_string(display) : NULL);
	json_object_object_add(d, "cryptoName", TEXT(ICOL_CRYPTO));
	json_object_object_add(d, "network", TEXT(PCOL_NETWORK));
	json_object_object_add(d, "token", TEXT(PCOL_TOKEN));
	json_object_object_add(d, "status", TEXT(PCOL_STATUS));
	json_object_object_add(d, "escrowState", TEXT(PCOL_ESCROW));
	json_object_object_add(d, "shkeeperInvoiceId", TEXT(PCOL_PROVIDER_ID));
#undef TEXT
#undef DECIMAL
	return d;
}

/*
 * Checks what is being paid for: the request is the caller's and still open
 * for payment, the offer is on it, from that seller, still open, and for the
 * amount asked (when the offer states one). 0, or -1 with the answer written.
 */
static int check_marketplace(struct request *req, struct response *resp, const struct intent *in)
{
	const char *p[3] = { in->request, in->offer, in->amount };
	PGresult *res = NULL;
	enum db_status st;
	int rc = -1;

	st = db_exec(req->app->db, &res,
	             "SELECT r.buyer_id, r.status, o.purchase_request_id, o.seller_id, o.status,"
	             " o.amount IS NULL OR o.amount = $3::numeric, o.amount::text"
	             " FROM purchase_requests r LEFT JOIN seller_offers o ON o.id = $2"
	             " WHERE r.id = $1", 3, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return -1;
	}
	/* Another buyer's request is answered like a missing one. */
	if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), in->buyer) != 0)
		resp_error(resp, 404, "not_found", "purchaseRequestId", "purchase request %s not found", in->request);
	else if (strcmp(PQgetvalue(res, 0, 1), "open") != 0 && strcmp(PQgetvalue(res, 0, 1), "offers") != 0)
		resp_error(resp, 409, "request_closed", "purchaseRequestId", "purchase request %s is %s: it takes no payment",
		           in->request, PQgetvalue(res, 0, 1));
	else if (PQgetisnull(res, 0, 2) || strcmp(PQgetvalue(res, 0, 2), in->request) != 0)
		resp_error(resp, 400, "invalid_field", "sellerOfferId", "offer %s is not an offer on request %s",
		           in->offer, in->request);
	else if (strcmp(PQgetvalue(res, 0, 3), in->seller) != 0)
		resp_error(resp, 400, "invalid_field", "sellerId", "offer %s is not from seller %s", in->offer,
		           in->seller);
	else if (strcmp(PQgetvalue(res, 0, 4), "pending") != 0 && strcmp(PQgetvalue(res, 0, 4), "accepted") != 0)
		resp_error(resp, 409, "offer_closed", "sellerOfferId", "offer %s is %s", in->offer,
		           PQgetvalue(res, 0, 4));
	else if (strcmp(PQgetvalue(res, 0, 5), "t") != 0)
		resp_error(resp, 400, "invalid_field", "amount", "amount %s is not the offer's %s", in->amount,
		           PQgetvalue(res, 0, 6));
	else
		rc = 0;
	PQclear(res);
	return rc;
}

/*
 * A template checkout is sold on its template's terms: the seller and price
 * come from the template, never from the buyer. An unknown or inactive
 * template is 404; a seller, offer or amount the buyer names must be the
 * template's (400 otherwise). 0, or -1 with the answer written.
 */
static int template_terms(struct request *req, struct response *resp, struct intent *in)
{
	const char *id = in->request + strlen(TEMPLATE_CHECKOUT_PREFIX);
	PGresult *res = NULL;
	enum db_status st;
	int rc = -1;

	if (!valid_uuid(id)) {
		resp_error(resp, 404, "not_found", "purchaseRequestId", "checkout template %s not found", id);
		return -1;
	}
	const char *p[2] = { id, in->has_amount ? in->amount : NULL };
	st = db_exec(req->app->db, &res,
	             "SELECT id::text, seller_id, price::text, active AND currency = 'USD',"
	             " $2::numeric IS NULL OR $2::numeric = price"
	             " FROM checkout_templates WHERE id = $1::uuid", 2, p);
	if (st != DB_OK) {
		resp_db_error(resp, st);
		return -1;
	}
	/* After this point, all errors should use goto out. */
	if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 3), "t") != 0) {
		resp_error(resp, 404, "not_found", "purchaseRequestId", "checkout template %s not found", id);
		goto out;
	}
	if (in->seller && strcmp(in->seller, PQgetvalue(res, 0, 1)) != 0) {
		resp_error(resp, 400, "invalid_field", "sellerId", "template %s is not sold by %s", id, in->seller);
		goto out;
	}
	if (in->offer && strcasecmp(in->offer, PQgetvalue(res, 0, 0)) != 0) {
		resp_error(resp, 400, "invalid_field", "sellerOfferId",
		           "a template checkout's offer is its template (%s)", PQgetvalue(res, 0, 0));
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 4), "t") != 0) {
		resp_error(resp, 400, "invalid_field", "amount", "amount %s is not the template's price %s",
		           in->amount, PQgetvalue(res, 0, 2));
		goto out;
	}
	/* One spelling of the template's id, so the reuse and dedupe rules see one session. */
	snprintf(in->template_id, sizeof(in->template_id), "%s", PQgetvalue(res, 0, 0));
	snprintf(in->template_request, sizeof(in->template_request), TEMPLATE_CHECKOUT_PREFIX "%s", in->template_id);
	snprintf(in->template_seller, sizeof(in->template_seller), "%s", PQgetvalue(res, 0, 1));
	snprintf(in->amount, sizeof(in->amount), "%s", PQgetvalue(res, 0, 2));
	in->request = in->template_request;
	in->offer = in->template_id;
	in->seller = in->template_seller;
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* Cancels template-checkout intents left pending for longer than the dedupe window. */
static enum db_status retire_stale_template(struct request *req, const struct intent *in)
{
	const char *p[2] = { in->buyer, in->request };
	PGresult *res = NULL;
	enum db_status st;

	st = db_exec(req->app->db, &res,
	             "SELECT id FROM payments WHERE buyer_id = $1 AND purchase_request_id = $2"
	             " AND provider = 'shkeeper' AND direction = 'in' AND status = 'pending'"
	             " AND escrow_state = 'unfunded'"
	             " AND created_at < now() - interval '" TEMPLATE_DEDUPE_MINUTES " minutes'", 2, p);
	/* Unfunded under the row lock too: a deposit that lands meanwhile keeps its payment. */
	struct coord_change cancel = { .status = "cancelled", .source = "api", .actor = in->buyer,
	                               .reason = "superseded by a new template checkout",
	                               .request_id = req->request_id, .if_escrow = "unfunded" };
	for (int i = 0; st == DB_OK && i < PQntuples(res); i++)
		if (coord_apply(req->app->db, PQgetvalue(res, i, 0), &cancel, NULL, &st) != COORD_DB)
			st = DB_OK;
	PQclear(res);
	return st;
}

enum claim { CLAIM_READY, CLAIM_MINE, CLAIM_BUSY };

/*
 * Finds or creates the one active pay-in for (buyer, request, shkeeper) under
 * an advisory lock on that key, and says who calls SHKeeper: nobody (the
 * invoice exists), us (we took the lease), or another worker (lease held).
 */
static enum db_status claim(struct request *req, const struct intent *in, enum claim *out,
                            PGresult **row, bool *created)
{
	struct db *db = req->app->db;
	char lease[16];
	const char *k[3] = { in->buyer, in->request, NULL };
	enum db_status st;

	*row = NULL;
	*created = false;
	snprintf(lease, sizeof(lease), "%d", req->app->cfg->shkeeper_timeout_ms + 5000);
	if ((st = db_begin(db)) != DB_OK)
		return st;
	/* After this point, all errors should use goto out. */
	st = db_exec(db, NULL, "SELECT pg_advisory_xact_lock(" LOCK_NS_PAYIN ", hashtext($1 || '/' || $2 || '/shkeeper'))",
	             2, k);
	if (st == DB_OK && in->template_checkout) {
		st = db_exec(db, row,
		             "SELECT " INTENT_COLUMNS " FROM payments p WHERE p.buyer_id = $1"
		             " AND p.purchase_request_id = $2 AND p.provider = 'shkeeper' AND p.direction = 'in'"
		             " AND p.status = 'completed' AND p.created_at > now() - interval '" TEMPLATE_REUSE_HOURS " hours'"
		             " ORDER BY p.created_at DESC LIMIT 1", 2, k);
		if (st == DB_OK && PQntuples(*row) == 1) {
			*out = CLAIM_READY;
			goto commit;
		}
		PQclear(*row);
		*row = NULL;
	}
	if (st != DB_OK)
		goto out;
	st = db_exec(db, row,
	             "SELECT " INTENT_COLUMNS " FROM payments p WHERE p.buyer_id = $1"
	             " AND p.purchase_request_id = $2 AND p.provider = 'shkeeper' AND p.direction = 'in'"
	             " AND p.status IN ('pending', 'processing') FOR UPDATE", 2, k);
	if (st != DB_OK)
		goto out;
	if (PQntuples(*row) == 1) {
		if (!PQgetisnull(*row, 0, PCOL_PROVIDER_ID)) {
			*out = CLAIM_READY;
		} else if (strcmp(PQgetvalue(*row, 0, ICOL_LEASED), "t") == 0) {
			*out = CLAIM_BUSY;
		} else {
			const char *l[2] = { PQgetvalue(*row, 0, PCOL_ID), lease };
			st = db_exec(db, NULL, "UPDATE payments SET upstream_lease_until = now() + make_interval(secs => $2::int / 1000.0)"
			             " WHERE id = $1", 2, l);
			*out = CLAIM_MINE;
		}
		goto commit;
	}
	PQclear(*row);
	*row = NULL;
	const char *p[12] = { in->buyer, in->request, in->offer, in->seller, in->amount, in->network,
	                      in->token, in->tok->contract, in->crypto, in->metadata, lease,
	                      in->template_checkout ? "t" : "f" };
	st = db_exec(db, row,
	             "WITH g AS (SELECT gen_random_uuid() AS id)"
	             " INSERT INTO payments AS p (id, external_id, direction, provider, buyer_id,"
	             "  purchase_request_id, seller_offer_id, seller_id, amount, currency, network, token,"
	             "  token_contract, crypto_name, metadata, created_by, upstream_lease_until)"
	             " SELECT g.id, CASE WHEN $12::bool THEN 'template-' || g.id ELSE g.id::text END,"
	             "  'in', 'shkeeper', $1, $2, $3, $4, $5::numeric, 'USD', $6, $7, $8, $9,"
	             "  coalesce($10::jsonb, '{}'::jsonb), $1, now() + make_interval(secs => $11::int / 1000.0)"
	             " FROM g RETURNING " INTENT_COLUMNS, 12, p);
	if (st != DB_OK)
		goto out;
	st = coord_created(db, *row, "api", in->buyer, "shkeeper intent", req->request_id);
	*out = CLAIM_MINE;
	*created = true;
commit:
	if (st == DB_OK)
		st = db_commit(db);
out:
	db_rollback(db);
	if (st != DB_OK) {
		PQclear(*row);
		*row = NULL;
	}
	return st;
}

/*
 * Stores SHKeeper's invoice on the pay-in and releases the lease. first_block
 * is the chain's block before the invoice was asked for ("" when the chain
 * could not say): confirm-transaction searches the buyer's transfers from it.
 */
static enum db_status record_invoice(struct request *req, const PGresult *payin, const struct shk_invoice *inv,
                                     const char *first_block, PGresult **row)
{
	const char *id = PQgetvalue(payin, 0, PCOL_ID);
	char invoice_id[24], hours[24], url[400];
	json_object *meta = json_object_new_object(), *shk = json_object_new_object();
	enum db_status st;

	snprintf(invoice_id, sizeof(invoice_id), "%lld", inv->id);
	snprintf(hours, sizeof(hours), "%ld", inv->recalculate_after);
	if (shk_payment_uri(req->app->cfg, PQgetvalue(payin, 0, PCOL_NETWORK), PQgetvalue(payin, 0, PCOL_TOKEN),
	                    inv->wallet, inv->amount, url, sizeof(url)) != 0)
		url[0] = '\0';
	json_object_object_add(shk, "invoiceId", json_object_new_int64(inv->id));
	json_object_object_add(shk, "displayName", json_object_new_string(inv->display_name));
	json_object_object_add(shk, "recalculateAfterHours", json_object_new_int64(inv->recalculate_after));
	json_object_object_add(meta, "shkeeper", shk);
	const char *p[9] = { id, invoice_id, url[0] ? url : NULL, inv->wallet, inv->amount, inv->exchange_rate, hours,
	                     json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN), first_block[0] ? first_block : NULL };
	/* recalculate_after is when SHKeeper re-prices the invoice (0: never), not an expiry. */
	st = db_exec(req->app->db, row,
	             "UPDATE payments p SET provider_payment_id = $2, payment_url = $3, receiver_address = $4,"
	             " crypto_amount = $5::numeric, exchange_rate = $6::numeric,"
	             " recalculate_at = CASE WHEN $7::int > 0 THEN now() + make_interval(hours => $7::int) END,"
	             " metadata = p.metadata || $8::jsonb, upstream_lease_until = NULL, updated_at = now(),"
	             " deposit_from_block = $9::bigint"
	             " WHERE p.id = $1 AND p.status IN ('pending', 'processing') RETURNING " INTENT_COLUMNS, 9, p);
	if (st == DB_OK && PQntuples(*row) == 0) {
		/* Cancelled while SHKeeper was being asked: the invoice is not attached to a closed payment. */
		PQclear(*row);
		*row = NULL;
		st = DB_CHECK;
	}
	json_object_put(meta);
	return st;
}

static void release_lease(struct request *req, const char *id)
{
	const char *p[1] = { id };

	db_exec(req->app->db, NULL, "UPDATE payments SET upstream_lease_until = NULL WHERE id = $1", 1, p);
}

/*
 * SHKeeper answered with an invoice id another payment already holds: a
 * gateway whose database was reset or restored, or two gateways behind one
 * URL. The invoice is attached to neither (the unique index refused it), the
 * pay-in stays pending for a retry, and admins hear of it once per invoice.
 */
static void invoice_taken(struct request *req, struct response *resp, const char *id, long long invoice)
{
	char invoice_id[24];
	PGresult *other = NULL;

	snprintf(invoice_id, sizeof(invoice_id), "%lld", invoice);
	release_lease(req, id);
	const char *p[2] = { id, invoice_id };
	db_exec(req->app->db, &other,
	        "SELECT id FROM payments WHERE provider = 'shkeeper' AND provider_payment_id = $2 AND id <> $1::uuid",
	        2, p);
	const char *holder = other && PQntuples(other) ? PQgetvalue(other, 0, 0) : NULL;
	log_error("intent %s: SHKeeper gave invoice %s, which payment %s already holds", id, invoice_id,
	          holder ? holder : "?");
	struct review rv = {
		.kind = REVIEW_INVOICE_TAKEN, .payment_id = id, .status = "pending", .escrow = "unfunded",
		.reason = "SHKeeper answered with an invoice another payment already holds", .provider = "shkeeper",
		.invoice_id = invoice_id, .other_payment_id = holder,
	};
	if (db_begin(req->app->db) != DB_OK || review_write(req->app->db, &rv) != DB_OK ||
	    db_commit(req->app->db) != DB_OK) {
		db_rollback(req->app->db);
		log_error("intent %s: the review event was not written", id);
	}
	resp_header(resp, "Retry-After", "60");
	resp_error(resp, 502, "upstream_conflict", NULL,
	           "SHKeeper answered with invoice %s, which already belongs to another payment; the pending "
	           "payment %s is kept, nothing was attached, and the administrators have been told", invoice_id, id);
	PQclear(other);
}

/* Another worker is asking SHKeeper for this pay-in: wait for its answer. */
static enum db_status await_invoice(struct request *req, const char *id, PGresult **row)
{
	const char *p[1] = { id };
	/*
	 * Bounded well below SHKeeper's own timeout: each waiting request holds
	 * one of the pool's few workers, so a slow SHKeeper must not pile them up.
	 */
	long waited = 0, limit = req->app->cfg->shkeeper_timeout_ms + 2000L;
	if (limit > AWAIT_MAX_MS)
		limit = AWAIT_MAX_MS;
	enum db_status st = DB_OK;

	while (waited < limit) {
		usleep(100 * 1000);
		waited += 100;
		st = db_exec(req->app->db, row, "SELECT " INTENT_COLUMNS " FROM payments p WHERE p.id = $1", 1, p);
		if (st != DB_OK)
			return st;
		if (!PQgetisnull(*row, 0, PCOL_PROVIDER_ID) || strcmp(PQgetvalue(*row, 0, ICOL_LEASED), "t") != 0)
			return DB_OK;
		PQclear(*row);
		*row = NULL;
	}
	return DB_OK;
}

/* Does an existing pay-in ask for what this request asks? A repeat must not change the price. */
static bool same_intent(const PGresult *row, const struct intent *in)
{
	return strcmp(PQgetvalue(row, 0, PCOL_AMOUNT), in->amount) == 0 &&
	       strcmp(PQgetvalue(row, 0, ICOL_CRYPTO), in->crypto) == 0 &&
	       (PQgetisnull(row, 0, PCOL_OFFER) || strcmp(PQgetvalue(row, 0, PCOL_OFFER), in->offer) == 0);
}

static int parse_intent(struct request *req, struct response *resp, json_object *body,
                        struct intent *in)
{
	struct jval v[I_N];
	const struct currency_conf *usd = config_currency(req->app->cfg, "USD");
	enum money_err e;

	memset(in, 0, sizeof(*in));
	if (jin_check(intent_fields, I_N, body, NULL, v, resp) != 0)
		return -1;
	in->buyer = req->auth.sub;
	in->request = v[I_REQUEST].str;
	in->offer = v[I_OFFER].present ? v[I_OFFER].str : NULL;
	in->seller = v[I_SELLER].present ? v[I_SELLER].str : NULL;
	in->network = v[I_NETWORK].present ? v[I_NETWORK].str : "bsc";
	in->token = v[I_TOKEN].present ? v[I_TOKEN].str : "USDT";
	in->template_checkout = is_template(in->request);
	in->has_amount = v[I_AMOUNT].present;
	if (!in->template_checkout) {
		/* A marketplace pay-in names what it pays for; the request and offer are checked next. */
		static const int named[] = { I_OFFER, I_SELLER, I_AMOUNT };
		for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
			if (!v[named[i]].present) {
				resp_error(resp, 400, "invalid_field", intent_fields[named[i]].name, "%s is required",
				           intent_fields[named[i]].name);
				return -1;
			}
	}
	if (in->has_amount && (e = money_from_json(v[I_AMOUNT].obj, usd ? usd->scale : 2, in->amount)) != MONEY_OK) {
		resp_error(resp, 400, "invalid_field", "amount", "amount %s (USD allows %d decimals)",
		           money_strerror(e), usd ? usd->scale : 2);
		return -1;
	}
	if (!config_has_network(req->app->cfg, in->network)) {
		resp_error(resp, 400, "invalid_field", "network", "network %s is not accepted", in->network);
		return -1;
	}
	if ((in->tok = config_token(req->app->cfg, in->network, in->token)) == NULL ||
	    shk_crypto_name(in->network, in->token, in->crypto) != 0) {
		resp_error(resp, 400, "invalid_field", "token", "token %s is not accepted on %s", in->token,
		           in->network);
		return -1;
	}
	if (v[I_META].present)
		in->metadata = json_object_to_json_string_ext(v[I_META].obj, JSON_C_TO_STRING_PLAIN);
	return 0;
}

void h_shkeeper_intent(struct request *req, struct response *resp)
{
	struct intent in;
	json_object *body = jin_body(req, resp);
	PGresult *row = NULL, *done = NULL;
	enum claim who;
	enum db_status st;
	bool created;

	if (body == NULL)
		return;
	/* After this point, all errors should use goto out. */
	if (parse_intent(req, resp, body, &in) != 0)
		goto out;
	if (!in.template_checkout && check_marketplace(req, resp, &in) != 0)
		goto out;
	if (in.template_checkout && template_terms(req, resp, &in) != 0)
		goto out;
	if (in.template_checkout && (st = retire_stale_template(req, &in)) != DB_OK)
		goto dberr;
	if ((st = claim(req, &in, &who, &row, &created)) != DB_OK) {
		if (st == DB_UNIQUE)
			resp_error(resp, 409, "payment_exists", NULL, "another pay-in for this request is active; retry");
		else
			resp_db_error(resp, st);
		goto out;
	}
	if (who == CLAIM_BUSY) {
		char id[40];
		snprintf(id, sizeof(id), "%s", PQgetvalue(row, 0, PCOL_ID));
		PQclear(row);
		row = NULL;
		if ((st = await_invoice(req, id, &row)) != DB_OK)
			goto dberr;
		if (row == NULL || PQgetisnull(row, 0, PCOL_PROVIDER_ID)) {
			resp_header(resp, "Retry-After", "2");
			resp_error(resp, 503, "upstream_unavailable", NULL,
			           "SHKeeper has not answered for this payment yet; retry shortly");
			goto out;
		}
		who = CLAIM_READY;
	}
	if (!created && !same_intent(row, &in)) {
		resp_error(resp, 409, "payment_exists", NULL,
		           "payment %s for this request asks %s %s in %s; cancel it before asking for another",
		           PQgetvalue(row, 0, PCOL_ID), PQgetvalue(row, 0, PCOL_AMOUNT), PQgetvalue(row, 0, PCOL_CURRENCY),
		           PQgetvalue(row, 0, ICOL_CRYPTO));
		if (who == CLAIM_MINE)
			release_lease(req, PQgetvalue(row, 0, PCOL_ID));
		goto out;
	}
	if (who == CLAIM_MINE) {
		struct shk_invoice inv;
		char msg[300], first_block[24] = "";
		uint64_t first;
		int retry;
		/* Before the deposit address exists: no transfer to it can be in an older block. */
		if (shk_first_block(req->app->cfg, PQgetvalue(row, 0, PCOL_NETWORK), &first) == 0)
			snprintf(first_block, sizeof(first_block), "%" PRIu64, first);
		/* The stored pay-in is what SHKeeper is asked for, whatever this request said. */
		enum shk_err e = shk_create_invoice(req->app->cfg, PQgetvalue(row, 0, ICOL_CRYPTO),
		                                    PQgetvalue(row, 0, PCOL_EXTERNAL_ID), PQgetvalue(row, 0, PCOL_AMOUNT),
		                                    &inv, msg, sizeof(msg), &retry);
		if (e == SHK_OK && !valid_address(inv.wallet)) {
			e = SHK_REFUSED;
			snprintf(msg, sizeof(msg), "SHKeeper gave a deposit address that is not an EVM address");
		}
		if (e != SHK_OK) {
			release_lease(req, PQgetvalue(row, 0, PCOL_ID));
			log_warn("intent %s: %s", PQgetvalue(row, 0, PCOL_ID), msg);
			resp_header(resp, "Retry-After", "%d", retry);
			resp_error(resp, e == SHK_UNAVAILABLE ? 503 : 502, "upstream_unavailable", NULL,
			           "%s; the pending payment %s is kept and a retry reuses it", msg,
			           PQgetvalue(row, 0, PCOL_ID));
			goto out;
		}
		st = record_invoice(req, row, &inv, first_block, &done);
		if (st == DB_UNIQUE && strcmp(req->app->db->constraint, "payments_provider_id") == 0) {
			invoice_taken(req, resp, PQgetvalue(row, 0, PCOL_ID), inv.id);
			goto out;
		}
		if (st == DB_CHECK) {
			resp_error(resp, 409, "payment_closed", NULL, "payment %s was closed while SHKeeper was asked; start again",
			           PQgetvalue(row, 0, PCOL_ID));
			goto out;
		}
		if (st != DB_OK)
			goto dberr;
		PQclear(row);
		row = done;
		log_info("intent %s: SHKeeper invoice %lld", PQgetvalue(row, 0, PCOL_ID), inv.id);
	}
	resp_ok(resp, created ? 201 : 200, intent_json(req->app->cfg, row), created ? "payment intent created" : "existing payment intent");
	goto out;
dberr:
	resp_db_error(resp, st);
out:
	PQclear(row);
	json_object_put(body);
}
