/* hex: strict hexadecimal codecs shared by the EVM modules.
 *
 * Decoding is strict on purpose: the strings come from JSON-RPC nodes, config and
 * API clients, and a lenient parser would let "0x0g" or an odd digit count turn
 * into a different byte string than the sender meant. */
#ifndef HEX_H
#define HEX_H

#include <stddef.h>
#include <stdint.h>

enum hex_err {
	HEX_OK = 0,
	HEX_EINVAL = -1, /* not hex, odd digit count, missing prefix */
	HEX_ERANGE = -2  /* does not fit the output / wrong length */
};

/* Bytes of output (with NUL) needed to encode n bytes, with and without "0x". */
#define HEX_BUFSZ(n) (2 * (size_t)(n) + 1)
#define HEX_BUFSZ_0X(n) (2 * (size_t)(n) + 3)

/* Value of one hex digit (either case), or -1. */
int hex_nibble(int c);

/* Lowercase hex of in[0..len) into out, NUL-terminated, no prefix.
 * HEX_ERANGE when cap < HEX_BUFSZ(len); out is then left empty if cap > 0. */
int hex_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* Same with a "0x" prefix, as JSON-RPC data is written. Needs HEX_BUFSZ_0X(len). */
int hex_encode_0x(const uint8_t *in, size_t len, char *out, size_t cap);

/* Decodes NUL-terminated s (optional "0x", even digit count, either case) into
 * out, at most cap bytes; *outlen gets the byte count. Reads at most
 * 2 + 2 * cap + 1 characters of s, so an unterminated or huge input is refused
 * without being scanned to its end. On error out may hold a partial result:
 * a caller decoding a secret wipes it. */
int hex_decode(const char *s, uint8_t *out, size_t cap, size_t *outlen);

/* hex_decode that requires exactly n bytes (HEX_ERANGE otherwise). */
int hex_decode_exact(const char *s, uint8_t *out, size_t n);

#endif
