// Seller payouts through BVNK, end to end through nginx: the fake BVNK checks
// Hawk on every call, takes a reference once, pays with real transfers on the
// local chain from its own wallet, and sends signed webhooks in either
// envelope, retried until 200, repeated, reordered, held for review, or
// dropped on request. The service asks BVNK's API before it trusts a webhook,
// and completes a payout only on a final transfer the chain shows.
import { test, before, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, sql, count, eventually, stack, ROOT } from './lib.mjs';
import { skip, payment, requestStatus, events, outgoing, units } from './payout_lib.mjs';
import {
  bvnk, sellerToPay, bvnkPayout, bvnkStatus, bvnkSign, transfers, outbox, reviews, inbox, adminNotes, poolReconnected,
} from './provider_payout_lib.mjs';

before(async () => { if (!skip) await bvnk.reset(); });
afterEach(async () => { if (!skip) await bvnk.reset(); });

const status = (id) => payment(id).status;
const settled = (id) => eventually(() => ['completed', 'failed'].includes(status(id)), 20000, 100);
const webhooks = (id) => inbox('bvnk', id).map(([, o]) => o);

test('a BVNK payout: created once with our reference, its webhooks checked against BVNK\'s API, completed on the chain; a repeat calls BVNK no more', { skip }, async () => {
  const p = await sellerToPay('6');
  let r = await bvnkPayout(p.body);
  assert.equal(r.status, 200, r.text);
  const d = r.json.data, id = d.payoutId;
  assert.equal(d.payout.provider, 'bvnk');
  assert.equal(d.payout.senderAddress.toLowerCase(), bvnk.wallet);
  const [fake] = await bvnk.payout(id);
  assert.equal(fake.reference, id);
  assert.equal(fake.address.address.toLowerCase(), p.sellerWallet.toLowerCase());
  assert.equal(fake.walletCurrency.amount, 6);
  assert.equal(d.providerPaymentId, fake.uuid);

  await settled(id);
  assert.equal(status(id), 'completed');
  assert.deepEqual(payment(p.id), { status: 'released', escrow: 'released', tx: payment(p.id).tx });
  assert.equal(requestStatus(p.request), 'completed');
  assert.deepEqual(outbox([id], 'purchase-request-update').map((e) => e.to), ['seller_paid', 'completed']);
  const sent = await transfers(bvnk.wallet, p.sellerWallet);
  assert.deepEqual(sent.map((t) => t.value), [units('6')]);
  assert.equal(payment(id).tx, sent[0].hash);
  assert.equal(events([id], 'payout-completed'), 1);
  assert.equal(count('notifications', `payment_id = :'id' AND kind = 'payout-sent'`, { id }), 1);
  await eventually(() => webhooks(id).length === 2, 5000, 100);
  assert.deepEqual(webhooks(id), ['recorded', 'applied']);
  // Each webhook was checked against BVNK's own answer first.
  const calls = await bvnk.calls();
  assert.ok(calls.get[fake.uuid] >= 2, JSON.stringify(calls));

  r = await bvnkPayout(p.body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.payoutId, id);
  assert.equal(r.json.data.payout.status, 'completed');
  assert.deepEqual(await bvnk.calls(), calls, 'no call reached BVNK');
  assert.equal(calls.create[id], 1);
  assert.equal(outgoing(p.id).length, 1);
});

test('the newer envelope, every webhook twice and the statuses out of order: completed once', { skip }, async () => {
  await bvnk.settings({ envelope: 'new', duplicates: true, reorder: true });
  const p = await sellerToPay('2');
  const r = await bvnkPayout(p.body);
  assert.equal(r.status, 200, r.text);
  const id = r.json.data.payoutId;
  await settled(id);
  await eventually(() => webhooks(id).length === 4, 10000, 100);
  assert.equal(status(id), 'completed');
  const outcomes = webhooks(id);
  assert.equal(outcomes.filter((o) => o === 'applied').length, 1, outcomes.join());
  assert.equal(outcomes.filter((o) => o === 'duplicate').length, 2, outcomes.join());
  assert.equal(events([id], 'payout-completed'), 1);
  assert.equal((await transfers(bvnk.wallet, p.sellerWallet)).length, 1);
  assert.equal(payment(p.id).status, 'released');
});

test('EXPIRED and CANCELLED fail the payout, fund the escrow again and tell the admins; a retry pays', { skip }, async () => {
  for (const outcome of ['expire', 'cancel']) {
    await bvnk.settings({ outcome });
    const p = await sellerToPay('3');
    let r = await bvnkPayout(p.body);
    // BVNK's webhooks may overtake its answer to the create call: then the payout has failed already.
    const code = outcome === 'expire' ? 'provider_expired' : 'provider_cancelled';
    if (r.status === 409) assert.equal(r.json.error.code, code, r.text);
    else assert.equal(r.status, 200, r.text);
    const id = r.json.data.payoutId;
    await settled(id);
    assert.equal(status(id), 'failed');
    assert.deepEqual(payment(p.id), { status: 'completed', escrow: 'funded', tx: payment(p.id).tx });
    const [failed] = outbox([id], 'payout-failed');
    assert.equal(failed.code, code);
    assert.equal(adminNotes(id, 'payout-failed'), 1);
    await bvnk.settings({ outcome: 'complete' });
    r = await bvnkPayout(p.body);
    assert.equal(r.status, 200, r.text);
    assert.notEqual(r.json.data.payoutId, id);
    await settled(r.json.data.payoutId);
    assert.equal(status(r.json.data.payoutId), 'completed');
    assert.equal(payment(p.id).status, 'released');
    assert.equal((await transfers(bvnk.wallet, p.sellerWallet)).length, 1);
    await bvnk.reset();
  }
});

test('an EXPIRED webhook that overtakes BVNK\'s answer to the create call: the answer says failed, the escrow is funded again', { skip }, async () => {
  await bvnk.settings({ outcome: 'expire', webhooksFirst: true });
  const p = await sellerToPay('3');
  const r = await bvnkPayout(p.body);
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, 'provider_expired');
  const id = r.json.data.payoutId;
  assert.equal(status(id), 'failed');
  assert.equal(r.json.data.payout.status, 'failed');
  assert.deepEqual(payment(p.id), { status: 'completed', escrow: 'funded', tx: payment(p.id).tx });
  assert.equal(outbox([id], 'payout-failed').length, 1);
  assert.equal(adminNotes(id, 'payout-failed'), 1);
  await bvnk.reset();
});

test('held for review: the escrow goes on hold, the admins are told; a later COMPLETE releases it', { skip }, async () => {
  await bvnk.settings({ outcome: 'hold' });
  const p = await sellerToPay('4.5');
  const r = await bvnkPayout(p.body);
  assert.equal(r.status, 200, r.text);
  const id = r.json.data.payoutId, uuid = r.json.data.providerPaymentId;
  await eventually(() => payment(p.id).escrow === 'on_hold', 10000, 100);
  assert.equal(status(id), 'processing');
  const [held] = reviews(p.id, 'payout_on_hold');
  assert.equal(held.payoutId, id);
  assert.equal(held.provider, 'bvnk');
  assert.equal(adminNotes(p.id, 'payment-needs-review'), 1);
  // BVNK lets it go: the transfer, then its COMPLETE.
  await bvnk.move(uuid, { transfer: true, status: 'COMPLETE' });
  await settled(id);
  assert.equal(status(id), 'completed');
  assert.deepEqual(payment(p.id), { status: 'released', escrow: 'released', tx: payment(p.id).tx });
  assert.equal(reviews(p.id, 'payout_on_hold').length, 1);
  assert.equal(requestStatus(p.request), 'completed');
});

test('a hold BVNK lifts while the payout goes on: the escrow is releasing again', { skip }, async () => {
  await bvnk.settings({ outcome: 'hold' });
  const p = await sellerToPay('1.1');
  const r = await bvnkPayout(p.body);
  const id = r.json.data.payoutId, uuid = r.json.data.providerPaymentId;
  await eventually(() => payment(p.id).escrow === 'on_hold', 10000, 100);
  await bvnk.move(uuid, { onHold: false, status: 'PROCESSING' });
  await eventually(() => payment(p.id).escrow === 'releasing', 10000, 100);
  assert.equal(status(id), 'processing');
  // PROCESSING again after the hold is a move of its own, not a repeat of the first PROCESSING.
  assert.deepEqual(webhooks(id), ['recorded', 'applied', 'applied']);
});

// Seed 003's example deliveries, made ours: each example's payout is one of ours (its uuid and
// reference), the transaction it names is the real one; the rest is sent as published.
const EXAMPLES = JSON.parse(readFileSync(join(ROOT, 'tests/e2e/fixtures/bvnk_payout_webhooks.json'), 'utf8'));

async function examplePayouts() {
  const made = {};
  for (const uuid of new Set(EXAMPLES.map((e) => e.data.uuid))) {
    const p = await sellerToPay('2.75');
    const r = await bvnkPayout(p.body);
    assert.equal(r.status, 200, r.text);
    made[uuid] = { ...p, payoutId: r.json.data.payoutId, uuid: r.json.data.providerPaymentId, tx: null };
  }
  return made;
}

// What BVNK's API says once the example's status change happened.
async function happen(example, made) {
  const m = made[example.data.uuid];
  const body = { status: example.data.status, webhook: false, onHold: example.event === 'transactionOnHold' ? true : undefined };
  if (example.data.transactions.some((t) => t.hash) && !m.tx) body.transfer = true;
  const p = await bvnk.move(m.uuid, body);
  m.tx ??= p.transactions.find((t) => t.hash)?.hash ?? null;
}

function ours(example, made) {
  const m = made[example.data.uuid];
  const e = structuredClone(example);
  Object.assign(e.data, { uuid: m.uuid, reference: m.payoutId });
  e.data.address &&= { ...e.data.address, address: m.sellerWallet };
  for (const t of e.data.transactions) if (t.hash) t.hash = m.tx;
  return JSON.stringify(e, null, 2);
}

// compact: the same webhook in other bytes, as a retry BVNK rebuilds may be.
async function deliver(example, made, compact = false) {
  const body = ours(example, made);
  const r = await bvnk.deliver(compact ? JSON.stringify(JSON.parse(body)) : body);
  assert.equal(r.status, 200, `${example.data.status}: ${r.response}`);
  return JSON.parse(r.response).data.outcome;
}

function finalStates(made) {
  const [a, held, expired] = [made['07905528-d72e-40dd-a1b4-fb8ec2f748c8'], made['da19a0a7-73de-4033-b042-e3545682c06d'],
    made['b627afcb-664a-4755-94c2-babc9593db30']];
  // PROCESSING, COMPLETE, then a CANCELLED naming the same transaction: paid, and a person told of the contradiction.
  assert.equal(status(a.payoutId), 'completed');
  assert.equal(payment(a.payoutId).tx, a.tx);
  assert.deepEqual(payment(a.id), { status: 'released', escrow: 'released', tx: payment(a.id).tx });
  assert.equal(reviews(a.id, 'payout_contradicted').length, 1);
  assert.equal(events([a.payoutId], 'payout-completed'), 1);
  // transactionOnHold: the escrow held, once.
  assert.equal(status(held.payoutId), 'processing');
  assert.equal(payment(held.id).escrow, 'on_hold');
  assert.equal(reviews(held.id, 'payout_on_hold').length, 1);
  // EXPIRED: failed, the escrow funded again, once.
  assert.equal(status(expired.payoutId), 'failed');
  assert.equal(payment(expired.id).escrow, 'funded');
  assert.equal(outbox([expired.payoutId], 'payout-failed').length, 1);
}

test('seed 003\'s examples, signed, delivered in order: the right final state', { skip }, async () => {
  await bvnk.settings({ outcome: 'manual' });
  const made = await examplePayouts();
  const seen = [];
  for (const e of EXAMPLES) {
    await happen(e, made);
    seen.push(await deliver(e, made));
  }
  assert.deepEqual(seen, ['recorded', 'applied', 'applied', 'applied', 'ignored']);
  finalStates(made);
});

test('seed 003\'s examples delivered out of order (BVNK already moved on): the same final state', { skip }, async () => {
  await bvnk.settings({ outcome: 'manual' });
  const made = await examplePayouts();
  for (const e of EXAMPLES) await happen(e, made);
  for (const e of [...EXAMPLES].reverse()) await deliver(e, made);
  finalStates(made);
});

test('seed 003\'s examples delivered twice each (the same bytes, then other bytes): the same final state, each acted on once', { skip }, async () => {
  await bvnk.settings({ outcome: 'manual' });
  const made = await examplePayouts();
  for (const e of EXAMPLES) {
    await happen(e, made);
    await deliver(e, made);
    assert.equal(await deliver(e, made), 'duplicate');
    assert.equal(await deliver(e, made, true), 'duplicate');
  }
  finalStates(made);
});

test('a webhook with a bad or missing signature is 401 and applies nothing', { skip }, async () => {
  await bvnk.settings({ outcome: 'manual' });
  const made = await examplePayouts();
  const e = EXAMPLES[3];
  await happen(e, made);
  const stored = count('webhook_inbox', `provider = 'bvnk'`);
  const body = ours(e, made);
  for (const signature of [null, 'ab'.repeat(32), 'not-hex']) {
    const r = await bvnk.deliver(body, { signature });
    assert.equal(r.status, 401, r.response);
  }
  const post = (headers) => api('POST', '/api/payment/bvnk/webhook', { raw: body, headers });
  // Signed over another Content-Type than the one sent, or over the variants the service is not set to.
  let r = await post({ 'content-type': 'application/json; charset=utf-8', 'x-signature': bvnkSign(body) });
  assert.equal(r.status, 401, r.text);
  for (const material of ['path', 'body']) {
    r = await post({ 'content-type': 'application/json', 'x-signature': bvnkSign(body, { material }) });
    assert.equal(r.status, 401, r.text);
  }
  assert.equal(count('webhook_inbox', `provider = 'bvnk'`), stored);
  assert.ok(count('webhook_rejects', `provider = 'bvnk'`) >= 1);
  const m = made[e.data.uuid];
  assert.equal(status(m.payoutId), 'processing');
  assert.equal(payment(m.id).escrow, 'releasing');
  // The same bytes, signed as configured: applied.
  r = await post({ 'content-type': 'application/json', 'x-signature': bvnkSign(body) });
  assert.equal(r.status, 200, r.text);
  assert.equal(status(m.payoutId), 'failed');
});

for (const mode of ['timeout_after_record', 'error_after_record']) {
  test(`a create BVNK recorded but answered with ${mode === 'timeout_after_record' ? 'nothing (timeout)' : 'HTTP 500'}: the retry asks BVNK first and finds it, never a second create`, { skip }, async () => {
    await bvnk.mode(mode);
    await bvnk.settings({ outcome: 'manual' });
    const p = await sellerToPay('1.9');
    let r = await bvnkPayout(p.body);
    assert.equal(r.status, 502, r.text);
    const id = r.json.data.payoutId;
    assert.equal(status(id), 'pending');
    assert.equal((await bvnk.payout(id)).length, 1);
    await bvnk.mode('ok');
    r = await bvnkPayout(p.body);
    assert.equal(r.status, 200, r.text);
    const [fake] = await bvnk.payout(id);
    assert.equal(r.json.data.providerPaymentId, fake.uuid);
    const calls = await bvnk.calls();
    assert.equal(calls.create[id], 1, 'the retry found it and created nothing');
    assert.equal((await bvnk.payout(id)).length, 1, 'one payout at BVNK');
    await bvnk.move(fake.uuid, { transfer: true, status: 'COMPLETE' });
    await settled(id);
    assert.equal(status(id), 'completed');
    assert.equal((await transfers(bvnk.wallet, p.sellerWallet)).length, 1);
  });
}

test('webhooks dropped: polling BVNK completes the payout', { skip }, async () => {
  await bvnk.settings({ drop: true });
  const p = await sellerToPay('0.5');
  const r = await bvnkPayout(p.body);
  const { payoutId: id, providerPaymentId: uuid } = r.json.data;
  await eventually(async () => (await bvnk.payout(id))[0]?.status === 'COMPLETE', 10000, 100);
  assert.equal(status(id), 'processing');
  const s = await bvnkStatus(uuid);
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.data.status, 'completed');
  assert.equal(s.json.data.providerStatus, 'COMPLETE');
  assert.equal(payment(p.id).status, 'released');
  assert.equal(inbox('bvnk', id).length, 0);
});

test('BVNK down: the breaker opens and answers 503 at once; /health says so; a webhook while the database is down is 503', { skip }, async () => {
  const p = await sellerToPay('0.75');
  await bvnk.mode('down');
  let r;
  for (let i = 0; i < 4; i++) r = await bvnkPayout(p.body);
  assert.equal(r.status, 503, r.text);
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
  const health = await api('GET', '/api/payment/health');
  assert.equal(health.json.data.dependencies.upstreams.bvnk, 'open');
  await bvnk.mode('ok');
  await bvnk.settings({ outcome: 'manual' });
  r = await eventually(async () => { const x = await bvnkPayout(p.body); return x.status === 200 ? x : null; }, 15000, 500);
  const { payoutId: id, providerPaymentId: uuid } = r.json.data;
  assert.equal((await bvnk.payout(id)).length, 1);

  await bvnk.move(uuid, { transfer: true, status: 'COMPLETE', webhook: false });
  const [fake] = await bvnk.payout(id);
  const body = JSON.stringify({ source: 'payment', event: 'statusChanged', data: fake });
  stack('pg-stop');
  try {
    const down = await bvnk.deliver(body);
    assert.equal(down.status, 503, down.response);
  } finally {
    stack('pg-start');
  }
  const up = await eventually(async () => { const x = await bvnk.deliver(body); return x.status === 200 ? x : null; }, 15000, 300);
  assert.equal(JSON.parse(up.response).data.outcome, 'applied');
  assert.equal(status(id), 'completed');
  await poolReconnected();
});
