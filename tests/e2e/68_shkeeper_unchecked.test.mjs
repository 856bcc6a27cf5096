// With shkeeper_verify_on_chain = false (a second pool), SHKeeper's signed
// PAID is not checked on the chain, but its own figures must still add up to
// SHKeeper's rule: its fiat balance against the price at llimit, and its
// transactions of the invoice's token against the threshold in tokens. A PAID
// that does not add up is stored and not applied, and reaches a person. The
// pool also has its own llimit for one crypto (shkeeper_llimit.<CRYPTO>, as
// SHKeeper keeps llimit per wallet) and one for a crypto nothing is paid in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stack, pool2Up } from './lib.mjs';
import {
  api, token, fake, marketplace, intent, payment, callback, randomTxid, reviewsOf, sql, WEBHOOK, Q,
} from './shkeeper_lib.mjs';

let base2;

const LLIMITS = { PAYMENTS_SHKEEPER_LLIMIT_BNB_USDC: '90', PAYMENTS_SHKEEPER_LLIMIT_TRX_USDT: '97' };

before(() => {
  base2 = pool2Up({ PAYMENTS_SHKEEPER_VERIFY_ON_CHAIN: 'false', ...LLIMITS });
});

after(() => stack('pool2-down'));

const share = (d, pct) => Q.of(String(d.amount)).mul(BigInt(pct)).div(100n).text();
const inbox = (id) => sql(`SELECT outcome, coalesce(detail, '') FROM webhook_inbox WHERE payment_id = :'id' ORDER BY id DESC LIMIT 1;`, { id })[0];

// A signed PAID for the invoice, composed here, delivered to the unchecking pool.
async function deliver(d, { txs, balanceFiat, status = 'PAID', crypto = 'BNB-USDT' }) {
  let body = callback({ externalId: d.externalId, status, addr: d.walletAddress, crypto, rate: String(d.exchangeRate), txs });
  if (balanceFiat !== undefined) body = body.replace(/"balance_fiat":"[^"]*"/, `"balance_fiat":"${balanceFiat}"`);
  const r = await fake.deliver({ callback_url: base2 + WEBHOOK, body });
  assert.equal(r.lastStatus, 202, JSON.stringify(r));
  return r;
}

test('the pool says it does not check on chain, warns of nothing it cannot fund, and of an llimit that applies to nothing', async () => {
  const h = await api('GET', '/api/payment/health', { base: base2, token: token('health-admin', 'admin') });
  assert.equal(h.json.data.shkeeper.verifyOnChain, false);
  assert.deepEqual(h.json.data.shkeeper.unverifiableNetworks, []);
  assert.equal(h.json.data.shkeeper.llimit, '95');
  assert.deepEqual(h.json.data.shkeeper.llimitByCrypto, { 'BNB-USDC': '90', 'TRX-USDT': '97' });
  assert.deepEqual(h.json.data.warnings, ['shkeeper_llimit.TRX-USDT is set, but no configured token is paid in TRX-USDT'
    + ' through SHKeeper: check the crypto\'s name (BNB-USDT, ETH-USDC, …)']);
});

test('a crypto with its own llimit is held to it, the others to shkeeper_llimit', async () => {
  // SHKeeper's BNB-USDC wallet calls 91 % of the price PAID (llimit 90): so does this pool.
  const usdc = await intent(marketplace(1), { token: 'USDC' });
  const tokens = (d, pct) => Q.of('10').mul(BigInt(pct)).div(100n).div(Q.of(String(d.exchangeRate))).text(18);
  await deliver(usdc, { crypto: 'BNB-USDC', txs: [{ txid: randomTxid(), amount: tokens(usdc, 91), trigger: true }] });
  assert.equal(payment(usdc.paymentId).status, 'completed');
  // 91 % in BNB-USDT is short of its 95 %.
  const usdt = await intent(marketplace(1));
  await deliver(usdt, { txs: [{ txid: randomTxid(), amount: tokens(usdt, 91), trigger: true }] });
  assert.equal(payment(usdt.paymentId).status, 'pending');
  assert.match(inbox(usdt.paymentId)[1], /below 95 % of the price 10/);
});

test('1 USD on a 10 USD invoice is not applied', async () => {
  const d = await intent(marketplace(1));
  await deliver(d, { txs: [{ txid: randomTxid(), amount: '1', trigger: true }] });
  assert.deepEqual(payment(d.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });
  assert.equal(inbox(d.paymentId)[0], 'rejected');
  assert.match(inbox(d.paymentId)[1], /not checked on chain .*balance_fiat 0\.9985 USD is below 95 % of the price 10/);
  assert.deepEqual(reviewsOf(d.paymentId).map((r) => [r.kind, r.providerStatus]), [['refuted', 'PAID']]);
});

test('a PAID that lists no transaction, or none of the invoice\'s token, is not applied', async () => {
  const d = await intent(marketplace(1));
  await deliver(d, { txs: [], balanceFiat: '10.2' });
  assert.deepEqual(payment(d.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });
  assert.match(inbox(d.paymentId)[1], /lists no BNB-USDT transaction/);

  // All of it in the chain's other token: SHKeeper's fiat balance is full, none of it is the invoice's.
  await deliver(d, { txs: [{ txid: randomTxid(), amount: '10.5', crypto: 'BNB-USDC', rate: '1.0002', trigger: true }] });
  assert.deepEqual(payment(d.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });
  assert.match(inbox(d.paymentId)[1], /lists no BNB-USDT transaction/);
  const kinds = reviewsOf(d.paymentId).map((r) => r.kind);
  assert.ok(kinds.length >= 1 && kinds.every((k) => k === 'refuted'), `reviewed as refuted: ${kinds}`);
});

test('a fiat balance made up by a stray token, with the invoice\'s own token short, is not applied', async () => {
  const d = await intent(marketplace(1));
  await deliver(d, { txs: [{ txid: randomTxid(), amount: '1', crypto: 'BNB-USDC', rate: '1.0002' },
    { txid: randomTxid(), amount: share(d, 90), trigger: true }] });
  assert.equal(payment(d.paymentId).status, 'pending');
  assert.match(inbox(d.paymentId)[1], /its BNB-USDT transactions total 9\.\d+ USDT; SHKeeper's PAID needs 9\.5\d+/);
  assert.deepEqual(reviewsOf(d.paymentId).map((r) => r.kind), ['refuted']);
});

test('a PAID whose figures add up is applied, unchecked, with the invoice\'s own transaction', async () => {
  const d = await intent(marketplace(1));
  const own = randomTxid();
  await deliver(d, { txs: [{ txid: randomTxid(), amount: '0.01', crypto: 'BNB-USDC', rate: '1.0002' },
    { txid: own, amount: share(d, 94), trigger: true }] });
  assert.deepEqual(payment(d.paymentId), { status: 'completed', escrow: 'funded', txHash: own });
  assert.match(inbox(d.paymentId)[1], /not checked on chain .*add up/);
});
