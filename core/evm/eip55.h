/* eip55: 20-byte addresses in their "0x" + 40 hex text form, with the EIP-55
 * mixed-case checksum. A mixed-case address that fails the checksum is refused:
 * it is a typo or a tampered string, and funds sent there are lost. */
#ifndef EIP55_H
#define EIP55_H

#include <stdint.h>

#define EIP55_ADDR_LEN 20
/* "0x" + 40 digits + NUL */
#define EIP55_BUFSZ 43

enum eip55_err {
	EIP55_OK = 0,
	EIP55_EINVAL = -1,   /* not "0x" followed by exactly 40 hex digits */
	EIP55_ECHECKSUM = -2 /* mixed case that does not match the checksum */
};

/* Parses s into addr. All-lower and all-upper hex carry no checksum and are
 * accepted; mixed case must match. *checksummed (may be NULL) is set to 1 when
 * s carried a checksum that was verified, 0 otherwise. */
int eip55_parse(const char *s, uint8_t addr[EIP55_ADDR_LEN], int *checksummed);

/* eip55_parse without the output, for validators. */
int eip55_check(const char *s);

/* The checksummed form of addr, NUL-terminated. */
void eip55_format(const uint8_t addr[EIP55_ADDR_LEN], char out[EIP55_BUFSZ]);

#endif
