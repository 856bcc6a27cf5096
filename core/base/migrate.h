/* migrate: the schema's migrations, compiled in from sql/NNN_name.sql so the binary
 * and its schema always travel together. Each is applied once, in order, in
 * its own transaction, and recorded in schema_migrations.
 */
#ifndef PAY_MIGRATE_H
#define PAY_MIGRATE_H

#include "base/db.h"

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const size_t migrations_len;

/* Returns 0 (the number applied is logged), or -1. */
int migrate_run(struct db *db);

#endif
