#include "base/csv.h"

#include <stdbool.h>
#include <string.h>

void csv_cell(struct buf *out, const char *v)
{
	bool formula = strchr("=+-@\t\r", v[0]) != NULL && v[0] != '\0';
	bool quote = formula || strpbrk(v, ",\"\r\n") != NULL;

	if (quote)
		buf_putc(out, '"');
	if (formula)
		buf_putc(out, '\'');
	for (; *v; v++) {
		if (*v == '"')
			buf_putc(out, '"');
		buf_putc(out, *v);
	}
	if (quote)
		buf_putc(out, '"');
}
