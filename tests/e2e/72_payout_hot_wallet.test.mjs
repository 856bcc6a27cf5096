// Payouts from the service's own hot wallet on the local chain: signed once,
// the signed bytes and hash committed before anything is broadcast, the
// receipt followed to finality. The stack writes a fresh key for the hot
// wallet (owner-only); these tests fund its address through anvil.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { api, env, stack, sql, count, pool2Up } from './lib.mjs';
import { rpc, mine, addrWord } from '../chain/rpc.mjs';
import { URL, skip, USDT, buyers, UNIT, admin, fundedPayin, payment, requestStatus, events, outgoing, units, tokenBalance, mint, escrow } from './payout_lib.mjs';

const TRANSFER = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';
let hot, base2;

before(async () => {
  if (skip) return;
  const w = await api('GET', '/api/payment/decentralized/admin-payout/wallet', { token: admin });
  assert.equal(w.status, 200, w.text);
  assert.equal(w.json.data.configured, true);
  hot = w.json.data.address;
  await rpc(URL, 'anvil_setBalance', [hot, '0x56bc75e2d63100000']);
  await mint(hot, 1000n * UNIT);
});

after(() => { if (base2) stack('pool2-down'); });

const payout = (p, extra = {}, base) => api('POST', '/api/payment/decentralized/admin-payout', {
  token: admin, base,
  body: { purchaseRequestId: p.request, receiverWalletAddress: p.sellerWallet, amount: Number(p.amount ?? 0) || undefined, currency: 'USDT', network: 'BSC', ...extra },
});
const resume = () => api('POST', '/api/payment/decentralized/admin-payout/resume', { token: admin, body: { limit: 100 } });
const nonce = async (tag = 'latest') => Number(BigInt(await rpc(URL, 'eth_getTransactionCount', [hot, tag])));
const hotTxs = (payoutId) => sql(`SELECT status, tx_hash, nonce, encode(raw_tx, 'hex') FROM hot_wallet_txs WHERE payment_id = :'id';`, { id: payoutId });
// Another transaction of the hot wallet takes nonce n, mined in a block that is not final yet.
async function takeNonce(n) {
  await rpc(URL, 'anvil_impersonateAccount', [hot]);
  await rpc(URL, 'eth_sendTransaction', [{ from: hot, to: hot, value: '0x0', nonce: '0x' + n.toString(16) }]);
  await rpc(URL, 'anvil_stopImpersonatingAccount', [hot]);
  await mine(URL, 1);
}
const transfersTo = async (to) => (await rpc(URL, 'eth_getLogs', [{
  fromBlock: '0x0', toBlock: 'latest', address: USDT, topics: [TRANSFER, '0x' + addrWord(hot), '0x' + addrWord(to)],
}])).length;

test('a hot-wallet payout is signed, broadcast, followed to finality and completed once', { skip }, async () => {
  const p = { ...(await fundedPayin({ amount: '5' })), amount: '5' };
  const n0 = await nonce('pending');
  let r = await payout(p);
  assert.equal(r.status, 202, r.text);
  const d = r.json.data, id = d.payout.id;
  assert.equal(d.payout.provider, 'hot_wallet');
  assert.equal(d.payout.status, 'processing');
  assert.equal(d.payout.senderAddress, hot);
  assert.equal(d.nonce, n0);
  assert.match(d.transactionHash, /^0x[0-9a-f]{64}$/);
  assert.equal(d.payout.transactionHash, d.transactionHash);
  assert.deepEqual(hotTxs(id).map((t) => [t[0], t[1], Number(t[2])]), [['broadcast', d.transactionHash, n0]]);
  assert.equal(payment(p.id).escrow, 'releasing');
  // Not mined yet: asking again signs nothing new.
  r = await payout(p);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.data.transactionHash, d.transactionHash);
  assert.equal(await nonce('pending'), n0 + 1);
  const before = await tokenBalance(p.sellerWallet);
  await mine(URL, 3);
  r = await payout(p);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.payout.status, 'completed');
  assert.equal(r.json.data.verification.status, 'confirmed');
  assert.equal(await tokenBalance(p.sellerWallet) - before, units('5'));
  assert.deepEqual(payment(p.id), { status: 'released', escrow: 'released', tx: payment(p.id).tx });
  assert.equal(requestStatus(p.request), 'completed');
  assert.equal(hotTxs(id)[0][0], 'confirmed');
  assert.equal(events([id], 'payout-completed'), 1);
  assert.equal(count('notifications', `payment_id = :'id' AND kind = 'payout-sent'`, { id }), 1);
  r = await payout(p);
  assert.equal(r.status, 200, r.text);
  assert.equal(await nonce(), n0 + 1);
  assert.equal(await transfersTo(p.sellerWallet), 1);
  assert.equal(events([id], 'payout-completed'), 1);
});

test('killed (SIGKILL) between the commit of the signed transaction and its broadcast: the same bytes are sent on recovery, once', { skip }, async () => {
  const p = { ...(await fundedPayin({ amount: '3.5' })), amount: '3.5' };
  const n0 = await nonce('pending');
  writeFileSync(env.DEV_FAULT_FILE, 'hot_wallet_after_commit\n');
  let r = await payout(p);
  // The worker died mid-request: nginx answers for the pool.
  assert.ok([502, 503].includes(r.status), r.text);
  assert.equal(existsSync(env.DEV_FAULT_FILE), false, 'the fault fired once');
  const [[outId, status]] = outgoing(p.id);
  assert.equal(status, 'processing');
  const [[txStatus, hash, txNonce, raw]] = hotTxs(outId);
  assert.equal(txStatus, 'signed');
  assert.equal(Number(txNonce), n0);
  assert.equal(payment(outId).tx, hash);
  // Committed, never broadcast: the node knows nothing of it.
  assert.equal(await rpc(URL, 'eth_getTransactionByHash', [hash]), null);
  assert.equal(await nonce('pending'), n0);
  assert.ok(readFileSync(`${env.STACK_DIR}/pool.log`, 'utf8').includes('dev fault point hot_wallet_after_commit'));

  // Recovery: the next call sends the committed bytes, unchanged.
  r = await payout(p);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.data.transactionHash, hash);
  assert.deepEqual(hotTxs(outId).map((t) => [t[1], t[3]]), [[hash, raw]]);
  const seen = await rpc(URL, 'eth_getTransactionByHash', [hash]);
  assert.equal(Number(BigInt(seen.nonce)), n0);
  await mine(URL, 3);
  r = await resume();
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.data.results.some((x) => x.payoutId === outId && x.outcome === 'completed'), r.text);
  assert.equal(payment(outId).status, 'completed');
  assert.deepEqual(payment(p.id), { status: 'released', escrow: 'released', tx: payment(p.id).tx });
  // Exactly one transfer, the nonce advanced by one.
  assert.equal(await transfersTo(p.sellerWallet), 1);
  assert.equal(await tokenBalance(p.sellerWallet), units('3.5'));
  assert.equal(await nonce(), n0 + 1);
  assert.equal(hotTxs(outId).length, 1);
});

test('a transaction the node dropped is sent again, the same bytes; one whose nonce another transaction took fails the payout', { skip }, async () => {
  // Dropped from the pool: followed, found missing, sent again unchanged.
  const p = { ...(await fundedPayin({ amount: '2' })), amount: '2' };
  let r = await payout(p);
  assert.equal(r.status, 202, r.text);
  const hash = r.json.data.transactionHash, outId = r.json.data.payout.id;
  await rpc(URL, 'anvil_dropTransaction', [hash]);
  assert.equal(await rpc(URL, 'eth_getTransactionByHash', [hash]), null);
  r = await payout(p);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.data.code, 'rebroadcast');
  assert.equal(r.json.data.transactionHash, hash);
  assert.notEqual(await rpc(URL, 'eth_getTransactionByHash', [hash]), null);
  await mine(URL, 3);
  r = await payout(p);
  assert.equal(r.status, 200, r.text);
  assert.equal(payment(outId).status, 'completed');
  assert.equal(await transfersTo(p.sellerWallet), 1);

  // Sent, lost by the node, and its nonce then used by another transaction of the wallet: replaced,
  // once the block that holds the other one is final.
  const s = { ...(await fundedPayin({ amount: '1.5' })), amount: '1.5' };
  r = await payout(s);
  assert.equal(r.status, 202, r.text);
  const lost = r.json.data.transactionHash, sOut = r.json.data.payout.id, sNonce = r.json.data.nonce;
  await rpc(URL, 'anvil_dropTransaction', [lost]);
  await takeNonce(sNonce);
  r = await payout(s);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.data.code, 'nonce_not_final');
  assert.equal(payment(sOut).status, 'processing');
  await mine(URL, 3);
  r = await payout(s);
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, 'replaced');
  assert.equal(payment(sOut).status, 'failed');
  assert.equal(await transfersTo(s.sellerWallet), 0);

  // Committed, then (before it was ever sent) its nonce used by another transaction of the wallet.
  const q = { ...(await fundedPayin({ amount: '2.5' })), amount: '2.5' };
  const n0 = await nonce('pending');
  writeFileSync(env.DEV_FAULT_FILE, 'hot_wallet_after_commit\n');
  r = await payout(q);
  assert.ok([502, 503].includes(r.status), r.text);
  const [[qOut]] = outgoing(q.id);
  await takeNonce(n0);
  // Not final yet: a reorganisation could still mine ours, so the payout waits and nothing is sent.
  r = await payout(q);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.data.code, 'nonce_not_final');
  assert.equal(payment(qOut).status, 'processing');
  assert.equal(hotTxs(qOut)[0][0], 'signed');
  assert.equal(await rpc(URL, 'eth_getTransactionByHash', [hotTxs(qOut)[0][1]]), null);
  await mine(URL, 3);
  r = await payout(q);
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, 'nonce_used');
  assert.equal(payment(qOut).status, 'failed');
  assert.equal(hotTxs(qOut)[0][0], 'failed');
  assert.equal(events([qOut], 'payout-failed'), 1);
  assert.deepEqual(payment(q.id), { status: 'completed', escrow: 'funded', tx: payment(q.id).tx });
  assert.equal(await transfersTo(q.sellerWallet), 0);
  // It can no longer be mined: an admin's retry opens a new payout, with a new nonce.
  r = await payout(q);
  assert.equal(r.status, 202, r.text);
  assert.notEqual(r.json.data.payout.id, qOut);
  assert.equal(r.json.data.nonce, n0 + 1);
  await mine(URL, 3);
  r = await payout(q);
  assert.equal(r.status, 200, r.text);
  assert.equal(await transfersTo(q.sellerWallet), 1);
});

test('20 concurrent hot-wallet payouts across both pools: 20 consecutive nonces, 20 transfers, none twice', { skip }, async () => {
  // The second pool signs EIP-1559 transactions, the first legacy ones: both kinds share one nonce sequence.
  base2 = pool2Up({ PAYMENTS_FEE_MODEL_BSC: 'eip1559' });
  const pays = [];
  for (let i = 0; i < 20; i++) pays.push({ ...(await fundedPayin({ amount: '1.25', wallet: buyers[i % 4] })), amount: '1.25' });
  const n0 = await nonce('pending');
  const all = await Promise.all(pays.map((p, i) => payout(p, {}, i % 2 ? base2 : env.BASE_URL)));
  for (const r of all) assert.equal(r.status, 202, r.text);
  const nonces = all.map((r) => r.json.data.nonce).sort((a, b) => a - b);
  assert.deepEqual(nonces, Array.from({ length: 20 }, (_, i) => n0 + i));
  assert.equal(new Set(all.map((r) => r.json.data.transactionHash)).size, 20);
  const types = new Set(await Promise.all(all.map(async (r) => (await rpc(URL, 'eth_getTransactionByHash', [r.json.data.transactionHash])).type)));
  assert.deepEqual([...types].sort(), ['0x0', '0x2']);
  await mine(URL, 3);
  const res = await resume();
  assert.equal(res.status, 200, res.text);
  for (const p of pays) {
    const [[, status]] = outgoing(p.id);
    assert.equal(status, 'completed');
    assert.equal(await transfersTo(p.sellerWallet), 1);
    assert.equal(await tokenBalance(p.sellerWallet), units('1.25'));
  }
  assert.equal(await nonce(), n0 + 20);
  const ids = pays.map((p) => outgoing(p.id)[0][0]);
  assert.equal(Number(sql(`SELECT count(DISTINCT nonce) FROM hot_wallet_txs WHERE payment_id = ANY (string_to_array(:'ids', ',')::uuid[]);`, { ids: ids.join(',') })[0][0]), 20);
});

// A node behind a load balancer, one backend lagging: it answers the next receipt and transaction
// lookups of the hashes in `lagging` with null (once each), and everything else as anvil does.
function laggingNode() {
  const lagging = new Set();
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const m = JSON.parse(body);
    const key = !Array.isArray(m) && ['eth_getTransactionReceipt', 'eth_getTransactionByHash'].includes(m.method)
      ? `${m.method} ${String(m.params?.[0]).toLowerCase()}` : null;
    if (key && lagging.delete(key)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: null }));
      return;
    }
    const r = await fetch(URL, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    res.writeHead(r.status, { 'content-type': 'application/json' });
    res.end(await r.text());
  });
  const lag = (hash) => {
    for (const method of ['eth_getTransactionReceipt', 'eth_getTransactionByHash']) lagging.add(`${method} ${hash.toLowerCase()}`);
  };
  return { server, lag, lagging };
}

test('a node that counts the payout\'s transaction but does not find it a moment earlier fails nothing: ours is looked for again after the count', { skip }, async () => {
  const node = laggingNode();
  await new Promise((ok) => node.server.listen(0, '127.0.0.1', ok));
  try {
    base2 = pool2Up({ POOL2_RPC_BSC: `http://127.0.0.1:${node.server.address().port}` });
    const p = { ...(await fundedPayin({ amount: '1.25' })), amount: '1.25' };
    let r = await payout(p, {}, base2);
    assert.equal(r.status, 202, r.text);
    const hash = r.json.data.transactionHash, outId = r.json.data.payout.id;
    await mine(URL, 3);
    // Mined and final; the backend that answers the first lookups has not seen it yet.
    node.lag(hash);
    r = await payout(p, {}, base2);
    assert.equal(node.lagging.size, 0, 'the lagging backend was asked');
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.data.code, 'found_on_recheck');
    assert.equal(payment(outId).status, 'processing');
    assert.equal(events([outId], 'payout-failed'), 0);
    r = await payout(p, {}, base2);
    assert.equal(r.status, 200, r.text);
    assert.equal(payment(outId).status, 'completed');
    assert.equal(await transfersTo(p.sellerWallet), 1);
  } finally {
    stack('pool2-down');
    base2 = undefined;
    node.server.close();
  }
});

test('too little token in the hot wallet: reported, nothing signed or broadcast, the escrow handed back', { skip }, async () => {
  // More than the hot wallet holds: the buyer is given enough to pay it in.
  await mint(buyers[5], 5000n * UNIT);
  const p = { ...(await fundedPayin({ amount: '2000', wallet: buyers[5] })), amount: '2000' };
  const n0 = await nonce('pending');
  for (let i = 0; i < 2; i++) {
    const r = await payout(p);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error.code, 'insufficient_token_balance');
    assert.equal(r.json.data.payout.status, 'failed');
    assert.deepEqual(payment(p.id), { status: 'completed', escrow: 'funded', tx: payment(p.id).tx });
  }
  const outs = outgoing(p.id);
  assert.deepEqual(outs.map((o) => o[1]), ['failed', 'failed']);
  for (const [id] of outs) {
    assert.equal(hotTxs(id).length, 0);
    assert.equal(events([id], 'payout-failed'), 1);
  }
  assert.equal(await nonce('pending'), n0);
});

test('admin-payout: a body it understands, a pay-in that matches', { skip }, async () => {
  const p = await fundedPayin({ amount: '1' });
  for (const body of [{ purchaseRequestId: p.request, amount: 'x' }, { purchaseRequestId: p.request, kind: 'tip' }, { receiverWalletAddress: p.sellerWallet }]) {
    const r = await api('POST', '/api/payment/decentralized/admin-payout', { token: admin, body });
    assert.equal(r.status, 400, r.text);
  }
  let r = await payout(p, { network: 'ethereum' });
  assert.equal(r.status, 409, r.text);
  r = await payout(p, { amount: 2 });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, 'amount_mismatch');
  r = await payout({ ...p, sellerWallet: '0x' + '77'.repeat(20) });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'reason_required');
  // The escrow wallet is no recipient: the money would go nowhere and the escrow read as paid out.
  r = await payout({ ...p, sellerWallet: await escrow() }, { reason: 'test: the escrow itself' });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'invalid_recipient');
  // A pay-in named with another request's id: refused as every payout endpoint refuses it.
  const other = await fundedPayin({ amount: '1' });
  r = await payout(p, { paymentId: other.id });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, 'request_mismatch');
  assert.equal(r.json.error.field, 'paymentId');
  assert.equal(outgoing(p.id).length, 0);
  assert.equal(outgoing(other.id).length, 0);
  r = await api('POST', '/api/payment/decentralized/admin-payout', { token: p.buyerToken, body: { purchaseRequestId: p.request } });
  assert.equal(r.status, 403);
});
