#include "base/utf8.h"

#include <string.h>

size_t utf8_char_len(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range is narrower after the leads that would allow overlongs, surrogates or > U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

void utf8_scrub(char *dst, size_t cap, const char *src)
{
	size_t used = 0;

	while (*src) {
		size_t n = utf8_char_len(src);
		const char *piece = n ? src : UTF8_REPLACEMENT;
		size_t len = n ? n : sizeof(UTF8_REPLACEMENT) - 1;

		if (used + len >= cap)
			break;
		memcpy(dst + used, piece, len);
		used += len;
		src += n ? n : 1;
	}
	dst[used] = '\0';
}
