#include "evm/eip55.h"

#include <string.h>

#include "base/hex.h"
#include "evm/keccak.h"

void eip55_format(const uint8_t addr[EIP55_ADDR_LEN], char out[EIP55_BUFSZ])
{
	uint8_t h[KECCAK256_LEN];
	char *digits = out + 2;
	int i;

	out[0] = '0';
	out[1] = 'x';
	hex_encode(addr, EIP55_ADDR_LEN, digits, EIP55_BUFSZ - 2);
	/* The hash is over the lowercase digits; nibble i of it picks the case
	 * of digit i. */
	keccak256(digits, 2 * EIP55_ADDR_LEN, h);
	for (i = 0; i < 2 * EIP55_ADDR_LEN; i++) {
		int nib = i % 2 ? h[i / 2] & 0x0f : h[i / 2] >> 4;

		if (digits[i] >= 'a' && nib >= 8)
			digits[i] = (char)(digits[i] - 'a' + 'A');
	}
}

int eip55_parse(const char *s, uint8_t addr[EIP55_ADDR_LEN], int *checksummed)
{
	char want[EIP55_BUFSZ];
	int lower = 0, upper = 0, i;

	if (checksummed)
		*checksummed = 0;
	if (s[0] != '0' || s[1] != 'x' || strnlen(s, EIP55_BUFSZ) != EIP55_BUFSZ - 1)
		return EIP55_EINVAL;
	if (hex_decode_exact(s, addr, EIP55_ADDR_LEN) != HEX_OK)
		return EIP55_EINVAL;
	for (i = 2; s[i]; i++) {
		lower |= s[i] >= 'a' && s[i] <= 'f';
		upper |= s[i] >= 'A' && s[i] <= 'F';
	}
	if (!(lower && upper))
		return EIP55_OK;
	eip55_format(addr, want);
	if (strcmp(want, s) != 0) {
		memset(addr, 0, EIP55_ADDR_LEN);
		return EIP55_ECHECKSUM;
	}
	if (checksummed)
		*checksummed = 1;
	return EIP55_OK;
}

int eip55_check(const char *s)
{
	uint8_t addr[EIP55_ADDR_LEN];

	return eip55_parse(s, addr, NULL);
}
