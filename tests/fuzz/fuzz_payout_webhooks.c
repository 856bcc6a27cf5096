/* Provider payout deliveries: BVNK's webhook envelopes and payout object, SHKeeper's payout
 * callback, each read after the strict reader as the webhook handlers read them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bvnk/bvnk.h"
#include "http/jsoncheck.h"
#include "http/jsonin.h"
#include "shkeeper/shk_payout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void terminated(const char *s, size_t cap)
{
	if (strnlen(s, cap) == cap)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct json_fault fault;
	struct bvnk_event ev;
	struct bvnk_payout p;
	struct shk_payout_callback cb;
	char err[200];
	json_object *root = json_strict_parse((const char *)data, len, JSON_MAX_DEPTH, &fault);

	if (root == NULL || fault.kind != JSON_FAULT_NONE) {
		json_object_put(root);
		return 0;
	}
	if (bvnk_read_event(root, &ev, err, sizeof(err)) == 0) {
		terminated(ev.event, sizeof(ev.event));
		terminated(ev.event_id, sizeof(ev.event_id));
		if (bvnk_read_payout(ev.data, &p, err, sizeof(err)) == 0) {
			terminated(p.uuid, sizeof(p.uuid));
			terminated(p.reference, sizeof(p.reference));
			terminated(p.status, sizeof(p.status));
			/* A hash is a hash or nothing. */
			if (p.tx_hash[0] && strlen(p.tx_hash) != 66)
				abort();
		}
	}
	if (shk_payout_callback_read(root, &cb, err, sizeof(err)) == 0) {
		terminated(cb.external_id, sizeof(cb.external_id));
		terminated(cb.status, sizeof(cb.status));
		if (cb.tx_hash[0] && strlen(cb.tx_hash) != 66)
			abort();
	}
	json_object_put(root);
	return 0;
}
