// A storm of SHKeeper callbacks for one invoice through two independent
// pools (two masters, two nginx, one database; the first connected directly,
// the second through PgBouncer in transaction mode, as a second host would
// be): whatever the order and however many repeats, the payment completes
// once and the cascade runs once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stack, holdLock, serviceWaiting, count, pool2Up } from './lib.mjs';
import {
  env, sql, fake, marketplace, intent, payment, eventCount, completedTransitions, callback, chainTransfer, noChain,
} from './shkeeper_lib.mjs';

let base2;

before(() => {
  base2 = pool2Up();
});

after(() => stack('pool2-down'));

function shuffle(list) {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}

// Every body sent `times` times, in random order, alternately through each pool.
async function storm(bodies, times) {
  const sends = shuffle(bodies.flatMap((body) => Array.from({ length: times }, () => body)));
  const urls = [env.BASE_URL, base2].map((b) => `${b}/api/payment/shkeeper/webhook`);
  const results = await Promise.all(sends.map((body, i) => fake.deliver({ callback_url: urls[i % 2], body })));
  return results.map((r) => r.lastStatus);
}

const tally = (statuses) => statuses.reduce((t, s) => ({ ...t, [s]: (t[s] ?? 0) + 1 }), {});

// Three real, final transfers to the pay-in's wallet (5 + 5 + 1.5), and the
// PAID (the first two) and OVERPAID (all three) callbacks that list them.
async function paidAndOverpaid(d) {
  const tx = [await chainTransfer(d.walletAddress, '5'), await chainTransfer(d.walletAddress, '5'),
    await chainTransfer(d.walletAddress, '1.5')];
  const shape = { externalId: d.externalId, addr: d.walletAddress };
  const paidBody = callback({ ...shape, status: 'PAID',
    txs: [{ txid: tx[0], amount: '5' }, { txid: tx[1], amount: '5', trigger: true }] });
  const overpaid = callback({ ...shape, status: 'OVERPAID',
    txs: [{ txid: tx[0], amount: '5' }, { txid: tx[1], amount: '5' }, { txid: tx[2], amount: '1.5', trigger: true }] });
  return { tx, shape, paidBody, overpaid };
}

test('240 concurrent callbacks across two pools: one completion, one cascade, no 5xx', { skip: noChain }, async () => {
  const m = marketplace(3);
  const d = await intent(m);
  // Real, final transfers: both pools check a PAID on the chain before it funds anything.
  const { tx, shape, paidBody, overpaid } = await paidAndOverpaid(d);
  const partial = callback({ ...shape, status: 'PARTIAL', txs: [{ txid: tx[0], amount: '5', trigger: true }] });
  const expired = callback({ ...shape, status: 'EXPIRED',
    txs: [{ txid: tx[0], amount: '5' }, { txid: tx[1], amount: '5' }] });

  // The race for the first transition: partial, paid and overpaid together.
  const first = await storm([partial, paidBody, overpaid], 80);
  assert.deepEqual(tally(first), { 202: 240 }, 'every delivery acknowledged');
  const p = payment(d.paymentId);
  assert.equal(p.status, 'completed');
  assert.equal(p.escrow, 'funded');
  assert.ok([tx[1], tx[2]].includes(p.txHash), `paid by the PAID or OVERPAID transaction: ${p.txHash}`);
  assert.equal(completedTransitions(d.paymentId), 1);
  assert.equal(eventCount(d.paymentId, 'seller-offer-update'), 3, 'one cascade');
  assert.equal(eventCount(d.paymentId, 'chat-requested'), 1);
  assert.equal(eventCount(d.paymentId, 'purchase-request-update'), 1);

  // Late: EXPIRED and more repeats of everything, after the payment completed.
  const late = await storm([partial, paidBody, overpaid, expired], 15);
  assert.deepEqual(tally(late), { 202: 60 });
  assert.equal(payment(d.paymentId).status, 'completed');
  assert.equal(completedTransitions(d.paymentId), 1);
  assert.equal(eventCount(d.paymentId, 'seller-offer-update'), 3);

  // Every delivery is stored, and every byte-identical repeat of a body is
  // a duplicate (the first of a body may be one too: same transaction).
  const perBody = sql(`SELECT count(*), count(*) FILTER (WHERE outcome = 'duplicate')
    FROM webhook_inbox WHERE provider = 'shkeeper' AND external_id = :'e' GROUP BY body ORDER BY 1;`,
  { e: d.externalId }).map(([n, dup]) => [Number(n), Number(dup)]);
  assert.deepEqual(perBody.map(([n]) => n), [15, 95, 95, 95], 'each send stored');
  for (const [n, dup] of perBody) assert.ok(dup >= n - 1, `${dup} of ${n} repeats marked duplicate`);
});

test('PAID and OVERPAID decided together, applied in turn: the second keeps the hash the first recorded', { skip: noChain }, async () => {
  const m = marketplace(1);
  const d = await intent(m);
  const { tx, paidBody, overpaid } = await paidAndOverpaid(d);
  // Both deliveries are checked while the payment is still pending, then wait on its row, in this order.
  const lock = await holdLock(`SELECT 1 FROM payments WHERE id = :'id' FOR UPDATE`, { id: d.paymentId });
  let first, second;
  try {
    first = fake.deliver({ callback_url: `${env.BASE_URL}/api/payment/shkeeper/webhook`, body: paidBody });
    assert.equal(await serviceWaiting(1), 1, 'the PAID waits on the payment');
    second = fake.deliver({ callback_url: `${base2}/api/payment/shkeeper/webhook`, body: overpaid });
    assert.equal(await serviceWaiting(2), 2, 'the OVERPAID waits behind it');
  } finally {
    await lock.release();
  }
  assert.deepEqual([(await first).lastStatus, (await second).lastStatus], [202, 202]);
  // The move is the PAID's, with its transaction; the OVERPAID found it done and replaced nothing.
  assert.deepEqual(payment(d.paymentId), { status: 'completed', escrow: 'funded', txHash: tx[1] });
  assert.equal(completedTransitions(d.paymentId), 1);
  assert.equal(count('payment_transitions', `payment_id = :'p' AND reason LIKE '%replaced%'`, { p: d.paymentId }), 0);
});

test('the second pool reached the database through PgBouncer in transaction mode', () => {
  // PgBouncer's console lists the clients it serves: the second pool's workers.
  const console = (what) => execFileSync('psql', ['-X', '-At', '-h', join(env.STACK_DIR, 'pgbouncer'), '-p', env.PGPORT,
    '-U', env.PGUSER, '-d', 'pgbouncer', '-c', what], { encoding: 'utf8' });
  // Columns: type, user, database, …; the console's own connection is to database pgbouncer.
  const clients = console('SHOW CLIENTS').split('\n').filter((l) => l.split('|')[2] === env.PGDATABASE);
  assert.ok(clients.length >= 1, `PgBouncer serves the second pool: ${console('SHOW CLIENTS')}`);
  assert.match(console('SHOW CONFIG'), /^pool_mode\|transaction\|/m);
  // The first pool connects directly: its workers are not PgBouncer's clients.
  assert.match(readFileSync(env.CONFIG, 'utf8'), new RegExp(`^database_url = postgresql://[^@]+@127\\.0\\.0\\.1:${env.PGPORT}/`, 'm'));
});
