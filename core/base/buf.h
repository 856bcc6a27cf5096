/* buf: a growable byte buffer, always NUL-terminated so it can be read as a string.
 * The struct is owned by whoever declares it; buf_free() releases the bytes.
 * Allocation failure aborts the process (see xalloc.h): a worker that cannot
 * allocate a few kilobytes cannot do anything useful, and the master respawns it.
 */
#ifndef PAY_BUF_H
#define PAY_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Hands the bytes to the caller (free() them); the buffer is left empty. */
char *buf_steal(struct buf *b);

#endif
