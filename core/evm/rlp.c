#include "evm/rlp.h"

#include <stdlib.h>
#include <string.h>

/* Headers: 0x80 + n for strings of up to 55 bytes, 0xb7 + k followed by a k-byte
 * length for longer ones; lists the same from 0xc0 and 0xf7. */
#define STR_BASE 0x80
#define LIST_BASE 0xc0
#define SHORT_MAX 55

/* ---- encoding ---- */

void rlp_buf_init(struct rlp_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void rlp_buf_free(struct rlp_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static int reserve(struct rlp_buf *b, size_t extra)
{
	size_t cap;
	uint8_t *p;

	if (b->err)
		return b->err;
	if (extra > RLP_MAX_LEN - b->len)
		return b->err = RLP_ELIMIT;
	if (b->len + extra <= b->cap)
		return RLP_OK;
	cap = b->cap ? b->cap : 64;
	while (cap < b->len + extra)
		cap *= 2;
	if (cap > RLP_MAX_LEN)
		cap = RLP_MAX_LEN;
	p = realloc(b->data, cap);
	if (!p)
		return b->err = RLP_ENOMEM;
	b->data = p;
	b->cap = cap;
	return RLP_OK;
}

/* Header for a payload of n bytes into h; returns its length (1 to 9). */
static size_t header(uint8_t h[9], uint8_t base, size_t n)
{
	size_t k = 0, i;
	size_t v;

	if (n <= SHORT_MAX) {
		h[0] = (uint8_t)(base + n);
		return 1;
	}
	for (v = n; v > 0; v >>= 8)
		k++;
	h[0] = (uint8_t)(base + SHORT_MAX + k);
	for (i = 0; i < k; i++)
		h[k - i] = (uint8_t)(n >> (8 * i));
	return 1 + k;
}

int rlp_put_raw(struct rlp_buf *b, const void *p, size_t n)
{
	int rc = reserve(b, n);

	if (rc)
		return rc;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return RLP_OK;
}

int rlp_put_bytes(struct rlp_buf *b, const void *p, size_t n)
{
	uint8_t h[9];
	size_t hl;
	int rc;

	/* A single byte below 0x80 is its own encoding. */
	if (n == 1 && *(const uint8_t *)p < STR_BASE)
		return rlp_put_raw(b, p, 1);
	if (n > RLP_MAX_LEN)
		return b->err ? b->err : (b->err = RLP_ELIMIT);
	hl = header(h, STR_BASE, n);
	rc = reserve(b, hl + n);
	if (rc)
		return rc;
	rlp_put_raw(b, h, hl);
	return rlp_put_raw(b, p, n);
}

int rlp_put_uint_be(struct rlp_buf *b, const uint8_t *be, size_t n)
{
	while (n > 0 && *be == 0) {
		be++;
		n--;
	}
	return rlp_put_bytes(b, be, n);
}

int rlp_put_u64(struct rlp_buf *b, uint64_t v)
{
	uint8_t be[8];
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		be[i] = (uint8_t)v;
	return rlp_put_uint_be(b, be, sizeof(be));
}

size_t rlp_list_begin(struct rlp_buf *b)
{
	return b->len;
}

int rlp_list_end(struct rlp_buf *b, size_t mark)
{
	uint8_t h[9];
	size_t hl, n;
	int rc;

	if (b->err)
		return b->err;
	if (mark > b->len)
		return b->err = RLP_EMISUSE;
	n = b->len - mark;
	hl = header(h, LIST_BASE, n);
	rc = reserve(b, hl);
	if (rc)
		return rc;
	/* The header's size depends on the payload's, so it goes in afterwards. */
	memmove(b->data + mark + hl, b->data + mark, n);
	memcpy(b->data + mark, h, hl);
	b->len += hl;
	return RLP_OK;
}

/* ---- decoding ---- */

/* Reads the item starting at p, with left bytes available, checking that its
 * header is canonical and that its payload is all there. */
static int read_item(const uint8_t *p, size_t left, struct rlp_item *it)
{
	uint8_t b;
	size_t hl, n, k, i;
	int long_form;

	if (left == 0)
		return RLP_ETRUNC;
	b = p[0];
	it->raw = p;
	if (b < STR_BASE) {
		it->is_list = 0;
		it->payload = p;
		it->len = it->raw_len = 1;
		return RLP_OK;
	}
	it->is_list = b >= LIST_BASE;
	b -= it->is_list ? LIST_BASE : STR_BASE;
	long_form = b > SHORT_MAX;
	if (!long_form) {
		hl = 1;
		n = b;
	} else {
		k = b - SHORT_MAX;
		if (left - 1 < k)
			return RLP_ETRUNC;
		if (p[1] == 0)
			return RLP_ENONCANON;
		n = 0;
		for (i = 0; i < k; i++) {
			/* Anything past the input bound cannot be present. */
			if (n > (RLP_MAX_LEN >> 8))
				return RLP_ETRUNC;
			n = n << 8 | p[1 + i];
		}
		if (n <= SHORT_MAX)
			return RLP_ENONCANON;
		hl = 1 + k;
	}
	if (n > left - hl)
		return RLP_ETRUNC;
	if (!it->is_list && n == 1 && p[hl] < STR_BASE)
		return RLP_ENONCANON;
	it->payload = p + hl;
	it->len = n;
	it->raw_len = hl + n;
	return RLP_OK;
}

/* Walks a list's payload; depth is the nesting level of that list. The depth
 * bound is also what bounds this recursion. */
static int check_payload(const uint8_t *p, size_t len, int depth)
{
	struct rlp_item it;
	int rc;

	while (len > 0) {
		rc = read_item(p, len, &it);
		if (rc)
			return rc;
		if (it.is_list) {
			if (depth >= RLP_MAX_DEPTH)
				return RLP_EDEPTH;
			rc = check_payload(it.payload, it.len, depth + 1);
			if (rc)
				return rc;
		}
		p += it.raw_len;
		len -= it.raw_len;
	}
	return RLP_OK;
}

int rlp_decode(const uint8_t *in, size_t len, struct rlp_item *top)
{
	int rc;

	memset(top, 0, sizeof(*top));
	if (len > RLP_MAX_LEN)
		return RLP_ELIMIT;
	rc = read_item(in, len, top);
	if (rc)
		return rc;
	if (top->raw_len != len)
		return RLP_ETRAILING;
	return top->is_list ? check_payload(top->payload, top->len, 1) : RLP_OK;
}

int rlp_list_items(const struct rlp_item *list, struct rlp_item *items, size_t max,
    size_t *n)
{
	const uint8_t *p;
	size_t left;
	int rc;

	*n = 0;
	if (!list->is_list)
		return RLP_ETYPE;
	p = list->payload;
	left = list->len;
	while (left > 0) {
		if (*n == max)
			return RLP_ERANGE;
		rc = read_item(p, left, &items[*n]);
		if (rc)
			return rc;
		p += items[*n].raw_len;
		left -= items[*n].raw_len;
		(*n)++;
	}
	return RLP_OK;
}

/* Shared checks for integers: a string, not wider than max, no leading zero. */
static int check_uint(const struct rlp_item *it, size_t max)
{
	if (it->is_list)
		return RLP_ETYPE;
	if (it->len > max)
		return RLP_ERANGE;
	if (it->len > 0 && it->payload[0] == 0)
		return RLP_ENONCANON;
	return RLP_OK;
}

int rlp_item_u64(const struct rlp_item *it, uint64_t *out)
{
	size_t i;
	int rc = check_uint(it, 8);

	*out = 0;
	if (rc)
		return rc;
	for (i = 0; i < it->len; i++)
		*out = *out << 8 | it->payload[i];
	return RLP_OK;
}

int rlp_item_word(const struct rlp_item *it, uint8_t out[32])
{
	int rc = check_uint(it, 32);

	memset(out, 0, 32);
	if (rc)
		return rc;
	if (it->len > 0)
		memcpy(out + 32 - it->len, it->payload, it->len);
	return RLP_OK;
}
