/* payout_answer: what the payout endpoints share: the pay-in a payout is for, and how they answer
 * (release.c, admin_payouts.c, hot_wallet.c, provider_payout.c). */
#ifndef PAY_PAYOUT_ANSWER_H
#define PAY_PAYOUT_ANSWER_H

#include <libpq-fe.h>

#include "flow/outgoing.h"
#include "http/req.h"
#include "http/resp.h"
#include "pay/payout.h"

/*
 * The pay-in a payout of `kind` is for (PAYMENT_COLUMNS; the caller PQclear()s):
 * payment_id when given (the caller's to see, and of request_id when that is
 * given too), else request_id's pay-in with such a payout open, else its funded
 * one. NULL with the answer written: 404, 409 request_mismatch, not_funded or
 * ambiguous (more than one), 400 when neither id is given, or the database's.
 */
PGresult *payout_payin(struct request *req, struct response *resp, const char *request_id, const char *payment_id,
                       const char *kind);

/*
 * The answer to opening a payout with `provider`: 201 with the new payout and
 * its unsigned transaction, 200 with the one already active (409 when it is
 * another provider's), 409 when a precondition fails, 404, or the database's.
 */
void payout_answer_opened(struct response *resp, enum payout_result r, const PGresult *row,
                          const struct payout_refusal *why, enum db_status st, const char *provider,
                          const char *payin_id);

/* The answer to a confirmation: 200, 202, 422 (field named), 409, 502/503, or the database's. */
void payout_answer_outcome(struct response *resp, const struct outgoing_outcome *o, const char *field);

/* {payout, transaction} of an admin_wallet payout row: the transaction it was opened with. */
json_object *payout_with_transaction(const PGresult *row);

#endif
