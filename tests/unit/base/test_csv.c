/* CSV cells: every character that starts a spreadsheet formula is neutralised, only at the start, and the file stays strict RFC 4180. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/csv.h"

/* What a spreadsheet runs when a cell starts with it: = + - @, tab, carriage return. */
static const char dangerous[] = { '=', '+', '-', '@', '\t', '\r' };
#define N_DANGEROUS (sizeof(dangerous) / sizeof(dangerous[0]))

static char *cell(const char *v)
{
	struct buf b = BUF_INIT;

	csv_cell(&b, v);
	buf_putc(&b, '\0');     /* an empty cell still hands back a string */
	return buf_steal(&b);
}

static void expect_cell(const char *in, const char *want)
{
	char *got = cell(in);

	assert_string_equal(got, want);
	free(got);
}

/*
 * A strict RFC 4180 reader: records end with CRLF (the last one too), a
 * quote may only open a cell or close it, a closed quote must be followed by
 * a comma or the end of the record, and a CR or LF outside quotes is only
 * ever a record's CRLF. Fills cells[row][col] (owned by the caller) and
 * returns the number of records, or -1 at the first violation.
 */
#define MAX_ROWS 16
#define MAX_COLS 16
static int parse_strict(const char *s, char *cells[MAX_ROWS][MAX_COLS], int cols[MAX_ROWS])
{
	int row = 0, col = 0;
	struct buf c = BUF_INIT;

	while (*s) {
		bool quoted = *s == '"';
		buf_reset(&c);
		if (quoted) {
			for (s++;; s++) {
				if (*s == '\0')
					goto bad;                       /* unterminated */
				if (*s == '"' && s[1] == '"')
					buf_putc(&c, *s++);
				else if (*s == '"')
					break;
				else
					buf_putc(&c, *s);
			}
			s++;
		} else {
			for (; *s && *s != ',' && *s != '\r' && *s != '\n'; s++) {
				if (*s == '"')
					goto bad;                       /* a quote inside an unquoted cell */
				buf_putc(&c, *s);
			}
		}
		if (row == MAX_ROWS || col == MAX_COLS)
			goto bad;
		buf_putc(&c, '\0');
		cells[row][col++] = buf_steal(&c);
		if (*s == ',') {
			s++;
			continue;
		}
		if (s[0] != '\r' || s[1] != '\n')
			goto bad;                               /* a bare CR or LF, or text after a closing quote */
		s += 2;
		cols[row++] = col;
		col = 0;
	}
	if (col != 0)
		goto bad;                                       /* the last record lacks its CRLF */
	buf_free(&c);
	return row;
bad:
	/* Nothing is handed back on failure: the cells read so far are freed. */
	for (int r = 0; r <= row && r < MAX_ROWS; r++)
		for (int k = 0; k < (r < row ? cols[r] : col); k++)
			free(cells[r][k]);
	buf_free(&c);
	return -1;
}

static void test_every_formula_start_neutralised(void **state)
{
	(void)state;

	for (size_t i = 0; i < N_DANGEROUS; i++) {
		char in[32], want[40];
		/* The same character later in the cell changes nothing more. */
		snprintf(in, sizeof(in), "%cSUM(A1:A9)%c1", dangerous[i], dangerous[i]);
		snprintf(want, sizeof(want), "\"'%s\"", in);
		expect_cell(in, want);
		/* The character alone. */
		snprintf(in, sizeof(in), "%c", dangerous[i]);
		snprintf(want, sizeof(want), "\"'%c\"", dangerous[i]);
		expect_cell(in, want);
	}
	/* A formula that also needs quoting for its own sake. */
	expect_cell("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
}

static void test_later_in_a_cell_left_alone(void **state)
{
	(void)state;

	expect_cell("a=b", "a=b");
	expect_cell("a+b", "a+b");
	expect_cell("pr-1-2", "pr-1-2");
	expect_cell("user@example", "user@example");
	expect_cell("a\tb", "a\tb");
	/* A CR anywhere needs quotes, but only a leading one gets the apostrophe. */
	expect_cell("a\rb", "\"a\rb\"");
	expect_cell("12.5", "12.5");
	expect_cell("", "");
	expect_cell("a,b", "\"a,b\"");
	expect_cell("say \"hi\"", "\"say \"\"hi\"\"\"");
	expect_cell("two\r\nlines", "\"two\r\nlines\"");
}

static void test_file_parses_strictly(void **state)
{
	(void)state;
	const char *values[] = { "=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "plain", "a=b", "a,b",
	                         "q\"q", "", "a\r\nb", "a-b" };
	const size_t n = sizeof(values) / sizeof(values[0]);
	char *cells[MAX_ROWS][MAX_COLS];
	int cols[MAX_ROWS];
	struct buf file = BUF_INIT;

	/* Two records: the values, then the values reversed. */
	for (int r = 0; r < 2; r++) {
		for (size_t i = 0; i < n; i++) {
			if (i)
				buf_putc(&file, ',');
			csv_cell(&file, values[r ? n - 1 - i : i]);
		}
		buf_puts(&file, "\r\n");
	}
	assert_int_equal(parse_strict(file.data, cells, cols), 2);
	for (int r = 0; r < 2; r++) {
		assert_int_equal(cols[r], (int)n);
		for (size_t i = 0; i < n; i++) {
			const char *v = values[r ? n - 1 - i : i];
			bool neutral = v[0] != '\0' && memchr(dangerous, v[0], N_DANGEROUS) != NULL;
			char want[32];
			snprintf(want, sizeof(want), "%s%s", neutral ? "'" : "", v);
			assert_string_equal(cells[r][i], want);
			free(cells[r][i]);
		}
	}
	buf_free(&file);
}

/* The reader is strict: it refuses what a lenient one would take. */
static void test_reader_is_strict(void **state)
{
	(void)state;
	char *cells[MAX_ROWS][MAX_COLS];
	int cols[MAX_ROWS];
	const char *bad[] = { "a\"b\r\n", "\"a\"b\r\n", "a\rb\r\n", "a\nb\r\n", "\"a\r\n", "a,b" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_strict(bad[i], cells, cols), -1);
	assert_int_equal(parse_strict("a,\"b\"\r\n", cells, cols), 1);
	free(cells[0][0]);
	free(cells[0][1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_formula_start_neutralised),
		cmocka_unit_test(test_later_in_a_cell_left_alone),
		cmocka_unit_test(test_file_parses_strictly),
		cmocka_unit_test(test_reader_is_strict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
