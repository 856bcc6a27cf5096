/* jsonin: request bodies are checked against a declarative table before a handler
 * uses them: each field has a name, a kind and whether it is required.
 * Unknown fields are refused, so a typo ("ammount") is an error the client
 * sees instead of a silently ignored value. On a bad body the response is
 * already a 400 naming the field; the handler just returns.
 */
#ifndef PAY_JSONIN_H
#define PAY_JSONIN_H

#include <stdbool.h>

#include <json-c/json.h>

#include "base/money.h"
#include "http/jsoncheck.h"
#include "http/req.h"

enum jkind {
	JK_ID,          /* marketplace id: [A-Za-z0-9_-]{1,64} */
	JK_UUID,        /* a payment id */
	JK_STRING,      /* free text, at most `max` bytes */
	JK_ENUM,        /* one of `choices` */
	JK_AMOUNT,      /* positive decimal, number or string; scale checked later */
	JK_OBJECT,      /* any object (metadata): at most `max` bytes serialised, JIN_OBJECT_MAX_DEPTH
	                   levels and JIN_OBJECT_MAX_VALUES members and elements */
	JK_TXHASH,      /* 0x + 64 hex */
	JK_ADDRESS,     /* 0x + 40 hex */
	JK_NETWORK,     /* bsc | ethereum */
	JK_CURRENCY,    /* [A-Z0-9]{2,10} */
	JK_INT,         /* whole number in [min, max] */
	JK_BOOL,        /* true or false; in num as 1 or 0 */
	JK_ANY,         /* left to the handler (nested objects with their own table) */
};

struct jfield {
	const char *name;
	enum jkind kind;
	bool required;
	long long min, max;             /* JK_INT range; JK_STRING/JK_OBJECT byte limit in max */
	const char *const *choices;     /* JK_ENUM, NULL-terminated */
};

struct jval {
	bool present;                   /* present and not null */
	const char *str;                /* string kinds; owned by the parsed object */
	json_object *obj;               /* the raw value */
	long long num;                  /* JK_INT, JK_BOOL */
	char amount[MONEY_TEXT_MAX];    /* JK_AMOUNT, normalised; scale checked by caller */
};

#define JSON_MAX_DEPTH 16
#define JIN_OBJECT_MAX_DEPTH 8
#define JIN_OBJECT_MAX_VALUES 256

/*
 * Parses the body as a JSON object with the strict reader (http/jsoncheck.h).
 * On failure answers and returns NULL: 415 unless Content-Type is
 * application/json, 400 invalid_json for what is not one JSON object, 400
 * invalid_field naming the member (dotted path) for a value no reader holds
 * as sent (a NUL, half a surrogate pair, a number beyond 64 bits).
 */
json_object *jin_body(const struct request *req, struct response *resp);

/*
 * Checks obj against spec (n fields) and fills out[n]. `prefix` names the
 * enclosing field in messages ("amount." gives "amount.currency"); NULL at
 * top level. Returns 0, or -1 with a 400 written to resp.
 */
int jin_check(const struct jfield *spec, size_t n, json_object *obj, const char *prefix,
              struct jval *out, struct response *resp);

/*
 * For endpoints whose body is optional: no body gives all-absent values and
 * *body NULL; a body is parsed and checked as jin_body() and jin_check() do.
 * Returns 0, or -1 with a 400 written. The caller puts *body.
 */
int jin_optional(const struct request *req, struct response *resp, const struct jfield *spec,
                 size_t n, struct jval *out, json_object **body);

/* Answers a refusal of the strict reader: 400, naming the member where one is known. */
void jin_fault(struct response *resp, const struct json_fault *fault, const char *what);

#endif
