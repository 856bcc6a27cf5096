/* logline: one log line, as text or as one JSON object, written into the
 * caller's fixed buffer (logging never allocates). Whatever bytes the
 * message holds, the result is exactly one line ending in '\n':
 *  - text: "<time> <level> [<pid>] <request id or -> <message>", each control
 *    byte of the message replaced by '?' (the format operators already read);
 *  - JSON: an object with time (RFC 3339, UTC, milliseconds), level, pid and
 *    message, and requestId, route or job, status, durationMs and paymentId
 *    where the line has them. Every string is escaped: quotes, backslashes
 *    and control bytes as JSON escapes, each byte that does not begin a
 *    well-formed UTF-8 character as U+FFFD. A message too long for the
 *    buffer is cut at a character boundary and the object says
 *    "truncated": true, so the line stays valid JSON.
 *
 * Layer: base (libc only). log.c owns the context and the write; this file
 * only formats, so a unit test can feed it hostile messages.
 */
#ifndef PAY_LOGLINE_H
#define PAY_LOGLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Room enough for a whole line; a longer message is cut. */
#define LOGLINE_MAX 4096
/* The least `cap` the writers accept: the fixed fields always fit. */
#define LOGLINE_MIN 512

struct logline {
	struct timespec time;       /* CLOCK_REALTIME */
	const char *level;          /* debug, info, warn, error */
	int pid;
	const char *request_id;     /* NULL or "": none */
	const char *route;          /* the route pattern; NULL or "": none */
	const char *job;            /* the job's name (the jobs process); NULL or "": none */
	const char *payment_id;     /* NULL or "": none */
	int status;                 /* HTTP status; < 0: none */
	long duration_ms;           /* < 0: none */
	const char *message;        /* any bytes up to the NUL */
	bool truncated;             /* the caller already cut the message */
};

/* Each writes the line, '\n' included, into out[cap] (cap >= LOGLINE_MIN) and
 * returns its length; out is NUL-terminated after it. */
size_t logline_text(char *out, size_t cap, const struct logline *l);
size_t logline_json(char *out, size_t cap, const struct logline *l);

#endif
