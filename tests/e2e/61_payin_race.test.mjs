// Two clicks of "pay" forced into the worst interleaving: a session of the
// test holds back every write to payments (LOCK … IN SHARE MODE) until both
// requests are waiting inside the database, then lets them go at once. The
// pay-in lock must have made the second wait for the first, so both get the
// same pay-in and SHKeeper is asked once; without it both would try to
// insert, and one would be refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, holdLock, serviceWaiting } from './lib.mjs';
import { fake, marketplace, postIntent, assertOncePerRoom } from './shkeeper_lib.mjs';

test('two concurrent intents, forced to meet in the database: one pay-in, one SHKeeper call', async () => {
  await fake.reset();
  const m = marketplace(1);
  const lock = await holdLock('LOCK TABLE payments IN SHARE MODE');
  let both;
  try {
    both = Promise.all([postIntent(m), postIntent(m)]);
    assert.equal(await serviceWaiting(2), 2, 'both requests are waiting inside the database');
  } finally {
    await lock.release();
  }
  const [a, b] = await both;
  for (const r of [a, b]) assert.ok(r.status === 200 || r.status === 201, `${r.status} ${r.text}`);
  assert.deepEqual([a.status, b.status].sort(), [200, 201]);
  assert.equal(a.json.data.paymentId, b.json.data.paymentId);
  assert.equal(sql(`SELECT count(*) FROM payments WHERE buyer_id = :'b' AND purchase_request_id = :'r';`,
    { b: m.buyer, r: m.request })[0][0], '1');
  assert.equal((await fake.calls()).total, 1, 'one upstream call');
  assertOncePerRoom(a.json.data.paymentId, 'payment-created');
});
