// The jobs on the escrow's exit, on the local chain: payout reconciliation
// (an admin-signed release sent and never confirmed is completed from the
// chain; a transfer that could be either of two payouts is reported, not
// guessed; a hot-wallet transaction committed and never broadcast is sent,
// the same bytes) and the automatic release after delivery.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { api, env, uid, sql, eventually } from './lib.mjs';
import { startJobs, stopJobs, stopAllJobs } from './jobs_lib.mjs';
import { rpc, mine, waitReceipt, addrWord } from '../chain/rpc.mjs';
import {
  URL, skip, USDT, UNIT, admin, randomAddress, escrow, fundedPayin, signAndSend, payment, requestStatus, events,
  outgoing, units, tokenBalance, mint,
} from './payout_lib.mjs';

const TRANSFER = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';
// Every job but the ones a test is about is off.
const OFF = {
  PAYMENTS_JOBS_RELAY_SECONDS: '0', PAYMENTS_JOBS_WATCH_SECONDS: '0', PAYMENTS_JOBS_SHKEEPER_POLL_SECONDS: '0',
  PAYMENTS_JOBS_CLEANUP_SECONDS: '0', PAYMENTS_JOBS_RECONCILE_SECONDS: '0', PAYMENTS_JOBS_AUTO_RELEASE_SECONDS: '0',
};
const RECONCILE = { ...OFF, PAYMENTS_JOBS_RECONCILE_SECONDS: '1', PAYMENTS_RECONCILE_AFTER_MINUTES: '0' };
let hot;

before(async () => {
  if (skip) return;
  const w = await api('GET', '/api/payment/decentralized/admin-payout/wallet', { token: admin });
  assert.equal(w.status, 200, w.text);
  hot = w.json.data.address;
  await rpc(URL, 'anvil_setBalance', [hot, '0x56bc75e2d63100000']);
  await mint(hot, 100n * UNIT);
});

after(stopAllJobs);

const release = (id) => api('POST', `/api/payment/${id}/release`, { token: admin });
const reviews = (payinId) => sql(`SELECT payload->>'kind', payload->>'payoutId' FROM events
  WHERE payment_id = :'id' AND event = 'payment-needs-review' ORDER BY id;`, { id: payinId });
const runs = (c, job) => (c.log.match(new RegExp(`job=${job} result=ok`, 'g')) ?? []).length;
const transfersFrom = async (from, to) => (await rpc(URL, 'eth_getLogs', [{
  fromBlock: '0x0', toBlock: 'latest', address: USDT, topics: [TRANSFER, '0x' + addrWord(from), '0x' + addrWord(to)],
}])).length;

// A release an admin signed and sent, final on the chain, and never confirmed to the service.
async function sentUnconfirmed(amount) {
  const p = await fundedPayin({ amount });
  await escrow();
  const r = await release(p.id);
  assert.equal(r.status, 201, r.text);
  const hash = await signAndSend(r.json.data.transaction);
  await mine(URL, 3);
  await waitReceipt(URL, hash);
  return { p, out: r.json.data.payout, hash };
}

test('a release an admin signed and sent but never confirmed is completed from the chain, verified, once', { skip }, async (t) => {
  const { p, out, hash } = await sentUnconfirmed('4.25');
  assert.equal(payment(out.id).status, 'pending', 'nobody confirmed it');

  const c = startJobs(RECONCILE);
  t.after(() => stopJobs(c));
  await eventually(() => payment(out.id).status === 'completed', 20000, 100);
  assert.deepEqual(payment(out.id), { status: 'completed', escrow: 'released', tx: hash });
  assert.deepEqual(payment(p.id), { status: 'released', escrow: 'released', tx: payment(p.id).tx });
  assert.equal(requestStatus(p.request), 'completed');
  const seen = runs(c, 'reconcile');
  await eventually(() => runs(c, 'reconcile') > seen, 15000, 100);
  assert.equal(events([out.id], 'payout-completed'), 1);
  assert.deepEqual(reviews(p.id), []);
});

// The reconciliation takes a batch a run. Payouts it leaves as they were
// (releases nobody has signed yet) must not hold back one behind them.
test('payouts the reconciliation leaves as they were do not keep it from one behind them', { skip }, async (t) => {
  const unsigned = [];
  for (let i = 0; i < 3; i++) {
    const q = await fundedPayin({ amount: '1.1' });
    const r = await release(q.id);
    assert.equal(r.status, 201, r.text);
    unsigned.push(r.json.data.payout.id);
  }
  // The oldest open payouts of all.
  sql(`UPDATE payments SET updated_at = now() - interval '2 hours' WHERE id = ANY (string_to_array(:'ids', ',')::uuid[]);`,
    { ids: unsigned.join(',') });
  const { out, hash } = await sentUnconfirmed('1.2');

  const c = startJobs({ ...RECONCILE, PAYMENTS_JOBS_BATCH: '2' });
  t.after(() => stopJobs(c));
  await eventually(() => payment(out.id).status === 'completed', 60000, 200);
  assert.deepEqual(payment(out.id), { status: 'completed', escrow: 'released', tx: hash });
  for (const id of unsigned) assert.equal(payment(id).status, 'pending', 'nothing was sent for these: left as they were');
});

test('a transfer that could pay either of two payouts is reported to the admins and left alone', { skip }, async (t) => {
  // The same seller, wallet and amount: two orders, two releases, one transfer.
  const seller = uid('ps'), sellerWallet = randomAddress();
  const a = await fundedPayin({ amount: '3.75', seller, sellerWallet });
  const b = await fundedPayin({ amount: '3.75', seller, sellerWallet });
  await escrow();
  const ra = await release(a.id), rb = await release(b.id);
  assert.equal(ra.status, 201, ra.text);
  assert.equal(rb.status, 201, rb.text);
  const hash = await signAndSend(ra.json.data.transaction);
  await mine(URL, 3);
  await waitReceipt(URL, hash);

  const c = startJobs(RECONCILE);
  t.after(() => stopJobs(c));
  await eventually(() => reviews(a.id).length > 0 && reviews(b.id).length > 0, 20000, 100);
  const seen = runs(c, 'reconcile');
  await eventually(() => runs(c, 'reconcile') > seen + 1, 15000, 100);
  // Reported once each, nothing moved.
  assert.deepEqual(reviews(a.id), [['payout_ambiguous', ra.json.data.payout.id]]);
  assert.deepEqual(reviews(b.id), [['payout_ambiguous', rb.json.data.payout.id]]);
  for (const [payin, out] of [[a, ra], [b, rb]]) {
    assert.deepEqual(payment(out.json.data.payout.id), { status: 'pending', escrow: 'releasing', tx: '' });
    assert.equal(payment(payin.id).escrow, 'releasing');
  }
  const [[reason]] = sql(`SELECT payload->>'reason' FROM events WHERE payment_id = :'id' AND event = 'payment-needs-review';`, { id: a.id });
  assert.match(reason, new RegExp(`${hash}.*not guessed`));
  assert.equal(sql(`SELECT count(*) FROM notifications WHERE payment_id = :'id' AND kind = 'payment-needs-review';`, { id: a.id })[0][0], '1');
});

test('a hot-wallet transaction committed but never broadcast is sent by the reconciliation, the same bytes, and followed to completion', { skip }, async (t) => {
  const p = await fundedPayin({ amount: '1.5' });
  writeFileSync(env.DEV_FAULT_FILE, 'hot_wallet_after_commit\n');
  const r = await api('POST', '/api/payment/decentralized/admin-payout', {
    token: admin, body: { purchaseRequestId: p.request, currency: 'USDT', network: 'BSC' },
  });
  assert.ok([502, 503].includes(r.status), r.text);
  assert.equal(existsSync(env.DEV_FAULT_FILE), false, 'the fault fired');
  const [[outId, status]] = outgoing(p.id);
  assert.equal(status, 'processing');
  const hotTx = () => sql(`SELECT status, tx_hash, encode(raw_tx, 'hex') FROM hot_wallet_txs WHERE payment_id = :'id';`, { id: outId });
  const [[txStatus, hash, raw]] = hotTx();
  assert.equal(txStatus, 'signed');
  assert.equal(await rpc(URL, 'eth_getTransactionByHash', [hash]), null, 'committed, never sent');

  const c = startJobs(RECONCILE);
  t.after(() => stopJobs(c));
  await eventually(async () => (await rpc(URL, 'eth_getTransactionByHash', [hash])) !== null, 20000, 100);
  assert.deepEqual(hotTx(), [['broadcast', hash, raw]], 'the bytes committed, unchanged');
  await mine(URL, 3);
  await eventually(() => payment(outId).status === 'completed', 20000, 100);
  assert.deepEqual(payment(p.id), { status: 'released', escrow: 'released', tx: payment(p.id).tx });
  assert.equal(await transfersFrom(hot, p.sellerWallet), 1);
  assert.equal(await tokenBalance(p.sellerWallet), units('1.5'));
});

test('auto-release: exactly one payout, as an admin opens it, once the grace period is over; none before, none disputed; none when off', { skip }, async (t) => {
  const due = await fundedPayin({ amount: '2.25' });
  const early = await fundedPayin({ amount: '2.5' });
  const disputed = await fundedPayin({ amount: '2.75' });
  const noWallet = await fundedPayin({ amount: '3.25', sellerWallet: null });
  // Delivered two days ago (the marketplace moved them to delivered; the database kept when).
  const [[when]] = sql(`SELECT delivered_at IS NOT NULL FROM purchase_requests WHERE id = :'r';`, { r: early.request });
  assert.equal(when, 't', 'the move to delivered is timed');
  sql(`UPDATE purchase_requests SET delivered_at = now() - interval '2 days' WHERE id IN (:'a', :'b', :'c');
       UPDATE purchase_requests SET disputed = true WHERE id = :'b';`, { a: due.request, b: disputed.request, c: noWallet.request });

  // Off, as it is by default: the jobs process runs, nothing is released.
  const off = startJobs({ ...OFF, PAYMENTS_JOBS_CLEANUP_SECONDS: '1', PAYMENTS_JOBS_AUTO_RELEASE_SECONDS: undefined });
  await eventually(() => runs(off, 'cleanup') >= 2, 15000, 100);
  await stopJobs(off);
  assert.doesNotMatch(off.log, /auto_release/);
  assert.deepEqual(outgoing(due.id), []);

  const c = startJobs({ ...OFF, PAYMENTS_JOBS_AUTO_RELEASE_SECONDS: '1', PAYMENTS_AUTO_RELEASE_GRACE_HOURS: '24' });
  t.after(() => stopJobs(c));
  await eventually(() => outgoing(due.id).length === 1, 15000, 100);
  const seen = runs(c, 'auto_release');
  await eventually(() => runs(c, 'auto_release') > seen + 1, 15000, 100);
  const [[outId, status, escrowState, provider, kind, tx]] = outgoing(due.id);
  assert.deepEqual([status, escrowState, provider, kind, tx], ['pending', 'releasing', 'admin_wallet', 'release', '']);
  assert.equal(payment(due.id).escrow, 'releasing');
  assert.equal(events([outId], 'payout-created'), 1);
  const [[source, actor]] = sql(`SELECT source, actor FROM payment_transitions WHERE payment_id = :'id' ORDER BY id LIMIT 1;`, { id: outId });
  assert.deepEqual([source, actor], ['job', 'jobs']);
  // Exactly what an admin's request opens: asking again answers this payout and its transaction to sign.
  const again = await release(due.id);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.data.payout.id, outId);
  assert.equal(again.json.data.payout.receiverAddress.toLowerCase(), due.sellerWallet);
  assert.equal(again.json.data.transaction.to.toLowerCase(), USDT.toLowerCase());
  assert.equal(again.json.data.payout.metadata.autoRelease.graceHours, 24);
  // Delivered too recently, disputed, or no wallet to pay: nothing.
  for (const p of [early, disputed, noWallet]) {
    assert.deepEqual(outgoing(p.id), []);
    assert.equal(payment(p.id).escrow, 'funded');
  }
});

test('auto-release on the hot wallet: signed and sent at once, one payout', { skip }, async (t) => {
  const p = await fundedPayin({ amount: '1.25' });
  sql(`UPDATE purchase_requests SET delivered_at = now() - interval '30 hours' WHERE id = :'r';`, { r: p.request });
  const c = startJobs({ ...OFF, PAYMENTS_JOBS_AUTO_RELEASE_SECONDS: '1', PAYMENTS_AUTO_RELEASE_GRACE_HOURS: '24',
    PAYMENTS_AUTO_RELEASE_RAIL: 'hot_wallet' });
  t.after(() => stopJobs(c));
  await eventually(() => outgoing(p.id).length === 1 && outgoing(p.id)[0][1] === 'processing', 15000, 100);
  const [[outId, , , provider, , hash]] = outgoing(p.id);
  assert.equal(provider, 'hot_wallet');
  assert.notEqual(await rpc(URL, 'eth_getTransactionByHash', [hash]), null, 'broadcast');
  await mine(URL, 3);
  // The admin's call follows it to finality, as for any hot-wallet payout.
  const r = await api('POST', '/api/payment/decentralized/admin-payout/resume', { token: admin, body: {} });
  assert.equal(r.status, 200, r.text);
  assert.equal(payment(outId).status, 'completed');
  assert.equal(await transfersFrom(hot, p.sellerWallet), 1);
  assert.equal(outgoing(p.id).length, 1);
});

// An automatic release opened while the node was unreachable is left
// unsigned: no job signs it later (the order may be disputed by then). The
// admins are told, and an admin's admin-payout for the request signs it.
test('an auto-release that could not sign tells the admins and waits for one; no job signs it', { skip }, async (t) => {
  const p = await fundedPayin({ amount: '1.5' });
  sql(`UPDATE purchase_requests SET delivered_at = now() - interval '30 hours' WHERE id = :'r';`, { r: p.request });
  const down = startJobs({ ...OFF, PAYMENTS_JOBS_AUTO_RELEASE_SECONDS: '1', PAYMENTS_AUTO_RELEASE_GRACE_HOURS: '24',
    PAYMENTS_AUTO_RELEASE_RAIL: 'hot_wallet', PAYMENTS_RPC_BSC: 'http://127.0.0.1:9' });
  try {
    await eventually(() => runs(down, 'auto_release') >= 2 && outgoing(p.id).length === 1, 15000, 100);
  } finally {
    await stopJobs(down);
  }
  const [[outId, status]] = outgoing(p.id);
  assert.equal(status, 'pending', 'opened, never signed');
  const alerts = sql(`SELECT payload->>'code', payload->>'message' FROM events WHERE event = 'hot-wallet-alert'
    AND room = 'admin' AND payment_id = :'id';`, { id: outId });
  assert.equal(alerts.length, 1, 'the admins are told, once');
  assert.equal(alerts[0][0], 'auto_release_unsigned');
  assert.match(alerts[0][1], new RegExp(`admin-payout for purchase request ${p.request}`));

  // The reconciliation leaves it to a person.
  const c = startJobs(RECONCILE);
  t.after(() => stopJobs(c));
  await eventually(() => runs(c, 'reconcile') >= 2, 15000, 100);
  assert.equal(outgoing(p.id)[0][1], 'pending');
  assert.equal(sql(`SELECT count(*) FROM hot_wallet_txs WHERE payment_id = :'id';`, { id: outId })[0][0], '0');
  // The admin's call signs and sends it: the same payout, once.
  const r = await api('POST', '/api/payment/decentralized/admin-payout', { token: admin,
    body: { purchaseRequestId: p.request, receiverWalletAddress: p.sellerWallet, currency: 'USDT', network: 'BSC' } });
  assert.ok(r.status === 200 || r.status === 202, r.text);
  await mine(URL, 3);
  await eventually(() => payment(outId).status === 'completed', 20000, 100);
  assert.equal(payment(p.id).escrow, 'released');
  assert.equal(await transfersFrom(hot, p.sellerWallet), 1);
  assert.equal(outgoing(p.id).length, 1);
});
