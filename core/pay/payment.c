#include "pay/payment.h"

#include <stdlib.h>
#include <string.h>

#include "base/jstr.h"
#include "base/money.h"

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

static json_object *text_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : json_object_new_string(PQgetvalue(res, row, col));
}

static json_object *decimal_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : json_decimal(PQgetvalue(res, row, col));
}

json_object *payment_json(const PGresult *res, int row)
{
	json_object *o = json_object_new_object(), *amount = json_object_new_object(),
	            *chain = json_object_new_object();

	json_object_object_add(o, "id", text_or_null(res, row, 0));
	json_object_object_add(o, "direction", text_or_null(res, row, 1));
	json_object_object_add(o, "provider", text_or_null(res, row, 2));
	json_object_object_add(o, "status", text_or_null(res, row, 3));
	json_object_object_add(o, "escrowState", text_or_null(res, row, 4));
	json_object_object_add(o, "purchaseRequestId", text_or_null(res, row, 5));
	json_object_object_add(o, "sellerOfferId", text_or_null(res, row, 6));
	json_object_object_add(o, "buyerId", text_or_null(res, row, 7));
	json_object_object_add(o, "sellerId", text_or_null(res, row, 8));
	json_object_object_add(amount, "amount", decimal_or_null(res, row, 9));
	json_object_object_add(amount, "currency", text_or_null(res, row, 10));
	json_object_object_add(o, "amount", amount);
	json_object_object_add(chain, "network", text_or_null(res, row, 11));
	json_object_object_add(chain, "token", text_or_null(res, row, 12));
	json_object_object_add(chain, "tokenContract", text_or_null(res, row, 13));
	json_object_object_add(o, "blockchain", chain);
	json_object_object_add(o, "receiverAddress", text_or_null(res, row, 14));
	json_object_object_add(o, "senderAddress", text_or_null(res, row, 15));
	json_object_object_add(o, "transactionHash", text_or_null(res, row, 16));
	json_object_object_add(o, "confirmations", json_object_new_int(atoi(PQgetvalue(res, row, 17))));
	json_object_object_add(o, "providerPaymentId", text_or_null(res, row, 18));
	json_object_object_add(o, "externalId", text_or_null(res, row, 19));
	/* A link that pays it, only while it takes payment: never one that pays a finished payment again. */
	bool payable = strcmp(PQgetvalue(res, row, 3), "pending") == 0 || strcmp(PQgetvalue(res, row, 3), "processing") == 0;
	json_object_object_add(o, "paymentUrl", payable ? text_or_null(res, row, 20) : NULL);
	json_object_object_add(o, "cryptoAmount", decimal_or_null(res, row, 21));
	json_object_object_add(o, "exchangeRate", decimal_or_null(res, row, 22));
	json_object_object_add(o, "expiresAt", text_or_null(res, row, 23));
	/* As the database holds it: json-c would clamp an integer the jsonb column keeps exactly. */
	json_object_object_add(o, "metadata", jstr_verbatim(PQgetvalue(res, row, 24)));
	json_object_object_add(o, "createdBy", text_or_null(res, row, 25));
	json_object_object_add(o, "createdAt", text_or_null(res, row, 26));
	json_object_object_add(o, "updatedAt", text_or_null(res, row, 27));
	json_object_object_add(o, "completedAt", text_or_null(res, row, 28));
	return o;
}
