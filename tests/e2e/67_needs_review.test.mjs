// Money the service does not act on reaches a person, and a cleanup never
// cancels money. Every case below ends with a payment-needs-review event in
// the admin room and an admin notification, written in the very transaction
// that records the delivery's outcome (so all three carry the same now()),
// decided from the payment row under the coordinator's lock. The races run
// with real concurrency through two independent pools (two masters, two
// nginx, one database); the second one checks PAIDs on the chain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { stack, pool2Up } from './lib.mjs';
import {
  api, env, sql, count, token, sleep, eventually, fake, marketplace, intent, payment, callback, randomTxid, WEBHOOK,
} from './shkeeper_lib.mjs';
import { rpc, mine, waitReceipt, transferData } from '../chain/rpc.mjs';

const ADMIN = token('adm-review', 'admin');
const CHAIN = env.ANVIL_URL;
const UNIT = 10n ** 18n;
let base2;

before(() => {
  base2 = pool2Up({ PAYMENTS_SHKEEPER_VERIFY_ON_CHAIN: 'true' });
});

after(() => stack('pool2-down'));

const MAIN = () => env.BASE_URL + WEBHOOK;
// An invoice amount times f, as a decimal a token of 6 or more decimals holds.
const times = (amount, f) => (Number(amount) * f).toFixed(6);
const SECOND = () => base2 + WEBHOOK;

// The reviews of a payment, each with whether its notification and its
// delivery's outcome were written in the same transaction (same now()).
function reviews(paymentId) {
  return sql(`SELECT e.payload::text,
      EXISTS (SELECT 1 FROM notifications n WHERE n.payment_id = e.payment_id AND n.user_id = 'admin'
              AND n.kind = 'payment-needs-review' AND n.created_at = e.created_at),
      coalesce((SELECT w.processed_at = e.created_at FROM webhook_inbox w
                WHERE w.id = (e.payload->>'deliveryId')::bigint), false)
    FROM events e WHERE e.payment_id = :'id' AND e.event = 'payment-needs-review' AND e.room = 'admin'
    ORDER BY e.id;`, { id: paymentId })
    .map(([payload, notified, sameTx]) => ({ ...JSON.parse(payload), notified: notified === 't', sameTx: sameTx === 't' }));
}

// Exactly one review of that kind, with its notification, in the delivery's transaction.
function assertReviewed(paymentId, kind, { withDelivery = true } = {}) {
  const all = reviews(paymentId);
  const mine = all.filter((r) => r.kind === kind);
  assert.equal(mine.length, 1, `one ${kind} review for ${paymentId}: ${JSON.stringify(all)}`);
  const [r] = mine;
  assert.equal(r.paymentId, paymentId);
  assert.ok(r.reason.length > 10, r.reason);
  assert.ok(r.notified, `an admin notification in the same transaction: ${JSON.stringify(r)}`);
  if (withDelivery) assert.ok(r.sameTx, `recorded with the delivery's outcome: ${JSON.stringify(r)}`);
  return r;
}

const inboxOf = (id) => sql(`SELECT id, outcome FROM webhook_inbox WHERE id = :'id';`, { id })[0];
const deliveriesOf = (paymentId) =>
  sql(`SELECT id, outcome, convert_from(body, 'UTF8')::jsonb->>'status' FROM webhook_inbox
       WHERE payment_id = :'id' ORDER BY id;`, { id: paymentId })
    .map(([id, outcome, status]) => ({ id: Number(id), outcome, status }));

const expiredBody = (inv, status = 'EXPIRED', txs = []) =>
  callback({ externalId: inv.externalId, status, addr: inv.walletAddress, txs });

async function deliver(url, body) {
  const r = await fake.deliver({ callback_url: url, body });
  assert.equal(r.lastStatus, 202, JSON.stringify(r));
  return r;
}

// --- 2. every piece of money the service does not act on reaches a person ----

test('a PAID racing an EXPIRED for the same invoice, 30 times across both pools: placed or reviewed, never lost', async () => {
  await fake.reset();
  const tally = { paidWon: 0, expiredWon: 0 };
  for (let i = 0; i < 30; i++) {
    const m = marketplace(2);
    const inv = await intent(m);
    // Sent together; the PAID a few milliseconds later in some tries, so both orders occur.
    const [paid] = await Promise.all([
      sleep((i % 4) * 3).then(() => fake.pay({ external_id: inv.externalId, amount_crypto: String(inv.amount) })),
      deliver(SECOND(), expiredBody(inv)),
    ]);
    assert.equal(paid.lastStatus, 202, JSON.stringify(paid));
    const p = payment(inv.paymentId);
    const byStatus = Object.fromEntries(deliveriesOf(inv.paymentId).map((d) => [d.status, d]));
    if (p.status === 'completed') {
      tally.paidWon++;
      assert.equal(p.escrow, 'funded');
      assert.equal(byStatus.PAID.outcome, 'applied');
      assert.equal(byStatus.EXPIRED.outcome, 'stale');
      assert.deepEqual(reviews(inv.paymentId), [], 'money placed: nothing to review');
    } else {
      tally.expiredWon++;
      assert.deepEqual([p.status, p.escrow], ['failed', 'unfunded'], `try ${i}`);
      assert.equal(byStatus.EXPIRED.outcome, 'applied');
      assert.equal(byStatus.PAID.outcome, 'review', 'the PAID is kept for a person and replayable');
      const r = assertReviewed(inv.paymentId, 'deposit_on_closed_payment');
      assert.equal(r.deliveryId, byStatus.PAID.id);
      assert.equal(r.providerStatus, 'PAID');
      assert.equal(r.status, 'failed');
      assert.equal(Number(r.amountSeen.crypto), Number(inv.amount), JSON.stringify(r));
    }
  }
  console.log(`# PAID against EXPIRED: ${JSON.stringify(tally)}`);
});

test('a PARTIAL racing a CANCELLED, 20 times across both pools: the deposit reaches a person whichever wins', async () => {
  await fake.reset();
  for (let i = 0; i < 20; i++) {
    const m = marketplace(1);
    const inv = await intent(m);
    const txs = [{ txid: randomTxid(), amount: '4', trigger: true }];
    const partial = callback({ externalId: inv.externalId, status: 'PARTIAL', addr: inv.walletAddress, txs });
    const [first, second] = i % 2 ? [MAIN(), SECOND()] : [SECOND(), MAIN()];
    await Promise.all([deliver(first, partial), deliver(second, expiredBody(inv, 'CANCELLED', txs))]);
    const p = payment(inv.paymentId);
    assert.equal(p.status, 'cancelled');
    const byStatus = Object.fromEntries(deliveriesOf(inv.paymentId).map((d) => [d.status, d]));
    if (p.escrow === 'partial') {
      // The deposit came first; the cancellation then left it on a closed payment.
      assert.equal(byStatus.PARTIAL.outcome, 'applied');
      const r = assertReviewed(inv.paymentId, 'partial_deposit_on_closed_payment');
      assert.equal(r.deliveryId, byStatus.CANCELLED.id);
    } else {
      assert.equal(p.escrow, 'unfunded');
      assert.equal(byStatus.PARTIAL.outcome, 'review');
      const r = assertReviewed(inv.paymentId, 'deposit_on_closed_payment');
      assert.equal(r.deliveryId, byStatus.PARTIAL.id);
      assert.equal(r.amountSeen.crypto, '4');
    }
  }
});

test('a PARTIAL followed by EXPIRED: failed with the deposit held, and a person is told how much', async () => {
  await fake.reset();
  const m = marketplace(2);
  const inv = await intent(m);
  const part = await fake.pay({ external_id: inv.externalId, amount_crypto: '4' });
  assert.equal(part.lastStatus, 202);
  assert.deepEqual(payment(inv.paymentId), { status: 'pending', escrow: 'partial', txHash: part.txid });
  assert.deepEqual(reviews(inv.paymentId), [], 'a partial deposit on an open payment is not yet a problem');
  const exp = await fake.pay({ external_id: inv.externalId, status: 'EXPIRED' });
  assert.equal(exp.lastStatus, 202);
  assert.deepEqual(payment(inv.paymentId), { status: 'failed', escrow: 'partial', txHash: part.txid });
  const r = assertReviewed(inv.paymentId, 'partial_deposit_on_closed_payment');
  assert.equal(r.providerStatus, 'EXPIRED');
  assert.equal(r.amountSeen.crypto, '4');
  assert.equal(r.escrowState, 'partial');
  assert.equal(inboxOf(r.deliveryId)[1], 'applied');
});

test('an OVERPAID is applied and its excess reaches a person, also when it tops up a paid invoice', async () => {
  await fake.reset();
  const m = marketplace(1);
  const inv = await intent(m);
  const over = await fake.pay({ external_id: inv.externalId, amount_crypto: times(inv.amount, 1.25) });
  assert.match(over.body, /"status":"OVERPAID"/);
  assert.deepEqual(payment(inv.paymentId), { status: 'completed', escrow: 'funded', txHash: over.txid });
  const r = assertReviewed(inv.paymentId, 'overpaid');
  assert.equal(r.providerStatus, 'OVERPAID');
  assert.ok(Number(r.overpaidFiat) > 0, JSON.stringify(r));
  // SHKeeper counts its figure from 105 % of the price: the reason says so, and the excess seen is larger.
  assert.match(r.reason, /beyond SHKeeper's upper limit/);
  assert.ok(Math.abs(Number(r.amountSeen.fiat) - Number(r.overpaidFiat) - 10.5) < 0.015, JSON.stringify(r));
  assert.equal(inboxOf(r.deliveryId)[1], 'applied');

  // Paid exactly, then more arrives: the payment does not move, the excess is still seen.
  const m2 = marketplace(1);
  const inv2 = await intent(m2);
  const paid = await fake.pay({ external_id: inv2.externalId, amount_crypto: String(inv2.amount) });
  assert.match(paid.body, /"status":"PAID"/);
  assert.deepEqual(reviews(inv2.paymentId), []);
  const more = await fake.pay({ external_id: inv2.externalId, amount_crypto: times(inv2.amount, 0.5) });
  assert.match(more.body, /"status":"OVERPAID"/);
  assert.equal(payment(inv2.paymentId).txHash, paid.txid, 'nothing moved');
  const r2 = assertReviewed(inv2.paymentId, 'overpaid');
  assert.equal(inboxOf(r2.deliveryId)[1], 'duplicate');
  // SHKeeper delivering that callback again adds no second review.
  await deliver(MAIN(), JSON.stringify(JSON.parse(more.body), null, 1));
  assert.equal(reviews(inv2.paymentId).length, 1);
});

test('a deposit on a cancelled or failed payment is not applied, reaches a person, and stays replayable', async () => {
  await fake.reset();
  const m = marketplace(1);
  const inv = await intent(m);
  const c = await api('PUT', `/api/payment/${inv.paymentId}`, { token: ADMIN, body: { status: 'cancelled' } });
  assert.equal(c.status, 200, c.text);
  const late = await fake.pay({ external_id: inv.externalId, amount_crypto: '3' });   // a PARTIAL
  assert.match(late.body, /"status":"PARTIAL"/);
  assert.deepEqual(payment(inv.paymentId), { status: 'cancelled', escrow: 'unfunded', txHash: '' });
  const r = assertReviewed(inv.paymentId, 'deposit_on_closed_payment');
  assert.equal(r.providerStatus, 'PARTIAL');
  assert.equal(r.amountSeen.crypto, '3');
  assert.equal(inboxOf(r.deliveryId)[1], 'review');

  const replay = await api('POST', `/api/payment/admin/webhooks/${r.deliveryId}/replay`, { token: ADMIN });
  assert.equal(replay.status, 202, replay.text);
  assert.equal(replay.json.data.outcome, 'review');
  assert.equal(reviews(inv.paymentId).length, 1, 'the same finding is not written twice');

  // Failed by SHKeeper first, then paid in full.
  const m2 = marketplace(1);
  const inv2 = await intent(m2);
  await deliver(MAIN(), expiredBody(inv2));
  assert.equal(payment(inv2.paymentId).status, 'failed');
  const paid = await fake.pay({ external_id: inv2.externalId, amount_crypto: String(inv2.amount) });
  assert.equal(paid.lastStatus, 202);
  assert.deepEqual(payment(inv2.paymentId), { status: 'failed', escrow: 'unfunded', txHash: '' });
  assert.equal(assertReviewed(inv2.paymentId, 'deposit_on_closed_payment').providerStatus, 'PAID');
});

test('a PAID for an invoice no payment holds reaches a person, once; a status that is no money does not', async () => {
  const externalId = `lost-${randomTxid().slice(2, 14)}`;
  const paidBody = callback({ externalId, status: 'PAID', txs: [{ amount: '10.2', txid: randomTxid(), trigger: true }] });
  const reviewsOf = () => sql(`SELECT e.payload::text, (SELECT count(*) FROM notifications n WHERE n.user_id = 'admin'
      AND n.kind = 'payment-needs-review' AND n.body LIKE '%' || :'x' || '%' AND n.created_at = e.created_at)
    FROM events e WHERE e.event = 'payment-needs-review' AND e.payment_id IS NULL AND e.payload->>'reason' LIKE '%' || :'x' || '%'
    ORDER BY e.id;`, { x: externalId }).map(([p, n]) => ({ ...JSON.parse(p), notified: Number(n) }));
  await deliver(MAIN(), paidBody);
  // SHKeeper's retry of the same callback, and one to the other pool, add nothing.
  await deliver(MAIN(), paidBody);
  await deliver(SECOND(), paidBody);
  const [r, ...more] = reviewsOf();
  assert.equal(more.length, 0, JSON.stringify(more));
  assert.equal(r.kind, 'deposit_for_unknown_invoice');
  assert.equal(r.providerStatus, 'PAID');
  assert.equal(r.amountSeen.crypto, '10.2');
  assert.equal(r.notified, 1);
  assert.equal(sql(`SELECT outcome FROM webhook_inbox WHERE id = :'d';`, { d: r.deliveryId })[0][0], 'unknown_payment');
  // An EXPIRED for it is no money: stored, nobody disturbed.
  await deliver(MAIN(), callback({ externalId, status: 'EXPIRED', txs: [] }));
  assert.equal(reviewsOf().length, 1);
});

test('a PAID the chain refutes reaches a person and stays replayable', { skip: CHAIN ? false : 'no test chain' }, async () => {
  const wallet = (env.CHAIN_BUYERS ?? '').split(',').at(-3);
  const m = marketplace(1);
  const inv = await intent(m);
  const h = await rpc(CHAIN, 'eth_sendTransaction',
    [{ from: wallet, to: env.CHAIN_TOKEN_USDT, data: transferData(inv.walletAddress, 5n * UNIT) }]);
  await mine(CHAIN, 4);
  await waitReceipt(CHAIN, h);
  const body = callback({ externalId: inv.externalId, status: 'PAID', addr: inv.walletAddress,
    txs: [{ txid: h, amount: String(inv.amount), trigger: true }] });
  await deliver(SECOND(), body);   // the pool that checks on the chain
  assert.deepEqual(payment(inv.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });
  const r = assertReviewed(inv.paymentId, 'refuted');
  assert.equal(r.providerStatus, 'PAID');
  assert.match(r.reason, /SHKeeper reports PAID/);
  assert.equal(inboxOf(r.deliveryId)[1], 'rejected');
  const replay = await api('POST', `/api/payment/admin/webhooks/${r.deliveryId}/replay`, { base: base2, token: ADMIN });
  assert.equal(replay.status, 202, replay.text);
  assert.equal(reviews(inv.paymentId).length, 1);
});

test('the admins\' needs-review list is one query: the payment, the amount seen and why', async () => {
  const m = marketplace(1);
  const inv = await intent(m);
  await deliver(MAIN(), expiredBody(inv));
  await fake.pay({ external_id: inv.externalId, amount_crypto: '7' });
  let after = 0;
  let found;
  for (;;) {
    const r = await api('GET', `/api/payment/admin/events?event=payment-needs-review&after=${after}&limit=500`, { token: ADMIN });
    assert.equal(r.status, 200, r.text);
    for (const e of r.json.data.events) {
      assert.equal(e.event, 'payment-needs-review');
      assert.equal(e.room, 'admin');
      if (e.paymentId === inv.paymentId) found = e;
    }
    if (r.json.data.events.length < 500) break;
    after = r.json.data.nextAfter;
  }
  assert.ok(found, 'listed');
  assert.equal(found.payload.paymentId, inv.paymentId);
  assert.equal(found.payload.amountSeen.crypto, '7');
  assert.equal(found.payload.kind, 'deposit_on_closed_payment');
  assert.match(found.payload.reason, /failed payment/);
  const bad = await api('GET', '/api/payment/admin/events?event=DROP%20TABLE', { token: ADMIN });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json.error.field, 'event');
  const notAdmin = await api('GET', '/api/payment/admin/events?event=payment-needs-review', { token: m.token });
  assert.equal(notAdmin.status, 403);
});

// --- 3. cleanup never cancels money ------------------------------------------------

test('cleanup racing PARTIAL deliveries across both pools: a deposit that lands always wins (2 × 20 pay-ins)', async () => {
  await fake.reset();
  let kept = 0;
  let late = 0;
  for (let round = 0; round < 2; round++) {
    const invs = [];
    for (let i = 0; i < 20; i++) invs.push(await intent(marketplace(1)));
    sql(`UPDATE payments SET updated_at = now() - interval '3 hours' WHERE id = ANY (string_to_array(:'ids', ',')::uuid[]);`,
      { ids: invs.map((v) => v.paymentId).join(',') });
    const partials = invs.map((inv, i) => (async () => {
      await sleep(i * 3);
      const body = callback({ externalId: inv.externalId, status: 'PARTIAL', addr: inv.walletAddress,
        txs: [{ txid: randomTxid(), amount: '2', trigger: true }] });
      return deliver(i % 2 ? MAIN() : SECOND(), body);
    })());
    const cleanups = [15, 30, 45, 60, 75].map((delay, i) => (async () => {
      await sleep(delay);
      const r = await api('POST', '/api/payment/payments/cleanup-pending',
        { token: ADMIN, body: { olderThanMinutes: 60 }, base: i % 2 ? env.BASE_URL : base2 });
      assert.equal(r.status, 200, r.text);
      return r.json.data;
    })());
    await Promise.all([...partials, ...cleanups]);

    for (const inv of invs) {
      const p = payment(inv.paymentId);
      const [d] = deliveriesOf(inv.paymentId);
      if (p.status === 'pending') {
        kept++;
        assert.equal(p.escrow, 'partial', 'the deposit landed and the cleanup left the payment alone');
        assert.equal(d.outcome, 'applied');
      } else {
        late++;
        // Cancelled while still empty: the deposit came after, and a person hears of it.
        assert.deepEqual([p.status, p.escrow], ['cancelled', 'unfunded'], `never cancelled holding money: ${inv.paymentId}`);
        assert.equal(d.outcome, 'review');
        assertReviewed(inv.paymentId, 'deposit_on_closed_payment');
      }
    }
    assert.equal(count('payments', `id = ANY (string_to_array(:'ids', ',')::uuid[]) AND status = 'cancelled' AND escrow_state <> 'unfunded'`,
      { ids: invs.map((v) => v.paymentId).join(',') }), 0);
  }
  console.log(`# cleanup against PARTIAL: ${kept} kept with their deposit, ${late} cancelled before it`);
});

// A psql session of its own, held open, for a fixed interleaving with the service.
function session() {
  const child = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1'], {
    env: { ...process.env, PGHOST: env.PGHOST, PGPORT: env.PGPORT, PGDATABASE: env.PGDATABASE, PGUSER: env.PGUSER },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const exited = new Promise((ok) => child.on('exit', ok));
  return { run: (text) => child.stdin.write(`${text}\n`), end: () => { child.stdin.end(); return exited; } };
}

test('a deposit recorded while the cleanup waits for the row keeps its payment (fixed interleaving)', async () => {
  const m = marketplace(1);
  const inv = await intent(m);
  sql(`UPDATE payments SET updated_at = now() - interval '3 hours' WHERE id = :'id';`, { id: inv.paymentId });
  // The deposit's transaction holds the row; the cleanup's first read has already seen it empty.
  const s = session();
  s.run(`SET application_name = 'deposit-holder'; BEGIN; SELECT id FROM payments WHERE id = '${inv.paymentId}' FOR UPDATE;`);
  assert.ok(await eventually(() => Number(sql(`SELECT count(*) FROM pg_stat_activity
    WHERE application_name = 'deposit-holder' AND state = 'idle in transaction';`)[0][0]) === 1, 15000), 'the row is held');
  const cleanup = api('POST', '/api/payment/payments/cleanup-pending', { token: ADMIN, body: { olderThanMinutes: 60 } });
  // Until the cleanup's coordinator waits for the row.
  assert.ok(await eventually(() => Number(sql('SELECT count(*) FROM pg_locks WHERE NOT granted;')[0][0]) > 0, 15000),
    'the cleanup waits for the row lock');
  s.run(`UPDATE payments SET escrow_state = 'partial', updated_at = now() WHERE id = '${inv.paymentId}'; COMMIT;`);
  await s.end();
  const r = await cleanup;
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([payment(inv.paymentId).status, payment(inv.paymentId).escrow], ['pending', 'partial']);
  assert.ok(r.json.data.keptWithDepositCount >= 1, r.text);
  assert.equal(count('payment_transitions', `payment_id = :'id' AND to_status = 'cancelled'`, { id: inv.paymentId }), 0);
});
