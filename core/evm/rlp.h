/* rlp: Ethereum's Recursive Length Prefix encoding, for building transactions
 * and for reading signed ones back (signer recovery, the test chain).
 *
 * The decoder accepts only the canonical encoding: every value has exactly one
 * valid byte form, so two parsers can never disagree about what a signed
 * transaction says. */
#ifndef RLP_H
#define RLP_H

#include <stddef.h>
#include <stdint.h>

enum rlp_err {
	RLP_OK = 0,
	RLP_ENOMEM = -1,
	RLP_ELIMIT = -2,     /* output would exceed RLP_MAX_LEN */
	RLP_ETRUNC = -3,     /* input ends inside an item */
	RLP_ENONCANON = -4,  /* a shorter encoding exists, or leading zeros */
	RLP_ETRAILING = -5,  /* bytes after the top-level item */
	RLP_EDEPTH = -6,     /* lists nested deeper than RLP_MAX_DEPTH */
	RLP_ETYPE = -7,      /* list where a string was expected, or the reverse */
	RLP_ERANGE = -8,     /* integer wider than the caller's type, too many items */
	RLP_EMISUSE = -9     /* list end without a matching begin */
};

/* The largest encoding built or accepted: well above any transaction we send
 * or a node accepts (about 128 KiB), small enough that nothing here can be
 * made to allocate without bound. */
#define RLP_MAX_LEN (1u << 20)
/* A transaction with an access list nests 4 deep; leave room, stay bounded. */
#define RLP_MAX_DEPTH 16

/* Growable output buffer. Start with rlp_buf_init; release with rlp_buf_free
 * whatever happened. The first failure sticks in err: later puts do nothing and
 * return it, so a builder can make a run of calls and check once at the end. */
struct rlp_buf {
	uint8_t *data;
	size_t len, cap;
	int err;
};

void rlp_buf_init(struct rlp_buf *b);
void rlp_buf_free(struct rlp_buf *b);

/* Appends bytes as they are, without a header (the 0x02 type byte of EIP-1559). */
int rlp_put_raw(struct rlp_buf *b, const void *p, size_t n);
/* A byte string. */
int rlp_put_bytes(struct rlp_buf *b, const void *p, size_t n);
/* An integer: minimal big-endian bytes, zero is the empty string. */
int rlp_put_u64(struct rlp_buf *b, uint64_t v);
/* An integer given as n big-endian bytes (a uint256 word): leading zeros dropped. */
int rlp_put_uint_be(struct rlp_buf *b, const uint8_t *be, size_t n);

/* Lists: begin returns a mark, put the items, then end with that mark. Lists
 * may nest; each end must take the mark of the innermost open list. */
size_t rlp_list_begin(struct rlp_buf *b);
int rlp_list_end(struct rlp_buf *b, size_t mark);

/* A decoded item. Pointers borrow the input buffer: valid while it is. */
struct rlp_item {
	int is_list;
	const uint8_t *payload; /* string bytes, or the list's encoded items */
	size_t len;
	const uint8_t *raw;     /* the whole encoding, header included */
	size_t raw_len;
};

/* Checks that in[0..len) is exactly one canonical item, nesting within
 * RLP_MAX_DEPTH, with nothing after it, and returns it in *top. Items reached
 * from *top through the functions below were checked by this call. */
int rlp_decode(const uint8_t *in, size_t len, struct rlp_item *top);

/* Splits a list into its items: up to max of them into items[], count into *n.
 * RLP_ETYPE if list is a string, RLP_ERANGE if it holds more than max. */
int rlp_list_items(const struct rlp_item *list, struct rlp_item *items, size_t max,
    size_t *n);

/* Reads a string item as an unsigned integer; leading zeros are refused. */
int rlp_item_u64(const struct rlp_item *it, uint64_t *out);
/* Same into a 32-byte big-endian word (a uint256), left-padded with zeros. */
int rlp_item_word(const struct rlp_item *it, uint8_t out[32]);

#endif
