/* What arrives from a chain or a client about one: RLP, hex, amounts, addresses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>

#include "base/hex.h"
#include "evm/eip55.h"
#include "evm/rlp.h"
#include "evm/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct rlp_item top, items[16];
	size_t n;
	char *text = malloc(len + 1);
	uint8_t buf[256], addr[20];
	int checksummed;
	BIGNUM *bn = BN_new();
	char out[128];

	if (rlp_decode(data, len, &top) == 0)
		rlp_list_items(&top, items, 16, &n);
	memcpy(text, data, len);
	text[len] = '\0';
	hex_decode(text, buf, sizeof(buf), &n);
	eip55_parse(text, addr, &checksummed);
	for (unsigned d = 0; d <= 18; d += 6)
		if (units_parse(text, d, bn) == 0 && units_format(bn, d, out, sizeof(out)) == 0) {
			/* What parses must print back to an equal amount. */
			BIGNUM *again = BN_new();
			if (units_parse(out, d, again) != 0 || BN_cmp(bn, again) != 0)
				abort();
			BN_free(again);
		}
	units_hexqty_parse(text, bn);
	BN_free(bn);
	free(text);
	return 0;
}
