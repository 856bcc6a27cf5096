/* leader: which copy of the jobs process runs a job. Each job has a session
 * advisory lock, taken with pg_try_advisory_lock on a connection of its own
 * that goes straight to PostgreSQL: a session lock lives exactly as long as
 * that connection, so a copy that dies or loses its connection loses its
 * jobs at once, and another copy takes them on its next try. A transaction-
 * mode pooler would hand the session to others: never point this at one.
 */
#ifndef PAY_LEADER_H
#define PAY_LEADER_H

#include <stdbool.h>
#include <time.h>

#include <libpq-fe.h>

/* Every lock of ours is (LEADER_LOCK_CLASS, job lock id), apart from the
 * coordinator's one-number transaction locks. */
#define LEADER_LOCK_CLASS 0x6a6f6273     /* "jobs" */

struct leader {
	PGconn *conn;               /* owned; NULL while disconnected */
	char conninfo[1200];
	char connect_timeout[12];
	time_t last_attempt;
	unsigned long long held;    /* bit i: lock id i is ours on conn */
};

void leader_init(struct leader *l, const char *database_url, int connect_timeout);
void leader_close(struct leader *l);
/*
 * 1 when this copy holds the lock (taken now or before), 0 when another copy
 * does, -1 when PostgreSQL cannot be reached (nothing is held then).
 */
int leader_acquire(struct leader *l, int lock_id);
/* Still connected, so still holding what it held? One round trip; on false nothing is held. */
bool leader_alive(struct leader *l);

#endif
