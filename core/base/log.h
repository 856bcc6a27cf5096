/* log: line-oriented logging to stderr (journald adds the timestamp in production).
 * Every line carries the process id and the id of the request being served,
 * so one request can be followed across the pool. Never pass a secret here.
 */
#ifndef PAY_LOG_H
#define PAY_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
int log_level_parse(const char *name, enum log_level *out);

/* The id is copied; NULL clears it. */
void log_set_request_id(const char *request_id);
const char *log_request_id(void);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
