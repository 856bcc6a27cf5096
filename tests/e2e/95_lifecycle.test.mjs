// The pool's life cycle, run last because its final test stops the pool:
// workers are recycled after max_requests, SIGUSR1 harms nothing, and SIGTERM
// lets a request in flight finish before the master exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { api, env, eventually, sleep } from './lib.mjs';
import { fake, marketplace, intentBody } from './shkeeper_lib.mjs';

const master = () => Number(readFileSync(env.POOL_PID_FILE, 'utf8').trim());
const MAX_REQUESTS = Number(/^\s*max_requests\s*=\s*(\d+)/m.exec(readFileSync(env.CONFIG, 'utf8'))?.[1] ?? 0);
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };

function workers() {
  try {
    return execFileSync('pgrep', ['-P', String(master())], { encoding: 'utf8' })
      .split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
  } catch {
    return [];
  }
}

test('a worker is replaced after max_requests, and no request fails meanwhile', async () => {
  assert.ok(MAX_REQUESTS > 0 && MAX_REQUESTS <= 1000, 'the stack sets a small max_requests');
  const before = workers();
  // Enough requests that every worker reaches its limit at least once.
  const total = MAX_REQUESTS * before.length + 50;
  const statuses = new Map();
  for (let sent = 0; sent < total; sent += 25) {
    const batch = await Promise.all(Array.from({ length: 25 }, () => api('GET', '/api/payment/health')));
    for (const r of batch) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
  }
  assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify([...statuses])}`);
  const after = await eventually(() => { const w = workers(); return w.length === before.length && w; });
  assert.equal(after.length, before.length, 'the pool is full again');
  assert.ok(after.some((pid) => !before.includes(pid)), `some worker was recycled: ${before} → ${after}`);
});

// logrotate's postrotate and `systemctl kill -s USR1` send it; libfcgi's own
// handler would leave a worker failing every accept while its socket stays readable.
test('SIGUSR1 ends neither the pool nor the service: the master goes on, the worker finishes and is replaced', async () => {
  const m = master();
  const before = workers();
  process.kill(m, 'SIGUSR1');
  const [victim] = before;
  process.kill(victim, 'SIGUSR1');
  assert.ok(await eventually(() => !alive(victim), 5000, 100), `worker ${victim} ended`);
  const after = await eventually(() => { const w = workers(); return w.length === before.length && !w.includes(victim) && w; });
  assert.ok(after, `the pool is full again without ${victim}: ${workers()}`);
  assert.ok(alive(m), 'the master still runs');
  assert.equal(master(), m);
  const statuses = await Promise.all(Array.from({ length: 20 }, () => api('GET', '/api/payment/health')));
  assert.deepEqual([...new Set(statuses.map((r) => r.status))], [200]);
});

test('SIGTERM drains: the request in flight completes, then the pool exits', async () => {
  const m = marketplace(1);
  await fake.reset();
  // Slow, but well inside shkeeper_timeout_ms (1.5 s) even on a loaded machine.
  await fake.mode('slow', { delayMs: 600 });
  try {
    const pool = master();
    const inFlight = api('POST', '/api/payment/shkeeper/intents', { token: m.token, body: intentBody(m) });
    await sleep(250);   // the worker is now waiting on SHKeeper
    process.kill(pool, 'SIGTERM');
    const r = await inFlight;
    assert.ok(r.status === 201 || r.status === 200, `the request in flight completed: ${r.status} ${r.text}`);
    assert.ok(r.json.data.walletAddress, 'with the invoice SHKeeper gave');
    assert.ok(await eventually(() => !alive(pool), 10000), 'the master exited');
    // With the pool gone nginx answers for it, still in JSON.
    const after = await api('GET', '/api/payment/health');
    assert.equal(after.status, 503);
    assert.equal(after.json?.success, false);
  } finally {
    await fake.mode('ok');
  }
});
