/* utf8: text from outside (a decoded path, a provider's message) may be any
 * bytes; what the service writes as JSON must be UTF-8 (RFC 8259). */
#ifndef BASE_UTF8_H
#define BASE_UTF8_H

#include <stddef.h>

/* "\xef\xbf\xbd", U+FFFD, what stands for a byte that is no character. */
#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/*
 * The length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * form, no surrogate, nothing past U+10FFFF): 1 to 4, or 0 when the byte at s
 * starts none. Never reads past a terminating NUL.
 */
size_t utf8_char_len(const char *s);

/* src into dst (cap > 0 bytes, NUL-terminated), each byte that is no character replaced by U+FFFD; cut on a whole character. */
void utf8_scrub(char *dst, size_t cap, const char *src);

#endif
