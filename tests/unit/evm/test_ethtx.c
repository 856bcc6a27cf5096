/* Transaction signing and signer recovery: the EIP-155 example from
 * PROVIDERS.md byte for byte, a type-2 and a BSC transaction cross-checked with
 * an independent implementation, anvil's key, and refusal of every altered or
 * unsupported signed form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "base/hex.h"
#include "evm/eip55.h"
#include "evm/erc20.h"
#include "evm/ethtx.h"
#include "evm/keccak.h"
#include "evm/units.h"

#define EIP155_SIGNED "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
#define ANVIL_KEY "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
#define ANVIL_ADDR "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
/* secp256k1 group order */
#define ORDER "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"

static struct ethtx_ctx *ctx;

static int setup(void **state)
{
	(void)state;
	return ethtx_ctx_new(&ctx) == ETHTX_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	ethtx_ctx_free(ctx);
	return 0;
}

static void assert_hex(const uint8_t *p, size_t n, const char *want)
{
	char got[1024];

	assert_int_equal(hex_encode(p, n, got, sizeof(got)), HEX_OK);
	assert_string_equal(got, want);
}

static void assert_addr(const uint8_t a[20], const char *want)
{
	char s[EIP55_BUFSZ];

	eip55_format(a, s);
	assert_string_equal(s, want);
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n;

	assert_int_equal(hex_decode(s, out, cap, &n), HEX_OK);
	return n;
}

static void word_u64(uint8_t w[32], uint64_t v)
{
	int i;

	memset(w, 0, 32);
	for (i = 31; i >= 24; i--, v >>= 8)
		w[i] = (uint8_t)v;
}

/* nonce 9, 20 gwei, 21000 gas, to 0x3535..., 1 ether, chain 1 */
static void eip155_example(struct ethtx *tx)
{
	memset(tx, 0, sizeof(*tx));
	tx->type = ETHTX_LEGACY;
	tx->chain_id = 1;
	tx->nonce = 9;
	tx->gas_limit = 21000;
	word_u64(tx->gas_price, 20000000000ULL);
	memset(tx->to, 0x35, 20);
	word_u64(tx->value, 1000000000000000000ULL);
}

static void test_eip155_example(void **state)
{
	struct ethtx tx, back;
	struct rlp_buf b;
	uint8_t key[32], hash[32], from[20];

	(void)state;
	eip155_example(&tx);
	rlp_buf_init(&b);
	assert_int_equal(ethtx_signing_payload(&tx, &b), ETHTX_OK);
	assert_hex(b.data, b.len, "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080");
	rlp_buf_free(&b);
	assert_int_equal(ethtx_signing_hash(&tx, hash), ETHTX_OK);
	assert_hex(hash, 32, "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");

	memset(key, 0x46, sizeof(key));
	rlp_buf_init(&b);
	assert_int_equal(ethtx_sign(ctx, &tx, key, &b, hash), ETHTX_OK);
	assert_hex(b.data, b.len, EIP155_SIGNED);
	assert_hex(hash, 32, "33469b22e9f636356c4160a87eb19df52b7412e8eac32a4a55ffe88ea8350788");
	assert_int_equal(ethtx_address_from_key(ctx, key, from), ETHTX_OK);
	assert_addr(from, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");

	memset(from, 0, sizeof(from));
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, &back, from), ETHTX_OK);
	assert_addr(from, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
	assert_memory_equal(&tx, &back, sizeof(tx));
	rlp_buf_free(&b);
}

/* The second PROVIDERS.md raw tx: hash, and a 7-byte v (chain id
 * 3503995874084926) on the recovery path. */
static void test_raw_hash_check(void **state)
{
	uint8_t raw[200], hash[32], from[20];
	struct ethtx tx;
	size_t n;

	(void)state;
	n = unhex("f86c808401a213988261a894aa000000000000000000000000000000000000000a8255448718e5bb3abd109fa073fbe7ff7e74339e7cc61fb3cb3f7630cd3f1d5fef653d7297654b2d22894daea042a188d30f35f19408c73c803bc1e9e17ce129c457e31fd2a368b54507af2f4c",
	    raw, sizeof(raw));
	keccak256(raw, n, hash);
	assert_hex(hash, 32, "b55b6dfd4ba0bb2b00283b0e84cda496c90bc7c5ae9025e07edc3a7fbaf6a269");
	assert_int_equal(ethtx_recover(ctx, raw, n, &tx, from), ETHTX_OK);
	assert_true(tx.chain_id == 3503995874084926ULL);
	assert_addr(from, "0x0c2c51a0990AeE1d73C1228de158688341557508");
}

static void test_anvil_key(void **state)
{
	uint8_t key[32], addr[20];

	(void)state;
	assert_int_equal(ethtx_key_from_hex(ctx, ANVIL_KEY, key), ETHTX_OK);
	assert_int_equal(ethtx_address_from_key(ctx, key, addr), ETHTX_OK);
	OPENSSL_cleanse(key, sizeof(key));
	assert_addr(addr, ANVIL_ADDR);
}

/* A USDT transfer on BSC testnet as type 2, signed by anvil's key; expected
 * bytes produced by ethers v6 with the same fields. */
static void test_type2_vector(void **state)
{
	static const char want_signed[] = "02f8af6107843b9aca0084b2d05e0082ea609455d398326f99059ff775485246999027b319795580b844a9059cbb0000000000000000000000003535353535353535353535353535353535353535000000000000000000000000000000000000000000000000ad78ebc5ac620000c001a0385c262fe3c186e11ecd12fff5b2fa9ba48960fe730c5a48fb5d189ee2c16faea059d1e7c3e2707adfb9c38d10074932be6efd2bc5acdd3b642e93289983f214ed";
	uint8_t key[32], to[20], amount[32], cd[ERC20_TRANSFER_CALLDATA_LEN], hash[32], from[20];
	struct ethtx tx, back;
	struct rlp_buf b;
	BIGNUM *bn = BN_new();

	(void)state;
	assert_non_null(bn);
	memset(to, 0x35, sizeof(to));
	assert_int_equal(units_parse("12.5", 18, bn), UNITS_OK);
	assert_int_equal(units_to_word(bn, amount), UNITS_OK);
	BN_free(bn);
	erc20_transfer_calldata(to, amount, cd);

	memset(&tx, 0, sizeof(tx));
	tx.type = ETHTX_EIP1559;
	tx.chain_id = 97;
	tx.nonce = 7;
	word_u64(tx.max_priority_fee, 1000000000);
	word_u64(tx.max_fee, 3000000000);
	tx.gas_limit = 60000;
	assert_int_equal(eip55_parse("0x55d398326f99059fF775485246999027B3197955", tx.to, NULL), EIP55_OK);
	tx.data = cd;
	tx.data_len = sizeof(cd);

	rlp_buf_init(&b);
	assert_int_equal(ethtx_signing_payload(&tx, &b), ETHTX_OK);
	assert_hex(b.data, b.len, "02f86c6107843b9aca0084b2d05e0082ea609455d398326f99059ff775485246999027b319795580b844a9059cbb0000000000000000000000003535353535353535353535353535353535353535000000000000000000000000000000000000000000000000ad78ebc5ac620000c0");
	rlp_buf_free(&b);
	assert_int_equal(ethtx_signing_hash(&tx, hash), ETHTX_OK);
	assert_hex(hash, 32, "bfce5c1b1d335260e52e6a5b2ab42d503426786adf81520f79ce49630bdde88b");

	assert_int_equal(ethtx_key_from_hex(ctx, ANVIL_KEY, key), ETHTX_OK);
	rlp_buf_init(&b);
	assert_int_equal(ethtx_sign(ctx, &tx, key, &b, hash), ETHTX_OK);
	OPENSSL_cleanse(key, sizeof(key));
	assert_hex(b.data, b.len, want_signed);
	assert_hex(hash, 32, "f481f7b9817133ec991a4d9d6efc71335a62f0ee187bb015ea121db3f748eba4");

	assert_int_equal(ethtx_recover(ctx, b.data, b.len, &back, from), ETHTX_OK);
	assert_addr(from, ANVIL_ADDR);
	assert_int_equal(back.type, ETHTX_EIP1559);
	assert_true(back.chain_id == 97 && back.nonce == 7 && back.gas_limit == 60000);
	assert_memory_equal(back.max_fee, tx.max_fee, 32);
	assert_memory_equal(back.max_priority_fee, tx.max_priority_fee, 32);
	assert_memory_equal(back.to, tx.to, 20);
	assert_int_equal(back.data_len, sizeof(cd));
	assert_memory_equal(back.data, cd, sizeof(cd));
	rlp_buf_free(&b);
}

/* BSC mainnet legacy: v is 147 or 148 (0x93 here). Also from ethers v6. */
static void test_bsc_legacy_vector(void **state)
{
	uint8_t key[32], from[20];
	struct ethtx tx;
	struct rlp_buf b;

	(void)state;
	memset(&tx, 0, sizeof(tx));
	tx.type = ETHTX_LEGACY;
	tx.chain_id = 56;
	word_u64(tx.gas_price, 3000000000);
	tx.gas_limit = 21000;
	memset(tx.to, 0x35, 20);
	word_u64(tx.value, 1);
	assert_int_equal(ethtx_key_from_hex(ctx, ANVIL_KEY, key), ETHTX_OK);
	rlp_buf_init(&b);
	assert_int_equal(ethtx_sign(ctx, &tx, key, &b, NULL), ETHTX_OK);
	OPENSSL_cleanse(key, sizeof(key));
	assert_hex(b.data, b.len, "f8648084b2d05e0082520894353535353535353535353535353535353535353501808193a03d07ae334bc1ffd0c3284f0bb72070052c365cb1f63b007885faac1348cb840ea0022f7fe7f04edd5f5c41a41c776026a08fd4a28c519326527d42d3d570cc63ff");
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_OK);
	assert_addr(from, ANVIL_ADDR);
	rlp_buf_free(&b);
}

static void test_address_from_pubkey(void **state)
{
	secp256k1_context *sc = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	secp256k1_pubkey pk;
	uint8_t key[32], full[65], comp[33], addr[20], bad[65];
	size_t n;

	(void)state;
	assert_int_equal(ethtx_key_from_hex(ctx, ANVIL_KEY, key), ETHTX_OK);
	assert_true(secp256k1_ec_pubkey_create(sc, &pk, key));
	OPENSSL_cleanse(key, sizeof(key));
	n = sizeof(full);
	assert_true(secp256k1_ec_pubkey_serialize(sc, full, &n, &pk, SECP256K1_EC_UNCOMPRESSED));
	n = sizeof(comp);
	assert_true(secp256k1_ec_pubkey_serialize(sc, comp, &n, &pk, SECP256K1_EC_COMPRESSED));
	secp256k1_context_destroy(sc);

	assert_int_equal(ethtx_address_from_pubkey(ctx, full, 65, addr), ETHTX_OK);
	assert_addr(addr, ANVIL_ADDR);
	assert_int_equal(ethtx_address_from_pubkey(ctx, full + 1, 64, addr), ETHTX_OK);
	assert_addr(addr, ANVIL_ADDR);
	assert_int_equal(ethtx_address_from_pubkey(ctx, comp, 33, addr), ETHTX_OK);
	assert_addr(addr, ANVIL_ADDR);

	/* hybrid form, wrong lengths, a point off the curve */
	memcpy(bad, full, 65);
	bad[0] = (uint8_t)(0x06 | (full[64] & 1));
	assert_int_equal(ethtx_address_from_pubkey(ctx, bad, 65, addr), ETHTX_EINVAL);
	assert_int_equal(ethtx_address_from_pubkey(ctx, full, 32, addr), ETHTX_EINVAL);
	assert_int_equal(ethtx_address_from_pubkey(ctx, full, 66, addr), ETHTX_EINVAL);
	memcpy(bad, full, 65);
	bad[64] ^= 1;
	assert_int_equal(ethtx_address_from_pubkey(ctx, bad, 65, addr), ETHTX_EINVAL);
	assert_null(ethtx_ctx_last_error(ctx));
}

static void test_key_refusals(void **state)
{
	static const uint8_t zero[32];
	uint8_t key[32], addr[20];
	struct ethtx tx;
	struct rlp_buf b;

	(void)state;
	memset(key, 0xaa, sizeof(key));
	assert_int_equal(ethtx_key_from_hex(ctx, "0x00", key), ETHTX_EINVAL);
	assert_memory_equal(key, zero, 32);
	memset(key, 0xaa, sizeof(key));
	assert_int_equal(ethtx_key_from_hex(ctx, "0x" ORDER, key), ETHTX_EINVAL);
	assert_memory_equal(key, zero, 32);
	assert_int_equal(ethtx_key_from_hex(ctx, "0x0000000000000000000000000000000000000000000000000000000000000000", key), ETHTX_EINVAL);
	assert_int_equal(ethtx_key_from_hex(ctx, ANVIL_KEY "0", key), ETHTX_EINVAL);
	assert_memory_equal(key, zero, 32);
	assert_int_equal(ethtx_key_from_hex(ctx, "0xzc0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80", key), ETHTX_EINVAL);
	assert_memory_equal(key, zero, 32);

	assert_int_equal(ethtx_address_from_key(ctx, zero, addr), ETHTX_EINVAL);
	eip155_example(&tx);
	rlp_buf_init(&b);
	assert_int_equal(ethtx_sign(ctx, &tx, zero, &b, NULL), ETHTX_EINVAL);
	assert_int_equal(b.len, 0);
	memset(key, 0x46, sizeof(key));
	tx.chain_id = UINT64_MAX / 2;
	assert_int_equal(ethtx_sign(ctx, &tx, key, &b, NULL), ETHTX_EINVAL);
	tx.chain_id = 1;
	tx.data_len = ETHTX_MAX_DATA + 1;
	tx.data = key;
	assert_int_equal(ethtx_sign(ctx, &tx, key, &b, NULL), ETHTX_EINVAL);
	tx.data_len = 0;
	tx.type = (enum ethtx_type)1;
	assert_int_equal(ethtx_sign(ctx, &tx, key, &b, NULL), ETHTX_EUNSUPPORTED);
	assert_int_equal(b.len, 0);
	rlp_buf_free(&b);
	assert_null(ethtx_ctx_last_error(ctx));
}

/* Rebuilds a signed legacy tx with the given v, r and s, body unchanged. */
static void relist_legacy(const uint8_t *raw, size_t n, uint64_t v, const uint8_t r[32],
    const uint8_t s[32], struct rlp_buf *out)
{
	struct rlp_item top, it[9];
	size_t cnt, m, i;

	assert_int_equal(rlp_decode(raw, n, &top), RLP_OK);
	assert_int_equal(rlp_list_items(&top, it, 9, &cnt), RLP_OK);
	m = rlp_list_begin(out);
	for (i = 0; i < 6; i++)
		rlp_put_raw(out, it[i].raw, it[i].raw_len);
	rlp_put_u64(out, v);
	rlp_put_uint_be(out, r, 32);
	rlp_put_uint_be(out, s, 32);
	assert_int_equal(rlp_list_end(out, m), RLP_OK);
}

static void test_recover_refusals(void **state)
{
	uint8_t raw[200], r[32], s[32], high[32], from[20], tmp[200];
	struct rlp_buf b;
	BIGNUM *order = NULL, *bs = BN_new();
	size_t n;

	(void)state;
	n = unhex(EIP155_SIGNED, raw, sizeof(raw));
	/* r and s end the tx: 0xa0 r 0xa0 s */
	memcpy(r, raw + n - 65, 32);
	memcpy(s, raw + n - 32, 32);

	/* the same bytes rebuilt are accepted: the helper itself is faithful */
	rlp_buf_init(&b);
	relist_legacy(raw, n, 37, r, s, &b);
	assert_memory_equal(b.data, raw, n);
	rlp_buf_free(&b);

	/* EIP-2: s' = n - s with the other recovery id verifies, but is refused */
	assert_non_null(bs);
	assert_int_not_equal(BN_hex2bn(&order, ORDER), 0);
	assert_non_null(BN_bin2bn(s, 32, bs));
	assert_true(BN_sub(bs, order, bs));
	assert_int_equal(BN_bn2binpad(bs, high, 32), 32);
	rlp_buf_init(&b);
	relist_legacy(raw, n, 38, r, high, &b);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_ESIG);
	rlp_buf_free(&b);

	/* r = n is out of range; r = 0 recovers nothing */
	assert_int_equal(BN_bn2binpad(order, high, 32), 32);
	rlp_buf_init(&b);
	relist_legacy(raw, n, 37, high, s, &b);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_ESIG);
	rlp_buf_free(&b);
	memset(high, 0, 32);
	rlp_buf_init(&b);
	relist_legacy(raw, n, 37, high, s, &b);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_ESIG);
	rlp_buf_free(&b);
	BN_free(order);
	BN_free(bs);

	/* pre-EIP-155 v, and v values that mean nothing */
	rlp_buf_init(&b);
	relist_legacy(raw, n, 27, r, s, &b);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_EUNSUPPORTED);
	b.len = 0;
	relist_legacy(raw, n, 0, r, s, &b);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_ESIG);
	b.len = 0;
	relist_legacy(raw, n, 34, r, s, &b);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_ESIG);
	b.len = 0;
	/* another chain id: a valid signature by someone else, not an error */
	relist_legacy(raw, n, 39, r, s, &b);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_OK);
	assert_memory_not_equal(from, "\x9d\x8a\x62\xf6", 4);
	rlp_buf_free(&b);

	/* truncated, trailing byte, other envelopes, garbage */
	assert_int_equal(ethtx_recover(ctx, raw, n - 1, NULL, from), ETHTX_EMALFORMED);
	memcpy(tmp, raw, n);
	tmp[n] = 0;
	assert_int_equal(ethtx_recover(ctx, tmp, n + 1, NULL, from), ETHTX_EMALFORMED);
	assert_int_equal(ethtx_recover(ctx, raw, 0, NULL, from), ETHTX_EMALFORMED);
	tmp[0] = 0x01;
	memcpy(tmp + 1, raw, n);
	assert_int_equal(ethtx_recover(ctx, tmp, n + 1, NULL, from), ETHTX_EUNSUPPORTED);
	tmp[0] = 0x02;
	assert_int_equal(ethtx_recover(ctx, tmp, n + 1, NULL, from), ETHTX_EMALFORMED);
	assert_int_equal(ethtx_recover(ctx, (const uint8_t *)"\x83" "abc", 4, NULL, from), ETHTX_EMALFORMED);
	assert_int_equal(ethtx_recover(ctx, (const uint8_t *)"\xc0", 1, NULL, from), ETHTX_EMALFORMED);

	/* one altered body byte: still a signature, by a different "sender" */
	memcpy(tmp, raw, n);
	tmp[5] ^= 1; /* f8 6c 09 85 | gasPrice bytes */
	assert_int_equal(ethtx_recover(ctx, tmp, n, NULL, from), ETHTX_OK);
	assert_memory_not_equal(from, "\x9d\x8a\x62\xf6", 4);
	assert_null(ethtx_ctx_last_error(ctx));
}

/* Builds an unsigned-shaped type-2 list with chosen tail items. */
static void type2_with(struct rlp_buf *b, int access_entry, uint64_t y, int to_len)
{
	uint8_t w[32];
	size_t m, al, e;

	memset(w, 0x11, sizeof(w));
	rlp_put_raw(b, "\x02", 1);
	m = rlp_list_begin(b);
	rlp_put_u64(b, 1);
	rlp_put_u64(b, 0);
	rlp_put_u64(b, 1);
	rlp_put_u64(b, 2);
	rlp_put_u64(b, 21000);
	rlp_put_bytes(b, w, (size_t)to_len);
	rlp_put_u64(b, 0);
	rlp_put_bytes(b, "", 0);
	al = rlp_list_begin(b);
	if (access_entry) {
		e = rlp_list_begin(b);
		rlp_put_bytes(b, w, 20);
		rlp_list_end(b, rlp_list_begin(b));
		rlp_list_end(b, e);
	}
	rlp_list_end(b, al);
	rlp_put_u64(b, y);
	rlp_put_bytes(b, w, 32);
	rlp_put_bytes(b, w, 32);
	assert_int_equal(rlp_list_end(b, m), RLP_OK);
}

static void test_type2_refusals(void **state)
{
	struct rlp_buf b;
	uint8_t from[20];
	int rc;

	(void)state;
	rlp_buf_init(&b);
	type2_with(&b, 0, 0, 20);
	/* a well-formed shape with an arbitrary signature: either recovers
	 * someone or fails as a signature, never as malformed */
	rc = ethtx_recover(ctx, b.data, b.len, NULL, from);
	assert_true(rc == ETHTX_OK || rc == ETHTX_ESIG);
	b.len = 0;
	type2_with(&b, 1, 0, 20);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_EUNSUPPORTED);
	b.len = 0;
	type2_with(&b, 0, 2, 20);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_ESIG);
	b.len = 0;
	type2_with(&b, 0, 0, 0);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_EUNSUPPORTED);
	b.len = 0;
	type2_with(&b, 0, 0, 19);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_EMALFORMED);
	rlp_buf_free(&b);
}

/* Sign and recover across both types with values wider than 64 bits. */
static void test_round_trip(void **state)
{
	uint8_t key[32], want[20], from[20], data[300], hash[32], h2[32];
	struct ethtx tx, back;
	struct rlp_buf b;
	int type, i;

	(void)state;
	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)(i + 1);
	for (i = 0; i < (int)sizeof(data); i++)
		data[i] = (uint8_t)i;
	assert_int_equal(ethtx_address_from_key(ctx, key, want), ETHTX_OK);
	for (type = 0; type < 2; type++) {
		for (i = 0; i < 8; i++) {
			memset(&tx, 0, sizeof(tx));
			tx.type = type ? ETHTX_EIP1559 : ETHTX_LEGACY;
			tx.chain_id = i % 2 ? 56 : 1 + (uint64_t)i * 1000003;
			tx.nonce = (uint64_t)i * 7919;
			tx.gas_limit = 21000 + (uint64_t)i;
			memset(tx.gas_price + 20, 0x12 + i, 12);
			memset(tx.max_fee + 16, 0x7f, 16);
			memset(tx.max_priority_fee + 31, i, 1);
			memset(tx.to, 0x40 + i, 20);
			memset(tx.value + i * 4, 0xff, 32 - i * 4);
			/* fields the other type has no room for */
			if (type == 0) {
				memset(tx.max_fee, 0, 32);
				memset(tx.max_priority_fee, 0, 32);
			} else {
				memset(tx.gas_price, 0, 32);
			}
			tx.data = i ? data : NULL;
			tx.data_len = i ? (size_t)i * 37 : 0;
			rlp_buf_init(&b);
			assert_int_equal(ethtx_sign(ctx, &tx, key, &b, hash), ETHTX_OK);
			keccak256(b.data, b.len, h2);
			assert_memory_equal(hash, h2, 32);
			assert_int_equal(ethtx_recover(ctx, b.data, b.len, &back, from), ETHTX_OK);
			assert_memory_equal(from, want, 20);
			assert_int_equal(back.data_len, tx.data_len);
			if (tx.data_len)
				assert_memory_equal(back.data, tx.data, tx.data_len);
			back.data = tx.data;
			assert_memory_equal(&back, &tx, sizeof(tx));
			rlp_buf_free(&b);
		}
	}
	OPENSSL_cleanse(key, sizeof(key));
}

/* A context inherited across fork is refused in the child. */
/*
 * What a careless signer would produce: the fields as given, hashed and
 * signed with key 0x46..46 straight through libsecp256k1, with none of
 * ethtx's checks. Legacy: EIP-155 v = recid + 35 + 2 * chain. Type 2: yParity.
 */
static void sign_unchecked(int type2, uint64_t chain, uint64_t prio, uint64_t max, struct rlp_buf *out)
{
	secp256k1_context *sc = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	secp256k1_ecdsa_recoverable_signature sig;
	uint8_t key[32], to[20], hash[32], rs[64], w[32];
	struct rlp_buf pay;
	size_t m, al;
	int recid;

	memset(key, 0x46, sizeof(key));
	memset(to, 0x11, sizeof(to));
	for (int pass = 0; pass < 2; pass++) {
		struct rlp_buf *b = pass ? out : &pay;
		if (pass == 0)
			rlp_buf_init(&pay);
		if (type2)
			rlp_put_raw(b, "\x02", 1);
		m = rlp_list_begin(b);
		if (type2)
			rlp_put_u64(b, chain);
		rlp_put_u64(b, 0);                       /* nonce */
		if (type2) {
			word_u64(w, prio);
			rlp_put_uint_be(b, w, 32);
		}
		word_u64(w, max);
		rlp_put_uint_be(b, w, 32);               /* max fee, or gas price */
		rlp_put_u64(b, 21000);
		rlp_put_bytes(b, to, 20);
		rlp_put_u64(b, 0);
		rlp_put_bytes(b, "", 0);
		if (type2) {
			al = rlp_list_begin(b);
			rlp_list_end(b, al);
		}
		if (pass == 0) {
			if (!type2) {
				rlp_put_u64(b, chain);
				rlp_put_u64(b, 0);
				rlp_put_u64(b, 0);
			}
			assert_int_equal(rlp_list_end(b, m), RLP_OK);
			keccak256(pay.data, pay.len, hash);
			rlp_buf_free(&pay);
			assert_true(secp256k1_ecdsa_sign_recoverable(sc, &sig, hash, key, NULL, NULL));
			assert_true(secp256k1_ecdsa_recoverable_signature_serialize_compact(sc, rs, &recid, &sig));
			continue;
		}
		rlp_put_u64(b, type2 ? (uint64_t)recid : (uint64_t)recid + 35 + 2 * chain);
		rlp_put_uint_be(b, rs, 32);
		rlp_put_uint_be(b, rs + 32, 32);
		assert_int_equal(rlp_list_end(b, m), RLP_OK);
	}
	secp256k1_context_destroy(sc);
}

/* What no node accepts, or what would mean something else: refused to sign and to recover. */
static void test_hardening(void **state)
{
	struct ethtx tx;
	struct rlp_buf b;
	uint8_t key[32], from[20], w[32];
	BIGNUM *v = BN_new();

	(void)state;
	memset(key, 0x46, sizeof(key));

	/* Chain id 0: neither type is signed; a legacy v of 35/36 (EIP-155 for
	 * chain 0) is not recovered, nor is a type-2 for chain 0. */
	eip155_example(&tx);
	tx.chain_id = 0;
	rlp_buf_init(&b);
	assert_int_equal(ethtx_sign(ctx, &tx, key, &b, NULL), ETHTX_EINVAL);
	assert_int_equal(b.len, 0);
	tx.type = ETHTX_EIP1559;
	assert_int_equal(ethtx_sign(ctx, &tx, key, &b, NULL), ETHTX_EINVAL);
	sign_unchecked(0, 0, 0, 20000000000ULL, &b);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_EUNSUPPORTED);
	b.len = 0;
	sign_unchecked(1, 0, 1, 2, &b);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_EUNSUPPORTED);
	b.len = 0;
	/* The same shapes with chain 56 are fine: the helper signs like ethtx. */
	sign_unchecked(0, 56, 0, 20000000000ULL, &b);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, &tx, from), ETHTX_OK);
	assert_true(tx.chain_id == 56);
	assert_addr(from, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
	b.len = 0;

	/* A type-2 tip above the max fee. */
	memset(&tx, 0, sizeof(tx));
	tx.type = ETHTX_EIP1559;
	tx.chain_id = 56;
	tx.gas_limit = 21000;
	memset(tx.to, 0x11, 20);
	word_u64(tx.max_priority_fee, 3);
	word_u64(tx.max_fee, 2);
	assert_int_equal(ethtx_sign(ctx, &tx, key, &b, NULL), ETHTX_EINVAL);
	assert_int_equal(b.len, 0);
	word_u64(tx.max_priority_fee, 2);    /* equal is fine */
	assert_int_equal(ethtx_sign(ctx, &tx, key, &b, NULL), ETHTX_OK);
	b.len = 0;
	sign_unchecked(1, 56, 3, 2, &b);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_EMALFORMED);
	b.len = 0;
	sign_unchecked(1, 56, 2, 3, &b);
	assert_int_equal(ethtx_recover(ctx, b.data, b.len, NULL, from), ETHTX_OK);

	/* Recovered for the chain expected, or refused. */
	assert_int_equal(ethtx_recover_chain(ctx, b.data, b.len, 56, &tx, from), ETHTX_OK);
	assert_int_equal(ethtx_recover_chain(ctx, b.data, b.len, 1, &tx, from), ETHTX_ECHAIN);
	assert_memory_equal(from, (uint8_t[20]){ 0 }, 20);
	assert_true(tx.chain_id == 0);
	b.len = 0;
	eip155_example(&tx);
	assert_int_equal(ethtx_sign(ctx, &tx, key, &b, NULL), ETHTX_OK);
	assert_int_equal(ethtx_recover_chain(ctx, b.data, b.len, 1, NULL, from), ETHTX_OK);
	assert_int_equal(ethtx_recover_chain(ctx, b.data, b.len, 56, NULL, from), ETHTX_ECHAIN);
	rlp_buf_free(&b);

	/* Quantities wider than 256 bits are refused, never truncated. */
	assert_non_null(v);
	assert_true(BN_set_word(v, 1) && BN_lshift(v, v, 256));
	assert_int_equal(ethtx_quantity(v, w), ETHTX_EINVAL);
	assert_true(BN_sub_word(v, 1));
	assert_int_equal(ethtx_quantity(v, w), ETHTX_OK);
	for (int i = 0; i < 32; i++)
		assert_int_equal(w[i], 0xff);
	BN_set_negative(v, 1);
	assert_int_equal(ethtx_quantity(v, w), ETHTX_EINVAL);
	assert_int_equal(ethtx_quantity(NULL, w), ETHTX_EINVAL);
	assert_true(BN_set_word(v, 20000000000ULL));
	assert_int_equal(ethtx_quantity(v, w), ETHTX_OK);
	word_u64(tx.gas_price, 20000000000ULL);
	assert_memory_equal(w, tx.gas_price, 32);
	BN_free(v);
	assert_null(ethtx_ctx_last_error(ctx));
}

static void test_fork_refused(void **state)
{
	uint8_t key[32], addr[20];
	pid_t pid;
	int status;

	(void)state;
	memset(key, 0x46, sizeof(key));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(ethtx_address_from_key(ctx, key, addr) == ETHTX_EFORKED ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(ethtx_address_from_key(ctx, key, addr), ETHTX_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eip155_example),
		cmocka_unit_test(test_raw_hash_check),
		cmocka_unit_test(test_anvil_key),
		cmocka_unit_test(test_type2_vector),
		cmocka_unit_test(test_bsc_legacy_vector),
		cmocka_unit_test(test_address_from_pubkey),
		cmocka_unit_test(test_key_refusals),
		cmocka_unit_test(test_recover_refusals),
		cmocka_unit_test(test_type2_refusals),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_hardening),
		cmocka_unit_test(test_fork_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
