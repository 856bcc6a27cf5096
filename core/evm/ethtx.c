#include "evm/ethtx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "base/hex.h"
#include "evm/keccak.h"

#define TYPE2_PREFIX 0x02
/* EIP-155: v = recid + 2 * chain_id + 35. */
#define V_OFFSET 35
#define V_PRE155_LO 27
#define V_PRE155_HI 28
#define LEGACY_FIELDS 9
#define TYPE2_FIELDS 12

struct ethtx_ctx {
	secp256k1_context *secp;
	pid_t pid;           /* the process that created it */
	const char *illegal; /* last message from the illegal-argument callback */
	int illegal_seen;    /* set by the callback since the current call began */
};

/* The library's default callback aborts the process; a worker that passes a
 * bad argument should fail one request instead. */
static void on_illegal(const char *msg, void *data)
{
	struct ethtx_ctx *ctx = data;

	ctx->illegal = msg;
	ctx->illegal_seen = 1;
}

/* Start of every call that uses the context. */
static int enter(struct ethtx_ctx *ctx)
{
	if (ctx->pid != getpid())
		return ETHTX_EFORKED;
	ctx->illegal_seen = 0;
	return ETHTX_OK;
}

/* A libsecp256k1 call returned 0: our own bad argument, or the expected rc. */
static int failed(const struct ethtx_ctx *ctx, int rc)
{
	return ctx->illegal_seen ? ETHTX_ECRYPTO : rc;
}

static int fill_random(uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

int ethtx_ctx_new(struct ethtx_ctx **out)
{
	struct ethtx_ctx *ctx;
	uint8_t seed[32];
	int rc;

	*out = NULL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return ETHTX_ENOMEM;
	ctx->pid = getpid();
	/* after this point, all errors should use goto err */
	ctx->secp = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	if (!ctx->secp) {
		rc = ETHTX_ENOMEM;
		goto err;
	}
	secp256k1_context_set_illegal_callback(ctx->secp, on_illegal, ctx);
	/* Blinding against side channels: fresh per process, hence per worker. */
	if (fill_random(seed, sizeof(seed)) != 0 ||
	    !secp256k1_context_randomize(ctx->secp, seed)) {
		rc = ETHTX_ECRYPTO;
		goto err;
	}
	OPENSSL_cleanse(seed, sizeof(seed));
	*out = ctx;
	return ETHTX_OK;
err:
	OPENSSL_cleanse(seed, sizeof(seed));
	ethtx_ctx_free(ctx);
	return rc;
}

void ethtx_ctx_free(struct ethtx_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->secp)
		secp256k1_context_destroy(ctx->secp);
	free(ctx);
}

const char *ethtx_ctx_last_error(const struct ethtx_ctx *ctx)
{
	return ctx->illegal;
}

/* ---- encoding ---- */

static int from_rlp(int rc)
{
	if (rc == RLP_OK)
		return ETHTX_OK;
	return rc == RLP_ENOMEM ? ETHTX_ENOMEM : ETHTX_EINVAL;
}

/* Big-endian words compare as byte strings. */
static int word_cmp(const uint8_t a[ETHTX_WORD_LEN], const uint8_t b[ETHTX_WORD_LEN])
{
	return memcmp(a, b, ETHTX_WORD_LEN);
}

static int check_tx(const struct ethtx *tx)
{
	if (tx->type != ETHTX_LEGACY && tx->type != ETHTX_EIP1559)
		return ETHTX_EUNSUPPORTED;
	if (tx->data_len > ETHTX_MAX_DATA || (tx->data_len > 0 && !tx->data))
		return ETHTX_EINVAL;
	/* No chain has id 0: such a signature would be valid on none, or replayable. */
	if (tx->chain_id == 0)
		return ETHTX_EINVAL;
	/* A tip above the max fee is refused by every node (EIP-1559). */
	if (tx->type == ETHTX_EIP1559 && word_cmp(tx->max_priority_fee, tx->max_fee) > 0)
		return ETHTX_EINVAL;
	return ETHTX_OK;
}

int ethtx_quantity(const BIGNUM *v, uint8_t out[ETHTX_WORD_LEN])
{
	memset(out, 0, ETHTX_WORD_LEN);
	if (v == NULL || BN_is_negative(v) || BN_num_bytes(v) > ETHTX_WORD_LEN)
		return ETHTX_EINVAL;
	return BN_bn2binpad(v, out, ETHTX_WORD_LEN) == ETHTX_WORD_LEN ? ETHTX_OK : ETHTX_EINVAL;
}

/* The fields both the signing payload and the signed form start with. */
static void put_body(struct rlp_buf *b, const struct ethtx *tx)
{
	size_t access_list;

	if (tx->type == ETHTX_EIP1559) {
		rlp_put_u64(b, tx->chain_id);
		rlp_put_u64(b, tx->nonce);
		rlp_put_uint_be(b, tx->max_priority_fee, ETHTX_WORD_LEN);
		rlp_put_uint_be(b, tx->max_fee, ETHTX_WORD_LEN);
	} else {
		rlp_put_u64(b, tx->nonce);
		rlp_put_uint_be(b, tx->gas_price, ETHTX_WORD_LEN);
	}
	rlp_put_u64(b, tx->gas_limit);
	rlp_put_bytes(b, tx->to, ETHTX_ADDR_LEN);
	rlp_put_uint_be(b, tx->value, ETHTX_WORD_LEN);
	rlp_put_bytes(b, tx->data, tx->data_len);
	if (tx->type == ETHTX_EIP1559) {
		access_list = rlp_list_begin(b);
		rlp_list_end(b, access_list);
	}
}

int ethtx_signing_payload(const struct ethtx *tx, struct rlp_buf *out)
{
	static const uint8_t type2 = TYPE2_PREFIX;
	size_t list;
	int rc = check_tx(tx);

	if (rc)
		return rc;
	if (tx->type == ETHTX_EIP1559)
		rlp_put_raw(out, &type2, 1);
	list = rlp_list_begin(out);
	put_body(out, tx);
	if (tx->type == ETHTX_LEGACY) {
		/* EIP-155 signs the chain id in v's place, with empty r and s. */
		rlp_put_u64(out, tx->chain_id);
		rlp_put_u64(out, 0);
		rlp_put_u64(out, 0);
	}
	return from_rlp(rlp_list_end(out, list));
}

int ethtx_signing_hash(const struct ethtx *tx, uint8_t hash[ETHTX_HASH_LEN])
{
	struct rlp_buf b;
	int rc;

	rlp_buf_init(&b);
	rc = ethtx_signing_payload(tx, &b);
	if (rc == ETHTX_OK)
		keccak256(b.data, b.len, hash);
	rlp_buf_free(&b);
	return rc;
}

/* The signed form: the body, then v (or yParity), r and s. */
static int put_signed(struct rlp_buf *b, const struct ethtx *tx, int recid,
    const uint8_t rs[64])
{
	static const uint8_t type2 = TYPE2_PREFIX;
	size_t list;

	if (tx->type == ETHTX_EIP1559)
		rlp_put_raw(b, &type2, 1);
	list = rlp_list_begin(b);
	put_body(b, tx);
	if (tx->type == ETHTX_LEGACY)
		rlp_put_u64(b, (uint64_t)recid + 2 * tx->chain_id + V_OFFSET);
	else
		rlp_put_u64(b, (uint64_t)recid);
	rlp_put_uint_be(b, rs, 32);
	rlp_put_uint_be(b, rs + 32, 32);
	return from_rlp(rlp_list_end(b, list));
}

int ethtx_sign(struct ethtx_ctx *ctx, const struct ethtx *tx,
    const uint8_t key[ETHTX_KEY_LEN], struct rlp_buf *raw, uint8_t txhash[ETHTX_HASH_LEN])
{
	secp256k1_ecdsa_recoverable_signature sig;
	uint8_t hash[ETHTX_HASH_LEN], rs[64];
	size_t start = raw->len;
	int recid, rc;

	if ((rc = enter(ctx)) != ETHTX_OK)
		return rc;
	if (tx->type == ETHTX_LEGACY && tx->chain_id > (UINT64_MAX - V_OFFSET - 1) / 2)
		return ETHTX_EINVAL;
	if ((rc = ethtx_signing_hash(tx, hash)) != ETHTX_OK)
		return rc;
	if (!secp256k1_ec_seckey_verify(ctx->secp, key))
		return failed(ctx, ETHTX_EINVAL);
	if (!secp256k1_ecdsa_sign_recoverable(ctx->secp, &sig, hash, key, NULL, NULL))
		return failed(ctx, ETHTX_EINVAL);
	if (!secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx->secp, rs, &recid, &sig))
		return failed(ctx, ETHTX_ECRYPTO);
	/* 2 and 3 mean r overflowed the group order (odds about 2^-127); v has no
	 * room for them. */
	if (recid > 1)
		return ETHTX_ESIG;
	if ((rc = put_signed(raw, tx, recid, rs)) != ETHTX_OK)
		return rc;
	if (txhash)
		keccak256(raw->data + start, raw->len - start, txhash);
	return ETHTX_OK;
}

/* ---- addresses ---- */

static int pub_to_address(const struct ethtx_ctx *ctx, const secp256k1_pubkey *pub,
    uint8_t addr[ETHTX_ADDR_LEN])
{
	uint8_t ser[65], h[KECCAK256_LEN];
	size_t n = sizeof(ser);

	if (!secp256k1_ec_pubkey_serialize(ctx->secp, ser, &n, pub, SECP256K1_EC_UNCOMPRESSED))
		return failed(ctx, ETHTX_ECRYPTO);
	/* skip the 0x04 format byte */
	keccak256(ser + 1, 64, h);
	memcpy(addr, h + KECCAK256_LEN - ETHTX_ADDR_LEN, ETHTX_ADDR_LEN);
	return ETHTX_OK;
}

int ethtx_address_from_key(struct ethtx_ctx *ctx, const uint8_t key[ETHTX_KEY_LEN],
    uint8_t addr[ETHTX_ADDR_LEN])
{
	secp256k1_pubkey pub;
	int rc;

	memset(addr, 0, ETHTX_ADDR_LEN);
	if ((rc = enter(ctx)) != ETHTX_OK)
		return rc;
	if (!secp256k1_ec_seckey_verify(ctx->secp, key) ||
	    !secp256k1_ec_pubkey_create(ctx->secp, &pub, key))
		return failed(ctx, ETHTX_EINVAL);
	return pub_to_address(ctx, &pub, addr);
}

int ethtx_address_from_pubkey(struct ethtx_ctx *ctx, const uint8_t *pub, size_t len,
    uint8_t addr[ETHTX_ADDR_LEN])
{
	secp256k1_pubkey pk;
	uint8_t full[65];
	int rc;

	memset(addr, 0, ETHTX_ADDR_LEN);
	if ((rc = enter(ctx)) != ETHTX_OK)
		return rc;
	if (len == 64) {
		full[0] = 0x04;
		memcpy(full + 1, pub, 64);
		pub = full;
		len = sizeof(full);
	}
	/* libsecp256k1 also takes the "hybrid" 0x06/0x07 forms; nobody should
	 * hand us those, so only 0x04 passes. */
	if (!(len == 33 || (len == 65 && pub[0] == 0x04)))
		return ETHTX_EINVAL;
	if (!secp256k1_ec_pubkey_parse(ctx->secp, &pk, pub, len))
		return failed(ctx, ETHTX_EINVAL);
	return pub_to_address(ctx, &pk, addr);
}

int ethtx_key_from_hex(struct ethtx_ctx *ctx, const char *hex, uint8_t key[ETHTX_KEY_LEN])
{
	int rc;

	if ((rc = enter(ctx)) != ETHTX_OK)
		goto err;
	rc = ETHTX_EINVAL;
	if (hex_decode_exact(hex, key, ETHTX_KEY_LEN) != HEX_OK)
		goto err;
	if (!secp256k1_ec_seckey_verify(ctx->secp, key)) {
		rc = failed(ctx, ETHTX_EINVAL);
		goto err;
	}
	return ETHTX_OK;
err:
	OPENSSL_cleanse(key, ETHTX_KEY_LEN);
	return rc;
}

/* ---- decoding and recovery ---- */

static int get_u64(const struct rlp_item *it, uint64_t *v)
{
	return rlp_item_u64(it, v) == RLP_OK ? ETHTX_OK : ETHTX_EMALFORMED;
}

static int get_word(const struct rlp_item *it, uint8_t w[ETHTX_WORD_LEN])
{
	return rlp_item_word(it, w) == RLP_OK ? ETHTX_OK : ETHTX_EMALFORMED;
}

/* to, value, data: consecutive in both types. */
static int get_to_value_data(const struct rlp_item *it, struct ethtx *tx)
{
	if (it[0].is_list || it[2].is_list)
		return ETHTX_EMALFORMED;
	if (it[0].len == 0)
		return ETHTX_EUNSUPPORTED; /* contract creation */
	if (it[0].len != ETHTX_ADDR_LEN)
		return ETHTX_EMALFORMED;
	memcpy(tx->to, it[0].payload, ETHTX_ADDR_LEN);
	if (get_word(&it[1], tx->value) != ETHTX_OK)
		return ETHTX_EMALFORMED;
	if (it[2].len > ETHTX_MAX_DATA)
		return ETHTX_EMALFORMED;
	tx->data = it[2].len ? it[2].payload : NULL;
	tx->data_len = it[2].len;
	return ETHTX_OK;
}

/* [nonce, gasPrice, gas, to, value, data, v, r, s] */
static int parse_legacy(const struct rlp_item *it, struct ethtx *tx, int *recid)
{
	uint64_t v;
	int rc;

	tx->type = ETHTX_LEGACY;
	if (get_u64(&it[0], &tx->nonce) || get_word(&it[1], tx->gas_price) ||
	    get_u64(&it[2], &tx->gas_limit) || get_u64(&it[6], &v))
		return ETHTX_EMALFORMED;
	if ((rc = get_to_value_data(&it[3], tx)) != ETHTX_OK)
		return rc;
	if (v == V_PRE155_LO || v == V_PRE155_HI)
		return ETHTX_EUNSUPPORTED; /* no chain id: replayable on any chain */
	if (v < V_OFFSET)
		return ETHTX_ESIG;
	tx->chain_id = (v - V_OFFSET) / 2;
	*recid = (int)((v - V_OFFSET) % 2);
	/* v of 35 or 36: EIP-155 for chain 0, which protects nothing. */
	if (tx->chain_id == 0)
		return ETHTX_EUNSUPPORTED;
	return ETHTX_OK;
}

/* [chainId, nonce, maxPriority, maxFee, gas, to, value, data, accessList,
 *  yParity, r, s] */
static int parse_type2(const struct rlp_item *it, struct ethtx *tx, int *recid)
{
	uint64_t y;
	int rc;

	tx->type = ETHTX_EIP1559;
	if (get_u64(&it[0], &tx->chain_id) || get_u64(&it[1], &tx->nonce) ||
	    get_word(&it[2], tx->max_priority_fee) || get_word(&it[3], tx->max_fee) ||
	    get_u64(&it[4], &tx->gas_limit) || get_u64(&it[9], &y))
		return ETHTX_EMALFORMED;
	if ((rc = get_to_value_data(&it[5], tx)) != ETHTX_OK)
		return rc;
	if (!it[8].is_list)
		return ETHTX_EMALFORMED;
	if (it[8].len != 0)
		return ETHTX_EUNSUPPORTED; /* struct ethtx has no room for one */
	if (y > 1)
		return ETHTX_ESIG;
	if (tx->chain_id == 0)
		return ETHTX_EUNSUPPORTED;
	if (word_cmp(tx->max_priority_fee, tx->max_fee) > 0)
		return ETHTX_EMALFORMED;
	*recid = (int)y;
	return ETHTX_OK;
}

static int recover_signer(struct ethtx_ctx *ctx, const uint8_t hash[ETHTX_HASH_LEN],
    const uint8_t rs[64], int recid, uint8_t from[ETHTX_ADDR_LEN])
{
	secp256k1_ecdsa_recoverable_signature sig;
	secp256k1_ecdsa_signature plain;
	secp256k1_pubkey pub;

	/* fails when r or s is not below the group order */
	if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx->secp, &sig, rs, recid))
		return failed(ctx, ETHTX_ESIG);
	/* EIP-2: only the low-s twin of each signature is valid, or a third party
	 * could mint a second valid encoding, with another hash, of the same tx. */
	if (!secp256k1_ecdsa_recoverable_signature_convert(ctx->secp, &plain, &sig))
		return failed(ctx, ETHTX_ECRYPTO);
	if (secp256k1_ecdsa_signature_normalize(ctx->secp, NULL, &plain))
		return ETHTX_ESIG;
	if (!secp256k1_ecdsa_recover(ctx->secp, &pub, &sig, hash))
		return failed(ctx, ETHTX_ESIG);
	return pub_to_address(ctx, &pub, from);
}

int ethtx_recover(struct ethtx_ctx *ctx, const uint8_t *raw, size_t len,
    struct ethtx *tx_out, uint8_t from[ETHTX_ADDR_LEN])
{
	struct ethtx scratch, *tx = tx_out ? tx_out : &scratch;
	struct rlp_item top, it[TYPE2_FIELDS];
	uint8_t rs[64], hash[ETHTX_HASH_LEN];
	size_t n, want;
	int recid = 0, type2, rc;

	memset(tx, 0, sizeof(*tx));
	memset(from, 0, ETHTX_ADDR_LEN);
	if ((rc = enter(ctx)) != ETHTX_OK)
		return rc;
	if (len == 0 || len > ETHTX_MAX_RAW)
		return ETHTX_EMALFORMED;
	/* EIP-2718: a first byte below 0x80 is a type, a list header is legacy. */
	type2 = raw[0] == TYPE2_PREFIX;
	if (!type2 && raw[0] < 0x80)
		return ETHTX_EUNSUPPORTED;
	if (type2) {
		raw++;
		len--;
	}
	if (rlp_decode(raw, len, &top) != RLP_OK || !top.is_list)
		return ETHTX_EMALFORMED;
	want = type2 ? TYPE2_FIELDS : LEGACY_FIELDS;
	if (rlp_list_items(&top, it, want, &n) != RLP_OK || n != want)
		return ETHTX_EMALFORMED;

	rc = type2 ? parse_type2(it, tx, &recid) : parse_legacy(it, tx, &recid);
	if (rc == ETHTX_OK && (get_word(&it[want - 2], rs) || get_word(&it[want - 1], rs + 32)))
		rc = ETHTX_EMALFORMED;
	/* Re-encoding is exact: the decoder only accepted the canonical form. */
	if (rc == ETHTX_OK)
		rc = ethtx_signing_hash(tx, hash);
	if (rc == ETHTX_OK)
		rc = recover_signer(ctx, hash, rs, recid, from);
	if (rc != ETHTX_OK) {
		memset(tx, 0, sizeof(*tx));
		memset(from, 0, ETHTX_ADDR_LEN);
	}
	return rc;
}

int ethtx_recover_chain(struct ethtx_ctx *ctx, const uint8_t *raw, size_t len, uint64_t chain_id,
    struct ethtx *tx_out, uint8_t from[ETHTX_ADDR_LEN])
{
	struct ethtx scratch, *tx = tx_out ? tx_out : &scratch;
	int rc = ethtx_recover(ctx, raw, len, tx, from);

	if (rc == ETHTX_OK && tx->chain_id != chain_id) {
		memset(tx, 0, sizeof(*tx));
		memset(from, 0, ETHTX_ADDR_LEN);
		return ETHTX_ECHAIN;
	}
	return rc;
}
