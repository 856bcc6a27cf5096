/* routes: the table of every endpoint: method, path pattern, handler,
 * access and needs. It is data the dispatcher enforces (api/app.c) and the
 * unit tests check (public routes against an allow-list, no literal path
 * shadowed by a pattern), so an access rule is never hidden in a handler.
 */
#ifndef PAY_ROUTES_H
#define PAY_ROUTES_H

#include "http/router.h"

extern const struct route app_routes[];
extern const size_t app_routes_len;

#endif
