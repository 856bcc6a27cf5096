// SHKeeper's callbacks through the fake: a paid invoice funds the escrow and
// runs the marketplace cascade once; partial, over- and late payments land
// where they should; forged, stale or unsigned deliveries change nothing but
// are kept; repeats are recognised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, sql, count, uid, fake, marketplace, intent, payment, offerStatus, requestRow, eventsOf, eventCount,
  completedTransitions, inboxByBody, assertOncePerRoom, inboxByExternal, callback, randomTxid, webhookUrl, now, sign,
  Q, twoPlaces,
} from './shkeeper_lib.mjs';

async function paid(m, d, amount = '10', extra = {}) {
  const r = await fake.pay({ external_id: d.externalId, amount_crypto: amount, ...extra });
  assert.equal(r.lastStatus, 202, `callback answered ${r.lastStatus}: ${r.response}`);
  assert.equal(r.delivered, true);
  return r;
}

const notifications = (paymentId, user) =>
  count('notifications', `payment_id = :'p' AND user_id = :'u'`, { p: paymentId, u: user });

test('PAID funds the escrow and runs the cascade exactly once', async () => {
  const m = marketplace(3);
  const d = await intent(m);
  const cb = await paid(m, d);
  assert.match(cb.body, /"status":"PAID"/);

  const g = await api('GET', `/api/payment/${d.paymentId}`, { token: m.token });
  assert.equal(g.status, 200, g.text);
  assert.equal(g.json.data.status, 'completed');
  assert.equal(g.json.data.escrowState, 'funded');
  assert.equal(g.json.data.transactionHash, cb.txid);
  assert.equal(completedTransitions(d.paymentId), 1);

  assert.equal(offerStatus(m.winner.id), 'accepted');
  for (const o of m.losers) assert.equal(offerStatus(o.id), 'rejected');
  assert.deepEqual(requestRow(m.request), { status: 'payment', selectedOfferId: m.winner.id });
  assert.ok(notifications(d.paymentId, m.buyer) >= 1, 'buyer notified');
  assert.ok(notifications(d.paymentId, m.winner.seller) >= 1, 'winning seller notified');

  const ev = eventsOf(d.paymentId);
  const n = (e) => ev.filter((x) => x.event === e).length;
  assertOncePerRoom(d.paymentId, 'payment-created');
  assertOncePerRoom(d.paymentId, 'payment-update');
  assert.equal(n('purchase-request-update'), 1);
  assert.equal(ev.find((x) => x.event === 'purchase-request-update').payload.eventType, 'status-changed');
  assert.equal(n('chat-requested'), 1);
  const offerEvents = ev.filter((x) => x.event === 'seller-offer-update');
  assert.equal(offerEvents.length, 3);
  const won = offerEvents.filter((x) => x.payload.eventType === 'payment-completed');
  assert.equal(won.length, 1);
  assert.equal(won[0].payload.offerId, m.winner.id);
  assert.ok(won[0].room.includes(m.winner.seller), `to the winner: ${won[0].room}`);
  for (const o of m.losers) {
    const lost = offerEvents.filter((x) => x.payload.eventType === 'offer-rejected' && x.payload.offerId === o.id);
    assert.equal(lost.length, 1, `offer-rejected for ${o.id}`);
    assert.ok(lost[0].room.includes(o.seller), `to the loser: ${lost[0].room}`);
  }

  const [row] = inboxByBody(cb.body);
  assert.equal(row.verdict, 'valid');
  assert.equal(row.outcome, 'applied');
  assert.equal(row.externalId, d.externalId);
});

test('PARTIAL then PAID: partial first, funded once the second deposit arrives', async () => {
  const m = marketplace(2);
  const d = await intent(m);
  const first = await paid(m, d, '5');
  assert.match(first.body, /"status":"PARTIAL"/);
  assert.equal(payment(d.paymentId).status, 'pending');
  assert.equal(payment(d.paymentId).escrow, 'partial');
  assert.equal(offerStatus(m.winner.id), 'pending', 'no cascade on a partial payment');

  const second = await paid(m, d, '5');
  assert.match(second.body, /"status":"PAID"/);
  assert.ok(second.body.includes(first.txid), 'the second callback lists the first transaction too');
  const p = payment(d.paymentId);
  assert.equal(p.status, 'completed');
  assert.equal(p.escrow, 'funded');
  assert.equal(completedTransitions(d.paymentId), 1);
  assert.equal(offerStatus(m.winner.id), 'accepted');
  assert.equal(eventCount(d.paymentId, 'seller-offer-update'), 2);
});

test('OVERPAID funds the escrow', async () => {
  const m = marketplace(1);
  const d = await intent(m);
  const cb = await paid(m, d, '12.5');
  assert.match(cb.body, /"status":"OVERPAID"/);
  // SHKeeper's excess is over its upper threshold (105 % of the price), in fiat at the invoice's rate.
  const over = Q.of('12.5').mul(Q.of(String(d.exchangeRate))).sub(Q.of('10.5'));
  assert.ok(cb.body.includes(`"overpaid_fiat":"${twoPlaces(over)}"`), cb.body);
  assert.deepEqual(payment(d.paymentId), { status: 'completed', escrow: 'funded', txHash: cb.txid });
  assert.equal(completedTransitions(d.paymentId), 1);
});

test('a late EXPIRED after PAID is recorded as stale and changes nothing', async () => {
  const m = marketplace(2);
  const d = await intent(m);
  await paid(m, d);
  const events = eventsOf(d.paymentId).length;
  const late = await fake.pay({ external_id: d.externalId, status: 'EXPIRED' });
  assert.equal(late.lastStatus, 202, late.response);
  assert.match(late.body, /"status":"EXPIRED"/);
  assert.equal(payment(d.paymentId).status, 'completed');
  assert.equal(payment(d.paymentId).escrow, 'funded');
  assert.equal(eventsOf(d.paymentId).length, events, 'no new events');
  const [row] = inboxByBody(late.body);
  assert.equal(row.outcome, 'stale');
});

// PARTIAL names no status, only the escrow it leaves: after PAID it would take
// the escrow back from funded to partial, which only the escrow's own rule refuses.
test('a late PARTIAL after PAID is recorded as stale: the escrow stays funded, nothing is audited', async () => {
  const m = marketplace(2);
  const d = await intent(m);
  const cb = await paid(m, d);
  const audited = count('payment_transitions', `payment_id = :'p'`, { p: d.paymentId });
  const events = eventsOf(d.paymentId).length;
  const body = callback({ externalId: d.externalId, addr: d.walletAddress, status: 'PARTIAL',
    txs: [{ txid: cb.txid, amount: '10', trigger: true }] });
  const late = await fake.deliver({ callback_url: webhookUrl(), body });
  assert.equal(late.lastStatus, 202, late.response);
  assert.deepEqual(payment(d.paymentId), { status: 'completed', escrow: 'funded', txHash: cb.txid });
  assert.equal(count('payment_transitions', `payment_id = :'p'`, { p: d.paymentId }), audited, 'nothing audited');
  assert.equal(eventsOf(d.paymentId).length, events, 'no new events');
  const [row] = inboxByBody(body);
  assert.equal(row.outcome, 'stale');
});

test('an unconfirmed notice is recorded only; the confirmed transaction then funds', async () => {
  const m = marketplace(1);
  const d = await intent(m);
  // Mined, one block deep: SHKeeper has seen it, the chain has not made it final.
  const early = await fake.pay({ external_id: d.externalId, amount_crypto: '10', unconfirmed: true });
  const txid = early.txid;
  assert.equal(early.lastStatus, 202, early.response);
  assert.match(early.body, /^\{"addr":".*","status":"unconfirmed","txid":"0x[0-9a-f]{64}"\}$/);
  const [row] = inboxByBody(early.body);
  assert.ok(['recorded', 'ignored'].includes(row.outcome), row.outcome);
  assert.deepEqual(payment(d.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });
  assert.equal(count('payment_transitions', `payment_id = :'p'`, { p: d.paymentId }), 1);

  await paid(m, d, '10', { txid });
  assert.deepEqual(payment(d.paymentId), { status: 'completed', escrow: 'funded', txHash: txid });
});

// A delivery the service must refuse: 401, nothing changed, and nothing of
// it stored but a counted summary (its digest, size and why), since anyone
// can send one.
const rejects = (body) => sql(`SELECT reason, count, body_bytes FROM webhook_rejects
  WHERE provider = 'shkeeper' AND body_digest = encode(sha256(convert_to(:'b', 'UTF8')), 'hex');`, { b: body })
  .map(([reason, n, bytes]) => ({ reason, count: Number(n), bytes: Number(bytes) }));

async function refused(d, deliver, reasons) {
  const body = callback({ externalId: d.externalId, status: 'PAID', addr: d.walletAddress,
    txs: [{ txid: randomTxid(), amount: '10', trigger: true }] });
  const r = await fake.deliver({ callback_url: webhookUrl(), body, ...deliver });
  assert.equal(r.lastStatus, 401, `${JSON.stringify(deliver)}: ${r.response}`);
  assert.deepEqual(payment(d.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });
  assert.equal(inboxByBody(body).length, 0, 'the body is not stored');
  const [row] = rejects(body);
  assert.ok(row, 'the refusal is counted');
  assert.ok(reasons.includes(row.reason), `reason ${row.reason}`);
  assert.equal(row.count, 1);
  assert.equal(row.bytes, Buffer.byteLength(body));
  return r;
}

test('forged, stale and unsigned deliveries: 401, counted but not stored, nothing changed', async () => {
  const m = marketplace(2);
  const d = await intent(m);
  await refused(d, { signature: 'ab'.repeat(32) }, ['bad signature']);
  const ts = String(now());
  await refused(d, { timestamp: ts, signature: sign(ts, '{"external_id":"other"}') }, ['bad signature']);
  await refused(d, { timestamp: ts, signature: sign(ts, 'x', 'not-the-api-key') }, ['bad signature']);
  await refused(d, { timestamp: now() - 400 }, ['stale timestamp']);
  await refused(d, { timestamp: now() + 400 }, ['stale timestamp']);
  await refused(d, { timestamp: null, signature: null, apiKeyHeader: false }, ['missing credentials']);
  // A server from before May 2026: the API key header alone, not accepted by default.
  await refused(d, { timestamp: null, signature: null }, ['bad signature', 'missing credentials']);
  await refused(d, { timestamp: null }, ['bad signature', 'missing credentials']);
  assert.equal(count('payment_transitions', `payment_id = :'p'`, { p: d.paymentId }), 1);
  assert.equal(offerStatus(m.winner.id), 'pending');
  assert.equal(eventCount(d.paymentId, 'seller-offer-update'), 0);
});

test('a byte-identical repeat is a duplicate: 202, stored, no second effect', async () => {
  const m = marketplace(3);
  const d = await intent(m);
  const cb = await paid(m, d);
  const events = eventsOf(d.paymentId).length;
  const again = await fake.deliver({ callback_url: webhookUrl(), body: cb.body });
  assert.equal(again.lastStatus, 202, again.response);
  const rows = inboxByBody(cb.body);
  assert.equal(rows.length, 2);
  assert.equal(rows[1].outcome, 'duplicate');
  assert.equal(completedTransitions(d.paymentId), 1);
  assert.equal(eventsOf(d.paymentId).length, events);
});

test('the same transaction in different bytes has no second effect', async () => {
  const m = marketplace(2);
  const d = await intent(m);
  const cb = await paid(m, d);
  const events = eventsOf(d.paymentId).length;
  // SHKeeper rebuilds a retried callback from current state, so a repeat
  // need not be byte-identical: here, the same content pretty-printed.
  const body = JSON.stringify(JSON.parse(cb.body), null, 1);
  const again = await fake.deliver({ callback_url: webhookUrl(), body });
  assert.equal(again.lastStatus, 202, again.response);
  assert.equal(completedTransitions(d.paymentId), 1);
  assert.equal(eventsOf(d.paymentId).length, events);
  assert.notEqual(inboxByBody(body)[0].outcome, 'applied');
});

test('an unknown external_id is acknowledged and kept as unknown_payment', async () => {
  const externalId = uid('nobody');
  const body = callback({ externalId, status: 'PAID', txs: [{ txid: randomTxid(), amount: '10', trigger: true }] });
  const r = await fake.deliver({ callback_url: webhookUrl(), body });
  assert.equal(r.lastStatus, 202, r.response);
  const [row] = inboxByExternal(externalId);
  assert.equal(row.verdict, 'valid');
  assert.equal(row.outcome, 'unknown_payment');
});
