// A SHKeeper delivery is stored and applied in one transaction: either the
// stored delivery, the payment's move, its cascade and the delivery's
// outcome are all there, or none of them is, and nothing is acknowledged
// before that commit.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  api, env, sql, count, WEBHOOK, sign, now, marketplace, intent, payment, callback, randomTxid, inboxByBody, eventsOf,
} from './shkeeper_lib.mjs';

after(() => rmSync(env.DEV_FAULT_FILE, { force: true }));

const post = (body) => {
  const ts = String(now());
  return api('POST', WEBHOOK, { raw: body, headers: { 'content-type': 'application/json',
    'x-shkeeper-api-key': 'k', 'x-shkeeper-timestamp': ts, 'x-shkeeper-signature': sign(ts, body) } });
};

test('a worker killed before the delivery\'s commit leaves no trace of it; SHKeeper\'s retry applies it once', async () => {
  const m = marketplace(2);
  const d = await intent(m);
  // A PARTIAL needs no word from the chain, so it is stored and applied together.
  const body = callback({ externalId: d.externalId, status: 'PARTIAL', addr: d.walletAddress,
    txs: [{ txid: randomTxid(), amount: '4', trigger: true }] });
  const transitions = () => count('payment_transitions', `payment_id = :'id'`, { id: d.paymentId });
  const before = transitions();

  writeFileSync(env.DEV_FAULT_FILE, 'webhook_before_commit\n');
  let r = await post(body);
  // The worker died mid-request: nginx answers for the pool, and SHKeeper delivers again.
  assert.ok([502, 503].includes(r.status), `${r.status} ${r.text}`);
  assert.equal(existsSync(env.DEV_FAULT_FILE), false, 'the fault fired once');
  assert.ok(readFileSync(`${env.STACK_DIR}/pool.log`, 'utf8').includes('dev fault point webhook_before_commit'));
  // Neither the delivery nor anything it did was committed.
  assert.deepEqual(inboxByBody(body), []);
  assert.equal(payment(d.paymentId).escrow, 'unfunded');
  assert.equal(transitions(), before);
  assert.equal(eventsOf(d.paymentId).filter((e) => e.event === 'payment-update').length, 0);

  r = await post(body);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.data.outcome, 'applied');
  assert.deepEqual(inboxByBody(body).map((i) => i.outcome), ['applied']);
  assert.equal(payment(d.paymentId).escrow, 'partial');
  assert.equal(transitions(), before + 1);
  assert.equal(eventsOf(d.paymentId).filter((e) => e.event === 'payment-update').length, 1);
  // The repeat is stored as one and changes nothing.
  r = await post(body);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.data.outcome, 'duplicate');
  assert.equal(transitions(), before + 1);
  assert.equal(sql(`SELECT count(*) FROM webhook_inbox WHERE external_id = :'e';`, { e: d.externalId })[0][0], '2');
});
