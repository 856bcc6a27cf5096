/* Request bodies: the strict syntax check, then json-c, then the field table, as jin_body() runs them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/money.h"
#include "http/jsoncheck.h"
#include "http/jsonin.h"

static const struct jfield fields[] = {
	{ "id", JK_ID, true, 0, 0, NULL },
	{ "amount", JK_AMOUNT, false, 0, 0, NULL },
	{ "tx", JK_TXHASH, false, 0, 0, NULL },
	{ "n", JK_INT, false, 0, 100, NULL },
	{ "meta", JK_OBJECT, false, 0, 512, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *text = malloc(len + 1);
	struct response resp;
	struct sink sink = { NULL, NULL };
	struct jval v[5];

	memcpy(text, data, len);
	text[len] = '\0';
	if (json_strict_valid(text, len, JSON_MAX_DEPTH)) {
		enum json_tokener_error err;
		json_object *obj = json_tokener_parse_verbose(text, &err);
		/* Strictly valid JSON must always be readable by json-c ("null" reads as NULL). */
		if (err != json_tokener_success)
			abort();
		resp_init(&resp, &sink, "fuzz");
		if (json_object_is_type(obj, json_type_object))
			jin_check(fields, 5, obj, NULL, v, &resp);
		char amount[MONEY_TEXT_MAX];
		money_from_json(obj, 18, amount);
		resp_free(&resp);
		json_object_put(obj);
	}
	free(text);
	return 0;
}
