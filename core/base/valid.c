#include "base/valid.h"

#include <ctype.h>
#include <string.h>

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return s[n] == '\0';
}

bool valid_id(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];
		if (n == ID_MAX || !(isalnum(c) || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

bool valid_uuid(const char *s)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };

	for (size_t g = 0; g < 5; g++) {
		for (int i = 0; i < groups[g]; i++, s++)
			if (!isxdigit((unsigned char)*s))
				return false;
		if (g < 4 && *s++ != '-')
			return false;
	}
	return *s == '\0';
}

bool valid_currency(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n == 10 || !(isupper((unsigned char)s[n]) || isdigit((unsigned char)s[n])))
			return false;
	return n >= 2;
}

bool valid_token_symbol(const char *s) { return valid_currency(s); }

bool valid_network(const char *s)
{
	return strcmp(s, "bsc") == 0 || strcmp(s, "ethereum") == 0;
}

/* The prefix is "0x" exactly: the schema's CHECKs hold stored values to it. */
bool valid_address(const char *s)
{
	return s[0] == '0' && s[1] == 'x' && strlen(s) == 42 && all_hex(s + 2, 40);
}

bool valid_tx_hash(const char *s)
{
	return s[0] == '0' && s[1] == 'x' && strlen(s) == 66 && all_hex(s + 2, 64);
}
