// The database-level tests (tests/db, cmocka programs built beside the unit
// tests) need a real PostgreSQL: each runs here against the stack's, as the
// service's own role.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { env } from './lib.mjs';

const dir = join(dirname(env.BIN), 'db');
const programs = readdirSync(dir).filter((f) => f.startsWith('test_')).sort();

test('the database-level tests are built', () => {
  assert.ok(programs.includes('test_commit'), `tests/db programs in ${dir}: ${programs}`);
});

for (const name of programs) {
  test(`tests/db/${name}`, () => {
    const r = spawnSync(join(dir, name), [], {
      env: { ...process.env, TEST_DATABASE_URL: env.DATABASE_URL }, encoding: 'utf8', timeout: 60000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, out);
    assert.match(out, /\[ {2}PASSED {2}\] [1-9]\d* test/, out);
    assert.doesNotMatch(out, /\[ {2}FAILED {2}\]/, out);
  });
}
