/* shk_onchain: SHKeeper's word that an invoice is paid, held to SHKeeper's own rule.
 *
 * SHKeeper adds its fee to the crypto amount it asks for, but calls an
 * invoice PAID in fiat, on the price without the fee: once the deposits are
 * worth llimit % (95 by default) of the price at the invoice's exchange rate.
 * In token base units that is price × llimit / 100 ÷ rate, rounded up
 * (shk_paid_threshold); with the default 2 % fee it is about 93.1 % of the
 * invoice's `amount`. Only transfers of the invoice's own token to its
 * deposit address count: a stray token sent to the same address is in
 * SHKeeper's fiat balance, never in ours.
 *
 * Where the check on the chain is on (shkeeper_verify_on_chain), every listed
 * transaction of the invoice's token must be final and pay the deposit
 * address, and together they must reach the threshold. Where it is off, the
 * callback's own figures must still add up: its fiat balance against the
 * price at llimit, and its transactions of the invoice's token against the
 * threshold. Either way a PAID that does not add up is refuted, not applied.
 */
#ifndef PAY_SHK_ONCHAIN_H
#define PAY_SHK_ONCHAIN_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <libpq-fe.h>
#include <openssl/bn.h>

#include "base/config.h"
#include "evm/verify.h"

enum onchain {
	ONCHAIN_CONFIRMED,      /* the chain agrees */
	ONCHAIN_UNCHECKED,      /* checking is turned off; the callback's own figures add up */
	ONCHAIN_NOT_FINAL,      /* seen, not final yet: ask SHKeeper to deliver again later */
	ONCHAIN_UNAVAILABLE,    /* the chain cannot be asked (down, or no RPC configured): likewise */
	ONCHAIN_REFUTED,        /* the chain (or the callback's own figures) says otherwise: not acted on */
};

/*
 * `pay` is a row of PAYMENT_COLUMNS followed by crypto_name (column
 * crypto_col). msg says what was found, for the inbox and the log.
 */
enum onchain shk_check_on_chain(const struct config *cfg, json_object *callback, const PGresult *pay,
                                int crypto_col, char *msg, size_t msglen);

/*
 * The least the deposits must total, in the token's base units, for SHKeeper
 * to call an invoice of `price` (fiat, without the fee) PAID at `rate` (fiat
 * per token) and `llimit` percent: ceil(price × llimit / 100 / rate × 10^decimals).
 * All three are decimal text. Returns 0, or -1 for text that is not a
 * non-negative decimal, or a zero rate.
 */
int shk_paid_threshold(const char *price, const char *rate, const char *llimit, unsigned decimals, BIGNUM *out);

/*
 * The threshold for a SHKeeper pay-in (a PAYMENT_COLUMNS row): its price,
 * its stored exchange rate, the configured llimit and its token's decimals.
 * Returns 0 (with *tok set), or -1 with msg when the row has no invoice to
 * judge against or its token is not configured.
 */
int shk_payment_threshold(const struct config *cfg, const PGresult *pay, BIGNUM *out,
                          const struct token_conf **tok, char *msg, size_t msglen);

/*
 * confirm-transaction: the buyer's transaction (vr, verified CONFIRMED
 * against the deposit address with no minimum) and every other final
 * transfer of the invoice's token from the same wallet to the deposit
 * address, summed against the threshold. ONCHAIN_CONFIRMED when they reach
 * it, ONCHAIN_REFUTED when they do not, ONCHAIN_UNAVAILABLE when the chain
 * cannot be searched now (*retry_after set). msg says what was found.
 */
enum onchain shk_confirm_total(const struct config *cfg, const PGresult *pay, const char *tx_hash,
                               const struct verify_result *vr, char *msg, size_t msglen, int *retry_after);

/*
 * An invoice's crypto amount as the token can hold it: SHKeeper prints up to
 * ten decimals, a 6-decimal token holds six, so the rest is cut (the buyer is
 * never asked for more than the invoice). Returns 0, or -1 if it does not fit.
 */
int shk_invoice_amount(const char *crypto_amount, unsigned decimals, char *out, size_t outlen);

/*
 * The link that pays an invoice: an EIP-681 token transfer,
 * ethereum:<token>@<chainId>/transfer?address=<deposit>&uint256=<base units>,
 * which wallets open and QR codes carry (SHKeeper has no invoice page).
 * Returns 0, or -1 when the token is not configured, the network has no
 * chain_id.<network> (a link must not send a wallet to a chain guessed at)
 * or the amount is unusable. A caller shows a link only while its payment
 * still takes payment (pending or processing).
 */
int shk_payment_uri(const struct config *cfg, const char *network, const char *token, const char *deposit,
                    const char *crypto_amount, char *out, size_t outlen);

/*
 * Networks SHKeeper pay-ins are taken on (a token is configured) that the
 * on-chain check cannot reach (no rpc.<network>) while the check is on:
 * every PAID there is held, so nothing on them is ever funded. Fills up to
 * max names, returns how many there are.
 */
size_t shk_unverifiable_networks(const struct config *cfg, const char **out, size_t max);

/*
 * Says so loudly (log_error), once per such network; for start-up and
 * reload. Also warns of a network taking pay-ins without chain_id.<network>:
 * its payment links are null.
 */
void shk_warn_unverifiable(const struct config *cfg);

/*
 * {"configured", "verifyOnChain", "llimit", "unverifiableNetworks": […]} for
 * /health (the caller owns it); what a person must fix is appended to the
 * `warnings` array as sentences.
 */
json_object *shk_status_json(const struct config *cfg, json_object *warnings);

#endif
