// What the SHKeeper pay-in tests share: the fake SHKeeper's control API,
// marketplace rows to pay for, intents, callback bodies signed as SHKeeper
// signs them, and looks into the inbox, events and transitions.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { api, env, token, uid, sql, count, eventually, sleep } from './lib.mjs';
import { checkResponse } from './openapi.mjs';
import { pythonJson, randomTxid } from '../fakes/shkeeper/invoices.mjs';
import { Q, shk, twoPlaces } from '../fakes/shkeeper/decimal.mjs';
import { rpc, mine, waitReceipt, transferData } from '../chain/rpc.mjs';

export { pythonJson, randomTxid, Q, shk, twoPlaces };

export const API_KEY = readFileSync(env.SHKEEPER_API_KEY_FILE, 'utf8').replace(/[\r\n]+$/, '');
export const WEBHOOK = '/api/payment/shkeeper/webhook';
export const webhookUrl = (base = env.BASE_URL) => base + WEBHOOK;

export const sign = (timestamp, body, key = API_KEY) =>
  createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex');
export const now = () => Math.floor(Date.now() / 1000);

// --- The fake's control API ---------------------------------------------------

async function control(method, path, body) {
  const res = await fetch(env.SHKEEPER_URL + path, {
    method, headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  assert.equal(res.status, 200, `fake SHKeeper ${method} ${path}: ${JSON.stringify(json)}`);
  return json;
}

export const fake = {
  mode: (mode, extra = {}) => control('POST', '/__control/mode', { mode, ...extra }),
  calls: () => control('GET', '/__control/calls'),
  requests: (externalId) => control('GET', `/__control/requests?external_id=${encodeURIComponent(externalId)}`),
  invoice: async (externalId) => (await control('GET', `/__control/invoices/${encodeURIComponent(externalId)}`)).invoices.at(-1),
  reset: () => control('POST', '/__control/reset'),
  // SHKeeper's per-crypto settings (rate, fee_percent, llimit, recalc, …); reset restores the defaults.
  settings: (body) => control('POST', '/__control/settings', body),
  // Moves the fake's clock `seconds` ahead of the real one (an invoice's recalc hours pass); reset: back to now.
  clock: (seconds) => control('POST', '/__control/clock', { offsetSeconds: seconds }),
  // A deposit: recorded by the fake, then its signed callback sent (and retried until 202).
  pay: async (body) => checkedDelivery(await control('POST', '/__control/pay', body)),
  // Exactly these bytes, once, signed unless told otherwise.
  deliver: async (body) => checkedDelivery(await control('POST', '/__control/deliver', body)),
};

// The service's answer to the fake's first callback reaches the test through
// the fake's report: it is held to the OpenAPI document like any other.
function checkedDelivery(report) {
  if (report.lastStatus && report.url?.startsWith('https:'))
    checkResponse('POST', report.url, report.lastStatus, report.contentType, report.response ?? '');
  return report;
}

// --- Marketplace rows and intents ---------------------------------------------

// A purchase request with `offers` pending offers of 10 USD from different
// sellers, as the marketplace would have it when the buyer pays.
export function marketplace(offers = 3) {
  const buyer = uid('b');
  const request = uid('pr');
  const list = Array.from({ length: offers }, () => ({ id: uid('o'), seller: uid('s') }));
  sql(`INSERT INTO purchase_requests (id, buyer_id, status) VALUES (:'r', :'b', 'offers');`, { r: request, b: buyer });
  for (const o of list) {
    sql(`INSERT INTO seller_offers (id, purchase_request_id, seller_id, status, amount, currency)
         VALUES (:'o', :'r', :'s', 'pending', 10, 'USD');`, { o: o.id, r: request, s: o.seller });
  }
  return { buyer, token: token(buyer, 'buyer'), request, offers: list, winner: list[0], losers: list.slice(1) };
}

export const intentBody = (m, extra = {}) =>
  ({ purchaseRequestId: m.request, sellerOfferId: m.winner.id, sellerId: m.winner.seller, amount: 10, ...extra });

export const postIntent = (m, extra = {}, tok = m.token) =>
  api('POST', '/api/payment/shkeeper/intents', { token: tok, body: intentBody(m, extra) });

// An intent that must succeed; returns its data.
export async function intent(m, extra = {}) {
  const r = await postIntent(m, extra);
  assert.ok(r.status === 200 || r.status === 201, `intent: ${r.status} ${r.text}`);
  assert.equal(r.json.success, true, r.text);
  return r.json.data;
}

// --- Looking at what the service did --------------------------------------------

export const payment = (id) => {
  const [row] = sql(`SELECT status, escrow_state, coalesce(tx_hash, '') FROM payments WHERE id = :'id';`, { id });
  return row && { status: row[0], escrow: row[1], txHash: row[2] };
};

export const offerStatus = (id) => sql(`SELECT status FROM seller_offers WHERE id = :'id';`, { id })[0][0];

export const requestRow = (id) => {
  const [row] = sql(`SELECT status, coalesce(selected_offer_id, '') FROM purchase_requests WHERE id = :'id';`, { id });
  return { status: row[0], selectedOfferId: row[1] };
};

export const eventsOf = (paymentId) =>
  sql(`SELECT event, room, payload::text FROM events WHERE payment_id = :'id' ORDER BY id;`, { id: paymentId })
    .map(([event, room, payload]) => ({ event, room, payload: JSON.parse(payload) }));

export const eventCount = (paymentId, event) => eventsOf(paymentId).filter((e) => e.event === event).length;

// An event emitted exactly once to each of its rooms (payment-created goes
// both to everyone and to the request's room); returns the rooms.
export function assertOncePerRoom(paymentId, event) {
  const rooms = eventsOf(paymentId).filter((e) => e.event === event).map((e) => e.room);
  assert.ok(rooms.length >= 1, `${event} emitted`);
  assert.equal(new Set(rooms).size, rooms.length, `${event} once per room: ${rooms}`);
  return rooms;
}

// The payment-needs-review events of a payment (the admin room), oldest first: what a person is told.
export const reviewsOf = (paymentId) =>
  sql(`SELECT payload::text FROM events WHERE payment_id = :'id' AND event = 'payment-needs-review' AND room = 'admin'
       ORDER BY id;`, { id: paymentId }).map(([payload]) => JSON.parse(payload));

export const completedTransitions = (paymentId) =>
  count('payment_transitions', `payment_id = :'id' AND to_status = 'completed'`, { id: paymentId });

// The inbox rows whose body is exactly `body`, oldest first.
export const inboxByBody = (body) =>
  sql(`SELECT id, verdict, outcome, coalesce(external_id, ''), convert_from(body, 'UTF8')
       FROM webhook_inbox WHERE provider = 'shkeeper' AND body = convert_to(:'b', 'UTF8') ORDER BY id;`, { b: body })
    .map(([id, verdict, outcome, externalId, text]) => ({ id: Number(id), verdict, outcome, externalId, body: text }));

export const inboxByExternal = (externalId) =>
  sql(`SELECT id, verdict, outcome FROM webhook_inbox WHERE provider = 'shkeeper' AND external_id = :'e' ORDER BY id;`,
    { e: externalId }).map(([id, verdict, outcome]) => ({ id: Number(id), verdict, outcome }));

// Health as an admin sees it (breaker counters are not public).
let healthToken;
export async function health() {
  healthToken ??= token('health-admin', 'admin');
  const r = await api('GET', '/api/payment/health', { token: healthToken });
  return r.json?.data;
}

// The breaker closes only when a call succeeds: after a test that failed
// SHKeeper on purpose, wait out the cool-down and make one good intent.
export async function restoreUpstream() {
  await fake.mode('ok');
  const state = () => health().then((d) => d?.breakers?.shkeeper?.state);
  if ((await state()) === 'closed') return;
  await eventually(async () => {
    const m = marketplace(1);
    const r = await postIntent(m);
    return r.status === 200 || r.status === 201;
  }, 10000, 500);
}

// A callback body shaped as SHKeeper builds it, for deliveries a test
// composes itself (the fake's /pay builds its own): each transaction's fiat
// value at `rate`, SHKeeper's 2 % fee, amounts printed as SHKeeper prints them.
export function callback({ externalId, status, txs, amountFiat = '10', addr = '0x' + '11'.repeat(20), crypto = 'BNB-USDT',
  rate = '0.9985', feePercent = '2' }) {
  const fiat = (t) => Q.of(t.amount).mul(Q.of(t.rate ?? rate));
  const own = txs.filter((t) => (t.crypto ?? crypto) === crypto);
  const bal = txs.reduce((sum, t) => sum.add(fiat(t)), new Q(0n));
  const over = bal.sub(Q.of(amountFiat).mul(105n).div(100n));
  return pythonJson({
    addr, balance_crypto: shk(own.reduce((sum, t) => sum.add(Q.of(t.amount)), new Q(0n))), balance_fiat: shk(bal), crypto,
    external_id: externalId, fee_fixed: '0', fee_percent: feePercent, fee_policy: 'PERCENT_FEE', fiat: 'USD',
    overpaid_fiat: over.cmp(0n) > 0 ? twoPlaces(over) : '0.00',
    paid: status === 'PAID' || status === 'OVERPAID', status,
    transactions: txs.map((t) => {
      const f = fiat(t);
      const without = f.mul(100n).div(Q.of(feePercent).add(100n));
      return {
        amount_crypto: shk(Q.of(t.amount)), amount_fiat: shk(f), amount_fiat_without_fee: shk(without),
        crypto: t.crypto ?? crypto, date: '2026-01-01 12:00:00', fee_fiat: shk(f.sub(without)), trigger: !!t.trigger,
        txid: t.txid,
      };
    }),
  });
}

// --- The test chain -------------------------------------------------------------

export const chainUrl = env.ANVIL_URL;
export const noChain = chainUrl ? false : 'no test chain in this stack (tests/chain/setup.sh)';
// The buyer wallet these tests pay from: one no other test file uses.
export const payerWallet = () => (env.CHAIN_BUYERS ?? '').split(',').at(-3);

// A transfer of `amount` tokens (decimal text) of `tokenAddress` from the test payer to `to`,
// mined and buried `depth` blocks deep (final from 3 on). Returns the hash.
export async function chainTransfer(to, amount, { depth = 4, tokenAddress = env.CHAIN_TOKEN_USDT, from = payerWallet() } = {}) {
  const units = Q.of(String(amount)).units(18);
  const h = await rpc(chainUrl, 'eth_sendTransaction', [{ from, to: tokenAddress, data: transferData(to, units) }]);
  await mine(chainUrl, depth);
  const r = await waitReceipt(chainUrl, h);
  assert.equal(r.status, '0x1', `transfer ${h} succeeded`);
  return h;
}

export const chainMine = (n) => mine(chainUrl, n);

export { api, env, token, uid, sql, count, eventually, sleep };
