/* shk_onchain: SHKeeper's word that an invoice is paid, held to SHKeeper's own rule.
 *
 * SHKeeper adds its fee to the crypto amount it asks for, but calls an
 * invoice PAID in fiat, on the price without the fee: once the deposits are
 * worth llimit % (95 by default; shkeeper_llimit, or shkeeper_llimit.<CRYPTO>
 * for one crypto) of the price. At the invoice's exchange rate that is, in
 * token base units, price × llimit / 100 ÷ rate, rounded up
 * (shk_paid_threshold); with the default 2 % fee it is about 93.1 % of the
 * invoice's `amount`. Only transfers of the invoice's own token to its
 * deposit address count: a stray token sent to the same address is in
 * SHKeeper's fiat balance, never in ours.
 *
 * SHKeeper may re-price an invoice: from recalculate_after hours after its
 * creation, each transaction that arrives makes SHKeeper price the invoice
 * again at the current rate and value that transaction at it. From then on
 * (SHK_REPRICED_SQL) a transfer is worth what the chain shows at the rate its
 * callback entry implies (amount_fiat / amount_crypto), and the fiat sum is
 * held against the price at llimit (struct shk_worth).
 *
 * Where the check on the chain is on (shkeeper_verify_on_chain), the listed
 * transactions of the invoice's token are checked on the chain (within a time
 * budget): each must pay the deposit address, and the final ones together
 * must reach the threshold; one not final yet only matters when the final
 * ones fall short. Where it is off, the callback's own figures must still add
 * up: its fiat balance against the price at llimit, and its transactions of
 * the invoice's token against the threshold. Either way a PAID that does not
 * add up is refuted, not applied.
 *
 * Layer: flow (evm, shkeeper and pay below it). Interface: the checks
 * (shk_check_on_chain for a callback, shk_confirm_total for the buyer's
 * confirm-transaction), the arithmetic they share (shk_paid_threshold,
 * shk_worth_*), the payment link (shk_payment_uri) and what start-up and
 * /health say of the settings.
 */
#ifndef PAY_SHK_ONCHAIN_H
#define PAY_SHK_ONCHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>
#include <libpq-fe.h>
#include <openssl/bn.h>

#include "base/config.h"
#include "evm/verify.h"

enum onchain {
	ONCHAIN_CONFIRMED,      /* the chain agrees */
	ONCHAIN_UNCHECKED,      /* checking is turned off; the callback's own figures add up */
	ONCHAIN_NOT_FINAL,      /* seen, not final yet: ask SHKeeper to deliver again later */
	ONCHAIN_UNAVAILABLE,    /* the chain cannot be asked (down, no RPC configured, out of time): likewise */
	ONCHAIN_REFUTED,        /* the chain (or the callback's own figures) says otherwise: not acted on */
	ONCHAIN_NOT_VERIFIABLE, /* confirm-transaction only: this service cannot judge it as configured */
};

/*
 * Has SHKeeper possibly re-priced the invoice by now? A boolean SQL
 * expression on the payment row `p`. The margin covers the time between
 * SHKeeper's creating the invoice and our recording recalculate_at, and the
 * two clocks' difference: valuing a transfer at its entry's rate a little
 * early changes nothing, since before re-pricing that is the invoice's rate.
 */
#define SHK_RECALC_MARGIN "10 minutes"
#define SHK_REPRICED_SQL \
	"(p.recalculate_at IS NOT NULL AND p.recalculate_at <= now() + interval '" SHK_RECALC_MARGIN "')"

/* What shk_check_on_chain reads after PAYMENT_COLUMNS, from its column `col` on. */
#define SHK_CHECK_COLUMNS "p.crypto_name, " SHK_REPRICED_SQL

/*
 * A callback's PAID held to SHKeeper's rule. `pay` is a row of
 * PAYMENT_COLUMNS followed by SHK_CHECK_COLUMNS at column `col`. The
 * receipts are asked for one by one until `deadline`; what is left unasked
 * then only matters if the rest falls short (ONCHAIN_UNAVAILABLE: deliver
 * again). tx_hash gets the transaction to record: where checked, the trigger
 * when the chain confirmed it, else the newest listed one it confirmed; where
 * not checked, the callback's own; "" for none. msg says what was found, for
 * the inbox and the log.
 */
enum onchain shk_check_on_chain(const struct config *cfg, json_object *callback, const PGresult *pay, int col,
                                time_t deadline, char tx_hash[67], char *msg, size_t msglen);

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
 * its stored exchange rate, the llimit of its crypto and its token's
 * decimals. Returns 0 (with *tok and *llimit set), or -1 with msg when the
 * row has no invoice to judge against or its token is not configured.
 */
int shk_payment_threshold(const struct config *cfg, const PGresult *pay, BIGNUM *out,
                          const struct token_conf **tok, const char **llimit, char *msg, size_t msglen);

/*
 * What the invoice's own transfers are worth to SHKeeper. Not re-priced:
 * each at the invoice's rate, so their sum in base units against `need`
 * decides. Re-priced: each transfer's amount times the rate its callback
 * entry implies (amount_fiat / amount_crypto), an exact fraction num / den of
 * fiat, against price × llimit / 100. shk_worth_init() borrows need, price
 * and llimit for the struct's life; the BIGNUMs it makes are its own
 * (shk_worth_free).
 */
struct shk_worth {
	bool repriced;
	unsigned decimals;
	const BIGNUM *need;
	const char *price, *llimit;
	BIGNUM *units, *num, *den;
	size_t counted;
};

int shk_worth_init(struct shk_worth *w, bool repriced, unsigned decimals, const BIGNUM *need, const char *price,
                   const char *llimit);
/* Adds a transfer of `amount` base units listed as `entry` (its callback entry; read only when re-priced). 0 or -1. */
int shk_worth_add(struct shk_worth *w, json_object *entry, const BIGNUM *amount);
bool shk_worth_reaches(const struct shk_worth *w);
/* "<what> total 9.1 USDT; SHKeeper's PAID needs …", in tokens or, re-priced, in fiat too. */
void shk_worth_describe(const struct shk_worth *w, const char *what, const char *token, const char *fiat,
                        const char *rate, char *msg, size_t msglen);
void shk_worth_free(struct shk_worth *w);

/*
 * confirm-transaction: the buyer's transaction (vr, verified CONFIRMED
 * against the deposit address with no minimum) and the buyer's other
 * transfers of the invoice's token to the deposit address since the pay-in's
 * first block (from_block; -1 when not known: then the last
 * SHK_SUM_FALLBACK_BLOCKS), summed against the threshold. Each transfer
 * counts once (by transaction and log index), final ones only.
 * ONCHAIN_CONFIRMED when they reach it; ONCHAIN_NOT_FINAL when transfers not
 * final yet would make up the rest; ONCHAIN_REFUTED when they do not reach
 * it; ONCHAIN_UNAVAILABLE when the chain cannot be searched now or the
 * search ran out of time (*retry_after set); ONCHAIN_NOT_VERIFIABLE when the
 * payment cannot be judged here (token, network or rate not configured, or
 * its first block not known and the search back short). Never for an invoice
 * SHKeeper may have re-priced: the caller defers that to SHKeeper. msg says
 * what was found.
 */
#define SHK_SUM_FALLBACK_BLOCKS 100000
enum onchain shk_confirm_total(const struct config *cfg, const PGresult *pay, int64_t from_block, const char *tx_hash,
                               const struct verify_result *vr, char *msg, size_t msglen, int *retry_after);

/*
 * The first block a new invoice's deposits can be in: the chain's head less
 * its confirmation depth. Asked just before SHKeeper makes the invoice.
 * Returns 0, or -1 when the chain cannot be asked (the pay-in then has none).
 */
int shk_first_block(const struct config *cfg, const char *network, uint64_t *out);

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
 * reload. Also warns of settings that do nothing: a network taking pay-ins
 * without chain_id.<network> (its payment links are null), and a
 * shkeeper_llimit.<CRYPTO> no configured token is paid in.
 */
void shk_warn_unverifiable(const struct config *cfg);

/*
 * {"configured", "verifyOnChain", "llimit", "llimitByCrypto": {…},
 * "unverifiableNetworks": […]} for /health (the caller owns it); what a
 * person must fix is appended to the `warnings` array as sentences.
 */
json_object *shk_status_json(const struct config *cfg, json_object *warnings);

#endif
