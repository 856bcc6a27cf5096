// The jobs process (`fcgi-payments jobs`) against the real database and the
// test chain: one copy leads each job, a standby takes over when the leader
// dies, no payment is changed twice while two copies run, pending
// wallet-direct and SHKeeper pay-ins are completed without their buyer or
// callback (a reorganised deposit counting for nothing), retention keeps
// what moved money, and SIGTERM ends a copy cleanly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { api, env, token, uid, sql, eventually, sleep } from './lib.mjs';
import { rpc, mine, waitReceipt, transferData } from '../chain/rpc.mjs';
import { fake, marketplace, intent, payment as shkPayment, completedTransitions } from './shkeeper_lib.mjs';
import { fundedPayin, outgoing, mint } from './payout_lib.mjs';
import { randomBytes } from 'node:crypto';

const URL = env.ANVIL_URL;
const skip = URL ? false : 'no test chain in this stack (tests/chain/setup.sh)';
const USDT = env.CHAIN_TOKEN_USDT;
const buyers = (env.CHAIN_BUYERS ?? '').split(',');
const admin = token('jobs-admin', 'admin');
const LOCK_CLASS = 0x6a6f6273;
const JOBS = ['auto_release', 'backfill', 'cleanup', 'reconcile', 'relay', 'retention', 'reverify', 'shkeeper_poll', 'watch'];
const EACH_ONCE = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((id) => [String(id), '1']);
const copies = new Set();
// The jobs on payments and payouts, off where a test is about others.
const QUIET = { PAYMENTS_JOBS_CLEANUP_SECONDS: '0', PAYMENTS_JOBS_SHKEEPER_POLL_SECONDS: '0',
  PAYMENTS_JOBS_RECONCILE_SECONDS: '0', PAYMENTS_JOBS_AUTO_RELEASE_SECONDS: '0' };

// A copy of the jobs process with the stack's settings and every job each second (the relay waits on NOTIFY).
function startJobs(overrides = {}) {
  const chain = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('PAYMENTS_')));
  const child = spawn(env.BIN, ['-c', env.CONFIG, 'jobs'], {
    env: {
      ...process.env, ...chain, PAYMENTS_JOBS_REVERIFY_SECONDS: '1', PAYMENTS_JOBS_BACKFILL_SECONDS: '1',
      PAYMENTS_JOBS_RETENTION_SECONDS: '1', PAYMENTS_JOBS_WATCH_SECONDS: '1', PAYMENTS_JOBS_CLEANUP_SECONDS: '1',
      PAYMENTS_JOBS_SHKEEPER_POLL_SECONDS: '1', PAYMENTS_JOBS_RECONCILE_SECONDS: '1',
      PAYMENTS_JOBS_AUTO_RELEASE_SECONDS: '1', PAYMENTS_AUTO_RELEASE_GRACE_HOURS: '24', ...overrides,
    },
  });
  child.log = '';
  child.stderr.on('data', (d) => { child.log += d; });
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  copies.add(child);
  child.exited.then(() => copies.delete(child));
  return child;
}

after(async () => {
  for (const c of copies) c.kill('SIGKILL');
});

// Which backend holds each job's leader lock, by the pid of the copy that ran it last.
const leaders = () => sql(`SELECT job, leader_pid FROM job_runs ORDER BY job;`);
const lockHolders = () => sql(
  `SELECT l.objid::int, count(*) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
   AND l.classid = ${LOCK_CLASS} GROUP BY l.objid ORDER BY l.objid;`);

test('two copies: each job is led by one of them, and the standby takes over when the leader is killed', async () => {
  sql(`DELETE FROM job_runs;`);
  // A release to become due while both copies run (funded first: the watcher would race the buyer's verify).
  const due = env.ANVIL_URL ? await fundedPayin({ amount: '1.75' }) : null;
  const a = startJobs();
  await eventually(() => leaders().length === JOBS.length, 15000);
  const b = startJobs();
  await sleep(3000);
  // One lock per job, each held once; every run so far was by the first copy.
  assert.deepEqual(lockHolders(), EACH_ONCE);
  assert.deepEqual(leaders().map(([, pid]) => pid), JOBS.map(() => String(a.pid)));
  assert.match(b.log, /jobs: started/);
  assert.doesNotMatch(b.log, /job=/, 'the standby ran nothing while the leader lived');

  // Work for the jobs while both copies run: a SHKeeper deposit whose callback is never sent, and a
  // release due after delivery. Each is done once, by the copy that leads its job.
  const inv = await intent(marketplace(2));
  const deposit = await fake.pay({ external_id: inv.externalId, amount_crypto: '10.5', callback: false });
  if (due) sql(`UPDATE purchase_requests SET delivered_at = now() - interval '2 days' WHERE id = :'r';`, { r: due.request });
  if (env.ANVIL_URL) {
    await eventually(() => shkPayment(inv.paymentId).status === 'completed' && outgoing(due.id).length === 1, 20000, 100);
    const rounds = () => (a.log.match(/job=auto_release result=ok/g) ?? []).length;
    const seen = rounds();
    await eventually(() => rounds() > seen + 1, 15000, 100);
    assert.equal(shkPayment(inv.paymentId).txHash, deposit.txid);
    assert.equal(completedTransitions(inv.paymentId), 1);
    assert.equal(outgoing(due.id).length, 1);
    assert.doesNotMatch(b.log, /job=/, 'the standby still ran nothing');
  }

  a.kill('SIGKILL');
  await a.exited;
  await eventually(() => leaders().every(([, pid]) => pid === String(b.pid)), 15000);
  assert.deepEqual(lockHolders(), EACH_ONCE);
  await eventually(() => /job=retention result=ok seen=\d+ changed=\d+ errors=0 backlog=0 duration_ms=\d+/.test(b.log), 5000);

  const view = await api('GET', '/api/payment/admin/jobs', { token: admin });
  assert.equal(view.status, 200, view.text);
  const names = view.json.data.jobs.map((j) => j.job);
  assert.deepEqual(names, JOBS);
  for (const j of view.json.data.jobs) {
    assert.equal(j.leaderPid, b.pid);
    assert.equal(j.result, 'ok');
    assert.equal(j.overdue, false);
  }
  assert.equal((await api('GET', '/api/payment/admin/jobs', { token: token('jobs-buyer', 'buyer') })).status, 403);

  b.kill('SIGTERM');
  const end = await b.exited;
  assert.deepEqual(end, { code: 0, signal: null });
  assert.match(b.log, /jobs: stopping on signal/);
});

test('retention prunes old deliveries that changed nothing and keeps those that moved money', async () => {
  const digest = (n) => n.toString(16).padStart(64, '0');
  const base = Date.now() % 1e9;
  sql(`INSERT INTO webhook_inbox (provider, received_at, body, body_digest, verdict, outcome)
       VALUES ('shkeeper', now() - interval '40 days', 'x', :'d1', 'invalid', 'received'),
              ('shkeeper', now() - interval '40 days', 'y', :'d2', 'valid', 'applied'),
              ('shkeeper', now() - interval '40 days', 'z', :'d3', 'valid', 'duplicate'),
              ('shkeeper', now() - interval '2 days', 'w', :'d4', 'invalid', 'received');`,
  { d1: digest(base), d2: digest(base + 1), d3: digest(base + 2), d4: digest(base + 3) });
  const left = () => sql(`SELECT body_digest FROM webhook_inbox WHERE body_digest IN (:'d1', :'d2', :'d3', :'d4') ORDER BY body_digest;`,
    { d1: digest(base), d2: digest(base + 1), d3: digest(base + 2), d4: digest(base + 3) }).map(([d]) => d);
  assert.equal(left().length, 4);
  const c = startJobs({ ...QUIET, PAYMENTS_JOBS_REVERIFY_SECONDS: '0', PAYMENTS_JOBS_BACKFILL_SECONDS: '0', PAYMENTS_JOBS_WATCH_SECONDS: '0' });
  try {
    await eventually(() => left().length === 2, 15000);
    // The applied delivery is old but moved money; the recent refused one is not old enough.
    assert.deepEqual(left(), [digest(base + 1), digest(base + 3)]);
  } finally {
    c.kill('SIGTERM');
    await c.exited;
  }
});

test('a wallet-direct pay-in seen but not final is completed by the jobs process once it is, without its buyer', { skip }, async () => {
  const buyer = uid('jb');
  const t = token(buyer, 'buyer');
  sql(`INSERT INTO user_wallets (user_id, network, address) VALUES (:'u', 'bsc', :'a')
       ON CONFLICT (user_id, network) DO UPDATE SET address = EXCLUDED.address;`, { u: buyer, a: buyers[0] });
  const saved = await api('POST', '/api/payment/decentralized/save', {
    token: t, body: { purchaseRequestId: uid('jpr'), amount: '3.25', token: 'USDT', network: 'bsc' },
  });
  assert.equal(saved.status, 201, saved.text);
  const id = saved.json.data.paymentId ?? saved.json.data.id;
  const escrow = (await api('GET', '/api/payment/decentralized/receiver')).json.data.address;
  const hash = await rpc(URL, 'eth_sendTransaction', [{ from: buyers[0], to: USDT, data: transferData(escrow, 325n * 10n ** 16n) }]);
  await mine(URL, 1);
  await waitReceipt(URL, hash);
  const seen = await api('POST', `/api/payment/decentralized/verify/${id}`, { token: t, body: { transactionHash: hash } });
  assert.equal(seen.status, 202, seen.text);

  const c = startJobs({ ...QUIET, PAYMENTS_JOBS_BACKFILL_SECONDS: '0', PAYMENTS_JOBS_RETENTION_SECONDS: '0', PAYMENTS_JOBS_WATCH_SECONDS: '0' });
  try {
    await sleep(2500);
    assert.equal(sql(`SELECT status FROM payments WHERE id = :'id';`, { id })[0][0], 'processing', 'not final: not completed');
    await mine(URL, 3);
    await eventually(() => sql(`SELECT status FROM payments WHERE id = :'id';`, { id })[0][0] === 'completed', 15000);
    const [[escrowStatus, tx, source]] = sql(`SELECT p.escrow_state, p.tx_hash,
      (SELECT t.source FROM payment_transitions t WHERE t.payment_id = p.id AND t.to_status = 'completed')
      FROM payments p WHERE p.id = :'id';`, { id });
    assert.deepEqual([escrowStatus, tx.toLowerCase()], ['funded', hash.toLowerCase()]);
    assert.ok(source, 'the completion is audited');
    await sleep(2000);
    assert.equal(sql(`SELECT count(*) FROM payment_transitions WHERE payment_id = :'id' AND to_status = 'completed';`, { id })[0][0], '1');
  } finally {
    c.kill('SIGTERM');
    await c.exited;
  }
});

// A buyer who pays from `wallet` (registered as the marketplace does), and a
// saver of its wallet-direct pay-ins: the pay-in's id.
function walletBuyer(prefix, wallet) {
  const buyer = uid(prefix);
  const t = token(buyer, 'buyer');
  sql(`INSERT INTO user_wallets (user_id, network, address) VALUES (:'u', 'bsc', :'a')
       ON CONFLICT (user_id, network) DO UPDATE SET address = EXCLUDED.address;`, { u: buyer, a: wallet });
  const save = async (amount) => {
    const r = await api('POST', '/api/payment/decentralized/save', {
      token: t, body: { purchaseRequestId: uid(`${prefix}r`), amount, token: 'USDT', network: 'bsc' },
    });
    assert.equal(r.status, 201, r.text);
    return r.json.data.paymentId;
  };
  return { buyer, token: t, save };
}

test('the chain watcher completes pay-ins whose buyer never sends the hash or whose callback never comes, once final; a transfer reorganised away counts for nothing', { skip }, async () => {
  const wallet = buyers[buyers.length - 1];
  const id = await walletBuyer('jw', wallet).save('4.75');
  const escrow = (await api('GET', '/api/payment/decentralized/receiver')).json.data.address;
  const status = () => sql(`SELECT status FROM payments WHERE id = :'id';`, { id })[0][0];
  const pay = async (value) => {
    const h = await rpc(URL, 'eth_sendTransaction', [{ from: wallet, to: USDT, data: transferData(escrow, value) }]);
    await mine(URL, 1);
    await waitReceipt(URL, h);
    return h;
  };

  // A SHKeeper pay-in beside it, whose callback never comes: its deposit address is watched too.
  const shk = await intent(marketplace(1));
  const deposit = (txid) => fake.pay({ external_id: shk.externalId, amount_crypto: '10.5', depth: 1, callback: false, txid });

  const c = startJobs({ ...QUIET, PAYMENTS_JOBS_WATCH_SECONDS: '1', PAYMENTS_JOBS_REVERIFY_SECONDS: '0',
    PAYMENTS_JOBS_BACKFILL_SECONDS: '0', PAYMENTS_JOBS_RETENTION_SECONDS: '0' });
  try {
    // Mined, then reorganised away before they were final.
    const dropped = await pay(475n * 10n ** 16n);
    const shkDropped = (await deposit()).txid;
    await sleep(2500);
    assert.equal(status(), 'pending', 'a transfer that is not final changes nothing');
    assert.deepEqual(shkPayment(shk.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });
    await rpc(URL, 'anvil_rollback', [2]);
    assert.equal(await rpc(URL, 'eth_getTransactionByHash', [dropped]), null);
    assert.equal(await rpc(URL, 'eth_getTransactionByHash', [shkDropped]), null);
    await mine(URL, 4);
    await sleep(2500);
    assert.equal(status(), 'pending', 'the removed transfer never counted');
    assert.deepEqual(shkPayment(shk.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });

    // Paid again (a wei more, so it is another transaction): final a few blocks later.
    const kept = await pay(475n * 10n ** 16n + 1n);
    const shkKept = (await deposit()).txid;
    await sleep(2500);
    assert.equal(status(), 'pending', 'not final yet');
    assert.equal(shkPayment(shk.paymentId).status, 'pending', 'not final yet');
    await mine(URL, 4);
    await eventually(() => status() === 'completed' && shkPayment(shk.paymentId).status === 'completed', 15000);
    const [[escrowState, tx]] = sql(`SELECT escrow_state, tx_hash FROM payments WHERE id = :'id';`, { id });
    assert.deepEqual([escrowState, tx.toLowerCase()], ['funded', kept.toLowerCase()]);
    assert.deepEqual(shkPayment(shk.paymentId), { status: 'completed', escrow: 'funded', txHash: shkKept });
    await sleep(2500);
    assert.equal(sql(`SELECT count(*) FROM payment_transitions WHERE payment_id = :'id' AND to_status = 'completed';`, { id })[0][0], '1');
    assert.equal(completedTransitions(shk.paymentId), 1);

    const m = await api('GET', '/api/payment/shkeeper/wallet-monitor/status', { token: admin });
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.data.isMonitoring, true);
    const bsc = m.json.data.networks.find((n) => n.network === 'bsc');
    assert.ok(bsc.cursor >= Number(BigInt(await rpc(URL, 'eth_blockNumber')) - 10n), m.text);
    assert.ok(bsc.lagBlocks >= 0 && bsc.lagBlocks < 10, m.text);
  } finally {
    c.kill('SIGTERM');
    await c.exited;
  }
});

test('the chain watcher reports a buyer\'s transfer no pay-in takes (short, the parts of a split), once each, and moves nothing', { skip }, async () => {
  const wallet = buyers[buyers.length - 3];
  const open = await walletBuyer('ju', wallet).save('1.11');
  const escrow = (await api('GET', '/api/payment/decentralized/receiver')).json.data.address;
  const found = () => sql(
    `SELECT payload->>'kind', payload->>'transactionHash', payload->'amountSeen'->>'crypto' FROM events
     WHERE payment_id = :'id' AND event = 'payment-needs-review' ORDER BY id;`, { id: open });
  const notes = () => Number(sql(`SELECT count(*) FROM notifications WHERE payment_id = :'id' AND user_id = 'admin';`, { id: open })[0][0]);

  // A wallet whose only pay-in its buyer completed with the hash before the watcher read the block.
  const paid = '0x' + randomBytes(20).toString('hex');
  await rpc(URL, 'anvil_setBalance', [paid, '0x56bc75e2d63100000']);
  await mint(paid, 9n * 10n ** 17n);
  const b = walletBuyer('jv', paid);
  const done = await b.save('0.9');
  await rpc(URL, 'anvil_impersonateAccount', [paid]);
  const ph = await rpc(URL, 'eth_sendTransaction', [{ from: paid, to: USDT, data: transferData(escrow, 9n * 10n ** 17n) }]);
  await rpc(URL, 'anvil_stopImpersonatingAccount', [paid]);
  await mine(URL, 4);
  await waitReceipt(URL, ph);
  const v = await api('POST', `/api/payment/decentralized/verify/${done}`, { token: b.token, body: { transactionHash: ph } });
  assert.equal(v.status, 200, v.text);
  const doneReviews = () => sql(`SELECT count(*) FROM events WHERE payment_id = :'id' AND event = 'payment-needs-review'
    AND payload->>'kind' = 'deposit_unplaced';`, { id: done })[0][0];

  const watching = { ...QUIET, PAYMENTS_JOBS_WATCH_SECONDS: '1', PAYMENTS_JOBS_REVERIFY_SECONDS: '0',
    PAYMENTS_JOBS_BACKFILL_SECONDS: '0', PAYMENTS_JOBS_RETENTION_SECONDS: '0' };
  let c = startJobs(watching);
  try {
    // 1.11 paid as 0.37 and 0.74: neither is the price.
    const parts = [];
    for (const cents of [37n, 74n]) {
      const h = await rpc(URL, 'eth_sendTransaction', [{ from: wallet, to: USDT, data: transferData(escrow, cents * 10n ** 16n) }]);
      await mine(URL, 1);
      await waitReceipt(URL, h);
      parts.push(h);
    }
    await mine(URL, 4);
    const seen = await eventually(() => found().length === 2 && found(), 15000);
    assert.deepEqual(seen, [['deposit_unplaced', parts[0], '0.37'], ['deposit_unplaced', parts[1], '0.74']]);
    // Read again from before them (as after a fault), the wallet having opened another pay-in since: nothing new.
    const later = await walletBuyer('ju', wallet).save('2.22');
    const block = Number(BigInt((await rpc(URL, 'eth_getTransactionReceipt', [parts[0]])).blockNumber));
    // Stopped first: a run in flight would write its own, higher cursor back over this one.
    c.kill('SIGTERM');
    await c.exited;
    sql(`UPDATE chain_cursors SET last_block = :'b' WHERE network = 'bsc';`, { b: block - 1 });
    c = startJobs(watching);
    await eventually(() => Number(sql(`SELECT last_block FROM chain_cursors WHERE network = 'bsc';`)[0][0]) > block + 2, 15000);
    assert.equal(found().length, 2, 'once per transfer, read again or not');
    assert.equal(sql(`SELECT count(*) FROM events WHERE payment_id = :'id' AND event = 'payment-needs-review';`, { id: later })[0][0], '0');
    assert.equal(notes(), 2);
    assert.deepEqual(sql(`SELECT status, escrow_state, tx_hash FROM payments WHERE id = :'id';`, { id: open })[0], ['pending', 'unfunded', '']);
    // The verified transfer was read too (it is older than the two parts): it is placed, nobody is told.
    assert.equal(doneReviews(), '0');
  } finally {
    c.kill('SIGTERM');
    await c.exited;
  }
});

test('the chain watcher reports a transfer for a pay-in cancelled before it came, once, and gives it to no other pay-in', { skip }, async () => {
  const wallet = buyers[buyers.length - 2];
  const { save } = walletBuyer('jc', wallet);
  // Two closed pay-ins the transfer could be for, and an open one it is too small for.
  const cancelled = await save('0.02');
  const failed = await save('0.02');
  const open = await save('3');
  for (const [id, status] of [[cancelled, 'cancelled'], [failed, 'failed']]) {
    const r = await api('PUT', `/api/payment/${id}`, { token: admin, body: { status } });
    assert.equal(r.status, 200, r.text);
  }
  const escrow = (await api('GET', '/api/payment/decentralized/receiver')).json.data.address;
  const found = () => sql(
    `SELECT payload->>'kind', payload->>'transactionHash' FROM events
     WHERE payment_id IN (:'a', :'b') AND event = 'payment-needs-review';`, { a: cancelled, b: failed });
  const state = (id) => sql(`SELECT status, escrow_state FROM payments WHERE id = :'id';`, { id })[0];

  const c = startJobs({ ...QUIET, PAYMENTS_JOBS_WATCH_SECONDS: '1', PAYMENTS_JOBS_REVERIFY_SECONDS: '0',
    PAYMENTS_JOBS_BACKFILL_SECONDS: '0', PAYMENTS_JOBS_RETENTION_SECONDS: '0' });
  try {
    const h = await rpc(URL, 'eth_sendTransaction', [{ from: wallet, to: USDT, data: transferData(escrow, 2n * 10n ** 16n) }]);
    await mine(URL, 1);
    await waitReceipt(URL, h);
    await mine(URL, 4);
    const seen = await eventually(() => found().length > 0 && found(), 15000);
    assert.deepEqual(seen, [['deposit_on_closed_payment', h]]);
    await sleep(2500);
    assert.equal(found().length, 1, 'reported once, for one of the two, read again or not');
    assert.deepEqual(state(cancelled), ['cancelled', 'unfunded']);
    assert.deepEqual(state(failed), ['failed', 'unfunded']);
    assert.deepEqual(state(open), ['pending', 'unfunded']);
  } finally {
    c.kill('SIGTERM');
    await c.exited;
  }
});
