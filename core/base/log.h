/* log: line-oriented logging to stderr, one write per line so the lines of
 * the pool's workers never interleave. Each line carries the process id and
 * what the process is doing: the request being served (its id, the route's
 * pattern, the payment it is about) or, in the jobs process, the job and its
 * run. Two formats (config log_format): text, the default, for a person
 * reading journald; json, one object per line for log shippers
 * (base/logline.h says what each holds). Never pass a secret here.
 *
 * Layer: base.
 */
#ifndef PAY_LOG_H
#define PAY_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

void log_set_level(enum log_level level);
int log_level_parse(const char *name, enum log_level *out);
void log_set_format(enum log_format format);
int log_format_parse(const char *name, enum log_format *out);

/*
 * The context of the lines that follow; each string is copied. A request id
 * opens a request or a job's run; NULL ends it, clearing the route and the
 * payment with it.
 */
void log_set_request_id(const char *request_id);
const char *log_request_id(void);
/* The pattern of the route serving the request (never the raw path). */
void log_set_route(const char *pattern);
/* The job this process runs, for all its lines (the jobs process). */
void log_set_job(const char *name);
/* The payment the request or run is about; NULL clears it. */
void log_set_payment_id(const char *payment_id);

/*
 * The coordinator names the payment it works on: set when none is set yet,
 * and log_payment_leave() with what enter returned. In a request the payment
 * stays named to the end (its closing line names the payment created or
 * paid); in the jobs process, whose runs go through many payments, it is
 * cleared again.
 */
bool log_payment_enter(const char *payment_id);
void log_payment_leave(bool entered);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * A line that closes a request or a job's run: a JSON line has `status` (< 0:
 * none) and `duration_ms` as fields. A text line is the message alone, so
 * its caller writes into it what a person should read.
 */
void log_timed(enum log_level level, int status, long duration_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The line a worker writes once it has answered: text "METHOD path status Nms"
 * as ever; JSON names the route's pattern instead of the path. */
void log_request_done(const char *method, const char *path, int status, long duration_ms,
                      bool client_gone);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
