#include "evm/erc20.h"

#include <string.h>

#include "base/hex.h"
#include "evm/eip55.h"

#define PAD (ERC20_WORD_LEN - ERC20_ADDR_LEN)

static const uint8_t sel_transfer[4] = { 0xa9, 0x05, 0x9c, 0xbb };
static const uint8_t sel_balance_of[4] = { 0x70, 0xa0, 0x82, 0x31 };
static const uint8_t sel_decimals[4] = { 0x31, 0x3c, 0xe5, 0x67 };

static int is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	while (n--)
		acc |= *p++;
	return acc == 0;
}

static void put_address_word(uint8_t w[ERC20_WORD_LEN], const uint8_t addr[ERC20_ADDR_LEN])
{
	memset(w, 0, PAD);
	memcpy(w + PAD, addr, ERC20_ADDR_LEN);
}

/* An ABI address word: the high 12 bytes must be zero, or the word is not an
 * address and someone is hoping we read only the low 20 bytes. */
static int get_address_word(const uint8_t w[ERC20_WORD_LEN], uint8_t addr[ERC20_ADDR_LEN])
{
	if (!is_zero(w, PAD))
		return ERC20_EPADDING;
	memcpy(addr, w + PAD, ERC20_ADDR_LEN);
	return ERC20_OK;
}

void erc20_transfer_calldata(const uint8_t to[ERC20_ADDR_LEN],
    const uint8_t amount[ERC20_WORD_LEN], uint8_t out[ERC20_TRANSFER_CALLDATA_LEN])
{
	memcpy(out, sel_transfer, 4);
	put_address_word(out + 4, to);
	memcpy(out + 4 + ERC20_WORD_LEN, amount, ERC20_WORD_LEN);
}

int erc20_parse_transfer_calldata(const uint8_t *data, size_t len,
    uint8_t to[ERC20_ADDR_LEN], uint8_t amount[ERC20_WORD_LEN])
{
	if (len < 4 || memcmp(data, sel_transfer, 4) != 0)
		return ERC20_ENOMATCH;
	if (len != ERC20_TRANSFER_CALLDATA_LEN)
		return ERC20_EINVAL;
	if (get_address_word(data + 4, to) != ERC20_OK)
		return ERC20_EPADDING;
	memcpy(amount, data + 4 + ERC20_WORD_LEN, ERC20_WORD_LEN);
	return ERC20_OK;
}

void erc20_balance_of_calldata(const uint8_t owner[ERC20_ADDR_LEN],
    uint8_t out[ERC20_BALANCE_OF_CALLDATA_LEN])
{
	memcpy(out, sel_balance_of, 4);
	put_address_word(out + 4, owner);
}

void erc20_decimals_calldata(uint8_t out[ERC20_DECIMALS_CALLDATA_LEN])
{
	memcpy(out, sel_decimals, 4);
}

int erc20_decode_word(const char *hex, uint8_t out[ERC20_WORD_LEN])
{
	if (hex[0] != '0' || hex[1] != 'x')
		return ERC20_EINVAL;
	return hex_decode_exact(hex, out, ERC20_WORD_LEN) == HEX_OK ? ERC20_OK : ERC20_EINVAL;
}

int erc20_decode_decimals(const char *hex, unsigned *decimals)
{
	uint8_t w[ERC20_WORD_LEN];
	int rc;

	*decimals = 0;
	rc = erc20_decode_word(hex, w);
	if (rc)
		return rc;
	if (!is_zero(w, ERC20_WORD_LEN - 1))
		return ERC20_EPADDING;
	*decimals = w[ERC20_WORD_LEN - 1];
	return ERC20_OK;
}

void erc20_address_topic(const uint8_t addr[ERC20_ADDR_LEN], char out[ERC20_TOPIC_BUFSZ])
{
	uint8_t w[ERC20_WORD_LEN];

	put_address_word(w, addr);
	hex_encode_0x(w, ERC20_WORD_LEN, out, ERC20_TOPIC_BUFSZ);
}

/* A topic holding an indexed address: one word, zero-padded. */
static int address_topic(const char *hex, uint8_t addr[ERC20_ADDR_LEN])
{
	uint8_t w[ERC20_WORD_LEN];
	int rc = erc20_decode_word(hex, w);

	return rc ? rc : get_address_word(w, addr);
}

int erc20_decode_transfer_log(const char *address, const char *const *topics,
    size_t ntopics, const char *data, struct erc20_transfer *out)
{
	uint8_t w[ERC20_WORD_LEN], want[ERC20_WORD_LEN];
	int rc;

	memset(out, 0, sizeof(*out));
	if (ntopics < 1)
		return ERC20_ENOMATCH;
	if ((rc = erc20_decode_word(topics[0], w)) != ERC20_OK)
		return rc;
	hex_decode_exact(ERC20_TRANSFER_TOPIC, want, ERC20_WORD_LEN);
	if (memcmp(w, want, ERC20_WORD_LEN) != 0 || ntopics != 3)
		return ERC20_ENOMATCH;

	rc = ERC20_EINVAL;
	if (eip55_parse(address, out->token, NULL) != EIP55_OK)
		goto err;
	if ((rc = address_topic(topics[1], out->from)) != ERC20_OK)
		goto err;
	if ((rc = address_topic(topics[2], out->to)) != ERC20_OK)
		goto err;
	if ((rc = erc20_decode_word(data, out->value)) != ERC20_OK)
		goto err;
	return ERC20_OK;
err:
	/* Half a transfer is worse than none: a caller ignoring rc sees zeros. */
	memset(out, 0, sizeof(*out));
	return rc;
}
