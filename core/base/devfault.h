/* devfault: deterministic crash points for tests, in dev mode only.
 *
 * With mode = dev and dev_fault_file set, devfault_trip(cfg, "point") checks
 * whether that file exists and its first line names the point; if so it
 * removes the file (so the fault fires once) and the process kills itself
 * with SIGKILL, exactly as an operator's kill -9 or the OOM killer would at
 * that instant. In production the setting is refused at start-up and every
 * call returns at once.
 *
 * Points: hot_wallet_after_commit (flow/hotwallet.c: the signed transaction
 * and its hash are committed, nothing is broadcast yet); webhook_before_commit
 * (api/shkeeper_webhook.c: a delivery stored and applied, its one
 * transaction not yet committed).
 */
#ifndef PAY_DEVFAULT_H
#define PAY_DEVFAULT_H

#include "base/config.h"

void devfault_trip(const struct config *cfg, const char *point);

#endif
