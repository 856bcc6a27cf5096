#ifndef PAY_ROUTES_H
#define PAY_ROUTES_H

#include "http/router.h"

extern const struct route app_routes[];
extern const size_t app_routes_len;

#endif
