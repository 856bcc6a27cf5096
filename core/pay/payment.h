/* payment: what a payment is: its states, the moves between them, and how a row
 * reads as JSON. States only move forward; see payment_status_allows().
 */
#ifndef PAY_PAYMENT_H
#define PAY_PAYMENT_H

#include <stdbool.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "base/buf.h"

/* The columns every payment query selects, in the order payment_write() reads them. */
#define PAYMENT_COLUMNS \
	"p.id, p.direction, p.provider, p.status, p.escrow_state, p.purchase_request_id, " \
	"p.seller_offer_id, p.buyer_id, p.seller_id, p.amount::text, p.currency, p.network, " \
	"p.token, p.token_contract, p.receiver_address, p.sender_address, p.tx_hash, " \
	"p.confirmations, p.provider_payment_id, p.external_id, p.payment_url, " \
	"p.crypto_amount::text, p.exchange_rate::text, " PAYMENT_TS("p.expires_at") ", " \
	"p.metadata::text, p.created_by, " PAYMENT_TS("p.created_at") ", " \
	PAYMENT_TS("p.updated_at") ", " PAYMENT_TS("p.completed_at")

/* An id no payment has, for "any payment but this one" when there is no "this one". */
#define PAYMENT_ID_NONE "00000000-0000-0000-0000-000000000000"

#define PAYMENT_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

extern const char *const payment_statuses[];   /* NULL-terminated */

bool payment_status_valid(const char *status);
/* Failed or cancelled: the payment moves no more, and money that reaches it is a person's to place. */
bool payment_status_closed(const char *status);
/* May a payment move from status `from` to `to`? Equal states are not a move. */
bool payment_status_allows(const char *from, const char *to);
/* The escrow state that goes with a status set by an admin or a provider. */
const char *payment_escrow_for(const char *status, const char *current_escrow);
bool payment_escrow_allows(const char *from, const char *to);
/*
 * payment_escrow_allows(), and the moves only an outgoing payment makes: a
 * partly paid pay-in's money going back (partial -> refunding -> refunded),
 * and the escrow handed back when a payout fails (releasing, refunding or
 * on_hold -> funded, refunding -> partial).
 */
bool payment_escrow_allows_payout(const char *from, const char *to);

/*
 * The row as the API shows it, written into b (base/jw.h): the one place a
 * payment's JSON is made. payment_write() writes the object;
 * payment_write_members() only its members, for a caller that adds its own
 * after them (payout_write()) and closes the object itself.
 */
void payment_write(struct buf *b, const PGresult *res, int row);
void payment_write_members(struct buf *b, const PGresult *res, int row);
/*
 * payment_write()'s bytes as a json-c value, for an answer built as a tree
 * (it serialises as those bytes; it is not an object to add members to).
 * The caller owns the result.
 */
json_object *payment_json(const PGresult *res, int row);
/* Column index of buyer_id / seller_id / purchase_request_id in PAYMENT_COLUMNS. */
enum { PCOL_ID = 0, PCOL_DIRECTION = 1, PCOL_PROVIDER = 2, PCOL_STATUS = 3, PCOL_ESCROW = 4, PCOL_REQUEST = 5, PCOL_BUYER = 7,
       PCOL_OFFER = 6, PCOL_SELLER = 8, PCOL_AMOUNT = 9, PCOL_CURRENCY = 10,
       PCOL_NETWORK = 11, PCOL_TOKEN = 12, PCOL_CONTRACT = 13, PCOL_RECEIVER = 14, PCOL_SENDER = 15, PCOL_TX = 16, PCOL_CONFIRMATIONS = 17, PCOL_PROVIDER_ID = 18,
       PCOL_EXTERNAL_ID = 19, PCOL_PAYMENT_URL = 20, PCOL_CRYPTO_AMOUNT = 21, PCOL_RATE = 22,
       PCOL_EXPIRES = 23, PCOL_METADATA = 24, PCOL_CREATED = 26 };

#endif
