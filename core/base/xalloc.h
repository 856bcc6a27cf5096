/* xalloc: allocation that never returns NULL. Out of memory is not handled half-way:
 * the process logs and aborts, and the master forks a fresh worker.
 */
#ifndef PAY_XALLOC_H
#define PAY_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
