// PUT /api/payment/:id can no longer complete or release a payment by decree:
// a status that says money moved follows a verified transaction, or an
// admin's explicit override with a reason, audited and announced to the
// admins with a payment-needs-review event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, token, uid, sql, count, sale } from './lib.mjs';

const ADMIN = token('override-admin', 'admin');

async function create() {
  const buyer = uid('ob');
  const r = await api('POST', '/api/payment', {
    token: token(buyer, 'buyer'),
    body: { ...sale(buyer, { request: uid('opr'), offer: uid('oo'), seller: uid('os') }), buyerId: buyer, amount: { amount: '10', currency: 'USDT' } },
  });
  assert.equal(r.status, 201, r.text);
  return r.json.data;
}

const state = (id) => sql(`SELECT status, escrow_state FROM payments WHERE id = :'id';`, { id })[0];
const put = (id, body) => api('PUT', `/api/payment/${id}`, { token: ADMIN, body });

test('status completed (or released, refunded) without override: 409, nothing written', async () => {
  const p = await create();
  for (const body of [{ status: 'completed' }, { status: 'completed', transactionHash: '0x' + 'ef'.repeat(32) }, { status: 'completed', override: false }]) {
    const r = await put(p.id, body);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error.code, 'verification_required');
    assert.equal(r.json.error.field, 'status');
  }
  assert.deepEqual(state(p.id), ['pending', 'unfunded']);
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: p.id }), 1);
  assert.equal(count('events', `payment_id = :'id' AND event IN ('payment-update', 'payment-needs-review')`, { id: p.id }), 0);
  // Statuses that do not say money moved are as before.
  assert.equal((await put(p.id, { status: 'processing' })).status, 200);
});

test('with override and a reason: applied, audited, a payment-needs-review event for the admins', async () => {
  const p = await create();
  const r = await put(p.id, { status: 'completed', override: true, reason: 'bank transfer reconciled by hand, ticket 7' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.status, 'completed');
  assert.equal(r.json.data.escrowState, 'funded');
  const [[from, to, source, actor, reason]] = sql(
    `SELECT from_status, to_status, source, actor, reason FROM payment_transitions WHERE payment_id = :'id' ORDER BY id DESC LIMIT 1;`, { id: p.id });
  assert.deepEqual([from, to, source, actor], ['pending', 'completed', 'admin', 'override-admin']);
  assert.equal(reason, 'override: bank transfer reconciled by hand, ticket 7');
  // (The funding also finds no purchase request for this record: the cascade says so with its own review event.)
  const ev = sql(`SELECT room, payload::text FROM events WHERE payment_id = :'id' AND event = 'payment-needs-review' AND payload ? 'override';`, { id: p.id });
  assert.equal(ev.length, 1);
  assert.equal(ev[0][0], 'admin');
  assert.deepEqual(JSON.parse(ev[0][1]), {
    paymentId: p.id, kind: 'admin_override', reason: 'override: bank transfer reconciled by hand, ticket 7', actor: 'override-admin', status: 'completed', override: true,
  });
  // Released by decree too needs it; the same status again is no move and needs nothing.
  assert.equal((await put(p.id, { status: 'completed' })).status, 200);
  assert.equal((await put(p.id, { status: 'released' })).status, 409);
  assert.equal((await put(p.id, { status: 'released', override: true, reason: 'paid out of band' })).status, 200);
  assert.deepEqual(state(p.id), ['released', 'released']);
  assert.equal(count('events', `payment_id = :'id' AND event = 'payment-needs-review' AND payload ? 'override'`, { id: p.id }), 2);
});

test('override needs a reason, a boolean, and an admin', async () => {
  const p = await create();
  for (const [body, field] of [[{ status: 'completed', override: true }, 'reason'], [{ status: 'completed', override: true, reason: '' }, 'reason'],
    [{ status: 'completed', override: 'yes', reason: 'x' }, 'override'], [{ status: 'completed', reason: 'x' }, 'reason']]) {
    const r = await put(p.id, body);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.field, field);
  }
  const buyer = p.buyerId;
  const r = await api('PUT', `/api/payment/${p.id}`, { token: token(buyer, 'buyer'), body: { status: 'completed', override: true, reason: 'me' } });
  assert.equal(r.status, 403, r.text);
  assert.deepEqual(state(p.id), ['pending', 'unfunded']);
});
