// Template checkouts: a pay-in with no marketplace request behind it
// (purchaseRequestId "template-checkout-<templateId>"), sold on the terms of
// a checkout template its seller (or an admin) owns: the buyer chooses
// neither the seller nor the price. Reused while fresh, confirmed with its
// own event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, sql, token, uid, count, fake, payment, eventCount,
} from './shkeeper_lib.mjs';

const ADMIN = token('adm-templates', 'admin');

async function createTemplate(tok, body) {
  const r = await api('POST', '/api/payment/templates', { token: tok, body });
  assert.equal(r.status, 201, r.text);
  return r.json.data;
}

// A buyer about to check out `template`.
function buyerOf(template) {
  const buyer = uid('b');
  return { buyer, token: token(buyer, 'buyer'), request: template.purchaseRequestId };
}

const checkout = (m, extra = {}) =>
  api('POST', '/api/payment/shkeeper/intents', { token: m.token, body: { purchaseRequestId: m.request, ...extra } });

test('templates: a seller creates, lists and deactivates its own; an admin acts for a seller; buyers and others cannot', async () => {
  const seller = uid('s');
  const st = token(seller, 'seller');
  const t = await createTemplate(st, { title: 'Gift card', price: '25.50', currency: 'USD' });
  assert.equal(t.sellerId, seller);
  assert.equal(t.price, 25.5);
  assert.equal(t.currency, 'USD');
  assert.equal(t.active, true);
  assert.equal(t.purchaseRequestId, `template-checkout-${t.id}`);
  assert.equal(t.createdBy, seller);

  const byAdmin = await createTemplate(ADMIN, { title: 'Setup fee', price: 5, sellerId: seller, active: false });
  assert.equal(byAdmin.sellerId, seller);
  assert.equal(byAdmin.active, false);
  assert.equal(byAdmin.createdBy, 'adm-templates');

  const list = await api('GET', '/api/payment/templates', { token: st });
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json.data.templates.map((x) => x.id).sort(), [t.id, byAdmin.id].sort());
  const other = token(uid('s'), 'seller');
  assert.deepEqual((await api('GET', '/api/payment/templates', { token: other })).json.data.templates, []);
  assert.equal((await api('GET', `/api/payment/templates?sellerId=${seller}`, { token: other })).status, 403);
  const all = await api('GET', `/api/payment/templates?sellerId=${seller}`, { token: ADMIN });
  assert.equal(all.json.data.templates.length, 2);

  // A buyer sees an active template (what it would pay for), not an inactive one, and makes none.
  const buyer = token(uid('b'), 'buyer');
  assert.equal((await api('GET', `/api/payment/templates/${t.id}`, { token: buyer })).json.data.price, 25.5);
  assert.equal((await api('GET', `/api/payment/templates/${byAdmin.id}`, { token: buyer })).status, 404);
  assert.equal((await api('GET', `/api/payment/templates/${byAdmin.id}`, { token: st })).status, 200);
  const refused = await api('POST', '/api/payment/templates', { token: buyer, body: { title: 'x', price: 1 } });
  assert.equal(refused.status, 403, refused.text);
  assert.equal((await api('GET', '/api/payment/templates', { token: buyer })).status, 403);

  // A seller sells only as itself; an admin must say for whom.
  const asOther = await api('POST', '/api/payment/templates', { token: other, body: { title: 'x', price: 1, sellerId: seller } });
  assert.equal(asOther.status, 403, asOther.text);
  const noSeller = await api('POST', '/api/payment/templates', { token: ADMIN, body: { title: 'x', price: 1 } });
  assert.equal(noSeller.status, 400, noSeller.text);
  assert.equal(noSeller.json.error.field, 'sellerId');
  for (const [body, field] of [[{ title: '', price: 1 }, 'title'], [{ title: 'x', price: '1.001' }, 'price'],
    [{ title: 'x', price: 0 }, 'price'], [{ title: 'x', price: 1, currency: 'EUR' }, 'currency'],
    [{ title: 'x', price: 1, active: 'yes' }, 'active'], [{ title: 'x', price: 1, owner: 'me' }, 'owner']]) {
    const r = await api('POST', '/api/payment/templates', { token: st, body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.field, field, r.text);
  }

  // Only its seller or an admin deactivates it; another seller is told it does not exist.
  assert.equal((await api('DELETE', `/api/payment/templates/${t.id}`, { token: other })).status, 404);
  const del = await api('DELETE', `/api/payment/templates/${t.id}`, { token: st });
  assert.equal(del.status, 200, del.text);
  assert.equal(del.json.data.active, false);
  assert.equal(count('checkout_templates', `id = :'id' AND NOT active`, { id: t.id }), 1, 'kept, inactive');
});

test('a template checkout is priced and sold by its template, whatever the buyer says', async () => {
  await fake.reset();
  const seller = uid('s');
  const t = await createTemplate(token(seller, 'seller'), { title: 'Consultation', price: '40' });
  const m = buyerOf(t);

  // The complaint: any seller, any offer, 0.01 USD. Each is refused and nothing is written.
  const before = count('payments');
  const cheap = await checkout(m, { amount: '0.01' });
  assert.equal(cheap.status, 400, cheap.text);
  assert.equal(cheap.json.error.field, 'amount');
  const elsewhere = await checkout(m, { sellerId: uid('s') });
  assert.equal(elsewhere.status, 400, elsewhere.text);
  assert.equal(elsewhere.json.error.field, 'sellerId');
  const offer = await checkout(m, { sellerOfferId: uid('o') });
  assert.equal(offer.status, 400, offer.text);
  assert.equal(offer.json.error.field, 'sellerOfferId');
  assert.equal(count('payments'), before);
  assert.equal((await fake.calls()).total, 0, 'SHKeeper was not asked');

  const r = await checkout(m);
  assert.equal(r.status, 201, r.text);
  const d = r.json.data;
  assert.equal(d.fiatAmount, 40);
  assert.deepEqual(sql(`SELECT seller_id, seller_offer_id, amount::text, currency FROM payments WHERE id = :'id';`, { id: d.paymentId }),
    [[seller, t.id, '40', 'USD']]);
  const [asked] = (await fake.requests(d.externalId)).requests;
  assert.equal(JSON.parse(asked.body).amount, '40', 'SHKeeper is asked for the template\'s price');
  // Naming the template's own terms is the same checkout.
  const same = await checkout(m, { sellerId: seller, amount: 40, sellerOfferId: t.id });
  assert.equal(same.status, 200, same.text);
  assert.equal(same.json.data.paymentId, d.paymentId);

  const paid = await fake.pay({ external_id: d.externalId, amount_crypto: String(d.amount) });
  assert.equal(paid.lastStatus, 202, paid.response);
  assert.equal(payment(d.paymentId).status, 'completed');
  const notes = sql(`SELECT user_id, kind, body FROM notifications WHERE payment_id = :'id' ORDER BY id;`, { id: d.paymentId });
  assert.deepEqual(notes.map(([u, k]) => [u, k]), [[m.buyer, 'payment-confirmed'], [seller, 'payment-confirmed']]);
  assert.match(notes[1][2], /"Consultation"/);
});

test('an unknown or inactive template is 404 and nothing is written', async () => {
  await fake.reset();
  const buyer = uid('b');
  const tok = token(buyer, 'buyer');
  const before = count('payments');
  for (const request of [`template-checkout-${uid('t')}`, 'template-checkout-6f1c2a4e-0000-4000-8000-000000000001']) {
    const r = await api('POST', '/api/payment/shkeeper/intents',
      { token: tok, body: { purchaseRequestId: request, sellerOfferId: uid('o'), sellerId: uid('s'), amount: '0.01' } });
    assert.equal(r.status, 404, r.text);
  }
  const seller = uid('s');
  const t = await createTemplate(token(seller, 'seller'), { title: 'Retired', price: 9 });
  assert.equal((await api('DELETE', `/api/payment/templates/${t.id}`, { token: token(seller, 'seller') })).status, 200);
  const r = await checkout(buyerOf(t));
  assert.equal(r.status, 404, r.text);
  assert.equal(count('payments'), before);
  assert.equal((await fake.calls()).total, 0);
});

test('a template checkout is reused within 5 minutes, replaced after, and confirmed with its own event', async () => {
  await fake.reset();
  const seller = uid('s');
  const t = await createTemplate(token(seller, 'seller'), { title: 'Ticket', price: 10 });
  const m = buyerOf(t);
  const first = await checkout(m);
  assert.equal(first.status, 201, first.text);
  const a = first.json.data;
  const b = await checkout(m);
  assert.equal(b.status, 200, b.text);
  assert.equal(b.json.data.paymentId, a.paymentId);
  assert.equal(count('payments', `buyer_id = :'b' AND purchase_request_id = :'r'`, { b: m.buyer, r: m.request }), 1);
  assert.equal((await fake.calls()).payment_request[a.externalId], 1);

  // Older than the dedupe window and still unpaid: cancelled, and a new intent made.
  sql(`UPDATE payments SET created_at = now() - interval '6 minutes' WHERE id = :'id';`, { id: a.paymentId });
  const c = await checkout(m);
  assert.equal(c.status, 201, c.text);
  assert.notEqual(c.json.data.paymentId, a.paymentId);
  assert.equal(payment(a.paymentId).status, 'cancelled');

  const cb = await fake.pay({ external_id: c.json.data.externalId, amount_crypto: String(c.json.data.amount) });
  assert.equal(cb.lastStatus, 202, cb.response);
  assert.equal(payment(c.json.data.paymentId).status, 'completed');
  assert.equal(eventCount(c.json.data.paymentId, 'template-checkout-payment-confirmed'), 1);
  assert.equal(eventCount(c.json.data.paymentId, 'seller-offer-update'), 0, 'no marketplace rows to cascade to');
  // Paid within the day: a new checkout is the paid one.
  const again = await checkout(m);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.data.paymentId, c.json.data.paymentId);
  assert.equal(again.json.data.status, 'completed');
});

test('a stale template checkout that received money is not replaced', async () => {
  await fake.reset();
  const t = await createTemplate(token(uid('s'), 'seller'), { title: 'Deposit', price: 10 });
  const m = buyerOf(t);
  const r = await checkout(m);
  assert.equal(r.status, 201, r.text);
  const part = await fake.pay({ external_id: r.json.data.externalId, amount_crypto: '2' });
  assert.equal(part.lastStatus, 202);
  sql(`UPDATE payments SET created_at = now() - interval '6 minutes' WHERE id = :'id';`, { id: r.json.data.paymentId });
  const again = await checkout(m);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.data.paymentId, r.json.data.paymentId, 'the partly paid one is kept');
  assert.equal(payment(r.json.data.paymentId).escrow, 'partial');
});
