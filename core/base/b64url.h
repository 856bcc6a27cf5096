/* b64url: base64url without padding (RFC 4648 §5), as JWTs use it. */
#ifndef PAY_B64URL_H
#define PAY_B64URL_H

#include <stddef.h>
#include <sys/types.h>

/* Writes the encoding and a NUL; out needs 4 * ceil(len / 3) + 1 bytes. */
void b64url_encode(const unsigned char *in, size_t len, char *out);
/* Returns the decoded length, or -1 on a bad character, bad length or short `out`. */
ssize_t b64url_decode(const char *in, size_t len, unsigned char *out, size_t outcap);

#endif
