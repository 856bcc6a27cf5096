// nginx's rate limits on the webhook paths: a provider replaying its backlog
// from one address (every delivery signed) is never throttled, while a flood
// of deliveries without credentials from one address is (429, JSON).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, uid, now, sign, sleep, WEBHOOK } from './shkeeper_lib.mjs';
import { count } from './lib.mjs';

// Sends every request, `width` at a time; resolves with their statuses.
async function send(requests, width) {
  const statuses = [];
  for (let i = 0; i < requests.length; i += width) {
    const batch = await Promise.all(requests.slice(i, i + width).map((f) => f()));
    statuses.push(...batch.map((r) => r.status));
  }
  return statuses;
}

const tally = (statuses) => statuses.reduce((t, s) => ({ ...t, [s]: (t[s] ?? 0) + 1 }), {});

// A signed SHKeeper callback for an invoice nobody here knows (stored as unknown_payment).
function signed() {
  const body = JSON.stringify({ external_id: uid('backlog'), paid: true, status: 'PAID' });
  const ts = String(now());
  return () => api('POST', WEBHOOK, { raw: body, headers: { 'content-type': 'application/json',
    'x-shkeeper-api-key': 'k', 'x-shkeeper-timestamp': ts, 'x-shkeeper-signature': sign(ts, body) } });
}

// The anonymous zone drains at its rate; leave it empty for the files after this one.
after(() => sleep(6000));

// nginx picks the rate-limited locations by the decoded path: a '?' sent as
// %3F makes a path no such location matches, and it must be no route either.
test('a webhook path spelled with an encoded "?" is no route: 404, nothing stored', async () => {
  const before = count('webhook_inbox');
  for (const path of [`${WEBHOOK}%3F`, `${WEBHOOK}%3Fx=1`, '/api/payment/callback%3F', '/api/payment/bvnk/webhook%3f']) {
    const r = await api('POST', path, { raw: '{"external_id":"x","status":"PAID"}', headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 404, `${path}: ${r.text}`);
    assert.equal(r.json?.error?.code, 'not_found', r.text);
  }
  assert.equal(count('webhook_inbox'), before);
});

test('a provider replaying a backlog of 1000 signed deliveries from one address gets no 429', async () => {
  const statuses = await send(Array.from({ length: 1000 }, signed), 50);
  const t = tally(statuses);
  assert.equal(t[429] ?? 0, 0, JSON.stringify(t));
  assert.equal(t[202], 1000, JSON.stringify(t));
});

test('a flood of deliveries without credentials from one address is throttled with a JSON 429', async () => {
  const anonymous = () => api('POST', WEBHOOK, { raw: '{"external_id":"x","status":"PAID"}', headers: { 'content-type': 'application/json' } });
  const results = [];
  for (let i = 0; i < 200; i += 50) results.push(...await Promise.all(Array.from({ length: 50 }, anonymous)));
  const t = tally(results.map((r) => r.status));
  assert.ok((t[429] ?? 0) > 0, `some refused: ${JSON.stringify(t)}`);
  assert.ok((t[401] ?? 0) > 0, `some reached the service: ${JSON.stringify(t)}`);
  const limited = results.find((r) => r.status === 429);
  assert.match(limited.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(limited.json?.error?.code, 'rate_limited', limited.text);
  assert.equal(limited.headers.get('retry-after'), '1');
  assert.match(limited.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/);
});
