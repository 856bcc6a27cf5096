/* Request bodies: the strict reader (check, then json-c), then the field table, as jin_body() runs them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/jstr.h"
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

/* No string json-c holds after the strict reader may hide a NUL from a C reader. */
static void no_hidden_nul(json_object *v)
{
	if (json_object_is_type(v, json_type_string) && jstr(v) == NULL)
		abort();
	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, child) {
			(void)key;
			no_hidden_nul(child);
		}
	} else if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++)
			no_hidden_nul(json_object_array_get_idx(v, i));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *text = malloc(len + 1);
	struct response resp;
	struct sink sink = { NULL, NULL };
	struct json_fault fault;
	struct jval v[5];
	size_t members;

	memcpy(text, data, len);
	text[len] = '\0';
	bool valid = json_strict_check(text, len, JSON_MAX_DEPTH, &fault, &members);
	/* The fault's path is always a bounded, terminated string of plain characters. */
	if (strnlen(fault.path, JSON_PATH_MAX) == JSON_PATH_MAX || valid != (fault.kind == JSON_FAULT_NONE))
		abort();
	for (const char *p = fault.path; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			abort();
	json_object *obj = json_strict_parse(text, len, JSON_MAX_DEPTH, &fault);
	/* Strictly valid JSON is always readable by json-c, with every member it names. */
	if (valid && fault.kind != JSON_FAULT_NONE && fault.kind != JSON_FAULT_DUPLICATE)
		abort();
	if (fault.kind == JSON_FAULT_NONE) {
		no_hidden_nul(obj);
		resp_init(&resp, &sink, "fuzz");
		if (json_object_is_type(obj, json_type_object))
			jin_check(fields, 5, obj, NULL, v, &resp);
		jin_fault(&resp, &fault, "the body");
		char amount[MONEY_TEXT_MAX];
		money_from_json(obj, 18, amount);
		resp_free(&resp);
	}
	json_object_put(obj);
	free(text);
	return 0;
}
