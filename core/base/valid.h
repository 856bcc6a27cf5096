/* valid: shape checks for identifiers that arrive from outside. Each answers whether
 * the whole NUL-terminated string has the shape; none allocates.
 */
#ifndef PAY_VALID_H
#define PAY_VALID_H

#include <stdbool.h>

#define ID_MAX 64

/* Marketplace ids (users, purchase requests, offers): [A-Za-z0-9_-], 1..64. */
bool valid_id(const char *s);
/* Canonical lower- or upper-case 8-4-4-4-12 UUID, as payments are keyed. */
bool valid_uuid(const char *s);
/* ISO-4217-like code or token symbol: 2..10 of [A-Z0-9]. */
bool valid_currency(const char *s);
bool valid_token_symbol(const char *s);
/* A network this service knows: bsc or ethereum. */
bool valid_network(const char *s);
/* 0x + 40 hex digits (shape only; checksums are checked where addresses are used). */
bool valid_address(const char *s);
/* 0x + 64 hex digits. */
bool valid_tx_hash(const char *s);

#endif
