// GET /api/payment/metrics, read the way Prometheus reads it (a real
// text-format parser): the counters are the pool's, whichever worker served a
// request, they count exactly what was sent, and a worker killed outright
// takes none of them with it. Only trusted addresses (loopback) or the
// internal token may read them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, env, ROOT, uid, eventually, holdLock, serviceWaiting, token } from './lib.mjs';
import { checkResponse } from './openapi.mjs';
import { bvnk } from './provider_payout_lib.mjs';

const parse = createRequire(join(ROOT, 'tests/tools/package.json'))('parse-prometheus-text-format');
const PAY = '/api/payment';

async function scrape() {
  const r = await api('GET', `${PAY}/metrics`);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const families = parse(r.text);      // throws on a line that is not the text format
  families.text = r.text;
  return families;
}

// The value of one series (0 when it is not there yet).
function value(families, name, labels = {}) {
  const family = families.find((f) => f.name === name);
  if (!family) return 0;
  const hit = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (!hit) return 0;
  return Number(hit.value ?? hit.count);
}
const requests = (f, route, method, status) =>
  value(f, 'payments_http_requests_total', { route: `${PAY}${route}`, method, status: String(status) });

const master = () => Number(readFileSync(env.POOL_PID_FILE, 'utf8').trim());
const workers = () => execFileSync('pgrep', ['-P', String(master())], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);

test('counters are the pool\'s: a known sequence over both workers is counted exactly', async () => {
  const probe = `${PAY}/metrics-probe-${uid('p')}`;
  const before = await scrape();
  // One worker is held on a list that waits for a lock on payments, so the
  // other serves the rest: an idle pool would let one worker take them all.
  const lock = await holdLock('LOCK TABLE payments IN ACCESS EXCLUSIVE MODE');
  let held, sent;
  try {
    held = api('GET', `${PAY}?status=all`, { token: token(uid('b'), 'buyer') });
    await serviceWaiting(1);
    sent = await Promise.all([
      ...Array.from({ length: 30 }, () => api('GET', `${PAY}/decentralized/receiver`)),
      ...Array.from({ length: 12 }, () => api('GET', probe)),
    ]);
  } finally {
    await lock.release();
  }
  const list = await held;
  assert.equal(list.status, 200, list.text);
  sent.push(list);
  assert.equal(sent.filter((r) => r.status === 200).length, 31);
  assert.equal(sent.filter((r) => r.status === 404).length, 12);
  const after = await scrape();
  assert.equal(requests(after, '', 'GET', 200) - requests(before, '', 'GET', 200), 1);
  assert.equal(requests(after, '/decentralized/receiver', 'GET', 200) - requests(before, '/decentralized/receiver', 'GET', 200), 30);
  assert.equal(value(after, 'payments_http_requests_total', { route: 'unmatched', status: '404' }) -
    value(before, 'payments_http_requests_total', { route: 'unmatched', status: '404' }), 12);
  // The histogram has every one of them. (This parser folds a histogram's
  // labelled series into one, so its series are read by line.)
  const series = (f, suffix, extra = '') => Number(new RegExp(
    `^payments_http_request_duration_seconds_${suffix}\\{route="${PAY}/decentralized/receiver",method="GET"${extra}\\} (\\d+)$`, 'm')
    .exec(f.text)?.[1] ?? 0);
  assert.equal(series(after, 'count') - series(before, 'count'), 30);
  assert.equal(series(after, 'bucket', ',le="\\+Inf"') - series(before, 'bucket', ',le="\\+Inf"'), 30);
  // Both workers served some (the log names each request's id and process).
  const ids = new Set(sent.map((r) => r.headers.get('x-request-id')));
  const pids = new Set(readFileSync(join(env.STACK_DIR, 'pool.log'), 'utf8').split('\n')
    .map((l) => /^\S+ \w+ \[(\d+)\] (\w+) /.exec(l)).filter((m) => m && ids.has(m[2])).map((m) => m[1]));
  assert.ok(pids.size >= 2, `served by ${[...pids].join(', ')}`);
  // No raw path is ever a label: the probe's path is not in the exposition.
  const text = (await api('GET', `${PAY}/metrics`)).text;
  assert.ok(!text.includes(probe));
});

test('a worker killed with SIGKILL does not reset the pool\'s counters', async () => {
  for (let i = 0; i < 10; i++) assert.equal((await api('GET', `${PAY}/decentralized/receiver`)).status, 200);
  const before = await scrape();
  const n = requests(before, '/decentralized/receiver', 'GET', 200);
  assert.ok(n >= 10);
  const [victim] = workers();
  process.kill(victim, 'SIGKILL');
  assert.ok(await eventually(() => workers().length === 2 && !workers().includes(victim)), 'the master replaces it');
  const after = await scrape();
  assert.equal(requests(after, '/decentralized/receiver', 'GET', 200), n);
});

test('webhook deliveries are counted by provider, verdict and outcome', async () => {
  const key = { provider: 'shkeeper', verdict: 'refused', outcome: 'refused' };
  const before = value(await scrape(), 'payments_webhook_deliveries_total', key);
  for (let i = 0; i < 3; i++) {
    const r = await api('POST', `${PAY}/shkeeper/webhook`, { body: { external_id: 'x', status: 'PAID' } });
    assert.equal(r.status, 401);
  }
  assert.equal(value(await scrape(), 'payments_webhook_deliveries_total', key) - before, 3);
});

test('payout webhooks are counted too: a forged BVNK delivery as refused, a signed one by its outcome', async () => {
  const refused = { provider: 'bvnk', verdict: 'refused', outcome: 'refused' };
  const unknown = { provider: 'bvnk', verdict: 'valid', outcome: 'unknown_payment' };
  const payoutRefused = { provider: 'shkeeper_payout', verdict: 'refused', outcome: 'refused' };
  const before = await scrape();
  const [example] = JSON.parse(readFileSync(join(ROOT, 'tests/e2e/fixtures/bvnk_payout_webhooks.json'), 'utf8'));
  const body = JSON.stringify({ ...example, data: { ...example.data, uuid: randomUUID(), reference: uid('nobody') } });
  for (let i = 0; i < 2; i++) {
    const r = await api('POST', `${PAY}/bvnk/webhook`, { raw: body, headers: { 'content-type': 'application/json', 'x-signature': '00'.repeat(32) } });
    assert.equal(r.status, 401, r.text);
  }
  const signed = await bvnk.deliver(body);
  assert.equal(signed.status, 200, JSON.stringify(signed));
  const r = await api('POST', `${PAY}/shkeeper/payout/webhook`, { body: { external_id: uid('x'), status: 'SUCCESS' } });
  assert.equal(r.status, 401, r.text);
  const after = await scrape();
  const delta = (labels) => value(after, 'payments_webhook_deliveries_total', labels) - value(before, 'payments_webhook_deliveries_total', labels);
  assert.equal(delta(refused), 2);
  assert.equal(delta(unknown), 1);
  assert.equal(delta(payoutRefused), 1);
});

test('the exposition has the upstreams, their breakers, the outbox and the database', async () => {
  const f = await scrape();
  for (const u of ['shkeeper', 'rpc_bsc']) {
    const states = f.find((x) => x.name === 'payments_upstream_breaker_state').metrics.filter((m) => m.labels.upstream === u);
    assert.equal(states.reduce((a, m) => a + Number(m.value), 0), 1, `${u}: one state`);
  }
  assert.equal(value(f, 'payments_scrape_database_up'), 1);
  assert.ok(f.find((x) => x.name === 'payments_outbox_unrelayed_events'));
  assert.ok(f.find((x) => x.name === 'payments_outbox_oldest_undelivered_age_seconds'));
  assert.ok(f.find((x) => x.name === 'payments_coordinator_results_total'));
  for (const fam of f) assert.match(fam.name, /^payments_[a-z_]+$/);
});

// One GET of the metrics from another loopback address than the trusted ones.
function fromUntrusted(headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: Number(env.HTTPS_PORT), path: `${PAY}/metrics`, servername: 'localhost',
      ca: readFileSync(env.CA_CERT), localAddress: '127.0.0.2', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        try { checkResponse('GET', `${PAY}/metrics`, res.statusCode, res.headers['content-type'], body); } catch (e) { reject(e); return; }
        resolve({ status: res.statusCode, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test('only trusted addresses, or the internal token, may read the metrics', async () => {
  const refused = await fromUntrusted();
  assert.equal(refused.status, 401, refused.body);
  assert.equal(JSON.parse(refused.body).error.code, 'unauthorized');
  const bad = await fromUntrusted({ authorization: 'Bearer not-the-token' });
  assert.equal(bad.status, 401);
  const internal = readFileSync(env.PAYMENTS_INTERNAL_TOKEN_FILE, 'utf8').trim();
  const ok = await fromUntrusted({ authorization: `Bearer ${internal}` });
  assert.equal(ok.status, 200);
  assert.match(ok.body, /^# HELP payments_http_requests_total /m);
});
