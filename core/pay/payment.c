#include "pay/payment.h"

#include <stdlib.h>
#include <string.h>

#include "base/jstr.h"
#include "base/jw.h"

const char *const payment_statuses[] = {
	"pending", "processing", "completed", "failed", "cancelled", "released", "refunded", NULL,
};

bool payment_status_valid(const char *status)
{
	for (const char *const *s = payment_statuses; *s; s++)
		if (strcmp(*s, status) == 0)
			return true;
	return false;
}

bool payment_status_closed(const char *status)
{
	return strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0;
}

/* Each state and where it may go next; anything not listed is a move backwards. */
static const struct { const char *from, *to; } status_moves[] = {
	{ "pending", "processing" }, { "pending", "completed" }, { "pending", "failed" },
	{ "pending", "cancelled" }, { "processing", "completed" }, { "processing", "failed" },
	{ "processing", "cancelled" }, { "completed", "released" }, { "completed", "refunded" },
};

static const struct { const char *from, *to; } escrow_moves[] = {
	{ "unfunded", "partial" }, { "unfunded", "funded" }, { "partial", "funded" },
	{ "funded", "releasing" }, { "funded", "released" }, { "releasing", "released" },
	{ "funded", "refunding" }, { "funded", "refunded" }, { "refunding", "refunded" },
	{ "funded", "on_hold" }, { "on_hold", "releasing" }, { "on_hold", "released" },
	{ "on_hold", "refunding" }, { "on_hold", "refunded" },
	{ "releasing", "on_hold" }, { "refunding", "on_hold" },
};

bool payment_status_allows(const char *from, const char *to)
{
	for (size_t i = 0; i < sizeof(status_moves) / sizeof(status_moves[0]); i++)
		if (strcmp(status_moves[i].from, from) == 0 && strcmp(status_moves[i].to, to) == 0)
			return true;
	return false;
}

bool payment_escrow_allows(const char *from, const char *to)
{
	for (size_t i = 0; i < sizeof(escrow_moves) / sizeof(escrow_moves[0]); i++)
		if (strcmp(escrow_moves[i].from, from) == 0 && strcmp(escrow_moves[i].to, to) == 0)
			return true;
	return false;
}

static const struct { const char *from, *to; } payout_escrow_moves[] = {
	{ "partial", "refunding" }, { "releasing", "funded" }, { "refunding", "funded" },
	{ "refunding", "partial" },
	/* A payout the provider held, then gave up: the escrow is handed back. */
	{ "on_hold", "funded" },
};

bool payment_escrow_allows_payout(const char *from, const char *to)
{
	for (size_t i = 0; i < sizeof(payout_escrow_moves) / sizeof(payout_escrow_moves[0]); i++)
		if (strcmp(payout_escrow_moves[i].from, from) == 0 && strcmp(payout_escrow_moves[i].to, to) == 0)
			return true;
	return payment_escrow_allows(from, to);
}

const char *payment_escrow_for(const char *status, const char *current)
{
	if (strcmp(status, "completed") == 0)
		return "funded";
	if (strcmp(status, "released") == 0)
		return "released";
	if (strcmp(status, "refunded") == 0)
		return "refunded";
	return current;
}

/* A text column as a JSON string, or null. */
static void text_col(struct buf *b, const PGresult *res, int row, int col, const char *name)
{
	jw_key(b, name, false);
	jw_str_or_null(b, PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col));
}

/* A numeric column's exact digits, unquoted, and the same as a string (<name>Decimal), or
 * both null: never through a double. */
static void decimal_col(struct buf *b, const PGresult *res, int row, int col, const char *name, bool first)
{
	jw_amount(b, name, PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col), first);
}

void payment_write_members(struct buf *b, const PGresult *res, int row)
{
	jw_key(b, "id", true);
	jw_str_or_null(b, PQgetisnull(res, row, 0) ? NULL : PQgetvalue(res, row, 0));
	text_col(b, res, row, 1, "direction");
	text_col(b, res, row, 2, "provider");
	text_col(b, res, row, 3, "status");
	text_col(b, res, row, 4, "escrowState");
	text_col(b, res, row, 5, "purchaseRequestId");
	text_col(b, res, row, 6, "sellerOfferId");
	text_col(b, res, row, 7, "buyerId");
	text_col(b, res, row, 8, "sellerId");
	jw_key(b, "amount", false);
	buf_putc(b, '{');
	decimal_col(b, res, row, 9, "amount", true);
	text_col(b, res, row, 10, "currency");
	buf_putc(b, '}');
	jw_key(b, "blockchain", false);
	buf_putc(b, '{');
	jw_key(b, "network", true);
	jw_str_or_null(b, PQgetisnull(res, row, 11) ? NULL : PQgetvalue(res, row, 11));
	text_col(b, res, row, 12, "token");
	text_col(b, res, row, 13, "tokenContract");
	buf_putc(b, '}');
	text_col(b, res, row, 14, "receiverAddress");
	text_col(b, res, row, 15, "senderAddress");
	text_col(b, res, row, 16, "transactionHash");
	jw_key(b, "confirmations", false);
	jw_int(b, atoi(PQgetvalue(res, row, 17)));
	text_col(b, res, row, 18, "providerPaymentId");
	text_col(b, res, row, 19, "externalId");
	/* A link that pays it, only while it takes payment: never one that pays a finished payment again. */
	bool payable = strcmp(PQgetvalue(res, row, 3), "pending") == 0 || strcmp(PQgetvalue(res, row, 3), "processing") == 0;
	jw_key(b, "paymentUrl", false);
	jw_str_or_null(b, payable && !PQgetisnull(res, row, 20) ? PQgetvalue(res, row, 20) : NULL);
	decimal_col(b, res, row, 21, "cryptoAmount", false);
	decimal_col(b, res, row, 22, "exchangeRate", false);
	text_col(b, res, row, 23, "expiresAt");
	/* As the database holds it: a parser would clamp an integer the jsonb column keeps exactly. */
	jw_key(b, "metadata", false);
	jw_raw(b, PQgetvalue(res, row, 24));
	text_col(b, res, row, 25, "createdBy");
	text_col(b, res, row, 26, "createdAt");
	text_col(b, res, row, 27, "updatedAt");
	text_col(b, res, row, 28, "completedAt");
}

void payment_write(struct buf *b, const PGresult *res, int row)
{
	buf_putc(b, '{');
	payment_write_members(b, res, row);
	buf_putc(b, '}');
}

json_object *payment_json(const PGresult *res, int row)
{
	struct buf b = BUF_INIT;
	json_object *o;

	payment_write(&b, res, row);
	o = jstr_verbatim(b.data);
	buf_free(&b);
	return o;
}
