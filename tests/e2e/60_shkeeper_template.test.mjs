// Template checkouts: a pay-in with no marketplace request behind it
// (purchaseRequestId "template-checkout-…"): reused while fresh, confirmed
// with its own event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { token, uid, count, fake, intent, payment, eventCount } from './shkeeper_lib.mjs';

test('a template checkout is reused within 5 minutes and confirmed with its own event', async () => {
  const buyer = uid('b');
  const m = {
    buyer, token: token(buyer, 'buyer'), request: `template-checkout-${uid('t')}`,
    winner: { id: uid('o'), seller: uid('s') },
  };
  const a = await intent(m);
  const b = await intent(m);
  assert.equal(b.paymentId, a.paymentId);
  assert.equal(b.externalId, a.externalId);
  assert.equal(count('payments', `buyer_id = :'b' AND purchase_request_id = :'r'`, { b: buyer, r: m.request }), 1);
  assert.equal((await fake.calls()).payment_request[a.externalId], 1);

  const cb = await fake.pay({ external_id: a.externalId, amount_crypto: '10' });
  assert.equal(cb.lastStatus, 202, cb.response);
  assert.equal(payment(a.paymentId).status, 'completed');
  assert.equal(eventCount(a.paymentId, 'template-checkout-payment-confirmed'), 1);
  assert.equal(eventCount(a.paymentId, 'seller-offer-update'), 0, 'no marketplace rows to cascade to');
});
