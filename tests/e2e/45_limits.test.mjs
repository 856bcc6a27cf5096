// Bounds on what comes in, checked where they are enforced: the workers'
// own body limit (straight to the FastCGI socket, without nginx in front)
// and the size of what provider webhooks may store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { api, env, token, uid, count, setting } from './lib.mjs';
import { fcgiRequest } from './fcgi.mjs';

const SOCKET = join(env.STACK_DIR, 'fcgi.sock');
const LIMIT = Number(setting('max_body_bytes') ?? 1048576);

const request = (path, body, extra = {}) => fcgiRequest(SOCKET, {
  REQUEST_METHOD: 'POST', DOCUMENT_URI: path, REQUEST_URI: path, QUERY_STRING: '',
  CONTENT_TYPE: 'application/json', CONTENT_LENGTH: body.length, REQUEST_ID: 'f'.repeat(32),
  HTTP_AUTHORIZATION: `Bearer ${token(uid('b'), 'buyer')}`, ...extra,
}, body);

test('a worker refuses a body over max_body_bytes itself, with 413 and nothing written', async () => {
  const before = count('payments');
  const r = await request('/api/payment', Buffer.alloc(LIMIT + 1, 0x20));
  assert.equal(r.status, 413, r.body);
  assert.equal(JSON.parse(r.body).error.code, 'body_too_large');
  assert.equal(r.headers['x-request-id'], 'f'.repeat(32));
  assert.equal(count('payments'), before);
  // The same worker serves the next request normally.
  const ok = await fcgiRequest(SOCKET, { REQUEST_METHOD: 'GET', DOCUMENT_URI: '/api/payment/health', QUERY_STRING: '' });
  assert.equal(ok.status, 200, ok.body);
});

test('a body shorter than its Content-Length is 400, not read as a shorter document', async () => {
  const body = Buffer.from('{"purchaseRequestId":"x"}');
  const r = await request('/api/payment', body, { CONTENT_LENGTH: body.length + 10 });
  assert.equal(r.status, 400, r.body);
});

test('a webhook or callback body far beyond any provider\'s is 413 and not stored', async () => {
  const big = JSON.stringify({ paymentId: '00000000-0000-0000-0000-000000000000', data: 'x'.repeat(300 * 1024) });
  const before = count('webhook_inbox');
  for (const path of ['/api/payment/shkeeper/webhook', '/api/payment/callback']) {
    const r = await api('POST', path, { raw: big, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 413, `${path}: ${r.text}`);
  }
  assert.equal(count('webhook_inbox'), before);
});
