#include "evm/keccak.h"

#include <string.h>

#include <openssl/crypto.h>

/* Keccak-256: capacity 512 bits, so 1088 bits (136 bytes) absorbed per block. */
#define RATE 136
#define ROUNDS 24

static const uint64_t round_const[ROUNDS] = {
	0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
	0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL,
	0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL,
	0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
	0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
	0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL,
	0x000000000000800aULL, 0x800000008000000aULL, 0x8000000080008081ULL,
	0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* Rotation of lane (x, y), indexed x + 5 * y: the triangular numbers
 * (t + 1)(t + 2) / 2 mod 64 walked along the rho path of the specification. */
static const unsigned rho[25] = {
	0, 1, 62, 28, 27,
	36, 44, 6, 55, 20,
	3, 10, 43, 25, 39,
	41, 45, 15, 21, 8,
	18, 2, 61, 56, 14,
};

static uint64_t rotl(uint64_t v, unsigned r)
{
	/* The mask keeps r == 0 from shifting by 64, which C leaves undefined. */
	return (v << r) | (v >> ((64 - r) & 63));
}

static void keccak_f(uint64_t a[25])
{
	uint64_t c[5], b[25], d;
	int round, x, y;

	for (round = 0; round < ROUNDS; round++) {
		/* theta: mix each column's parity into its neighbours */
		for (x = 0; x < 5; x++)
			c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
		for (x = 0; x < 5; x++) {
			d = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1);
			for (y = 0; y < 25; y += 5)
				a[x + y] ^= d;
		}
		/* rho and pi: rotate each lane, move (x, y) to (y, 2x + 3y) */
		for (y = 0; y < 5; y++)
			for (x = 0; x < 5; x++)
				b[y + 5 * ((2 * x + 3 * y) % 5)] =
				    rotl(a[x + 5 * y], rho[x + 5 * y]);
		/* chi: the only non-linear step, row by row */
		for (y = 0; y < 25; y += 5)
			for (x = 0; x < 5; x++)
				a[x + y] = b[x + y] ^
				    (~b[(x + 1) % 5 + y] & b[(x + 2) % 5 + y]);
		/* iota: break the symmetry between rounds */
		a[0] ^= round_const[round];
	}
}

/* Lanes are little-endian; xoring byte by byte keeps this right on any host. */
static void absorb_byte(struct keccak256_ctx *ctx, size_t i, uint8_t v)
{
	ctx->lane[i / 8] ^= (uint64_t)v << (8 * (i % 8));
}

void keccak256_init(struct keccak256_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
}

void keccak256_update(struct keccak256_ctx *ctx, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		absorb_byte(ctx, ctx->pos++, *p++);
		len--;
		if (ctx->pos == RATE) {
			keccak_f(ctx->lane);
			ctx->pos = 0;
		}
	}
}

void keccak256_final(struct keccak256_ctx *ctx, uint8_t out[KECCAK256_LEN])
{
	size_t i;

	/* pad10*1 with Keccak's domain byte; both ends may share one byte */
	absorb_byte(ctx, ctx->pos, 0x01);
	absorb_byte(ctx, RATE - 1, 0x80);
	keccak_f(ctx->lane);
	for (i = 0; i < KECCAK256_LEN; i++)
		out[i] = (uint8_t)(ctx->lane[i / 8] >> (8 * (i % 8)));
	/* The input may have been secret (a key being fingerprinted, say). */
	OPENSSL_cleanse(ctx, sizeof(*ctx));
}

void keccak256(const void *data, size_t len, uint8_t out[KECCAK256_LEN])
{
	struct keccak256_ctx ctx;

	keccak256_init(&ctx);
	keccak256_update(&ctx, data, len);
	keccak256_final(&ctx, out);
}
