/* erc20: the few pieces of the ERC-20 ABI the service speaks: transfer,
 * balanceOf and decimals calldata, and Transfer logs as eth_getLogs and
 * receipts return them (hex strings). No general ABI codec: every layout here
 * is fixed, so each is checked byte for byte, padding included. */
#ifndef ERC20_H
#define ERC20_H

#include <stddef.h>
#include <stdint.h>

#define ERC20_ADDR_LEN 20
#define ERC20_WORD_LEN 32

/* keccak256("Transfer(address,address,uint256)"), as eth_getLogs filters take it. */
#define ERC20_TRANSFER_TOPIC "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

/* selector + 2 words; selector + 1 word; selector alone */
#define ERC20_TRANSFER_CALLDATA_LEN 68
#define ERC20_BALANCE_OF_CALLDATA_LEN 36
#define ERC20_DECIMALS_CALLDATA_LEN 4
/* "0x" + 64 hex + NUL: one 32-byte word, as a topic is written */
#define ERC20_TOPIC_BUFSZ 67

enum erc20_err {
	ERC20_OK = 0,
	ERC20_EINVAL = -1,   /* not hex, wrong length, bad address */
	ERC20_EPADDING = -2, /* an address word or small integer with non-zero high bytes */
	ERC20_ENOMATCH = -3  /* not this event or call: other topic0, topic count, selector */
};

/* transfer(to, amount): selector a9059cbb, then to and amount as 32-byte words.
 * amount is a big-endian uint256. The transaction carrying it goes to the token
 * contract with value 0. */
void erc20_transfer_calldata(const uint8_t to[ERC20_ADDR_LEN],
    const uint8_t amount[ERC20_WORD_LEN], uint8_t out[ERC20_TRANSFER_CALLDATA_LEN]);

/* Reads transfer calldata back (a node fake, or checking what we are about to
 * sign): exact length, selector and zero padding required. */
int erc20_parse_transfer_calldata(const uint8_t *data, size_t len,
    uint8_t to[ERC20_ADDR_LEN], uint8_t amount[ERC20_WORD_LEN]);

void erc20_balance_of_calldata(const uint8_t owner[ERC20_ADDR_LEN],
    uint8_t out[ERC20_BALANCE_OF_CALLDATA_LEN]);
void erc20_decimals_calldata(uint8_t out[ERC20_DECIMALS_CALLDATA_LEN]);

/* eth_call results: exactly one 32-byte word in hex. decimals must fit a uint8
 * as the standard declares it. */
int erc20_decode_word(const char *hex, uint8_t out[ERC20_WORD_LEN]);
int erc20_decode_decimals(const char *hex, unsigned *decimals);

/* An address left-padded to a topic, for the `to` slot of an eth_getLogs filter. */
void erc20_address_topic(const uint8_t addr[ERC20_ADDR_LEN], char out[ERC20_TOPIC_BUFSZ]);

struct erc20_transfer {
	uint8_t token[ERC20_ADDR_LEN]; /* the log's emitting contract */
	uint8_t from[ERC20_ADDR_LEN];
	uint8_t to[ERC20_ADDR_LEN];
	uint8_t value[ERC20_WORD_LEN]; /* big-endian uint256 */
};

/* Decodes one log from its JSON-RPC fields: address, topics[0..ntopics), data.
 * Exactly three topics (ERC-721's Transfer shares topic0 but has four and no
 * data), topic0 the Transfer topic, 12 zero bytes above each address, data one
 * word. The caller still checks token against the contract it expects. */
int erc20_decode_transfer_log(const char *address, const char *const *topics,
    size_t ntopics, const char *data, struct erc20_transfer *out);

#endif
