// Idempotency-Key on the POSTs a client may retry: a repeat is answered with
// the first answer's bytes and runs nothing; the same key with another body is
// 422; a key still being served is 409 with Retry-After; refusals before any
// effect are not kept; keys are the caller's own and expire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { api, token, uid, sale, sql, count } from './lib.mjs';

const PAY = '/api/payment';

function order(buyer) {
  const s = sale(buyer);
  return { ...s, buyerId: buyer, amount: { amount: '10', currency: 'USDT' } };
}
const post = (path, t, body, key, raw) => api('POST', path, {
  token: t, ...(raw !== undefined ? { raw, headers: { 'content-type': 'application/json', 'idempotency-key': key } }
    : { body, headers: { 'idempotency-key': key } }),
});
// The digest the service keeps of a request: method, path, query and body, each ended by a NUL.
const digest = (method, path, query, body) =>
  createHash('sha256').update(`${method}\0${path}\0${query}\0${body}`).digest('hex');

test('a repeat with the same key and body is answered with the first answer\'s bytes, and nothing runs twice', async () => {
  const buyer = uid('idem');
  const t = token(buyer, 'buyer');
  const key = randomUUID();
  const body = JSON.stringify(order(buyer));
  const first = await post(PAY, t, undefined, key, body);
  assert.equal(first.status, 201, first.text);
  assert.equal(first.headers.get('idempotent-replayed'), null);
  const again = await post(PAY, t, undefined, key, body);
  assert.equal(again.status, 201, again.text);
  assert.equal(again.text, first.text, 'the same bytes');
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.equal(count('payments', `buyer_id = :'b'`, { b: buyer }), 1);
  // Without the key the same body is a second request: the active pay-in is a conflict.
  const plain = await api('POST', PAY, { token: t, raw: body, headers: { 'content-type': 'application/json' } });
  assert.equal(plain.status, 409, plain.text);
});

test('two concurrent POSTs with the same key create one template; the other waits its turn or gets the same answer', async () => {
  const seller = uid('idem-s');
  const t = token(seller, 'seller');
  const key = randomUUID();
  const body = { title: 'Logo design', price: '49.99', currency: 'USD' };
  const answers = await Promise.all([0, 1, 2, 3].map(() => post(`${PAY}/templates`, t, body, key)));
  const created = answers.filter((r) => r.status === 201);
  assert.ok(created.length >= 1, answers.map((r) => r.text).join('\n'));
  for (const r of created) assert.equal(r.text, created[0].text, 'every 201 is the one answer');
  for (const r of answers.filter((a) => a.status !== 201)) {
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error.code, 'idempotency_in_flight');
    assert.match(r.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
  }
  assert.equal(count('checkout_templates', `seller_id = :'s'`, { s: seller }), 1);
  const later = await post(`${PAY}/templates`, t, body, key);
  assert.equal(later.status, 201);
  assert.equal(later.text, created[0].text);
});

test('the same key with another body, path or method is 422 and runs nothing', async () => {
  const seller = uid('idem-s');
  const t = token(seller, 'seller');
  const key = randomUUID();
  assert.equal((await post(`${PAY}/templates`, t, { title: 'A', price: 5 }, key)).status, 201);
  const other = await post(`${PAY}/templates`, t, { title: 'B', price: 5 }, key);
  assert.equal(other.status, 422, other.text);
  assert.equal(other.json.error.code, 'idempotency_key_reused');
  assert.equal(other.json.error.field, 'Idempotency-Key');
  // The same bytes to another endpoint are another request too.
  const elsewhere = await post(`${PAY}/shkeeper/intents`, t, { title: 'A', price: 5 }, key);
  assert.equal(elsewhere.status, 422, elsewhere.text);
  assert.equal(count('checkout_templates', `seller_id = :'s'`, { s: seller }), 1);
});

test('a key is the caller\'s own: another user with the same key runs their own request', async () => {
  const key = randomUUID();
  const [a, b] = [uid('idem-a'), uid('idem-b')];
  const ra = await post(PAY, token(a, 'buyer'), order(a), key);
  const rb = await post(PAY, token(b, 'buyer'), order(b), key);
  assert.equal(ra.status, 201, ra.text);
  assert.equal(rb.status, 201, rb.text);
  assert.equal(rb.headers.get('idempotent-replayed'), null);
  assert.equal(rb.json.data.buyerId, b);
  assert.notEqual(rb.json.data.id, ra.json.data.id);
});

test('a refusal before any effect is not kept: the retry with the same key runs', async () => {
  const buyer = uid('idem');
  const t = token(buyer, 'buyer');
  const key = randomUUID();
  const good = order(buyer);
  const bad = await post(PAY, t, { ...good, amount: { amount: '-1', currency: 'USDT' } }, key);
  assert.equal(bad.status, 400, bad.text);
  const fixed = await post(PAY, t, good, key);
  assert.equal(fixed.status, 201, fixed.text);
  assert.equal(count('idempotency_keys', `idem_key = :'k'`, { k: key }), 1);
});

test('a key is 1 to 255 visible ASCII characters', async () => {
  const t = token(uid('idem-s'), 'seller');
  for (const key of ['x'.repeat(256), 'has space', 'tab\tin']) {
    const r = await post(`${PAY}/templates`, t, { title: 'A', price: 5 }, key);
    assert.equal(r.status, 400, `${JSON.stringify(key)}: ${r.text}`);
    assert.equal(r.json.error.field, 'Idempotency-Key');
  }
});

test('a key still held by a running request is 409 with Retry-After; once its lease has run out, a retry runs', async () => {
  const seller = uid('idem-s');
  const t = token(seller, 'seller');
  const key = randomUUID();
  const body = JSON.stringify({ title: 'Held', price: 7 });
  // A request with this key is being served elsewhere (or its worker died): its row, leased now.
  sql(`INSERT INTO idempotency_keys (caller, idem_key, method, path, request_hash, locked_at)
       VALUES (:'c', :'k', 'POST', '/api/payment/templates', decode(:'h', 'hex'), now());`,
  { c: seller, k: key, h: digest('POST', `${PAY}/templates`, '', body) });
  const held = await post(`${PAY}/templates`, t, undefined, key, body);
  assert.equal(held.status, 409, held.text);
  assert.equal(held.json.error.code, 'idempotency_in_flight');
  const wait = Number(held.headers.get('retry-after'));
  assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
  assert.equal(count('checkout_templates', `seller_id = :'s'`, { s: seller }), 0);
  // Its worker died: the lease runs out and the next retry takes the key over.
  sql(`UPDATE idempotency_keys SET locked_at = now() - interval '61 seconds' WHERE idem_key = :'k';`, { k: key });
  const taken = await post(`${PAY}/templates`, t, undefined, key, body);
  assert.equal(taken.status, 201, taken.text);
  assert.equal((await post(`${PAY}/templates`, t, undefined, key, body)).text, taken.text);
  assert.equal(count('checkout_templates', `seller_id = :'s'`, { s: seller }), 1);
});

test('a key past idempotency_key_hours counts as new', async () => {
  const seller = uid('idem-s');
  const t = token(seller, 'seller');
  const key = randomUUID();
  assert.equal((await post(`${PAY}/templates`, t, { title: 'Old', price: 5 }, key)).status, 201);
  sql(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE idem_key = :'k';`, { k: key });
  const fresh = await post(`${PAY}/templates`, t, { title: 'New', price: 6 }, key);
  assert.equal(fresh.status, 201, fresh.text);
  assert.equal(fresh.json.data.title, 'New');
});
