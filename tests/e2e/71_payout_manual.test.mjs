// The manual admin payout (seed 000): an admin signs the transfer outside the
// service and reports its hash with POST /admin/confirm-tx/:paymentId; the
// same verification as the admin-signed flow decides, and nothing is written
// for a hash that does not pay. GET /admin/payouts lists outgoing payments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, token, uid, count } from './lib.mjs';
import { mine, transferData } from '../chain/rpc.mjs';
import { URL, skip, USDT, admin, randomAddress, escrow, sendAndMine, send, mint, fundedPayin, payment, requestStatus, events, outgoing, units, UNIT } from './payout_lib.mjs';

const confirmTx = (id, body, t = admin) => api('POST', `/api/payment/admin/confirm-tx/${id}`, { token: t, body });

test('a payout signed outside the service, confirmed by its hash: opened and completed at once', { skip }, async () => {
  const p = await fundedPayin({ amount: '4.5' });
  const esc = await escrow();
  await mint(esc, 50n * UNIT);
  const hash = await sendAndMine(esc, USDT, transferData(p.sellerWallet, units('4.5')));
  const r = await confirmTx(p.id, { txHash: hash, kind: 'release' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.status, 'confirmed');
  const out = r.json.data.payout;
  assert.equal(out.provider, 'admin_wallet');
  assert.equal(out.kind, 'release');
  assert.equal(out.status, 'completed');
  assert.equal(out.transactionHash, hash);
  assert.deepEqual(payment(p.id), { status: 'released', escrow: 'released', tx: payment(p.id).tx });
  assert.equal(requestStatus(p.request), 'completed');
  assert.equal(events([out.id], 'payout-completed'), 1);
  // Reported again: the same answer, nothing new.
  const again = await confirmTx(p.id, { txHash: hash, kind: 'release' });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.data.payout.id, out.id);
  assert.equal(outgoing(p.id).length, 1);
  assert.equal(events([out.id], 'payout-completed'), 1);
  // Against the payout itself, with the other kind: refused.
  const wrongKind = await confirmTx(out.id, { txHash: hash, kind: 'refund' });
  assert.equal(wrongKind.status, 409, wrongKind.text);
  assert.equal(wrongKind.json.error.code, 'kind_mismatch');
});

test('a hash that does not pay the payout writes nothing; one not final opens it as processing', { skip }, async () => {
  const p = await fundedPayin({ amount: '2.25' });
  const esc = await escrow();
  await mint(esc, 50n * UNIT);
  const short = await sendAndMine(esc, USDT, transferData(p.sellerWallet, units('2.25') - 1n));
  let r = await confirmTx(p.id, { txHash: short, kind: 'release' });
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.error.code, 'amount_short');
  assert.equal(outgoing(p.id).length, 0);
  assert.deepEqual(payment(p.id), { status: 'completed', escrow: 'funded', tx: payment(p.id).tx });
  // Refunds go to the buyer's wallet: a transfer to the seller is not one.
  r = await confirmTx(p.id, { txHash: short, kind: 'refund' });
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.error.code, 'wrong_recipient');
  assert.equal(outgoing(p.id).length, 0);

  const hash = await send(esc, USDT, transferData(p.sellerWallet, units('2.25')));
  await mine(URL, 1);
  r = await confirmTx(p.id, { txHash: hash, kind: 'release' });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.data.reason, 'not_deep');
  const [[outId, status, escrowState]] = outgoing(p.id);
  assert.deepEqual([status, escrowState], ['processing', 'releasing']);
  assert.equal(payment(p.id).escrow, 'releasing');
  await mine(URL, 2);
  r = await confirmTx(p.id, { txHash: hash, kind: 'release' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.payout.id, outId);
  assert.equal(payment(outId).status, 'completed');
  // The admin-signed confirm of the same payout agrees.
  r = await api('POST', `/api/payment/${p.id}/release/confirm`, { token: admin, body: { txHash: hash } });
  assert.equal(r.status, 200, r.text);
});

test('confirm-tx: admins only, a body it understands, a payment it knows', { skip }, async () => {
  const p = await fundedPayin({ amount: '1', fund: false });
  const tx = '0x' + 'ab'.repeat(32);
  assert.equal((await confirmTx(p.id, { txHash: tx, kind: 'release' }, p.buyerToken)).status, 403);
  for (const body of [{ txHash: tx }, { txHash: '0x12', kind: 'release' }, { txHash: tx, kind: 'payout' }, { txHash: tx, kind: 'release', extra: 1 }]) {
    const r = await confirmTx(p.id, body);
    assert.equal(r.status, 400, r.text);
  }
  assert.equal((await confirmTx('6f1c2a4e-0000-4000-8000-000000000001', { txHash: tx, kind: 'release' })).status, 404);
  // Not funded: whatever the hash, nothing is opened.
  const r = await confirmTx(p.id, { txHash: tx, kind: 'release' });
  assert.ok([202, 409].includes(r.status), r.text);
  assert.equal(outgoing(p.id).length, 0);
});

test('GET /admin/payouts: outgoing payments newest first, filtered and paged', { skip }, async () => {
  const seller = uid('lps');
  const a = await fundedPayin({ amount: '1', seller });
  const b = await fundedPayin({ amount: '1.5', seller });
  const c = await fundedPayin({ amount: '2', seller, requestStatus: 'payment' });
  const ra = await api('POST', `/api/payment/${a.id}/release`, { token: admin });
  const rb = await api('POST', `/api/payment/${b.id}/release`, { token: admin });
  const rc = await api('POST', `/api/payment/${c.id}/refund`, { token: admin });
  for (const r of [ra, rb, rc]) assert.equal(r.status, 201, r.text);
  const list = async (q) => {
    const r = await api('GET', `/api/payment/admin/payouts?${q}`, { token: admin });
    assert.equal(r.status, 200, r.text);
    return r.json.data;
  };
  let d = await list(`sellerId=${seller}`);
  assert.deepEqual(d.payouts.map((x) => x.id), [rc, rb, ra].map((r) => r.json.data.payout.id));
  assert.equal(d.pagination.total, 3);
  assert.ok(d.payouts.every((x) => x.direction === 'out' && x.payinId));
  d = await list(`sellerId=${seller}&kind=refund`);
  assert.deepEqual(d.payouts.map((x) => x.payinId), [c.id]);
  d = await list(`sellerId=${seller}&kind=release&limit=1&offset=1`);
  assert.deepEqual(d.payouts.map((x) => x.payinId), [a.id]);
  assert.equal(d.pagination.total, 2);
  d = await list(`sellerId=${seller}&status=pending&provider=admin_wallet&from=2000-01-01`);
  assert.equal(d.pagination.total, 3);
  d = await list(`sellerId=${seller}&status=completed,failed`);
  assert.equal(d.pagination.total, 0);
  d = await list(`sellerId=${seller}&to=2000-01-01T00:00:00Z`);
  assert.equal(d.pagination.total, 0);
  d = await list(`sellerId=${seller}&provider=hot_wallet`);
  assert.equal(d.pagination.total, 0);
  // Everyone's, newest first.
  d = await list('limit=100');
  const times = d.payouts.map((x) => x.createdAt);
  assert.deepEqual([...times].sort().reverse(), times);
  for (const q of ['kind=payout', 'provider=paypal', 'status=done', 'from=yesterday', 'to=2026-13-45', 'sellerId=a%20b', 'limit=0']) {
    const r = await api('GET', `/api/payment/admin/payouts?${q}`, { token: admin });
    assert.equal(r.status, 400, `${q}: ${r.text}`);
  }
  assert.equal((await api('GET', '/api/payment/admin/payouts', { token: token(seller, 'seller') })).status, 403);
});
