#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/logline.h"

static enum log_level min_level = LOG_INFO;
static enum log_format line_format = LOG_FORMAT_TEXT;
static char current_id[72];
static char current_route[128];
static char current_job[48];
static char current_payment[40];

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static const char *const format_names[] = { "text", "json" };

void log_set_level(enum log_level level) { min_level = level; }

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_set_format(enum log_format format) { line_format = format; }

int log_format_parse(const char *name, enum log_format *out)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcmp(name, format_names[i]) == 0) {
			*out = (enum log_format)i;
			return 0;
		}
	}
	return -1;
}

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

void log_set_request_id(const char *request_id)
{
	copy(current_id, sizeof(current_id), request_id);
	if (request_id == NULL) {
		current_route[0] = '\0';
		current_payment[0] = '\0';
	}
}

const char *log_request_id(void) { return current_id; }

void log_set_route(const char *pattern) { copy(current_route, sizeof(current_route), pattern); }

void log_set_job(const char *name) { copy(current_job, sizeof(current_job), name); }

void log_set_payment_id(const char *payment_id)
{
	copy(current_payment, sizeof(current_payment), payment_id);
}

bool log_payment_enter(const char *payment_id)
{
	if (current_payment[0] != '\0' || payment_id == NULL)
		return false;
	log_set_payment_id(payment_id);
	return true;
}

void log_payment_leave(bool entered)
{
	if (entered && current_job[0] != '\0')
		current_payment[0] = '\0';
}

static void emit(enum log_level level, int status, long duration_ms, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void emit(enum log_level level, int status, long duration_ms, const char *fmt, va_list ap)
{
	char message[2048], line[LOGLINE_MAX];
	struct logline l = {
		.level = level_names[level], .pid = (int)getpid(), .request_id = current_id,
		.route = current_route, .job = current_job, .payment_id = current_payment,
		.status = status, .duration_ms = duration_ms, .message = message,
	};
	int n = vsnprintf(message, sizeof(message), fmt, ap);
	size_t len;

	if (n < 0)
		return;
	l.truncated = (size_t)n >= sizeof(message);
	clock_gettime(CLOCK_REALTIME, &l.time);
	len = line_format == LOG_FORMAT_JSON ? logline_json(line, sizeof(line), &l)
	                                     : logline_text(line, sizeof(line), &l);
	/* One write per line keeps lines from different workers whole. */
	ssize_t unused = write(STDERR_FILENO, line, len);
	(void)unused;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level < min_level)
		return;
	va_start(ap, fmt);
	emit(level, -1, -1, fmt, ap);
	va_end(ap);
}

void log_timed(enum log_level level, int status, long duration_ms, const char *fmt, ...)
{
	va_list ap;

	if (level < min_level)
		return;
	va_start(ap, fmt);
	emit(level, status, duration_ms, fmt, ap);
	va_end(ap);
}

void log_request_done(const char *method, const char *path, int status, long duration_ms,
                      bool client_gone)
{
	const char *gone = client_gone ? " (client gone)" : "";

	/* A raw path holds ids and whatever a client typed: a JSON line, which a
	 * shipper indexes, names the route's pattern instead. */
	if (line_format == LOG_FORMAT_JSON)
		log_timed(LOG_INFO, status, duration_ms, "%s %s%s", method,
		          current_route[0] ? current_route : "(no route)", gone);
	else
		log_timed(LOG_INFO, status, duration_ms, "%s %s %d %ldms%s", method, path, status,
		          duration_ms, gone);
}
