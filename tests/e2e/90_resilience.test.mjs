// Resilience, run last: a worker killed outright, a rolling restart on SIGHUP,
// and a database outage. The database is always started again, so whatever
// runs after this file finds the stack as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { api, token, uid, count, env, stack, eventually, sleep, sale } from './lib.mjs';

const master = () => Number(readFileSync(env.POOL_PID_FILE, 'utf8').trim());
const WORKERS = Number(/^\s*workers\s*=\s*(\d+)/m.exec(readFileSync(env.CONFIG, 'utf8'))?.[1] ?? 0);

// The master's children are its workers.
function workers() {
  try {
    return execFileSync('pgrep', ['-P', String(master())], { encoding: 'utf8' })
      .split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
  } catch {
    return [];   // pgrep exits 1 when there are none
  }
}

const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };

// A payment record's body; its request and offer are written first unless
// the database is down (then nothing reaches them anyway).
function body(buyer, sold = true) {
  const ids = sold ? sale(buyer) : { purchaseRequestId: uid('pr'), sellerOfferId: uid('o'), sellerId: uid('s') };
  return { ...ids, buyerId: buyer, amount: { amount: '1.5', currency: 'USDT' } };
}

function assertUnavailable(r, what) {
  assert.equal(r.status, 503, `${what}: ${r.text}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/, what);
  assert.match(r.headers.get('retry-after') ?? '', /^\d+$/, `${what}: Retry-After`);
  assert.equal(r.json?.success, false, what);
  assert.equal(r.json.error.code, 'database_unavailable', `${what}: ${r.text}`);
  assert.equal(typeof r.json.message, 'string');
}

test('the pool runs the configured number of workers', () => {
  assert.ok(WORKERS >= 1, 'workers = N in the stack configuration');
  assert.ok(alive(master()));
  assert.equal(workers().length, WORKERS);
});

test('a worker killed with SIGKILL is replaced, and requests keep succeeding', async () => {
  const pool = master();
  const before = workers();
  assert.equal(before.length, WORKERS);
  const victim = before[0];
  process.kill(victim, 'SIGKILL');

  const replaced = await eventually(() => {
    const now = workers();
    return now.length === WORKERS && !now.includes(victim) ? now : null;
  });
  assert.ok(replaced, `a new worker replaces ${victim}; workers now ${workers()}`);
  assert.equal(master(), pool);
  assert.ok(alive(pool));

  const buyer = uid('b');
  const t = token(buyer, 'buyer');
  for (let i = 0; i < 2 * WORKERS + 2; i++) {
    const h = await api('GET', '/api/payment/health');
    assert.equal(h.status, 200, h.text);
  }
  const c = await api('POST', '/api/payment', { token: t, body: body(buyer) });
  assert.equal(c.status, 201, c.text);
  const g = await api('GET', `/api/payment/${c.json.data.id}`, { token: t });
  assert.equal(g.status, 200, g.text);
});

test('SIGHUP restarts the workers one by one while every request keeps succeeding', async () => {
  const pool = master();
  const before = workers();
  assert.equal(before.length, WORKERS);
  const t = token(uid('b'), 'buyer');
  const statuses = [];
  let done = false;
  // Four clients in a loop for the whole rolling restart.
  const clients = [...Array(4)].map(async () => {
    while (!done) {
      const r = await api('GET', '/api/payment?status=all', { token: t });
      statuses.push(r.status === 200 ? 200 : `${r.status} ${r.text}`);
    }
  });
  try {
    process.kill(pool, 'SIGHUP');
    const renewed = await eventually(() => {
      const now = workers();
      return now.length === WORKERS && now.every((p) => !before.includes(p)) ? now : null;
    }, 30000);
    assert.ok(renewed, `every worker replaced: before ${before}, now ${workers()}`);
    // A little traffic on the fresh workers too.
    await sleep(300);
  } finally {
    done = true;
    await Promise.all(clients);
  }
  assert.equal(master(), pool);
  assert.ok(statuses.length > 0);
  assert.deepEqual(statuses.filter((s) => s !== 200), [], `${statuses.length} requests during the restart`);
});

test('with PostgreSQL down: 503 + Retry-After in the JSON envelope, the pool stays up; back to normal after', async () => {
  const pool = master();
  const poolLog = join(env.STACK_DIR, 'pool.log');
  const logFrom = statSync(poolLog).size;
  const buyer = uid('b');
  const t = token(buyer, 'buyer');
  const admin = token(uid('adm'), 'admin');
  const existing = await api('POST', '/api/payment', { token: t, body: body(buyer) });
  assert.equal(existing.status, 201, existing.text);
  const id = existing.json.data.id;

  try {
    stack('pg-stop');
    // Enough of each that every worker answers a few, on its stale connection and after.
    for (let i = 0; i < 3 * WORKERS; i++) {
      assertUnavailable(await api('GET', '/api/payment/health'), 'GET /health');
      assertUnavailable(await api('GET', '/api/payment', { token: t }), 'GET /api/payment');
      assertUnavailable(await api('POST', '/api/payment', { token: t, body: body(buyer, false) }), 'POST /api/payment');
      assertUnavailable(await api('GET', `/api/payment/${id}`, { token: t }), 'GET /:id');
      assertUnavailable(await api('PUT', `/api/payment/${id}`, { token: admin, body: { status: 'completed' } }), 'PUT /:id');
      assertUnavailable(await api('GET', '/api/payment/stats', { token: t }), 'GET /stats');
      assertUnavailable(await api('GET', '/api/payment/export?format=csv', { token: t }), 'GET /export');
      // A provider's delivery must be answered 503 so that it is retried, never 2xx and dropped.
      assertUnavailable(await api('POST', '/api/payment/callback', { body: { paymentId: id, status: 'completed' } }), 'POST /callback');
    }
    // What needs no database still works; credentials are still checked first.
    const cfg = await api('POST', '/api/payment/configuration');
    assert.equal(cfg.status, 200, cfg.text);
    assert.equal((await api('GET', '/api/payment')).status, 401);

    assert.equal(master(), pool, 'the same master');
    assert.ok(alive(pool));
    assert.equal(workers().length, WORKERS);
    // Workers are recycled after max_requests as usual; none may die of the outage.
    const since = readFileSync(poolLog, 'utf8').slice(logFrom);
    assert.doesNotMatch(since, /worker \d+ (killed by signal|exited with status)/, 'no worker died of the outage');
  } finally {
    stack('pg-start');
  }

  // Every worker reconnects: many successes in a row.
  const recovered = await eventually(async () => {
    for (let i = 0; i < 4 * WORKERS; i++) {
      if ((await api('GET', '/api/payment/health')).status !== 200) return false;
    }
    return true;
  }, 30000);
  assert.ok(recovered, 'health answers 200 again after PostgreSQL is back');
  for (let i = 0; i < 2 * WORKERS; i++) {
    const l = await api('GET', '/api/payment?status=all', { token: t });
    assert.equal(l.status, 200, l.text);
    assert.deepEqual(l.json.data.payments.map((p) => p.id), [id]);
  }
  // Nothing refused during the outage was written; a write now succeeds.
  assert.equal(count('payments', `buyer_id = :'b'`, { b: buyer }), 1);
  assert.equal(count('webhook_inbox', `payment_id = :'id'`, { id }), 0);
  const c = await api('POST', '/api/payment', { token: t, body: body(buyer) });
  assert.equal(c.status, 201, c.text);
  const u = await api('PUT', `/api/payment/${id}`, { token: admin, body: { status: 'completed', override: true, reason: 'test fixture' } });
  assert.equal(u.status, 200, u.text);
  assert.equal(master(), pool);
});

test('PostgreSQL restarted while the pool is idle: every worker serves its next request on a new connection, none refused', async () => {
  const buyer = uid('b');
  const t = token(buyer, 'buyer');
  const list = () => api('GET', '/api/payment?status=all', { token: t });
  // Many at once, so that every worker holds a connection before the restart.
  for (const r of await Promise.all(Array.from({ length: 4 * WORKERS }, list))) assert.equal(r.status, 200, r.text);
  stack('pg-stop');
  stack('pg-start');
  // Each worker's next request finds its old session ended by the restart; it is served all the same,
  // the health check (which reads the database too) as well as the list.
  const health = () => api('GET', '/api/payment/health');
  for (let round = 0; round < 3; round++) {
    const next = round === 0 ? health : list;
    for (const r of await Promise.all(Array.from({ length: 2 * WORKERS }, next))) assert.equal(r.status, 200, r.text);
  }
});
