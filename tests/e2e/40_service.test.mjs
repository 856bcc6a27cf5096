// Service endpoints and the HTTP edge: health, widget configuration, the
// admin's stale-payment cleanup, the older SDK's callback, and what nginx and
// the router answer for wrong paths, wrong methods, plain HTTP and big bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, token, uid, sql, count, env, eventually, configuredTokens, sale } from './lib.mjs';

const ADMIN_SUB = uid('admin');
const ADMIN = token(ADMIN_SUB, 'admin');
const JSON_CT = { 'content-type': 'application/json' };

// What the stack's configuration file says the widget must be told.
const conf = readFileSync(env.CONFIG, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  .map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]);
const ESCROW = conf.find(([k]) => k === 'escrow_address')[1];
const TOKENS = configuredTokens();

function assertError(r, status, code, field) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/, r.text);
  assert.equal(r.json?.success, false, r.text);
  assert.equal(typeof r.json.message, 'string');
  assert.equal(r.json.error.code, code, r.text);
  if (field !== undefined) assert.equal(r.json.error.field, field, r.text);
}

async function create(buyer, over = {}) {
  const body = { purchaseRequestId: uid('pr'), sellerOfferId: uid('o'), buyerId: buyer, sellerId: uid('s'),
    amount: { amount: '3', currency: 'USDT' }, ...over };
  sale(buyer, { request: body.purchaseRequestId, offer: body.sellerOfferId, seller: body.sellerId });
  const r = await api('POST', '/api/payment', { token: token(buyer, 'buyer'), body });
  assert.equal(r.status, 201, r.text);
  return r.json.data;
}

const statusOf = (id) => sql(`SELECT status FROM payments WHERE id = :'id'`, { id })[0][0];
const age = (id, interval) => sql(`UPDATE payments SET updated_at = now() - interval '${interval}' WHERE id = :'id'`, { id });

// --- health and configuration -----------------------------------------------

test('health: 200 without a token, with the state of the database and each dependency only', async () => {
  const r = await api('GET', '/api/payment/health');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.success, true);
  assert.deepEqual(Object.keys(r.json.data).sort(), ['database', 'dependencies', 'status']);
  assert.equal(r.json.data.status, 'ok');
  assert.equal(r.json.data.database, 'ok');
  // Each dependency by name, its state a word: no counters, no RPC details.
  const { upstreams, chains } = r.json.data.dependencies;
  assert.equal(upstreams.shkeeper, 'closed', r.text);
  assert.equal(typeof chains.bsc, 'string', r.text);
  for (const v of [...Object.values(upstreams), ...Object.values(chains)]) assert.equal(typeof v, 'string', r.text);
  // A buyer, or a token that is no good, sees the same; the public answer never fails for a token.
  for (const t of [token(uid('b'), 'buyer'), 'not.a.token']) {
    const b = await api('GET', '/api/payment/health', { token: t });
    assert.equal(b.status, 200, b.text);
    assert.deepEqual(Object.keys(b.json.data).sort(), ['database', 'dependencies', 'status']);
  }
  // The trailing-slash spelling is the same resource.
  assert.equal((await api('GET', '/api/payment/health/')).status, 200);
});

test('health: an admin also sees version, uptime, mode, breaker counters and each network\'s check', async () => {
  const r = await api('GET', '/api/payment/health', { token: ADMIN });
  assert.equal(r.status, 200, r.text);
  const d = r.json.data;
  assert.equal(d.status, 'ok');
  assert.equal(typeof d.version, 'string');
  assert.ok(d.version.length > 0);
  assert.ok(Number.isInteger(d.uptimeSeconds) && d.uptimeSeconds >= 0, r.text);
  assert.equal(d.mode, 'dev');
  assert.equal(d.endpoints.health, '/api/payment/health');
  assert.ok(Number.isInteger(d.breakers.shkeeper.totalFailures), r.text);
  assert.equal(typeof d.chains.bsc.status, 'string', r.text);
  assert.equal(d.dependencies.upstreams.shkeeper, d.breakers.shkeeper.state);
});

test('configuration: every configured token with the escrow receiver, and the webhook URL', async () => {
  const r = await api('POST', '/api/payment/configuration');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.success, true);
  const d = r.json.data;
  assert.ok(TOKENS.length > 0);
  assert.equal(d.accept.length, TOKENS.length);
  for (const t of TOKENS) {
    const a = d.accept.find((x) => x.blockchain === t.network && x.symbol === t.symbol);
    assert.ok(a, `${t.network}/${t.symbol} in ${r.text}`);
    assert.equal(a.token.toLowerCase(), t.contract.toLowerCase());
    assert.equal(a.receiver.toLowerCase(), ESCROW.toLowerCase());
  }
  assert.equal(d.webhook, `${env.BASE_URL}/api/payment/shkeeper/webhook`);
  assert.match(d.webhook, /^https:\/\/.*\/api\/payment\/shkeeper\/webhook$/);
  assert.equal(typeof d.redirect, 'object');
});

test('configuration: a scoping body is accepted; an empty object too', async () => {
  const plain = await api('POST', '/api/payment/configuration');
  for (const b of [{}, { amount: 10, currency: 'USDT', purchaseRequestId: uid('pr') }, { amount: '0.5' }, { currency: 'USD' }]) {
    const r = await api('POST', '/api/payment/configuration', { body: b });
    assert.equal(r.status, 200, `${JSON.stringify(b)}: ${r.text}`);
    assert.deepEqual(r.json.data, plain.json.data);
  }
});

test('configuration: a bad body is 400 with the field named', async () => {
  for (const [b, code, field] of [
    [{ currency: 'XYZ' }, 'invalid_field', 'currency'], [{ currency: 'usdt' }, 'invalid_field', 'currency'],
    [{ amount: -1 }, 'invalid_field', 'amount'], [{ amount: 'abc' }, 'invalid_field', 'amount'], [{ amount: 0 }, 'invalid_field', 'amount'],
    [{ purchaseRequestId: 'a b' }, 'invalid_field', 'purchaseRequestId'], [{ purchaseRequestId: 5 }, 'invalid_field', 'purchaseRequestId'],
    [{ foo: 1 }, 'unknown_field', 'foo'],
  ]) {
    assertError(await api('POST', '/api/payment/configuration', { body: b }), 400, code, field);
  }
  for (const raw of ['{', '[]', '"x"', '{"amount":1}}']) {
    assertError(await api('POST', '/api/payment/configuration', { raw, headers: JSON_CT }), 400, 'invalid_json');
  }
  const t = await api('POST', '/api/payment/configuration', { raw: 'amount=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assertError(t, 415, 'unsupported_media_type');
});

test('shkeeper/config: the same configuration, readable from any origin', async () => {
  const r = await api('GET', '/api/payment/shkeeper/config', { headers: { origin: 'https://pay.example.org' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  const c = await api('POST', '/api/payment/configuration');
  assert.deepEqual(r.json.data, c.json.data);
});

// --- cleanup of stale pending payments ----------------------------------------

test('cleanup-pending: an old pending payment is cancelled (not deleted) with an audit row; fresh and settled ones are untouched', async () => {
  const old = await create(uid('b'));
  const fresh = await create(uid('b'));
  const oldDone = await create(uid('b'));
  assert.equal((await api('PUT', `/api/payment/${oldDone.id}`, { token: ADMIN, body: { status: 'completed', override: true, reason: 'test fixture' } })).status, 200);
  age(old.id, '2 hours');
  age(oldDone.id, '2 hours');
  age(fresh.id, '30 minutes');

  const r = await api('POST', '/api/payment/payments/cleanup-pending', { token: ADMIN, body: { olderThanMinutes: 60 } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.success, true);
  assert.ok(Number.isInteger(r.json.deletedCount) && r.json.deletedCount >= 1, r.text);
  assert.equal(r.json.data.cancelledCount, r.json.deletedCount);
  assert.equal(r.json.data.olderThanMinutes, 60);
  assert.equal(typeof r.json.message, 'string');

  assert.equal(statusOf(old.id), 'cancelled');
  assert.equal(statusOf(fresh.id), 'pending');
  assert.equal(statusOf(oldDone.id), 'completed');
  assert.deepEqual(
    sql(`SELECT from_status, to_status, source, actor FROM payment_transitions WHERE payment_id = :'id' ORDER BY id DESC LIMIT 1`, { id: old.id }),
    [['pending', 'cancelled', 'admin', ADMIN_SUB]]);
  assert.equal(count('events', `payment_id = :'id' AND event = 'payment-update' AND payload->>'status' = 'cancelled'`, { id: old.id }), 1);
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: fresh.id }), 1);

  // A second run does not count the same payment again.
  const again = await api('POST', '/api/payment/payments/cleanup-pending', { token: ADMIN, body: { olderThanMinutes: 60 } });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.deletedCount, 0);
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: old.id }), 2);
});

test('cleanup-pending: without a body the configured age (60 min) applies', async () => {
  const old = await create(uid('b'));
  const recent = await create(uid('b'));
  age(old.id, '61 minutes');
  age(recent.id, '50 minutes');
  const r = await api('POST', '/api/payment/payments/cleanup-pending', { token: ADMIN });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.deletedCount >= 1);
  assert.equal(r.json.data.olderThanMinutes, 60);
  assert.equal(statusOf(old.id), 'cancelled');
  assert.equal(statusOf(recent.id), 'pending');
});

test('cleanup-pending: a bad body is 400 and cancels nothing', async () => {
  const old = await create(uid('b'));
  age(old.id, '3 days');
  for (const [b, code, field] of [[{ olderThanMinutes: 0 }, 'invalid_field', 'olderThanMinutes'],
    [{ olderThanMinutes: -5 }, 'invalid_field', 'olderThanMinutes'], [{ olderThanMinutes: '60' }, 'invalid_field', 'olderThanMinutes'],
    [{ olderThanMinutes: 1.5 }, 'invalid_field', 'olderThanMinutes'], [{ olderThanMinutes: 525601 }, 'invalid_field', 'olderThanMinutes'],
    [{ olderThanMinutes: 60, all: true }, 'unknown_field', 'all']]) {
    assertError(await api('POST', '/api/payment/payments/cleanup-pending', { token: ADMIN, body: b }), 400, code, field);
  }
  assertError(await api('POST', '/api/payment/payments/cleanup-pending', { token: ADMIN, raw: '{"olderThanMinutes":', headers: JSON_CT }),
    400, 'invalid_json');
  assert.equal(statusOf(old.id), 'pending');
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: old.id }), 1);
  // Tidy up so no later run finds it.
  assert.equal((await api('PUT', `/api/payment/${old.id}`, { token: ADMIN, body: { status: 'cancelled' } })).status, 200);
});

// --- the older SDK's callback -----------------------------------------------------

test('callback: a known payment is recorded raw (202) and its status does not change', async () => {
  const p = await create(uid('b'));
  const raw = JSON.stringify({ paymentId: p.id, transactionHash: '0x' + 'cd'.repeat(32), status: 'completed', data: { any: ['thing', 1] } });
  const r = await api('POST', '/api/payment/callback', { raw, headers: { ...JSON_CT, 'user-agent': 'old-sdk/1.0' } });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.success, true);
  assert.equal(r.json.data.paymentId, p.id);
  const digest = createHash('sha256').update(raw).digest('hex');
  const rows = sql(`SELECT provider, verdict, outcome, convert_from(body, 'UTF8'), headers->>'user-agent' FROM webhook_inbox WHERE payment_id = :'id'`, { id: p.id });
  assert.deepEqual(rows, [['callback', 'unsigned', 'recorded', raw, 'old-sdk/1.0']]);
  assert.equal(count('webhook_inbox', `payment_id = :'id' AND body_digest = :'d'`, { id: p.id, d: digest }), 1);
  // The unsigned word of a client completes nothing.
  const g = await api('GET', `/api/payment/${p.id}`, { token: ADMIN });
  assert.equal(g.json.data.status, 'pending');
  assert.equal(g.json.data.transactionHash, null);
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: p.id }), 1);
});

test('callback: an unknown paymentId is answered exactly like a known one, and nothing of it is stored', async () => {
  const id = '0badc0de-0000-4000-8000-' + Date.now().toString(16).padStart(12, '0').slice(-12);
  const known = await create(uid('b'));
  const a = await api('POST', '/api/payment/callback', { body: { paymentId: id, status: 'completed' } });
  const b = await api('POST', '/api/payment/callback', { body: { paymentId: known.id, status: 'completed' } });
  assert.equal(a.status, 202, a.text);
  assert.equal(b.status, 202, b.text);
  const shape = (r, pid) => JSON.parse(r.text.replace(pid, 'ID'));
  assert.deepEqual(shape(a, id), shape(b, known.id));
  assert.equal(count('payments', `id = :'id'`, { id }), 0);
  assert.equal(count('webhook_inbox', `external_id = :'id'`, { id }), 0);
});

test('callback: a bad body is 400 with the field named, and no payment changes', async () => {
  const p = await create(uid('b'));
  for (const [b, code, field] of [
    [{}, 'invalid_field', 'paymentId'], [{ paymentId: 'abc' }, 'invalid_field', 'paymentId'], [{ paymentId: 5 }, 'invalid_field', 'paymentId'],
    [{ paymentId: p.id, transactionHash: '0x12' }, 'invalid_field', 'transactionHash'],
    [{ paymentId: p.id, status: 'x'.repeat(33) }, 'invalid_field', 'status'], [{ paymentId: p.id, status: 1 }, 'invalid_field', 'status'],
    [{ paymentId: p.id, extra: 1 }, 'unknown_field', 'extra'],
  ]) {
    assertError(await api('POST', '/api/payment/callback', { body: b }), 400, code, field);
  }
  for (const raw of ['{', `{"paymentId":"${p.id}"`, '[]']) {
    assertError(await api('POST', '/api/payment/callback', { raw, headers: JSON_CT }), 400, 'invalid_json');
  }
  assertError(await api('POST', '/api/payment/callback'), 400, 'invalid_json');
  assert.equal(count('webhook_inbox', `payment_id = :'id'`, { id: p.id }), 0);
  assert.equal(statusOf(p.id), 'pending');
});

// --- the HTTP edge ------------------------------------------------------------------

test('an unknown endpoint is a JSON 404, from the service and from nginx alike', async () => {
  for (const path of ['/api/payment/foo/bar/baz', '/api/payment/shkeeper/nope', `/api/payment/${'x'.repeat(65)}`, '/', '/nope',
    '/api/paymentx', '/api/other']) {
    const r = await api('GET', path, { token: ADMIN });
    assertError(r, 404, 'not_found');
    assert.match(r.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/, path);
  }
});

test('a known path with the wrong method is a JSON 405', async () => {
  for (const [method, path] of [['DELETE', '/api/payment/health'], ['POST', '/api/payment/health'], ['PATCH', '/api/payment'],
    ['DELETE', '/api/payment'], ['POST', '/api/payment/stats'], ['POST', '/api/payment/export'],
    ['DELETE', '/api/payment/6f1c2a4e-0000-4000-8000-000000000001'], ['GET', '/api/payment/payments/cleanup-pending']]) {
    const r = await api(method, path, { token: ADMIN });
    assertError(r, 405, 'method_not_allowed');
  }
});

test('the wrong method on a named endpoint is 405, not read as a payment id', async () => {
  // GET/PUT /api/payment/:id would match these paths too, but no payment id can be
  // "callback" or "stats": the client used the wrong method on a known endpoint.
  for (const [method, path] of [['GET', '/api/payment/callback'], ['GET', '/api/payment/configuration'],
    ['PUT', '/api/payment/stats'], ['PUT', '/api/payment/health']]) {
    const r = await api(method, path, { token: ADMIN, body: method === 'PUT' ? { metadata: {} } : undefined });
    assert.equal(r.status, 405, `${method} ${path}: ${r.text}`);
    assert.equal(r.json?.error?.code, 'method_not_allowed', `${method} ${path}: ${r.text}`);
  }
});

test('a 405 answer names the allowed methods in Allow (RFC 9110 §15.5.6)', async () => {
  for (const [method, path, allowed] of [['DELETE', '/api/payment/health', ['GET']], ['PATCH', '/api/payment', ['GET', 'POST']],
    ['GET', '/api/payment/callback', ['POST']]]) {
    const r = await api(method, path, { token: ADMIN });
    assert.equal(r.status, 405, r.text);
    const allow = (r.headers.get('allow') ?? '').split(',').map((m) => m.trim()).filter(Boolean).sort();
    assert.deepEqual(allow, allowed, `${method} ${path}: Allow: ${r.headers.get('allow')}`);
  }
});

test('plain HTTP only redirects to HTTPS, and serves nothing', async () => {
  for (const [method, path] of [['GET', '/api/payment/health?x=1'], ['GET', '/api/payment'], ['POST', '/api/payment/callback']]) {
    const r = await api(method, path, { base: env.HTTP_URL, token: ADMIN, body: method === 'POST' ? {} : undefined });
    assert.ok([301, 308].includes(r.status), `${method} ${path}: ${r.status}`);
    assert.equal(r.headers.get('location'), `https://localhost:${env.HTTPS_PORT}${path}`);
    assert.ok(!r.text.includes('"success"'), r.text);
  }
});

test('every answer carries an X-Request-Id, fresh each time, that the service logs', async () => {
  const t = token(uid('b'), 'buyer');
  const seen = new Set();
  for (const [method, path, opts] of [['GET', '/api/payment/health', {}], ['GET', '/api/payment', { token: t }],
    ['GET', '/api/payment', {}], ['GET', '/api/payment/not-a-uuid', { token: t }], ['GET', '/api/payment/export?format=csv', { token: t }],
    ['POST', '/api/payment/configuration', {}]]) {
    const r = await api(method, path, opts);
    const id = r.headers.get('x-request-id');
    assert.match(id ?? '', /^[0-9a-f]{32}$/, `${method} ${path}`);
    assert.ok(!seen.has(id), 'fresh per request');
    seen.add(id);
  }
  // The worker logs a request's line just after answering it: allow it a moment.
  const logged = await eventually(() => {
    const log = readFileSync(join(env.STACK_DIR, 'pool.log'), 'utf8');
    return [...seen].every((id) => log.includes(id));
  }, 5000);
  assert.ok(logged, `request ids ${[...seen].join(' ')} in pool.log`);
});

test('service answers carry the security headers and are not cached', async () => {
  const r = await api('GET', '/api/payment', { token: token(uid('b'), 'buyer') });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.match(r.headers.get('strict-transport-security') ?? '', /max-age=\d+/);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.match(r.headers.get('cache-control') ?? '', /no-store/);
});

test('a 2 MiB body is refused by nginx with a JSON 413, and nothing is written', async () => {
  const buyer = uid('b');
  const big = JSON.stringify({ purchaseRequestId: uid('pr'), sellerOfferId: 'o1', buyerId: buyer, sellerId: 's1',
    amount: { amount: '1', currency: 'USDT' }, metadata: { blob: 'x'.repeat(2 * 1024 * 1024) } });
  const r = await api('POST', '/api/payment', { token: token(buyer, 'buyer'), raw: big, headers: JSON_CT });
  assertError(r, 413, 'body_too_large');
  assert.match(r.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/);
  assert.equal(count('payments', `buyer_id = :'b'`, { b: buyer }), 0);
  const c = await api('POST', '/api/payment/callback', { raw: 'x'.repeat(2 * 1024 * 1024 + 1), headers: JSON_CT });
  assertError(c, 413, 'body_too_large');
});

// The worker's own limit (max_body_bytes) equals nginx's 1 MiB in this stack, so
// nginx answers first: a body over the worker's limit but under nginx's cannot be sent.
