// The jobs that keep SHKeeper pay-ins from being lost: the chain watcher
// reading the deposit addresses of open pay-ins (a callback never sent), the
// poll fallback asking SHKeeper for invoices whose callback was lost, and the
// periodic cleanup of stale ones, which never cancels money already seen and
// records (for review) money that arrives after it. Deposits are real
// transfers on the local chain, made by the fake SHKeeper.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startJobs, stopJobs, stopAllJobs } from './jobs_lib.mjs';
import {
  fake, marketplace, intent, payment, requestRow, offerStatus, completedTransitions, eventCount, inboxByExternal,
  chainUrl, noChain, chainMine, randomTxid, Q, api, sql, eventually, token, reviewsOf,
} from './shkeeper_lib.mjs';
import { rpc } from '../chain/rpc.mjs';

const admin = token('jobs-shk-admin', 'admin');
// Every job but the ones a test is about is off.
const OFF = {
  PAYMENTS_JOBS_RELAY_SECONDS: '0', PAYMENTS_JOBS_WATCH_SECONDS: '0', PAYMENTS_JOBS_SHKEEPER_POLL_SECONDS: '0',
  PAYMENTS_JOBS_CLEANUP_SECONDS: '0', PAYMENTS_JOBS_RECONCILE_SECONDS: '0', PAYMENTS_JOBS_AUTO_RELEASE_SECONDS: '0',
};

after(stopAllJobs);

const blockOf = async (hash) => Number(BigInt((await rpc(chainUrl, 'eth_getTransactionReceipt', [hash])).blockNumber));
// The watcher has read the chain with its head at `block` or later (and so judged what was final then).
const watcherSaw = (block) => eventually(
  () => Number(sql(`SELECT coalesce(max(head_block), 0) FROM chain_cursors WHERE network = 'bsc';`)[0][0]) >= block, 15000, 100);
// SHKeeper's PAID threshold for a 10 USD invoice at its rate, in token base units (18 decimals).
const threshold = (inv) => Q.of('9.5').div(Q.of(String(inv.exchangeRate))).unitsUp(18);
const tokens = (units) => new Q(units, 10n ** 18n).text();

test('a pay-in whose callback is never sent is completed by the chain watcher once its deposits are final, with one cascade; not before', { skip: noChain }, async (t) => {
  const m = marketplace(2);
  const inv = await intent(m);
  const need = threshold(inv);
  const c = startJobs({ ...OFF, PAYMENTS_JOBS_WATCH_SECONDS: '1' });
  t.after(() => stopJobs(c));

  // A part first: SHKeeper's rule is on the sum of the address's deposits, and this is short of it.
  const first = await fake.pay({ external_id: inv.externalId, amount_crypto: '5', callback: false });
  assert.equal(first.attempts, 0, 'no callback was sent');
  await eventually(() => payment(inv.paymentId).escrow === 'partial', 15000, 100);
  assert.equal(payment(inv.paymentId).status, 'pending', 'short of the threshold: not paid');

  // The rest, exactly to the threshold, mined but not final yet.
  const rest = await fake.pay({ external_id: inv.externalId, amount_crypto: tokens(need - 5n * 10n ** 18n), depth: 1, callback: false });
  assert.ok(await watcherSaw(await blockOf(rest.txid)), 'the watcher ran with the deposit on the chain');
  assert.deepEqual(payment(inv.paymentId), { status: 'pending', escrow: 'partial', txHash: first.txid }, 'not final: not paid');
  const status = await api('GET', '/api/payment/shkeeper/wallet-monitor/status', { token: admin });
  assert.equal(status.status, 200, status.text);
  assert.ok(status.json.data.watchedDepositAddresses >= 1, status.text);
  assert.equal(typeof status.json.data.watchedSenderWallets, 'number');

  await chainMine(3);
  await eventually(() => payment(inv.paymentId).status === 'completed', 15000, 100);
  assert.deepEqual(payment(inv.paymentId), { status: 'completed', escrow: 'funded', txHash: rest.txid });
  const [[source, reason]] = sql(`SELECT source, reason FROM payment_transitions WHERE payment_id = :'id' AND to_status = 'completed';`,
    { id: inv.paymentId });
  assert.equal(source, 'chain');
  assert.match(reason, /PAID/);
  // The cascade, once: the winner accepted, the others rejected, the request paid for.
  assert.equal(offerStatus(m.winner.id), 'accepted');
  assert.equal(offerStatus(m.losers[0].id), 'rejected');
  assert.equal(requestRow(m.request).status, 'payment');

  // SHKeeper's callback, late after all, changes nothing more.
  const late = await fake.pay({ external_id: inv.externalId, amount_crypto: '0', txid: rest.txid });
  assert.equal(late.lastStatus, 202, JSON.stringify(late));
  await watcherSaw(await rpc(chainUrl, 'eth_blockNumber').then(Number));
  assert.equal(completedTransitions(inv.paymentId), 1);
  assert.equal(eventCount(inv.paymentId, 'seller-offer-update'), 2, 'one to the winner, one to the other seller');
  assert.equal(inboxByExternal(inv.externalId).at(-1).outcome, 'duplicate');
  assert.match(c.log, /job=watch result=ok/);
});

test('a pay-in whose callback is lost is completed by the poll fallback, once the chain confirms what SHKeeper says', { skip: noChain }, async (t) => {
  const m = marketplace(2);
  const inv = await intent(m);
  const other = await intent(marketplace(1));
  // SHKeeper records both deposits and both callbacks are lost: one a final transfer, the other a
  // transaction the chain does not know.
  const real = await fake.pay({ external_id: inv.externalId, amount_crypto: tokens(threshold(inv)), callback: false });
  await fake.pay({ external_id: other.externalId, amount_crypto: '10.5', txid: randomTxid(), callback: false });
  const asked = async (externalId) => (await fake.calls()).invoice_lookup[externalId] ?? 0;
  const c = startJobs({ ...OFF, PAYMENTS_JOBS_SHKEEPER_POLL_SECONDS: '1', PAYMENTS_SHKEEPER_POLL_AFTER_MINUTES: '0' });
  t.after(() => stopJobs(c));

  await eventually(() => payment(inv.paymentId).status === 'completed', 15000, 100);
  assert.deepEqual(payment(inv.paymentId), { status: 'completed', escrow: 'funded', txHash: real.txid });
  const [[source, reason]] = sql(`SELECT source, reason FROM payment_transitions WHERE payment_id = :'id' AND to_status = 'completed';`,
    { id: inv.paymentId });
  assert.deepEqual([source, reason], ['shkeeper', 'SHKeeper invoice lookup PAID']);
  assert.equal(offerStatus(m.winner.id), 'accepted');
  assert.equal(eventCount(inv.paymentId, 'seller-offer-update'), 2);

  // SHKeeper's word alone funds nothing: the other invoice is asked about again and stays pending.
  const start = await asked(other.externalId);
  assert.ok(start >= 1);
  await eventually(async () => (await asked(other.externalId)) >= start + 2, 15000, 100);
  assert.deepEqual(payment(other.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });
  const [[polls, said]] = sql(`SELECT polls, last_status FROM shkeeper_polls WHERE payment_id = :'id';`, { id: other.paymentId });
  assert.ok(Number(polls) >= 3, polls);
  assert.equal(said, 'PAID');
  // A pay-in the poll completed is asked about no more.
  assert.equal(await asked(inv.externalId), 1);
  assert.equal(completedTransitions(inv.paymentId), 1);

  const r = await api('GET', '/api/payment/shkeeper/auto-webhook/status');
  assert.equal(r.status, 200, r.text);
  const d = r.json.data;
  assert.equal(d.isRunning, true, r.text);
  assert.equal(d.intervalSeconds, 120, 'the pool reads its own settings: the default interval');
  assert.ok(d.pendingInvoices >= 1 && d.polledInvoices >= 1, r.text);
  assert.match(d.lastPolledAt, /^\d{4}-\d\d-\d\dT/);
  assert.ok(d.lastRun.asked >= 1, r.text);
  assert.match(c.log, /job=shkeeper_poll result=ok/);
});

// SHKeeper's invoice lookup lists a transaction's crypto amount, not what it
// was worth to SHKeeper; once the invoice may have been re-priced that worth
// decides, and the poll asks for it (tx-info) as a callback would have said it.
test('a re-priced invoice whose callback is lost is completed by the poll, its transfer valued as SHKeeper valued it', { skip: noChain }, async (t) => {
  await fake.settings({ crypto: 'BNB-USDT', recalc: 1 });
  t.after(() => fake.reset());
  const m = marketplace(1);
  const inv = await intent(m);
  await fake.clock(2 * 3600);
  sql(`UPDATE payments SET recalculate_at = now() - interval '1 hour' WHERE id = :'id';`, { id: inv.paymentId });
  await fake.settings({ crypto: 'BNB-USDT', rate: '1.1' });
  // 8.8 tokens: 9.68 USD at SHKeeper's new rate (PAID), 8.79 at the rate the invoice was made at (short).
  const paid = await fake.pay({ external_id: inv.externalId, amount_crypto: '8.8', callback: false });
  assert.equal(paid.attempts, 0, 'no callback was sent');
  const c = startJobs({ ...OFF, PAYMENTS_JOBS_SHKEEPER_POLL_SECONDS: '1', PAYMENTS_SHKEEPER_POLL_AFTER_MINUTES: '0' });
  t.after(() => stopJobs(c));

  await eventually(() => payment(inv.paymentId).status === 'completed', 15000, 100);
  assert.deepEqual(payment(inv.paymentId), { status: 'completed', escrow: 'funded', txHash: paid.txid });
  assert.ok(((await fake.calls()).tx_info[inv.externalId] ?? 0) >= 1, 'SHKeeper was asked what the transfer was worth');
  assert.deepEqual(reviewsOf(inv.paymentId), [], 'nothing refuted, nothing for a person');
  assert.equal(offerStatus(m.winner.id), 'accepted');
});

test('cleanup cancels stale pay-ins, never one holding money; a deposit after it is recorded for review, not lost', { skip: noChain }, async (t) => {
  const stale = await intent(marketplace(1));
  const partial = await intent(marketplace(1));
  const fresh = await intent(marketplace(1));
  // A part of the price arrived for one (SHKeeper's PARTIAL): money seen.
  const part = await fake.pay({ external_id: partial.externalId, amount_crypto: '3' });
  assert.equal(part.lastStatus, 202, JSON.stringify(part));
  assert.equal(payment(partial.paymentId).escrow, 'partial');
  sql(`UPDATE payments SET updated_at = now() - interval '2 hours' WHERE id IN (:'a', :'b');`, { a: stale.paymentId, b: partial.paymentId });

  const c = startJobs({ ...OFF, PAYMENTS_JOBS_CLEANUP_SECONDS: '1' });
  t.after(() => stopJobs(c));
  await eventually(() => payment(stale.paymentId).status === 'cancelled', 15000, 100);
  // Another run after the one that cancelled it: the rest is as it will stay.
  const runs = () => (c.log.match(/job=cleanup result=ok/g) ?? []).length;
  const seen = runs();
  await eventually(() => runs() > seen + 1, 15000, 100);
  assert.deepEqual(payment(stale.paymentId), { status: 'cancelled', escrow: 'unfunded', txHash: '' });
  assert.deepEqual(payment(partial.paymentId), { status: 'pending', escrow: 'partial', txHash: part.txid });
  assert.deepEqual(payment(fresh.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });
  const [[source, actor, reason]] = sql(`SELECT source, actor, reason FROM payment_transitions
    WHERE payment_id = :'id' AND to_status = 'cancelled';`, { id: stale.paymentId });
  assert.deepEqual([source, actor, reason], ['job', 'jobs', 'stale pending payment cleanup']);

  // The buyer pays after all: the money is recorded and a person is told; the payment stays cancelled.
  const late = await fake.pay({ external_id: stale.externalId, amount_crypto: tokens(threshold(stale)) });
  assert.equal(late.lastStatus, 202, JSON.stringify(late));
  assert.deepEqual(payment(stale.paymentId), { status: 'cancelled', escrow: 'unfunded', txHash: '' });
  assert.equal(inboxByExternal(stale.externalId).at(-1).outcome, 'review');
  const reviews = sql(`SELECT payload->>'kind' FROM events WHERE payment_id = :'id' AND event = 'payment-needs-review';`,
    { id: stale.paymentId }).map(([k]) => k);
  assert.deepEqual(reviews, ['deposit_on_closed_payment']);
});

test('a deposit to the address of a pay-in cleaned up meanwhile, with no callback, is found by the watcher and raised for review', { skip: noChain }, async (t) => {
  const late = await intent(marketplace(1));
  sql(`UPDATE payments SET updated_at = now() - interval '2 hours' WHERE id = :'id';`, { id: late.paymentId });
  const c = startJobs({ ...OFF, PAYMENTS_JOBS_CLEANUP_SECONDS: '1', PAYMENTS_JOBS_WATCH_SECONDS: '1' });
  t.after(() => stopJobs(c));
  await eventually(() => payment(late.paymentId).status === 'cancelled', 15000, 100);

  const paid = await fake.pay({ external_id: late.externalId, amount_crypto: tokens(threshold(late)), callback: false });
  const review = () => sql(`SELECT payload->>'kind', payload->>'provider', payload->'amountSeen'->>'crypto' FROM events
    WHERE payment_id = :'id' AND event = 'payment-needs-review';`, { id: late.paymentId });
  await eventually(() => review().length > 0, 15000, 100);
  assert.deepEqual(review(), [['deposit_on_closed_payment', 'chain', tokens(threshold(late))]]);
  assert.deepEqual(payment(late.paymentId), { status: 'cancelled', escrow: 'unfunded', txHash: '' });
  assert.ok(paid.txid);
});
