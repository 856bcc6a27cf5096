/* jwt: HS256 JSON Web Tokens, and nothing else: the header must say "HS256", so a
 * token claiming "none" or an asymmetric algorithm is refused before any key
 * is used, and a header listing critical extensions (`crit`) is refused too.
 * Header and payload are read by the strict JSON reader every body passes
 * (http/jsoncheck.h). `exp` is required; `nbf` and `iat` are honoured when
 * present; all three are whole seconds from 0 to JWT_MAX_TIME.
 *
 * A process remembers the claims of the last few tokens it read: the same
 * bytes are not decoded and read again, but their signature is checked under
 * the key given on every call and their times are judged at every `now`.
 */
#ifndef PAY_JWT_H
#define PAY_JWT_H

#include <stddef.h>
#include <time.h>

#include "http/req.h"

#define JWT_MAX_LEN 4096
#define JWT_MAX_TIME 253402300799LL     /* 9999-12-31T23:59:59Z */
#define JWT_MAX_LEEWAY 86400

enum jwt_err {
	JWT_OK = 0,
	JWT_MALFORMED,          /* not three base64url parts of JSON */
	JWT_BAD_ALG,            /* alg is not HS256 */
	JWT_BAD_SIGNATURE,
	JWT_EXPIRED,            /* exp in the past (beyond the leeway) */
	JWT_NOT_YET_VALID,      /* nbf or iat in the future */
	JWT_BAD_CLAIMS,         /* exp missing, a time out of range, sub not an id, role unknown */
	JWT_CRITICAL,           /* the header lists critical extensions (crit) */
};

struct jwt_claims {
	char sub[ID_MAX + 1];
	enum role role;
	long long exp;
};

enum jwt_err jwt_verify(const char *token, const void *key, size_t keylen, time_t now,
                        int leeway, struct jwt_claims *out);
/* A new token; the caller frees it. NULL if sub or role is invalid. */
char *jwt_sign(const void *key, size_t keylen, const char *sub, enum role role, time_t exp);
const char *jwt_strerror(enum jwt_err err);

const char *role_name(enum role role);
enum role role_parse(const char *name);

#endif
