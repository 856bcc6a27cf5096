/* money: amounts as exact decimal text. An amount from a request is taken from the
 * JSON source text (a number or a string), checked, and normalised (no
 * leading zeros, no trailing fractional zeros) so the database and every
 * response see the same digits. Nothing here rounds: what cannot be held
 * exactly is refused.
 */
#ifndef PAY_MONEY_H
#define PAY_MONEY_H

#include <json-c/json.h>

#define MONEY_MAX_INT_DIGITS 18
#define MONEY_MAX_SCALE 18
#define MONEY_TEXT_MAX (MONEY_MAX_INT_DIGITS + MONEY_MAX_SCALE + 2)

enum money_err {
	MONEY_OK = 0,
	MONEY_NOT_NUMBER,       /* not a plain decimal such as 12 or 12.50 */
	MONEY_NOT_POSITIVE,     /* zero or negative */
	MONEY_TOO_PRECISE,      /* more decimals than allowed */
	MONEY_OUT_OF_RANGE,     /* more than MONEY_MAX_INT_DIGITS whole digits */
};

enum money_err money_parse(const char *text, int max_scale, char out[MONEY_TEXT_MAX]);
/* Accepts a JSON number (its source text) or a JSON string (none holding a NUL). */
enum money_err money_from_json(json_object *v, int max_scale, char out[MONEY_TEXT_MAX]);
const char *money_strerror(enum money_err err);
/*
 * A decimal's text ("5.5", a database sum) written with at least `scale`
 * decimals ("5.50" for scale 2): zeros are added, digits never removed.
 * Returns 0, or -1 if it does not fit outlen.
 */
int money_with_scale(const char *text, int scale, char *out, size_t outlen);

/*
 * A JSON value that serialises as the given decimal text, unquoted: amounts
 * leave the service as JSON numbers with exactly the stored digits.
 */
json_object *json_decimal(const char *text);

/*
 * Adds an amount to obj by the API's one rule for amounts: `name` as a JSON
 * number and `<name>Decimal` as a string, each exactly `text`, so a client
 * whose JSON reader turns numbers into binary floats can still read every
 * digit. NULL text: both are null.
 */
void json_add_amount(json_object *obj, const char *name, const char *text);

#endif
