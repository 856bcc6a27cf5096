// Money for a purchase request that does not take it is never rearranged.
// The payment itself completes (the money is real), but the request keeps
// its status and selected offer, every offer keeps its state, no cascade
// event is written (seller-offer-update, purchase-request-update,
// chat-requested) and exactly one payment-needs-review goes to the admins.
// Pay-ins arrive the two ways money does: SHKeeper's PAID, and a wallet-direct
// transfer on the local chain. Marketplace rows change with sql(), as the
// marketplace service changes them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, env, sql, count, token, uid, stack, holdLock, serviceWaiting, pool2Up } from './lib.mjs';
import { fake, marketplace, intent, payment } from './shkeeper_lib.mjs';
import { rpc, mine, waitReceipt, transferData } from '../chain/rpc.mjs';

const URL = env.ANVIL_URL;
const skip = URL ? false : 'no test chain in this stack (tests/chain/setup.sh)';
const UNIT = 10n ** 18n;
const WALLET = (env.CHAIN_BUYERS ?? '').split(',')[2];
let escrow, base2;

before(async () => {
  if (skip) return;
  base2 = pool2Up();
  escrow = (await api('GET', '/api/payment/decentralized/receiver')).json.data.address;
});

after(() => { if (!skip) stack('pool2-down'); });

// --- Pay-ins ------------------------------------------------------------------

// A wallet-direct pay-in of 10 USDT by `buyer` (who pays from WALLET) for `body`'s request and offer.
async function walletPayin(buyer, body) {
  sql(`INSERT INTO user_wallets (user_id, network, address) VALUES (:'u', 'bsc', :'a')
       ON CONFLICT (user_id, network) DO UPDATE SET address = EXCLUDED.address;`, { u: buyer, a: WALLET });
  const t = token(buyer, 'buyer');
  const r = await api('POST', '/api/payment/decentralized/save',
    { token: t, body: { amount: '10', token: 'USDT', network: 'bsc', ...body } });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.data.paymentId, token: t };
}

// The transfer for it, mined deep enough to be final.
async function transferFinal() {
  const h = await rpc(URL, 'eth_sendTransaction', [{ from: WALLET, to: env.CHAIN_TOKEN_USDT, data: transferData(escrow, 10n * UNIT) }]);
  await mine(URL, 3);
  await waitReceipt(URL, h);
  return h;
}

const verify = (p, hash, base = env.BASE_URL) =>
  api('POST', `/api/payment/decentralized/verify/${p.id}`, { token: p.token, body: { transactionHash: hash }, base });

async function fundOnChain(p) {
  const r = await verify(p, await transferFinal());
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.status, 'confirmed', r.text);
}

async function fundByShkeeper(d) {
  const r = await fake.pay({ external_id: d.externalId, amount_crypto: '10' });
  assert.equal(r.lastStatus, 202, `callback answered ${r.lastStatus}: ${r.response}`);
}

// --- What must not move -------------------------------------------------------

const CASCADE = ['seller-offer-update', 'purchase-request-update', 'chat-requested'];

// A request and its offers exactly as stored, timestamps included: an update to the same values shows too.
const marketplaceRows = (requests) => requests.map((r) => ({
  request: sql(`SELECT status, coalesce(selected_offer_id, ''), updated_at::text FROM purchase_requests WHERE id = :'r';`, { r }),
  offers: sql(`SELECT id, status, updated_at::text FROM seller_offers WHERE purchase_request_id = :'r' ORDER BY id;`, { r }),
}));

const cascadeEventsFor = (request) =>
  count('events', `event = ANY (string_to_array(:'e', ',')) AND payload->>'purchaseRequestId' = :'r'`, { e: CASCADE.join(','), r: request });
const cascadeEventsOf = (paymentId) =>
  count('events', `event = ANY (string_to_array(:'e', ',')) AND payment_id = :'p'`, { e: CASCADE.join(','), p: paymentId });
const reviews = (paymentId) =>
  count('events', `event = 'payment-needs-review' AND room = 'admin' AND payment_id = :'p'`, { p: paymentId });
const sellerNotes = (paymentId) =>
  count('notifications', `payment_id = :'p' AND user_id <> 'admin' AND user_id <> (SELECT buyer_id FROM payments WHERE id = :'p')`, { p: paymentId });
const buyerNotes = (paymentId) =>
  count('notifications', `payment_id = :'p' AND user_id = (SELECT buyer_id FROM payments WHERE id = :'p')`, { p: paymentId });

// Funds `paymentId` with `fund` and checks that none of `requests` moved.
async function fundedForReview(paymentId, requests, fund) {
  const rows = marketplaceRows(requests);
  const events = requests.map(cascadeEventsFor);
  await fund();
  assert.deepEqual(payment(paymentId).status, 'completed', 'the money is real: the payment completes');
  assert.equal(payment(paymentId).escrow, 'funded');
  assert.deepEqual(marketplaceRows(requests), rows, 'requests and offers exactly as they were');
  assert.deepEqual(requests.map(cascadeEventsFor), events, 'no cascade event for the requests');
  assert.equal(cascadeEventsOf(paymentId), 0, 'no cascade event for the payment');
  assert.equal(reviews(paymentId), 1, 'exactly one payment-needs-review');
  assert.equal(buyerNotes(paymentId), 1, 'the buyer hears the money arrived');
  assert.equal(sellerNotes(paymentId), 0, 'no seller is told to deliver, or that an offer was accepted');
  assert.equal(count('notifications', `payment_id = :'p' AND user_id = 'admin'`, { p: paymentId }), 1, 'the admins are told');
}

// --- The cases ----------------------------------------------------------------

// The buyer pays twice: for the offer already accepted, or for one already rejected.
for (const named of ['accepted', 'rejected']) {
  test(`a second pay-in, for the ${named} offer of a request already in payment`, { skip }, async () => {
    const m = marketplace(3);
    const offer = named === 'accepted' ? m.winner : m.losers[0];
    const second = await walletPayin(m.buyer, { purchaseRequestId: m.request, sellerOfferId: offer.id, sellerId: offer.seller });
    const d = await intent(m);
    await fundByShkeeper(d);
    assert.deepEqual(sql(`SELECT status, selected_offer_id FROM purchase_requests WHERE id = :'r';`, { r: m.request }),
      [['payment', m.winner.id]], 'the first pay-in ran the cascade');
    assert.equal(sql(`SELECT status FROM seller_offers WHERE id = :'o';`, { o: offer.id })[0][0], named);
    await fundedForReview(second.id, [m.request], () => fundOnChain(second));
  });
}

test("a pay-in naming another buyer's request", { skip }, async () => {
  const m = marketplace(2);
  const p = await walletPayin(uid('b'), { purchaseRequestId: m.request, sellerOfferId: m.winner.id, sellerId: m.winner.seller });
  await fundedForReview(p.id, [m.request], () => fundOnChain(p));
});

test('a pay-in whose offer was withdrawn meanwhile', async () => {
  const m = marketplace(2);
  const d = await intent(m);
  sql(`UPDATE seller_offers SET status = 'withdrawn', updated_at = now() WHERE id = :'o';`, { o: m.winner.id });
  await fundedForReview(d.paymentId, [m.request], () => fundByShkeeper(d));
});

test("a pay-in naming another request's offer", { skip }, async () => {
  const m = marketplace(2);
  const elsewhere = marketplace(2);
  const p = await walletPayin(m.buyer, { purchaseRequestId: m.request, sellerOfferId: elsewhere.winner.id, sellerId: elsewhere.winner.seller });
  await fundedForReview(p.id, [m.request, elsewhere.request], () => fundOnChain(p));
});

test('a pay-in naming a seller but no offer', { skip }, async () => {
  const m = marketplace(2);
  const p = await walletPayin(m.buyer, { purchaseRequestId: m.request, sellerId: m.winner.seller });
  await fundedForReview(p.id, [m.request], () => fundOnChain(p));
});

// A buyer pays an offer on its own terms or not at all: the save refuses
// another seller or another price, and writes nothing.
test("a wallet-direct pay-in is refused for another seller or another price than its offer's, and takes the offer's seller", { skip }, async () => {
  const m = marketplace(2);
  const save = (body) => api('POST', '/api/payment/decentralized/save', { token: m.token, body: { token: 'USDT',
    network: 'bsc', purchaseRequestId: m.request, sellerOfferId: m.winner.id, sellerId: m.winner.seller, ...body } });
  sql(`INSERT INTO user_wallets (user_id, network, address) VALUES (:'u', 'bsc', :'a')
       ON CONFLICT (user_id, network) DO UPDATE SET address = EXCLUDED.address;`, { u: m.buyer, a: WALLET });
  let r = await save({ amount: '0.01' });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.field, 'amount');
  assert.match(r.json.message, /not the offer's 10/);
  r = await save({ amount: '10', sellerId: uid('s') });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.field, 'sellerId');
  assert.equal(count('payments', `purchase_request_id = :'r'`, { r: m.request }), 0, 'nothing written');
  // The seller may be left out, as the checkout sends it: the offer's is the payment's.
  r = await save({ amount: '10', sellerId: undefined });
  assert.equal(r.status, 201, r.text);
  const p = { id: r.json.data.paymentId, token: m.token };
  assert.equal(sql(`SELECT seller_id FROM payments WHERE id = :'id';`, { id: p.id })[0][0], m.winner.seller);
  await fundOnChain(p);
  assert.equal(sql(`SELECT status FROM seller_offers WHERE id = :'o';`, { o: m.winner.id })[0][0], 'accepted');
  assert.equal(reviews(p.id), 0);
});

// What the save saw can change before the money arrives; the coordinator
// decides on the offer as it is then. A seller who re-prices the offer, or
// an offer that passes to another seller, leaves the payment for a person.
test('a pay-in for an offer re-priced meanwhile', { skip }, async () => {
  const m = marketplace(2);
  const p = await walletPayin(m.buyer, { purchaseRequestId: m.request, sellerOfferId: m.winner.id, sellerId: m.winner.seller });
  sql(`UPDATE seller_offers SET amount = 1000, updated_at = now() WHERE id = :'o';`, { o: m.winner.id });
  await fundedForReview(p.id, [m.request], () => fundOnChain(p));
  const [[reason]] = sql(`SELECT payload->>'reason' FROM events WHERE event = 'payment-needs-review' AND payment_id = :'p';`, { p: p.id });
  assert.match(reason, /priced 1000, the payment 10/);
});

test('a pay-in for an offer that passed to another seller meanwhile', { skip }, async () => {
  const m = marketplace(2);
  const p = await walletPayin(m.buyer, { purchaseRequestId: m.request, sellerOfferId: m.winner.id, sellerId: m.winner.seller });
  sql(`UPDATE seller_offers SET seller_id = :'s', updated_at = now() WHERE id = :'o';`, { o: m.winner.id, s: uid('s') });
  await fundedForReview(p.id, [m.request], () => fundOnChain(p));
});

// The marketplace closes the request while the payment is being applied:
// its transaction holds the request's row when the payment arrives, and
// commits the cancellation only once the payment waits for that row. The
// payment must decide on the request as the marketplace left it.
test('a request the marketplace cancels while the payment is applied is not reopened', async () => {
  const m = marketplace(2);
  const d = await intent(m);
  const marketplaceTx = await holdLock(`SELECT 1 FROM purchase_requests WHERE id = :'r' FOR UPDATE`, { r: m.request });
  let paid;
  try {
    paid = fundByShkeeper(d);
    assert.ok(await serviceWaiting(1) >= 1, 'the payment waits for the request');
  } finally {
    await marketplaceTx.release("UPDATE purchase_requests SET status = 'cancelled', updated_at = now() WHERE id = :'r';");
  }
  await paid;
  assert.deepEqual([payment(d.paymentId).status, payment(d.paymentId).escrow], ['completed', 'funded'], 'the money is real');
  assert.equal(sql(`SELECT status FROM purchase_requests WHERE id = :'r';`, { r: m.request })[0][0], 'cancelled');
  for (const o of m.offers) assert.equal(sql(`SELECT status FROM seller_offers WHERE id = :'o';`, { o: o.id })[0][0], 'pending');
  assert.equal(cascadeEventsFor(m.request), 0);
  assert.equal(reviews(d.paymentId), 1);
});

test('two pay-ins of one request funded at once through both pools: one cascade, one review', { skip }, async () => {
  for (let round = 0; round < 3; round++) {
    const m = marketplace(3);
    const wallet = await walletPayin(m.buyer, { purchaseRequestId: m.request, sellerOfferId: m.losers[0].id, sellerId: m.losers[0].seller });
    const d = await intent(m);
    const hash = await transferFinal();
    const [v] = await Promise.all([verify(wallet, hash, base2), fundByShkeeper(d)]);
    assert.equal(v.status, 200, v.text);

    const ids = [d.paymentId, wallet.id];
    for (const id of ids) assert.deepEqual([payment(id).status, payment(id).escrow], ['completed', 'funded']);
    const reviewed = ids.filter((id) => reviews(id) === 1);
    assert.equal(reviewed.length, 1, `exactly one of the two is left for review (round ${round})`);
    assert.equal(ids.reduce((n, id) => n + reviews(id), 0), 1);
    const winner = ids.find((id) => !reviewed.includes(id));
    assert.equal(cascadeEventsOf(reviewed[0]), 0);
    assert.equal(count('events', `event = 'purchase-request-update' AND payload->>'purchaseRequestId' = :'r'`, { r: m.request }), 1);
    assert.equal(count('events', `event = 'chat-requested' AND payload->>'purchaseRequestId' = :'r'`, { r: m.request }), 1);
    const selected = winner === d.paymentId ? m.winner.id : m.losers[0].id;
    assert.deepEqual(sql(`SELECT status, selected_offer_id FROM purchase_requests WHERE id = :'r';`, { r: m.request }),
      [['payment', selected]]);
    const offers = Object.fromEntries(sql(`SELECT id, status FROM seller_offers WHERE purchase_request_id = :'r';`, { r: m.request }));
    for (const o of m.offers) assert.equal(offers[o.id], o.id === selected ? 'accepted' : 'rejected', o.id);
    assert.equal(count('events', `event = 'seller-offer-update' AND payment_id = :'p'`, { p: winner }), 3);
  }
});
