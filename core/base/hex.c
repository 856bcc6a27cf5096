#include "base/hex.h"

#include <string.h>

static const char digits[] = "0123456789abcdef";

int hex_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t i;

	if (cap < 1 || (cap - 1) / 2 < len) {
		if (cap > 0)
			out[0] = '\0';
		return HEX_ERANGE;
	}
	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
	return HEX_OK;
}

int hex_encode_0x(const uint8_t *in, size_t len, char *out, size_t cap)
{
	if (cap < 3) {
		if (cap > 0)
			out[0] = '\0';
		return HEX_ERANGE;
	}
	out[0] = '0';
	out[1] = 'x';
	if (hex_encode(in, len, out + 2, cap - 2) != HEX_OK) {
		out[0] = '\0';
		return HEX_ERANGE;
	}
	return HEX_OK;
}

int hex_decode(const char *s, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t n, i, limit;

	*outlen = 0;
	if (s[0] == '0' && s[1] == 'x')
		s += 2;
	/* One digit past the longest acceptable input tells "too long" apart
	 * without reading further. */
	limit = cap <= (SIZE_MAX - 1) / 2 ? 2 * cap + 1 : SIZE_MAX;
	n = strnlen(s, limit);
	if (n % 2 != 0) {
		/* An odd count at the limit is really "too long". */
		return n == limit ? HEX_ERANGE : HEX_EINVAL;
	}
	for (i = 0; i < n; i += 2) {
		int hi = hex_nibble((unsigned char)s[i]);
		int lo = hex_nibble((unsigned char)s[i + 1]);

		if (hi < 0 || lo < 0)
			return HEX_EINVAL;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*outlen = n / 2;
	return HEX_OK;
}

int hex_decode_exact(const char *s, uint8_t *out, size_t n)
{
	size_t got;
	int rc = hex_decode(s, out, n, &got);

	if (rc != HEX_OK)
		return rc;
	return got == n ? HEX_OK : HEX_ERANGE;
}
