// SHKeeper's PAID checked on the chain before the escrow counts as funded,
// through a second pool with the check on (as the main pool has it too),
// with callbacks composed here: real transfers on the local chain to the
// invoice's deposit address, and made-up or misdirected ones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, env, stack, sql, token, pool2Up } from './lib.mjs';
import { fake, marketplace, intent, payment, callback, randomTxid, reviewsOf, WEBHOOK, Q } from './shkeeper_lib.mjs';
import { rpc, mine, waitReceipt, transferData } from '../chain/rpc.mjs';

const URL = env.ANVIL_URL;
const skip = URL ? false : 'no test chain in this stack (tests/chain/setup.sh)';
const UNIT = 10n ** 18n;
const wallet = () => (env.CHAIN_BUYERS ?? '').split(',').at(-2);
let base2;

before(() => {
  if (skip) return;
  base2 = pool2Up({ PAYMENTS_SHKEEPER_VERIFY_ON_CHAIN: 'true' });
});

after(() => { if (!skip) stack('pool2-down'); });

async function transfer(to, units, depth) {
  const h = await rpc(URL, 'eth_sendTransaction', [{ from: wallet(), to: env.CHAIN_TOKEN_USDT, data: transferData(to, units) }]);
  await mine(URL, depth);
  await waitReceipt(URL, h);
  return h;
}

// SHKeeper's PAID for the invoice, listing these transactions, sent to the checking pool.
const paid = (inv, txs) => fake.deliver({
  callback_url: base2 + WEBHOOK,
  body: callback({ externalId: inv.externalId, status: 'PAID', addr: inv.walletAddress, txs }),
});

const inbox = (id) => sql(`SELECT outcome, coalesce(detail, '') FROM webhook_inbox WHERE payment_id = :'id' ORDER BY id DESC LIMIT 1;`, { id })[0];

test('a PAID whose transfer is on the chain and final funds the escrow', { skip }, async () => {
  const m = marketplace(2);
  const inv = await intent(m);
  const hash = await transfer(inv.walletAddress, 10n * UNIT, 4);
  const r = await paid(inv, [{ txid: hash, amount: '10', trigger: true }]);
  assert.equal(r.lastStatus, 202, JSON.stringify(r));
  assert.deepEqual(payment(inv.paymentId), { status: 'completed', escrow: 'funded', txHash: hash });
});

test('a PAID the chain contradicts is stored and not acted on', { skip }, async () => {
  // To another address, and too little to the right one: both refuted.
  const elsewhere = await transfer('0x' + '42'.repeat(20), 10n * UNIT, 4);
  const m1 = marketplace(1);
  const inv1 = await intent(m1);
  const r1 = await paid(inv1, [{ txid: elsewhere, amount: '10', trigger: true }]);
  assert.equal(r1.lastStatus, 202, JSON.stringify(r1));
  assert.equal(payment(inv1.paymentId).status, 'pending');
  assert.equal(inbox(inv1.paymentId)[0], 'rejected');
  assert.match(inbox(inv1.paymentId)[1], /does not pay the deposit address/);
  assert.deepEqual(reviewsOf(inv1.paymentId).map((r) => [r.kind, r.providerStatus]), [['refuted', 'PAID']]);

  const m2 = marketplace(1);
  const inv2 = await intent(m2);
  const short = await transfer(inv2.walletAddress, 5n * UNIT, 4);
  const r2 = await paid(inv2, [{ txid: short, amount: '10', trigger: true }]);
  assert.equal(r2.lastStatus, 202);
  assert.equal(payment(inv2.paymentId).status, 'pending');
  // SHKeeper's rule, not 95 % of the fee-inclusive amount: 95 % of the price, at the invoice's rate.
  const need = new Q(Q.of('9.5').div(Q.of(String(inv2.exchangeRate))).unitsUp(18), 10n ** 18n);
  assert.deepEqual(inbox(inv2.paymentId), ['rejected', 'the transfers to the deposit address total 5 USDT;'
    + ` SHKeeper's PAID needs ${need.text()} (95 % of 10 USD at ${inv2.exchangeRate})`]);
  const [review] = reviewsOf(inv2.paymentId);
  assert.equal(review?.kind, 'refuted', 'the 5 USDT that did arrive reach a person');
  assert.match(review.reason, /total 5 USDT/);
});

test('a listed transaction that never becomes final does not hold back final transfers that reach PAID', { skip }, async () => {
  // A replaced or dropped transaction stays in SHKeeper's list; the final transfer alone is enough.
  const m = marketplace(1);
  const inv = await intent(m);
  const hash = await transfer(inv.walletAddress, 10n * UNIT, 4);
  const dropped = randomTxid();
  const r = await paid(inv, [{ txid: hash, amount: '10' }, { txid: dropped, amount: '1', trigger: true }]);
  assert.equal(r.lastStatus, 202, JSON.stringify(r));
  // Funded, and the hash recorded is the one the chain confirmed, not the trigger it does not know.
  assert.deepEqual(payment(inv.paymentId), { status: 'completed', escrow: 'funded', txHash: hash });
  assert.match(inbox(inv.paymentId)[1], /1 of 2 transaction\(s\) confirmed on chain reach SHKeeper's PAID/);

  // Short without it: that one may still become final, so SHKeeper is asked to deliver again.
  const m2 = marketplace(1);
  const inv2 = await intent(m2);
  const part = await transfer(inv2.walletAddress, 5n * UNIT, 4);
  const r2 = await paid(inv2, [{ txid: part, amount: '5' }, { txid: randomTxid(), amount: '5', trigger: true }]);
  assert.equal(r2.lastStatus, 503, JSON.stringify(r2));
  assert.equal(payment(inv2.paymentId).status, 'pending');
});

test('a transfer not yet final, or unknown, is answered 503 so SHKeeper delivers again; the next delivery applies it', { skip }, async () => {
  const m = marketplace(1);
  const inv = await intent(m);
  const unknown = await paid(inv, [{ txid: randomTxid(), amount: '10', trigger: true }]);
  assert.equal(unknown.lastStatus, 503, JSON.stringify(unknown));
  assert.equal(payment(inv.paymentId).status, 'pending');

  const hash = await transfer(inv.walletAddress, 10n * UNIT, 1);   // mined, not final
  const body = callback({ externalId: inv.externalId, status: 'PAID', addr: inv.walletAddress,
    txs: [{ txid: hash, amount: '10', trigger: true }] });
  const early = await fake.deliver({ callback_url: base2 + WEBHOOK, body });
  assert.equal(early.lastStatus, 503, JSON.stringify(early));
  assert.equal(payment(inv.paymentId).status, 'pending');
  assert.equal(inbox(inv.paymentId)[0], 'received');

  await mine(URL, 3);
  const again = await fake.deliver({ callback_url: base2 + WEBHOOK, body });   // the same bytes
  assert.equal(again.lastStatus, 202, JSON.stringify(again));
  assert.deepEqual(payment(inv.paymentId), { status: 'completed', escrow: 'funded', txHash: hash });
});

test('an unfinished delivery can be replayed by an admin once the chain is final', { skip }, async () => {
  const m = marketplace(1);
  const inv = await intent(m);
  const hash = await transfer(inv.walletAddress, 10n * UNIT, 1);
  assert.equal((await paid(inv, [{ txid: hash, amount: '10', trigger: true }])).lastStatus, 503);
  const [[delivery]] = sql(`SELECT id FROM webhook_inbox WHERE payment_id = :'id' AND outcome = 'received';`, { id: inv.paymentId });
  await mine(URL, 3);
  const r = await api('POST', `/api/payment/admin/webhooks/${delivery}/replay`, { base: base2, token: token('adm-replay', 'admin') });
  const j = r.json;
  assert.equal(r.status, 202, JSON.stringify(j));
  assert.equal(j.data.outcome, 'applied');
  assert.deepEqual(payment(inv.paymentId), { status: 'completed', escrow: 'funded', txHash: hash });
});

test('a PAID on a network this service cannot check is held, not taken on SHKeeper\'s word', { skip }, async () => {
  const m = marketplace(1);
  const inv = await intent(m, { network: 'ethereum', token: 'USDC' });   // the stack has no rpc.ethereum
  const r = await fake.deliver({
    callback_url: base2 + WEBHOOK,
    body: callback({ externalId: inv.externalId, status: 'PAID', addr: inv.walletAddress, crypto: 'ETH-USDC',
      txs: [{ txid: randomTxid(), amount: '10', trigger: true }] }),
  });
  assert.equal(r.lastStatus, 503, JSON.stringify(r));
  assert.equal(payment(inv.paymentId).status, 'pending');
  assert.match(inbox(inv.paymentId)[1], /no rpc\.ethereum/);
});
