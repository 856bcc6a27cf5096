/*
 * Payment export as JSON or CSV, streamed row by row: libpq's single-row
 * mode hands over one row at a time and each goes straight to the client,
 * so a worker's memory does not grow with the size of the export.
 */
#include <string.h>

#include "api/handlers.h"
#include "base/csv.h"
#include "base/log.h"
#include "pay/payment.h"

static const char *const csv_header =
    "id,direction,provider,status,escrowState,purchaseRequestId,sellerOfferId,buyerId,sellerId,"
    "amount,currency,network,token,transactionHash,createdAt,updatedAt,completedAt\r\n";

/* Columns of PAYMENT_COLUMNS that the CSV carries, in csv_header's order. */
static const int csv_columns[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 16, 26, 27, 28 };

static void csv_row(struct buf *out, const PGresult *res)
{
	for (size_t i = 0; i < sizeof(csv_columns) / sizeof(csv_columns[0]); i++) {
		if (i)
			buf_putc(out, ',');
		csv_cell(out, PQgetvalue(res, 0, csv_columns[i]));
	}
	buf_puts(out, "\r\n");
}

static void cancel_query(PGconn *conn)
{
	char err[128];
	PGcancel *c = PQgetCancel(conn);

	if (c && !PQcancel(c, err, sizeof(err)))
		log_warn("export: cancel failed: %s", err);
	PQfreeCancel(c);
}

void h_export(struct request *req, struct response *resp)
{
	char format[8] = "json";
	const char *user;
	PGconn *conn = req->app->db->conn;
	PGresult *res;
	struct buf line = BUF_INIT;
	long rows = 0;
	bool broken = false, cancelled = false;
	int found = req_query(req, "format", format, sizeof(format));

	if (found < 0 || (strcmp(format, "json") != 0 && strcmp(format, "csv") != 0)) {
		resp_error(resp, 400, "invalid_field", "format", "format must be json or csv");
		return;
	}
	user = scope_user(req);
	bool csv = strcmp(format, "csv") == 0;
	const char *p[1] = { user };
	if (!PQsendQueryParams(conn,
	                       "SELECT " PAYMENT_COLUMNS " FROM payments p"
	                       " WHERE $1::text IS NULL OR p.buyer_id = $1 OR p.seller_id = $1"
	                       " ORDER BY p.created_at, p.id", 1, NULL, p, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(conn)) {
		db_close(req->app->db);
		resp_db_error(resp, DB_UNAVAILABLE);
		return;
	}
	while ((res = PQgetResult(conn)) != NULL) {
		ExecStatusType rs = PQresultStatus(res);

		if (rs != PGRES_SINGLE_TUPLE && rs != PGRES_TUPLES_OK) {
			log_error("export query failed: %s", PQresultErrorMessage(res));
			if (!resp->started)
				resp_db_error(resp, PQstatus(conn) == CONNECTION_OK ? DB_FAILED : DB_UNAVAILABLE);
			broken = true;
			PQclear(res);
			continue;       /* drain until NULL so the connection is usable again */
		}
		if (!resp->started) {
			resp_header(resp, "Content-Disposition", "attachment; filename=\"payments.%s\"", format);
			resp_stream_begin(resp, 200, csv ? "text/csv; charset=utf-8" : "application/json");
			resp_write(resp, csv ? csv_header : "{\"success\":true,\"data\":[",
			           strlen(csv ? csv_header : "{\"success\":true,\"data\":["));
		}
		if (resp->failed && !cancelled) {
			/* The client went away: stop the query instead of reading every remaining row. */
			cancel_query(conn);
			cancelled = true;
		}
		if (rs == PGRES_SINGLE_TUPLE && !resp->failed) {
			buf_reset(&line);
			if (csv) {
				csv_row(&line, res);
			} else {
				if (rows)
					buf_putc(&line, ',');
				payment_write(&line, res, 0);
			}
			resp_write(resp, line.data, line.len);
			rows++;
		}
		PQclear(res);
	}
	/* An export cut short is cut off, so no client mistakes it for complete (CSV has no end of its own). */
	if (broken)
		resp_cut(resp);
	else if (resp->started && !csv)
		resp_write(resp, "]}", 2);
	if (PQstatus(conn) != CONNECTION_OK)
		db_close(req->app->db);
	log_info("exported %ld payments as %s", rows, format);
	buf_free(&line);
}
