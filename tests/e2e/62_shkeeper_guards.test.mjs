// What a pay-in may and may not be: priced by the offer, only for a request
// that still takes payment, never re-priced by a repeat; money that arrives
// for a closed payment is flagged for a person, never dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, sql, token, count, fake, marketplace, postIntent, intent, payment, webhookUrl, callback, chainTransfer,
} from './shkeeper_lib.mjs';

const admin = token('adm-guards', 'admin');

test('an intent must ask the offer\'s amount, for a request that still takes payment', async () => {
  await fake.reset();
  const m = marketplace(2);
  const before = count('payments');
  const cheap = await postIntent(m, { amount: 1 });
  assert.equal(cheap.status, 400, cheap.text);
  assert.equal(cheap.json.error.field, 'amount');
  sql(`UPDATE purchase_requests SET status = 'payment' WHERE id = :'r';`, { r: m.request });
  const closed = await postIntent(m);
  assert.equal(closed.status, 409, closed.text);
  assert.equal(closed.json.error.code, 'request_closed');
  assert.equal(count('payments'), before, 'nothing written');
  assert.equal((await fake.calls()).total, 0, 'SHKeeper was not asked');
});

test('a repeat cannot re-price a pay-in, even after SHKeeper failed the first time', async () => {
  await fake.reset();
  const m = marketplace(1);
  sql(`UPDATE seller_offers SET amount = NULL WHERE id = :'o';`, { o: m.winner.id });   // the offer states no price
  await fake.mode('error', { message: 'BNB-USDT payment gateway is unavailable' });
  try {
    const first = await postIntent(m, { amount: 1000 });
    assert.equal(first.status, 502, first.text);
  } finally {
    await fake.mode('ok');
  }
  const other = await postIntent(m, { amount: 1 });
  assert.equal(other.status, 409, other.text);
  assert.equal(other.json.error.code, 'payment_exists');
  const same = await intent(m, { amount: 1000 });
  assert.equal(same.fiatAmount, 1000);
  const asked = (await fake.requests(same.externalId)).requests.map((q) => JSON.parse(q.body).amount);
  assert.deepEqual([...new Set(asked)], ['1000'], 'SHKeeper was asked for the stored amount');
  assert.equal(String(same.amount), (await fake.invoice(same.externalId)).amount);
});

test('cleanup leaves a partly paid pay-in alone; a PAID for a cancelled one is flagged, not applied', async () => {
  await fake.reset();
  const m1 = marketplace(1);
  const partial = await intent(m1);
  assert.equal((await fake.pay({ external_id: partial.externalId, amount_crypto: '4' })).lastStatus, 202);
  assert.equal(payment(partial.paymentId).escrow, 'partial');
  const m2 = marketplace(1);
  const idle = await intent(m2);
  sql(`UPDATE payments SET updated_at = now() - interval '3 hours' WHERE id IN (:'a', :'b');`, { a: partial.paymentId, b: idle.paymentId });

  const r = await api('POST', '/api/payment/payments/cleanup-pending', { token: admin, body: { olderThanMinutes: 60 } });
  assert.equal(r.status, 200, r.text);
  // A pay-in that held money before the run is no candidate at all: "kept with a deposit" counts
  // only those a deposit reached while the run went on, and none did here.
  assert.equal(r.json.data.keptWithDepositCount, 0, r.text);
  assert.ok(r.json.data.cancelledCount >= 1, r.text);
  assert.deepEqual(payment(partial.paymentId), { status: 'pending', escrow: 'partial', txHash: payment(partial.paymentId).txHash });
  assert.equal(payment(idle.paymentId).status, 'cancelled');

  // The buyer pays the cancelled invoice anyway (a real transfer, checked on the chain):
  // stored, not applied, and an admin hears of it.
  const hash = await chainTransfer(idle.walletAddress, '10');
  const late = callback({ externalId: idle.externalId, status: 'PAID', addr: idle.walletAddress,
    txs: [{ txid: hash, amount: '10', trigger: true }] });
  assert.equal((await fake.deliver({ callback_url: webhookUrl(), body: late })).lastStatus, 202);
  assert.equal(payment(idle.paymentId).status, 'cancelled');
  assert.equal(count('events', `payment_id = :'id' AND event = 'payment-needs-review' AND room = 'admin'`, { id: idle.paymentId }), 1);
});
