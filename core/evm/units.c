#include "evm/units.h"

#include <string.h>

#include <openssl/crypto.h>

#include "base/hex.h"

#define WORD 32

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Appends digits to a decimal accumulator; the input bound keeps this short. */
static int push_digits(BIGNUM *acc, const char *d, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!BN_mul_word(acc, 10) || !BN_add_word(acc, (BN_ULONG)(d[i] - '0')))
			return UNITS_ENOMEM;
	return UNITS_OK;
}

int units_parse(const char *s, unsigned decimals, BIGNUM *out)
{
	size_t len, ilen, flen, i;
	const char *frac = NULL;
	int rc;

	BN_zero(out);
	if (decimals > UNITS_MAX_DECIMALS)
		return UNITS_EINVAL;
	len = strnlen(s, UNITS_DEC_MAXLEN + 1);
	if (len > UNITS_DEC_MAXLEN)
		return UNITS_ERANGE;
	for (ilen = 0; ilen < len && is_digit(s[ilen]); ilen++)
		;
	if (ilen == 0 || (s[0] == '0' && ilen > 1))
		return UNITS_EINVAL;
	flen = 0;
	if (ilen < len) {
		if (s[ilen] != '.')
			return UNITS_EINVAL;
		frac = s + ilen + 1;
		flen = len - ilen - 1;
		if (flen == 0)
			return UNITS_EINVAL;
		for (i = 0; i < flen; i++)
			if (!is_digit(frac[i]))
				return UNITS_EINVAL;
	}
	if (flen > decimals)
		return UNITS_EPRECISION;

	rc = push_digits(out, s, ilen);
	if (rc == UNITS_OK && flen > 0)
		rc = push_digits(out, frac, flen);
	for (i = flen; rc == UNITS_OK && i < decimals; i++)
		if (!BN_mul_word(out, 10))
			rc = UNITS_ENOMEM;
	if (rc == UNITS_OK && BN_num_bits(out) > 8 * WORD)
		rc = UNITS_ERANGE;
	if (rc != UNITS_OK)
		BN_zero(out);
	return rc;
}

/* Fraction digit i of a number whose decimal digits are dec[0..n): the last
 * `decimals` digits, left-padded with zeros when the number is shorter. */
static char frac_digit(const char *dec, size_t n, unsigned decimals, size_t i)
{
	return n + i >= decimals ? dec[n + i - decimals] : '0';
}

int units_format(const BIGNUM *v, unsigned decimals, char *out, size_t cap)
{
	char *dec = NULL;
	size_t n, ilen, flen, need, i, o = 0;
	int rc;

	if (cap > 0)
		out[0] = '\0';
	if (decimals > UNITS_MAX_DECIMALS || BN_is_negative(v))
		return UNITS_EINVAL;
	if (BN_num_bits(v) > 8 * WORD)
		return UNITS_ERANGE;
	dec = BN_bn2dec(v);
	if (!dec)
		return UNITS_ENOMEM;
	n = strlen(dec);

	ilen = n > decimals ? n - decimals : 0;
	flen = decimals;
	while (flen > 0 && frac_digit(dec, n, decimals, flen - 1) == '0')
		flen--;
	need = (ilen ? ilen : 1) + (flen ? 1 + flen : 0) + 1;
	if (need > cap) {
		rc = UNITS_ERANGE;
		goto out;
	}
	if (ilen) {
		memcpy(out, dec, ilen);
		o = ilen;
	} else {
		out[o++] = '0';
	}
	if (flen) {
		out[o++] = '.';
		for (i = 0; i < flen; i++)
			out[o++] = frac_digit(dec, n, decimals, i);
	}
	out[o] = '\0';
	rc = UNITS_OK;
out:
	OPENSSL_free(dec);
	return rc;
}

int units_hexqty_word(const char *s, uint8_t out[32])
{
	size_t n, i;
	int d;

	memset(out, 0, WORD);
	if (s[0] != '0' || s[1] != 'x')
		return UNITS_EINVAL;
	s += 2;
	n = strnlen(s, 2 * WORD + 1);
	if (n == 0 || (s[0] == '0' && n > 1))
		return UNITS_EINVAL;
	for (i = 0; i < n; i++)
		if (hex_nibble((unsigned char)s[i]) < 0)
			return UNITS_EINVAL;
	if (n > 2 * WORD) {
		/* Only now: garbage that happens to be long is still EINVAL above. */
		return UNITS_ERANGE;
	}
	/* Right-align: the last digit is the low nibble of the last byte. */
	for (i = 0; i < n; i++) {
		size_t pos = 2 * WORD - n + i;

		d = hex_nibble((unsigned char)s[i]);
		out[pos / 2] |= (uint8_t)(pos % 2 ? d : d << 4);
	}
	return UNITS_OK;
}

int units_hexqty_parse(const char *s, BIGNUM *out)
{
	uint8_t w[WORD];
	int rc;

	BN_zero(out);
	rc = units_hexqty_word(s, w);
	if (rc)
		return rc;
	return units_from_word(w, out);
}

int units_hexqty_u64(const char *s, uint64_t *out)
{
	uint8_t w[WORD];
	size_t i;
	int rc;

	*out = 0;
	rc = units_hexqty_word(s, w);
	if (rc)
		return rc;
	for (i = 0; i < WORD - 8; i++)
		if (w[i])
			return UNITS_ERANGE;
	for (; i < WORD; i++)
		*out = *out << 8 | w[i];
	return UNITS_OK;
}

/* Shared by both formatters: a word as a minimal "0x" quantity. */
static int format_word(const uint8_t w[WORD], char *out, size_t cap)
{
	char hex[HEX_BUFSZ(WORD)];
	const char *p = hex;

	hex_encode(w, WORD, hex, sizeof(hex));
	while (p[0] == '0' && p[1] != '\0')
		p++;
	if (cap < 2 || strlen(p) + 1 > cap - 2) {
		if (cap > 0)
			out[0] = '\0';
		return UNITS_ERANGE;
	}
	out[0] = '0';
	out[1] = 'x';
	strcpy(out + 2, p);
	return UNITS_OK;
}

int units_hexqty_format(const BIGNUM *v, char *out, size_t cap)
{
	uint8_t w[WORD];
	int rc = units_to_word(v, w);

	if (rc) {
		if (cap > 0)
			out[0] = '\0';
		return rc;
	}
	return format_word(w, out, cap);
}

int units_hexqty_format_u64(uint64_t v, char *out, size_t cap)
{
	uint8_t w[WORD] = { 0 };
	int i;

	for (i = WORD - 1; i >= WORD - 8; i--, v >>= 8)
		w[i] = (uint8_t)v;
	return format_word(w, out, cap);
}

int units_to_word(const BIGNUM *v, uint8_t out[32])
{
	memset(out, 0, WORD);
	if (BN_is_negative(v))
		return UNITS_EINVAL;
	if (BN_num_bits(v) > 8 * WORD)
		return UNITS_ERANGE;
	return BN_bn2binpad(v, out, WORD) == WORD ? UNITS_OK : UNITS_ERANGE;
}

int units_from_word(const uint8_t in[32], BIGNUM *out)
{
	return BN_bin2bn(in, WORD, out) ? UNITS_OK : UNITS_ENOMEM;
}
