/* webhook: how an event is put to a subscriber. The body is the event as
 * event_message() writes it; each attempt carries
 *
 *     X-Payments-Event-Id: <outbox id>     (what a subscriber deduplicates by)
 *     X-Payments-Timestamp: <unix seconds> (of this attempt)
 *     X-Payments-Signature: hex HMAC-SHA256(secret, timestamp + "." + body)
 *
 * the scheme SHKeeper signs its callbacks with. Any 2xx is taken; anything
 * else, or no answer, is tried again after webhook_backoff().
 *
 * Layer: jobs (uses base).
 */
#ifndef PAY_WEBHOOK_H
#define PAY_WEBHOOK_H

#include <stddef.h>

/* The signature of one attempt; 0, or -1 when OpenSSL fails. */
int webhook_sign(const char *secret, size_t secret_len, const char *timestamp, const char *body,
                 size_t body_len, char out[65]);
/* Seconds to wait after the attempt numbered `attempts` (0: the first) failed: base·2^attempts, at most max. */
int webhook_backoff(int attempts, int base, int max);

#endif
