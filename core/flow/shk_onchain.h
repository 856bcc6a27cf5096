/* shk_onchain: SHKeeper's word that an invoice is paid, checked on the chain before the
 * escrow counts as funded: every transaction the callback lists in the
 * invoice's crypto must be final and pay the invoice's deposit address, and
 * together they must reach what SHKeeper itself calls paid (95 % of the
 * invoice's crypto amount).
 */
#ifndef PAY_SHK_ONCHAIN_H
#define PAY_SHK_ONCHAIN_H

#include <stddef.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "base/config.h"

enum onchain {
	ONCHAIN_CONFIRMED,      /* the chain agrees */
	ONCHAIN_UNCHECKED,      /* checking is turned off: SHKeeper's signed word stands */
	ONCHAIN_NOT_FINAL,      /* seen, not final yet: ask SHKeeper to deliver again later */
	ONCHAIN_UNAVAILABLE,    /* the chain cannot be asked (down, or no RPC configured): likewise */
	ONCHAIN_REFUTED,        /* the chain says otherwise: the callback is not acted on */
};

/*
 * `pay` is a row of PAYMENT_COLUMNS followed by crypto_name (column
 * crypto_col). msg says what was found, for the inbox and the log.
 */
enum onchain shk_check_on_chain(const struct config *cfg, json_object *callback, const PGresult *pay,
                                int crypto_col, char *msg, size_t msglen);

/*
 * An invoice's crypto amount as the token can hold it: SHKeeper prints up to
 * ten decimals, a 6-decimal token holds six, so the rest is cut (the buyer is
 * never asked for more than the invoice). Returns 0, or -1 if it does not fit.
 */
int shk_invoice_amount(const char *crypto_amount, unsigned decimals, char *out, size_t outlen);

#endif
