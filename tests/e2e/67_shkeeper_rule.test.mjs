// SHKeeper's own PAID rule, with the on-chain check on (as production has it):
// SHKeeper adds its fee (2 %) to the invoice's crypto `amount` but calls it
// PAID in fiat, at 95 % of the price without the fee, at the invoice's rate.
// The service funds what SHKeeper calls paid, on the chain, for the callback
// and for the buyer's confirm-transaction alike; only the invoice's own
// token counts. And the links and dates a buyer is given are true.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rpc } from '../chain/rpc.mjs';
import {
  api, env, token, uid, sql, fake, marketplace, intent, payment, callback, webhookUrl, chainTransfer, chainMine, noChain,
  randomTxid, reviewsOf, chainUrl, Q,
} from './shkeeper_lib.mjs';

const UNIT = 10n ** 18n;
const skip = noChain;

// `pct` percent of the invoice's crypto amount, exactly.
const share = (d, pct) => Q.of(String(d.amount)).mul(BigInt(pct)).div(100n).text();
// SHKeeper's PAID threshold for a 10 USD invoice, in base units: 9.5 USD at the invoice's rate, rounded up.
const threshold = (d) => Q.of('9.5').div(Q.of(String(d.exchangeRate))).unitsUp(18);
const units = (n) => new Q(n, UNIT).text();

const inbox = (id) => sql(`SELECT outcome, coalesce(detail, '') FROM webhook_inbox WHERE payment_id = :'id' ORDER BY id DESC LIMIT 1;`, { id })[0];
const confirm = (m, id, hash) =>
  api('POST', '/api/payment/shkeeper/confirm-transaction', { token: m.token, body: { paymentId: id, transactionHash: hash } });

// --- 1. The rule, through the fake's real deposits ---------------------------

test('a deposit of 94 % of the fee-inclusive amount is PAID for SHKeeper and completes the payment', { skip }, async () => {
  await fake.reset();
  const m = marketplace(2);
  const d = await intent(m);
  const inv = await fake.invoice(d.externalId);
  assert.notEqual(inv.exchange_rate, '1', 'the fake prices at a rate other than 1');
  // A stray deposit of the chain's other token to the same address comes first, as happens.
  const r = await fake.pay({ external_id: d.externalId, amount_crypto: share(d, 94), stray: '0.01' });
  assert.equal(r.lastStatus, 202, JSON.stringify(r));
  const cb = JSON.parse(r.body);
  assert.equal(cb.status, 'PAID');
  assert.equal(cb.fee_percent, '2');
  assert.deepEqual(cb.transactions.map((t) => t.crypto).sort(), ['BNB-USDC', 'BNB-USDT'], 'the stray is listed');
  assert.deepEqual(payment(d.paymentId), { status: 'completed', escrow: 'funded', txHash: r.txid });
  assert.notEqual(r.txid, r.strayTxid);
});

test('a deposit of 90 % stays partial', { skip }, async () => {
  const m = marketplace(1);
  const d = await intent(m);
  const r = await fake.pay({ external_id: d.externalId, amount_crypto: share(d, 90) });
  assert.equal(r.lastStatus, 202, JSON.stringify(r));
  assert.equal(JSON.parse(r.body).status, 'PARTIAL');
  assert.deepEqual(payment(d.paymentId), { status: 'pending', escrow: 'partial', txHash: r.txid });
  // The rest arrives: PAID, funded.
  const rest = await fake.pay({ external_id: d.externalId, amount_crypto: share(d, 10) });
  assert.equal(JSON.parse(rest.body).status, 'PAID');
  assert.deepEqual(payment(d.paymentId), { status: 'completed', escrow: 'funded', txHash: rest.txid });
});

test('the threshold is exact: one base unit short is PARTIAL for SHKeeper and refuted here, the unit that completes it funds', { skip }, async () => {
  const m = marketplace(1);
  const d = await intent(m);
  const need = threshold(d);
  // SHKeeper's own word at need - 1 base units (recorded, not announced): PARTIAL.
  const first = await fake.pay({ external_id: d.externalId, amount_crypto: units(need - 1n), callback: false });
  assert.equal((await fake.invoice(d.externalId)).status, 'PARTIAL', 'one base unit short is PARTIAL for SHKeeper');
  // A PAID for it anyway (a SHKeeper that miscounts, or a forged one) is refuted, and a person hears of it.
  const shape = { externalId: d.externalId, addr: d.walletAddress, rate: String(d.exchangeRate) };
  const short = callback({ ...shape, status: 'PAID', txs: [{ txid: first.txid, amount: units(need - 1n), trigger: true }] });
  assert.equal((await fake.deliver({ callback_url: webhookUrl(), body: short })).lastStatus, 202);
  assert.equal(payment(d.paymentId).status, 'pending');
  assert.deepEqual(inbox(d.paymentId), ['rejected', `the transfers to the deposit address total ${units(need - 1n)} USDT;`
    + ` SHKeeper's PAID needs ${units(need)} (95 % of 10 USD at ${d.exchangeRate})`]);
  assert.deepEqual(reviewsOf(d.paymentId).map((r) => [r.kind, r.providerStatus]), [['refuted', 'PAID']]);

  // One more base unit: SHKeeper's own PAID, and the payment funded.
  const last = await fake.pay({ external_id: d.externalId, amount_crypto: units(1n) });
  assert.equal(JSON.parse(last.body).status, 'PAID', 'need base units are PAID for SHKeeper');
  assert.deepEqual(payment(d.paymentId), { status: 'completed', escrow: 'funded', txHash: last.txid });
});

test('a stray token that lifts SHKeeper\'s fiat balance to PAID does not count; the invoice\'s own token does', { skip }, async () => {
  const m = marketplace(1);
  const d = await intent(m);
  // 92 % in the invoice's token (short of 95 % of the price), plus 0.5 of the other token.
  const r = await fake.pay({ external_id: d.externalId, amount_crypto: share(d, 92), stray: '0.5' });
  assert.equal(JSON.parse(r.body).status, 'PAID', 'SHKeeper counts the stray in its fiat balance');
  const p = payment(d.paymentId);
  assert.notEqual(p.status, 'completed');
  assert.notEqual(p.escrow, 'funded');
  assert.notEqual(p.txHash, r.strayTxid, 'the stray is never the payment\'s transaction');
  assert.equal(inbox(d.paymentId)[0], 'rejected');
  assert.match(inbox(d.paymentId)[1], /the transfers to the deposit address total 9\.\d+ USDT; SHKeeper's PAID needs 9\.5\d+/);
  assert.deepEqual(reviewsOf(d.paymentId).map((r) => r.kind), ['refuted'], 'the money reaches a person');

  const rest = await fake.pay({ external_id: d.externalId, amount_crypto: share(d, 3) });
  assert.equal(rest.lastStatus, 202);
  assert.deepEqual(payment(d.paymentId), { status: 'completed', escrow: 'funded', txHash: rest.txid });
});

// --- 1. confirm-transaction holds the buyer's transfers to the same rule ------

test('confirm-transaction: 94 % in one transfer completes, 90 % is short', { skip }, async () => {
  const m = marketplace(1);
  const d = await intent(m);
  const low = await chainTransfer(d.walletAddress, share(d, 90));
  const r = await confirm(m, d.paymentId, low);
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.error.code, 'amount_short');
  assert.match(r.json.message, /SHKeeper's PAID needs/);
  assert.equal(payment(d.paymentId).status, 'pending');

  const m2 = marketplace(1);
  const d2 = await intent(m2);
  const ok = await chainTransfer(d2.walletAddress, share(d2, 94));
  const c = await confirm(m2, d2.paymentId, ok);
  assert.equal(c.status, 200, c.text);
  assert.deepEqual(payment(d2.paymentId), { status: 'completed', escrow: 'funded', txHash: ok });
});

test('confirm-transaction sums the buyer\'s transfers to the deposit address, and only the buyer\'s', { skip }, async () => {
  const buyers = env.CHAIN_BUYERS.split(',');
  const m = marketplace(1);
  const d = await intent(m);
  // Paid in two parts from one wallet: 50 % then 44 %.
  await chainTransfer(d.walletAddress, share(d, 50));
  const b = await chainTransfer(d.walletAddress, share(d, 44));
  const c = await confirm(m, d.paymentId, b);
  assert.equal(c.status, 200, c.text);
  assert.deepEqual(payment(d.paymentId), { status: 'completed', escrow: 'funded', txHash: b });

  // 50 % from someone else's wallet does not make the buyer's 44 % enough.
  const m2 = marketplace(1);
  const d2 = await intent(m2);
  await chainTransfer(d2.walletAddress, share(d2, 50), { from: buyers.at(-4) });
  const mine = await chainTransfer(d2.walletAddress, share(d2, 44));
  const r = await confirm(m2, d2.paymentId, mine);
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.error.code, 'amount_short');
  assert.equal(payment(d2.paymentId).status, 'pending');
});

test('confirm-transaction: the buyer\'s other transfer not final yet is waited for, not called short', { skip }, async () => {
  const m = marketplace(1);
  const d = await intent(m);
  const b = await chainTransfer(d.walletAddress, share(d, 44));               // final
  await chainTransfer(d.walletAddress, share(d, 50), { depth: 1 });          // mined, not final yet
  const early = await confirm(m, d.paymentId, b);
  assert.equal(early.status, 202, early.text);
  assert.match(early.json.message, /once those not final yet are/);
  assert.equal(payment(d.paymentId).status, 'pending');
  await chainMine(3);
  const c = await confirm(m, d.paymentId, b);
  assert.equal(c.status, 200, c.text);
  assert.deepEqual(payment(d.paymentId), { status: 'completed', escrow: 'funded', txHash: b });
});

test('confirm-transaction: the same wallet\'s transfer of the other token does not count', { skip }, async () => {
  const m = marketplace(1);
  const d = await intent(m);
  await chainTransfer(d.walletAddress, share(d, 50), { tokenAddress: env.CHAIN_TOKEN_USDC });
  const mine = await chainTransfer(d.walletAddress, share(d, 44));
  const r = await confirm(m, d.paymentId, mine);
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.error.code, 'amount_short');
  assert.match(r.json.message, new RegExp(`final transfers to the deposit address total ${share(d, 44).replace('.', '\\.')} USDT;`));
});

test('confirm-transaction searches from the pay-in\'s first block, recorded when its invoice was made', { skip }, async () => {
  const head = Number(await rpc(chainUrl, 'eth_blockNumber', []));
  const m = marketplace(1);
  const d = await intent(m);
  const [[first]] = sql(`SELECT deposit_from_block FROM payments WHERE id = :'id';`, { id: d.paymentId });
  assert.ok(Number(first) <= head && Number(first) >= head - 3, `first block ${first}, head ${head} before the intent`);
  const a = await chainTransfer(d.walletAddress, share(d, 50));
  const b = await chainTransfer(d.walletAddress, share(d, 44));
  // Moved past the first part: that part is outside what is searched, so the rest is short.
  const aBlock = Number((await rpc(chainUrl, 'eth_getTransactionReceipt', [a])).blockNumber);
  sql(`UPDATE payments SET deposit_from_block = :'b' WHERE id = :'id';`, { b: aBlock + 1, id: d.paymentId });
  const short = await confirm(m, d.paymentId, b);
  assert.equal(short.status, 422, short.text);
  // Not known (a pay-in from before it was recorded): a chain this short is searched whole.
  sql(`UPDATE payments SET deposit_from_block = NULL WHERE id = :'id';`, { id: d.paymentId });
  const c = await confirm(m, d.paymentId, b);
  assert.equal(c.status, 200, c.text);
});

test('confirm-transaction on a payment this service cannot judge is 409 not_verifiable, not amount_short', { skip }, async () => {
  const m = marketplace(1);
  const d = await intent(m);
  sql(`UPDATE payments SET exchange_rate = NULL WHERE id = :'id';`, { id: d.paymentId });
  const hash = await chainTransfer(d.walletAddress, share(d, 50));
  const r = await confirm(m, d.paymentId, hash);
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, 'not_verifiable');
  assert.equal(payment(d.paymentId).status, 'pending');
});

// --- 5. The links a buyer gets work ------------------------------------------

test('paymentUrl is an EIP-681 transfer of the invoice\'s amount to its deposit address, and paying it completes', { skip }, async () => {
  const m = marketplace(1);
  const d = await intent(m);
  const inv = await fake.invoice(d.externalId);
  const u = /^ethereum:(0x[0-9a-fA-F]{40})@(\d+)\/transfer\?address=(0x[0-9a-fA-F]{40})&uint256=(\d+)$/.exec(d.paymentUrl);
  assert.ok(u, d.paymentUrl);
  assert.equal(u[1].toLowerCase(), env.CHAIN_TOKEN_USDT.toLowerCase());
  assert.equal(u[2], '56');
  assert.equal(u[3].toLowerCase(), inv.wallet);
  assert.equal(BigInt(u[4]), Q.of(inv.amount).units(18));
  // walletAddress and amount as they were.
  assert.equal(d.walletAddress.toLowerCase(), inv.wallet);
  assert.equal(String(d.amount), inv.amount);
  // The payment itself carries the same link while it takes payment.
  const g = await api('GET', `/api/payment/${d.paymentId}`, { token: m.token });
  assert.equal(g.json.data.paymentUrl, d.paymentUrl);
  // A wallet that opens the link sends exactly this transfer.
  const hash = await chainTransfer(u[3], units(BigInt(u[4])), { tokenAddress: u[1] });
  const c = await confirm(m, d.paymentId, hash);
  assert.equal(c.status, 200, c.text);
  assert.equal(payment(d.paymentId).status, 'completed');
  // Paid: no link that would pay it again.
  const after = await api('GET', `/api/payment/${d.paymentId}`, { token: m.token });
  assert.equal(after.json.data.paymentUrl, null);
});

test('a template checkout already paid is handed out again without a link that pays it twice', { skip }, async () => {
  await fake.reset();
  const seller = uid('s');
  const t = await api('POST', '/api/payment/templates', { token: token(seller, 'seller'), body: { title: 'Pass', price: 10 } });
  assert.equal(t.status, 201, t.text);
  const buyer = uid('b');
  const m = { buyer, token: token(buyer, 'buyer') };
  const checkout = () => api('POST', '/api/payment/shkeeper/intents',
    { token: m.token, body: { purchaseRequestId: t.json.data.purchaseRequestId } });
  const first = await checkout();
  assert.equal(first.status, 201, first.text);
  assert.match(first.json.data.paymentUrl, /^ethereum:0x[0-9a-fA-F]{40}@56\/transfer\?/);
  const paid = await fake.pay({ external_id: first.json.data.externalId, amount_crypto: String(first.json.data.amount) });
  assert.equal(paid.lastStatus, 202);
  assert.equal(payment(first.json.data.paymentId).status, 'completed');
  // The buyer checks out again within the day: the paid checkout, its address for the record, no link.
  const again = await checkout();
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.data.paymentId, first.json.data.paymentId);
  assert.equal(again.json.data.status, 'completed');
  assert.equal(again.json.data.walletAddress, first.json.data.walletAddress);
  assert.equal(again.json.data.paymentUrl, null);
  // A cancelled one has none either.
  const m2 = marketplace(1);
  const d2 = await intent(m2);
  const cancel = await api('PUT', `/api/payment/${d2.paymentId}`,
    { token: token('adm-links', 'admin'), body: { status: 'cancelled' } });
  assert.equal(cancel.status, 200, cancel.text);
  assert.equal((await api('GET', `/api/payment/${d2.paymentId}`, { token: m2.token })).json.data.paymentUrl, null);
});

test('recalculateAt is when SHKeeper re-prices the invoice (null for never); nothing claims an expiry', async () => {
  await fake.settings({ crypto: 'BNB-USDT', recalc: 6 });
  try {
    const m = marketplace(1);
    const before = Date.now();
    const d = await intent(m);
    assert.ok(!('expiresAt' in d), JSON.stringify(d));
    const at = Date.parse(d.recalculateAt);
    assert.ok(at >= before + 6 * 3600e3 - 5000 && at <= Date.now() + 6 * 3600e3 + 5000, d.recalculateAt);
    const g = await api('GET', `/api/payment/${d.paymentId}`, { token: m.token });
    assert.equal(g.json.data.expiresAt, null, 'the payment does not expire');
  } finally {
    await fake.reset();
  }
  const d0 = await intent(marketplace(1));
  assert.equal(d0.recalculateAt, null);
});

test('fetch-tx records only a transaction of the invoice\'s token that the chain shows paying the deposit address', { skip }, async () => {
  await fake.reset();
  const m = marketplace(1);
  const d = await intent(m);
  const paid = await fake.pay({ external_id: d.externalId, amount_crypto: String(d.amount) });
  assert.equal(payment(d.paymentId).status, 'completed');
  // Later, SHKeeper records more for this invoice: a stray token, and a transaction the chain never saw.
  const stray = await fake.pay({ external_id: d.externalId, stray: '0.3' });
  assert.ok(stray.strayTxid);
  const madeUp = randomTxid();
  await fake.pay({ external_id: d.externalId, amount_crypto: '1', txid: madeUp, callback: false });
  const listed = (await fake.invoice(d.externalId)).txs;
  assert.equal(listed.at(-1).txid, madeUp, 'the newest CONFIRMED entry is the made-up one');
  assert.ok(listed.some((t) => t.crypto === 'BNB-USDC' && t.txid === stray.strayTxid));
  // A record from before hashes were kept.
  sql(`UPDATE payments SET tx_hash = NULL WHERE id = :'id';`, { id: d.paymentId });
  const r = await api('POST', `/api/payment/payments/${d.paymentId}/fetch-tx`, { token: m.token });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.transactionHash, paid.txid);
  assert.equal(payment(d.paymentId).txHash, paid.txid);

  // Nothing SHKeeper lists is on the chain: nothing is recorded.
  const m2 = marketplace(1);
  const d2 = await intent(m2);
  sql(`UPDATE payments SET status = 'completed', escrow_state = 'funded' WHERE id = :'id';`, { id: d2.paymentId });
  await fake.pay({ external_id: d2.externalId, amount_crypto: String(d2.amount), txid: randomTxid(), callback: false });
  const none = await api('POST', `/api/payment/payments/${d2.paymentId}/fetch-tx`, { token: m2.token });
  assert.equal(none.status, 404, none.text);
  assert.equal(payment(d2.paymentId).txHash, '');
});

test('fetch-tx records the largest of SHKeeper\'s transfers, not the newest dust, and passes over one that pays another payment', { skip }, async () => {
  await fake.reset();
  const m = marketplace(1);
  const d = await intent(m);
  const big = await fake.pay({ external_id: d.externalId, amount_crypto: String(d.amount) });
  assert.equal(payment(d.paymentId).status, 'completed');
  // Later: a second, smaller deposit, then dust anyone could send to the address (SHKeeper lists it last).
  const medium = await fake.pay({ external_id: d.externalId, amount_crypto: '0.5', callback: false });
  const dust = await fake.pay({ external_id: d.externalId, amount_crypto: '0.000001', callback: false });
  assert.equal((await fake.invoice(d.externalId)).txs.at(-1).txid, dust.txid);
  const fetchTx = () => api('POST', `/api/payment/payments/${d.paymentId}/fetch-tx`, { token: m.token });
  sql(`UPDATE payments SET tx_hash = NULL WHERE id = :'id';`, { id: d.paymentId });
  const r = await fetchTx();
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.transactionHash, big.txid);
  // The largest already pays another payment (recorded there meanwhile): the next largest is taken.
  const other = await intent(marketplace(1));
  sql(`UPDATE payments SET tx_hash = NULL WHERE id = :'id';`, { id: d.paymentId });
  sql(`UPDATE payments SET tx_hash = :'h' WHERE id = :'id';`, { h: big.txid, id: other.paymentId });
  const next = await fetchTx();
  assert.equal(next.status, 200, next.text);
  assert.equal(next.json.data.transactionHash, medium.txid);
  assert.equal(payment(d.paymentId).txHash, medium.txid);
});

test('a network SHKeeper pay-ins are taken on but the chain check cannot reach is said loudly: at start-up and in /health', async () => {
  // The stack checks SHKeeper's PAIDs on the chain and has no rpc.ethereum. (Details are an admin's.)
  const h = await api('GET', '/api/payment/health', { token: token('health-admin', 'admin') });
  assert.equal(h.status, 200, h.text);
  assert.equal(h.json.data.shkeeper.verifyOnChain, true);
  assert.equal(h.json.data.shkeeper.llimit, '95');
  assert.deepEqual(h.json.data.shkeeper.unverifiableNetworks, ['ethereum']);
  assert.ok(h.json.data.warnings.some((w) => w.startsWith('SHKeeper pay-ins on ethereum will never be funded: ')), h.text);
  assert.ok(!h.json.data.warnings.some((w) => /pay-ins on bsc/.test(w)), h.text);
  const log = readFileSync(join(env.STACK_DIR, 'pool.log'), 'utf8');
  assert.match(log, /error .*SHKeeper pay-ins on ethereum will never be funded: shkeeper_verify_on_chain is on and rpc\.ethereum is not set/);
  assert.doesNotMatch(log, /SHKeeper pay-ins on bsc will never be funded/);

  // No chain_id.ethereum either: no payment link rather than one to a chain guessed at; start-up said so.
  assert.match(log, /warn .*SHKeeper pay-ins on ethereum get no payment link \(paymentUrl is null\): set chain_id\.ethereum/);
  assert.doesNotMatch(log, /pay-ins on bsc get no payment link/);
  // And such a PAID is held (503, SHKeeper delivers again), never taken on SHKeeper's word.
  const m = marketplace(1);
  const d = await intent(m, { network: 'ethereum', token: 'USDC' });
  assert.equal(d.paymentUrl, null);
  assert.ok(d.walletAddress && d.amount, 'the address and amount are still given');
  const r = await fake.deliver({
    callback_url: webhookUrl(),
    body: callback({ externalId: d.externalId, status: 'PAID', addr: d.walletAddress, crypto: 'ETH-USDC', rate: String(d.exchangeRate),
      txs: [{ txid: randomTxid(), amount: String(d.amount), trigger: true }] }),
  });
  assert.equal(r.lastStatus, 503, JSON.stringify(r));
  assert.equal(payment(d.paymentId).status, 'pending');
});
