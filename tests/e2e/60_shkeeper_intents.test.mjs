// SHKeeper pay-in intents: an invoice at SHKeeper (the fake) per pay-in,
// made once however often or concurrently the buyer asks, and clear, quick
// answers while SHKeeper fails, guarded by the circuit breaker.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, token, uid, sql, count, fake, marketplace, postIntent, intent, intentBody, assertOncePerRoom,
  health, restoreUpstream, webhookUrl, Q,
} from './shkeeper_lib.mjs';

after(() => restoreUpstream());

const paymentsOf = (m) => count('payments', `buyer_id = :'b' AND purchase_request_id = :'r'`, { b: m.buyer, r: m.request });

test('an intent makes a SHKeeper invoice and answers with its address and amount', async () => {
  const m = marketplace();
  const r = await postIntent(m);
  assert.ok(r.status === 200 || r.status === 201, r.text);
  const d = r.json.data;
  assert.equal(r.json.success, true);
  assert.match(d.paymentId, /^[0-9a-f-]{36}$/);
  assert.ok(d.externalId, 'externalId');
  assert.match(d.paymentUrl, /^ethereum:0x[0-9a-fA-F]{40}@56\/transfer\?address=0x[0-9a-fA-F]{40}&uint256=[0-9]+$/);
  // SHKeeper's recalculate_after 0 means the invoice is never re-priced, and it never expires.
  assert.equal(d.recalculateAt, null, r.text);
  assert.ok(!('expiresAt' in d), 'no expiry: SHKeeper invoices do not expire');
  assert.equal(d.cryptoName, 'BNB-USDT');
  assert.equal(d.status, 'pending');

  const inv = await fake.invoice(d.externalId);
  assert.ok(inv, 'the fake has an invoice for the externalId');
  assert.equal(d.walletAddress.toLowerCase(), inv.wallet);
  // The crypto amount is a JSON number with exactly SHKeeper's digits: its fee
  // (2 %) included, at its rate (not 1): (10 + 0.2) / rate, to 8 decimals.
  assert.equal(typeof d.amount, 'number', r.text);
  assert.notEqual(inv.exchange_rate, '1');
  assert.equal(String(d.amount), inv.amount);
  assert.equal(String(d.exchangeRate), inv.exchange_rate);
  assert.equal(inv.amount, Q.of('10.2').div(Q.of(inv.exchange_rate)).round(8).text());
  assert.equal(d.displayName, 'BEP20 USDT');
  const [sent] = (await fake.requests(d.externalId)).requests;
  // What reached SHKeeper: the documented body, amount as a string, our webhook as callback.
  assert.equal(sent.crypto, 'BNB-USDT');
  assert.equal(sent.apiKey, true, 'X-Shkeeper-Api-Key is the configured key');
  // SHKeeper reads the body with Flask's get_json(), which wants this type.
  assert.match(sent.contentType ?? '', /^application\/json\b/);
  const body = JSON.parse(sent.body);
  assert.deepEqual(Object.keys(body).sort(), ['amount', 'callback_url', 'external_id', 'fiat']);
  assert.equal(body.external_id, d.externalId);
  assert.equal(body.fiat, 'USD');
  assert.equal(typeof body.amount, 'string', sent.body);
  assert.equal(Number(body.amount), 10);
  assert.equal(body.callback_url, webhookUrl());

  const [row] = sql(`SELECT provider, direction, status, buyer_id, seller_id, seller_offer_id, external_id,
                            lower(receiver_address), crypto_amount::text, amount::text
                     FROM payments WHERE id = :'id';`, { id: d.paymentId });
  assert.deepEqual(row.slice(0, 7), ['shkeeper', 'in', 'pending', m.buyer, m.winner.seller, m.winner.id, d.externalId]);
  assert.equal(row[7], d.walletAddress.toLowerCase());
  assert.equal(row[8], inv.amount);
  assert.equal(Number(row[9]), 10);
  assertOncePerRoom(d.paymentId, 'payment-created');
});


test('ethereum and USDC select the ETH-USDC gateway', async () => {
  const m = marketplace(1);
  const d = await intent(m, { network: 'ethereum', token: 'USDC' });
  assert.equal(d.cryptoName, 'ETH-USDC');
  assert.equal((await fake.invoice(d.externalId)).crypto, 'ETH-USDC');
});

test('an intent is refused without a token, for another buyer, or with bad input', async () => {
  const m = marketplace(2);
  const before = (await fake.calls()).total;
  assert.equal((await api('POST', '/api/payment/shkeeper/intents', { body: intentBody(m) })).status, 401);
  // Another buyer's request: refused, as not theirs or (like another user's payment) as missing.
  const other = await postIntent(m, {}, token(uid('b'), 'buyer'));
  assert.ok([403, 404].includes(other.status), other.text);
  for (const [field, value] of [['amount', undefined], ['purchaseRequestId', undefined], ['sellerOfferId', undefined],
    ['amount', -5], ['amount', 0], ['amount', 'ten'], ['amount', 10.001], ['network', 'tron'], ['purchaseRequestId', 'a b']]) {
    const body = intentBody(m);
    if (value === undefined) delete body[field];
    else body[field] = value;
    const r = await api('POST', '/api/payment/shkeeper/intents', { token: m.token, body });
    assert.equal(r.status, 400, `${field}=${value}: ${r.text}`);
    assert.equal(r.json.success, false);
  }
  const unknown = await postIntent({ ...m, request: uid('pr') });
  assert.equal(unknown.status, 404, unknown.text);
  assert.equal(paymentsOf(m), 0, 'nothing stored for refused intents');
  assert.equal((await fake.calls()).total, before, 'SHKeeper never asked for refused intents');
});

test('asking again returns the same pay-in without a second SHKeeper call', async () => {
  const m = marketplace();
  const a = await intent(m);
  const b = await intent(m);
  assert.equal(b.paymentId, a.paymentId);
  assert.equal(b.externalId, a.externalId);
  assert.equal(b.walletAddress, a.walletAddress);
  assert.equal((await fake.calls()).payment_request[a.externalId], 1);
  assert.equal(paymentsOf(m), 1);
  assertOncePerRoom(a.paymentId, 'payment-created');
});

test('two concurrent intents make one payment and one SHKeeper call', async () => {
  const m = marketplace();
  const before = (await fake.calls()).total;
  // The fake answers slowly so the second request arrives while the first is out.
  await fake.mode('slow', { delayMs: 400 });
  const [a, b] = await Promise.all([postIntent(m), postIntent(m)]);
  await fake.mode('ok');
  for (const r of [a, b]) assert.ok(r.status === 200 || r.status === 201, `${r.status} ${r.text}`);
  assert.equal(a.json.data.paymentId, b.json.data.paymentId);
  assert.equal(a.json.data.externalId, b.json.data.externalId);
  assert.equal(paymentsOf(m), 1);
  assert.equal((await fake.calls()).total - before, 1, 'one upstream call');
  assertOncePerRoom(a.json.data.paymentId, 'payment-created');
});

// An upstream failure answers quickly, says so, and leaves a pending pay-in
// that a later retry completes (same paymentId, no second pay-in).
async function failThenRecover(mode, statuses, extra = {}) {
  const m = marketplace();
  await fake.mode(mode, extra);
  const t0 = Date.now();
  const r = await postIntent(m);
  const ms = Date.now() - t0;
  await fake.mode('ok');
  assert.ok(statuses.includes(r.status), `${mode}: ${r.status} ${r.text}`);
  assert.equal(r.json?.success, false, r.text);
  assert.ok(r.json.message && r.json.message.length > 5, `a message a person can act on: ${r.text}`);
  assert.match(r.headers.get('retry-after') ?? '', /^\d+$/, 'Retry-After');
  assert.ok(ms < 4000, `${mode} answered after ${ms} ms`);
  const pending = sql(`SELECT id FROM payments WHERE buyer_id = :'b' AND purchase_request_id = :'r';`,
    { b: m.buyer, r: m.request }).map((x) => x[0]);
  assert.equal(pending.length, 1, 'the failed intent left one pending pay-in');

  const d = await intent(m);
  assert.equal(d.paymentId, pending[0], 'the retry reuses the pending pay-in');
  assert.equal(paymentsOf(m), 1);
  assert.equal(d.status, 'pending');
  return { m, r, d };
}

test('SHKeeper answering with an error: 502 with its reason, then a retry succeeds', async () => {
  const { r } = await failThenRecover('error', [502], { message: 'BNB-USDT payment gateway is unavailable because of lagging' });
  assert.match(r.json.message, /SHKeeper|upstream|gateway/i);
});

test('SHKeeper down (connection dropped): 503 quickly, then a retry succeeds', async () => {
  await failThenRecover('down', [502, 503]);
});

test('SHKeeper hanging: answered after the 1.5 s timeout, then a retry succeeds', async () => {
  const { r } = await failThenRecover('hang', [502, 503, 504]);
  assert.notEqual(r.status, 504, 'the service times out before nginx does');
});

test('three failures open the breaker: the next intent fails fast; after the cool-down it closes', async () => {
  const before = await health();
  assert.equal(before?.breakers?.shkeeper?.state, 'closed', `health: ${JSON.stringify(before)}`);
  await fake.mode('down');
  for (let i = 0; i < 3; i++) {
    const r = await postIntent(marketplace(1));
    assert.ok([502, 503].includes(r.status), r.text);
  }
  assert.equal((await health()).breakers.shkeeper.state, 'open');
  const calls = (await fake.calls()).total;
  const m = marketplace(1);
  const t0 = Date.now();
  const fast = await postIntent(m);
  const ms = Date.now() - t0;
  assert.equal(fast.status, 503, fast.text);
  assert.match(fast.headers.get('retry-after') ?? '', /^\d+$/);
  assert.ok(ms < 200, `failed fast: ${ms} ms`);
  assert.equal((await fake.calls()).total, calls, 'no call reached SHKeeper while open');

  await fake.mode('ok');
  await new Promise((r) => setTimeout(r, 2200));
  const d = await intent(marketplace(1));
  assert.equal(d.status, 'pending');
  assert.equal((await health()).breakers.shkeeper.state, 'closed');
});
