/*
 * Payouts decided from an earlier read, against a real PostgreSQL (needs
 * TEST_DATABASE_URL: tests/e2e runs it).
 *
 * - Two requests take one hot-wallet payout forward; the first signs and
 *   commits it, the second, which read it still pending, then finds the fee
 *   over the cap or the transfer reverting. Its failure (if_pending) must be
 *   refused under the lock, or the escrow is funded again while the signed
 *   transfer goes out.
 * - A provider's call refused, its payout failed, and a second request that
 *   read it pending takes the call's lease: it must not get it, or it sends
 *   a payout the books have closed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/db.h"
#include "base/log.h"
#include "pay/payment.h"
#include "pay/payout.h"
#include "pay/payout_call.h"

#include "db_fixture.h"

static int open_db(void **state)
{
	(void)state;
	return connect_db();
}

/* A funded pay-in whose release is open as a hot-wallet payout in `status`; its id in out_id. */
static void payout_in(const char *status, char payin[40], char out_id[40])
{
	const char *p[2];

	snprintf(payin, 40, "%s",
	         scalar("INSERT INTO payments (direction, provider, status, escrow_state, purchase_request_id, buyer_id,"
	                " seller_id, amount, currency, created_by) VALUES ('in', 'manual', 'completed', 'releasing',"
	                " 'settle-probe-' || md5(random()::text), 'settle-probe-buyer', 'settle-probe-seller', 10,"
	                " 'USDT', 'test') RETURNING id", 0, NULL));
	p[0] = payin;
	p[1] = status;
	snprintf(out_id, 40, "%s",
	         scalar("INSERT INTO payments (direction, provider, status, escrow_state, purchase_request_id, buyer_id,"
	                " seller_id, amount, currency, created_by, kind, basis, payin_id)"
	                " SELECT 'out', 'hot_wallet', $2, 'releasing', purchase_request_id, buyer_id, seller_id, amount,"
	                " currency, 'test', 'release', 'escrow', id FROM payments WHERE id = $1 RETURNING id", 2, p));
	assert_int_equal(strlen(out_id), 36);
}

static enum payout_result fail_if_pending(const char *out_id, struct payout_refusal *why)
{
	struct payout_settlement s = {
		.completed = false, .failure_code = "gas_price_over_cap", .if_pending = true, .source = "chain",
		.actor = "settle-probe", .reason = "the fee read before signing was over the cap",
	};
	enum db_status st = DB_OK;
	PGresult *row = NULL;
	enum payout_result r = payout_settle(&db, out_id, &s, &row, why, &st);

	PQclear(row);
	return r;
}

static void test_signed_meanwhile_is_not_failed(void **state)
{
	(void)state;
	char payin[40], out_id[40];
	struct payout_refusal why = { "", "" };

	payout_in("processing", payin, out_id);
	assert_int_equal(fail_if_pending(out_id, &why), PAYOUT_REFUSED);
	assert_string_equal(why.code, "signed_meanwhile");
	const char *p[1] = { out_id };
	assert_string_equal(scalar("SELECT status FROM payments WHERE id = $1", 1, p), "processing");
	p[0] = payin;
	assert_string_equal(scalar("SELECT status || '/' || escrow_state FROM payments WHERE id = $1", 1, p),
	                    "completed/releasing");
	assert_false(db.in_tx);
}

static void test_still_pending_is_failed(void **state)
{
	(void)state;
	char payin[40], out_id[40];
	struct payout_refusal why = { "", "" };

	payout_in("pending", payin, out_id);
	assert_int_equal(fail_if_pending(out_id, &why), PAYOUT_DONE);
	const char *p[1] = { out_id };
	assert_string_equal(scalar("SELECT status FROM payments WHERE id = $1", 1, p), "failed");
	/* The escrow is the pay-in's again, for the next payout. */
	p[0] = payin;
	assert_string_equal(scalar("SELECT escrow_state FROM payments WHERE id = $1", 1, p), "funded");
}

static void test_call_lease_needs_a_pending_payout(void **state)
{
	(void)state;
	char payin[40], out_id[40];
	struct payout_call call;

	payout_in("pending", payin, out_id);
	assert_int_equal(payout_call_begin(&db, out_id, "shkeeper", &call), DB_OK);
	assert_true(call.leased);
	assert_false(call.moved);
	assert_int_equal(payout_call_end(&db, out_id, PCALL_REFUSED, "refused"), DB_OK);
	const char *p[1] = { out_id };
	assert_string_equal(scalar("UPDATE payments SET status = 'failed' WHERE id = $1 RETURNING status", 1, p), "failed");
	/* The request that read it pending comes for the lease now. */
	assert_int_equal(payout_call_begin(&db, out_id, "shkeeper", &call), DB_OK);
	assert_false(call.leased);
	assert_true(call.moved);
	assert_string_equal(scalar("SELECT state || '/' || (lease_until IS NULL) FROM payout_calls WHERE payment_id = $1", 1, p),
	                    "refused/true");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signed_meanwhile_is_not_failed),
		cmocka_unit_test(test_still_pending_is_failed),
		cmocka_unit_test(test_call_lease_needs_a_pending_payout),
	};
	return cmocka_run_group_tests(tests, open_db, close_db);
}
