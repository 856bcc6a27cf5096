/* units: token amounts as exact 256-bit integers of base units, and the hex
 * quantities JSON-RPC uses. Nothing here rounds: an amount that cannot be
 * represented exactly is refused, because a rounded payout is a wrong payout.
 * Money is never a double. */
#ifndef UNITS_H
#define UNITS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>

enum units_err {
	UNITS_OK = 0,
	UNITS_EINVAL = -1,    /* not a number in the accepted syntax */
	UNITS_EPRECISION = -2, /* more fraction digits than the token has */
	UNITS_ERANGE = -3,    /* above 2^256 - 1, or output buffer too small */
	UNITS_ENOMEM = -4
};

/* Tokens we handle have 6 or 18; anything up to this is accepted. */
#define UNITS_MAX_DECIMALS 36
/* Longest decimal string accepted: 78 integer digits, a point, the fraction. */
#define UNITS_DEC_MAXLEN (78 + 1 + UNITS_MAX_DECIMALS)
/* Output buffers: any uint256 at any accepted decimals; "0x" + 64 digits. */
#define UNITS_DEC_BUFSZ 80
#define UNITS_HEX_BUFSZ 67

/* "12.5" with 6 decimals -> 12500000 into out (the caller's BIGNUM).
 * Accepted: digits, then optionally '.' and at least one digit; no sign,
 * exponent, spaces, leading zeros ("0.5" yes, "00.5" and ".5" no). A fraction
 * longer than decimals is UNITS_EPRECISION even when its extra digits are zeros.
 * Results above 2^256 - 1 are UNITS_ERANGE. */
int units_parse(const char *s, unsigned decimals, BIGNUM *out);

/* Inverse of units_parse, shortest form: 12500000 at 6 decimals -> "12.5",
 * 1 -> "0.000001", 0 -> "0". Refuses negative values and values over 256 bits. */
int units_format(const BIGNUM *v, unsigned decimals, char *out, size_t cap);

/* JSON-RPC quantity: "0x" then 1 to 64 hex digits, no leading zero except
 * "0x0" itself. Into a 32-byte big-endian word, a BIGNUM, or a uint64_t
 * (UNITS_ERANGE if it does not fit). */
int units_hexqty_word(const char *s, uint8_t out[32]);
int units_hexqty_parse(const char *s, BIGNUM *out);
int units_hexqty_u64(const char *s, uint64_t *out);

/* Quantity as JSON-RPC writes it: lowercase, no leading zeros, "0x0" for zero. */
int units_hexqty_format(const BIGNUM *v, char *out, size_t cap);
int units_hexqty_format_u64(uint64_t v, char *out, size_t cap);

/* BIGNUM <-> 32-byte big-endian word, as ABI and RLP code takes amounts.
 * to_word refuses negative values and values over 256 bits. */
int units_to_word(const BIGNUM *v, uint8_t out[32]);
int units_from_word(const uint8_t in[32], BIGNUM *out);

#endif
