import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, token, uid, count, sale } from './lib.mjs';

test('health answers from the database through nginx over TLS', async () => {
  const r = await api('GET', '/api/payment/health');
  assert.equal(r.status, 200);
  assert.equal(r.json.success, true);
  assert.equal(r.json.data.database, 'ok');
  assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
});

test('a buyer creates a payment and reads it back with the exact amount', async () => {
  const buyer = uid('b');
  const t = token(buyer, 'buyer');
  const s = sale(buyer);
  const r = await api('POST', '/api/payment', { token: t, raw: `{"purchaseRequestId":"${s.purchaseRequestId}","sellerOfferId":"${s.sellerOfferId}","buyerId":"${buyer}","sellerId":"${s.sellerId}","amount":{"amount":12.345678,"currency":"USDT"}}`, headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 201, r.text);
  assert.match(r.text, /"amount":12\.345678,/);
  const g = await api('GET', `/api/payment/${r.json.data.id}`, { token: t });
  assert.equal(g.status, 200);
  assert.equal(g.json.data.status, 'pending');
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: r.json.data.id }), 1);
});
