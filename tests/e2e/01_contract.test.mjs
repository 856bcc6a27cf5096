// The OpenAPI document is served as it is in the repository, and the check
// every answer of this suite goes through (openapi.mjs) does refuse what the
// document does not say: a wrong body, an undocumented status, path, method
// or content type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { api } from './lib.mjs';
import { checkResponse, DOC_PATH } from './openapi.mjs';

test('GET /openapi.json answers the repository\'s document byte for byte, to anyone', async () => {
  const r = await api('GET', '/api/payment/openapi.json');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.equal(r.text, readFileSync(DOC_PATH, 'utf8'));
  assert.equal(r.json.openapi, '3.1.0');
});

const health = { success: true, message: 'payment service is healthy',
  data: { status: 'ok', database: 'ok', dependencies: { upstreams: { shkeeper: 'closed' }, chains: { bsc: 'ok' } } } };
const J = 'application/json';

test('the check passes an answer the document describes', () => {
  checkResponse('GET', '/api/payment/health', 200, J, JSON.stringify(health));
  checkResponse('GET', '/api/payment/nonsense', 404, J, '{"success":false,"message":"no such endpoint","error":{"code":"not_found"}}');
});

test('the check refuses a body, a status, a path, a method or a content type the document does not have', () => {
  const refused = (args, re) => assert.throws(() => checkResponse(...args), re, JSON.stringify(args).slice(0, 120));
  // A member the schema does not have, one missing, one of the wrong type.
  refused(['GET', '/api/payment/health', 200, J, JSON.stringify({ ...health, extra: 1 })], /does not match/);
  refused(['GET', '/api/payment/health', 200, J, JSON.stringify({ success: true, data: { status: 'ok' } })], /does not match/);
  refused(['GET', '/api/payment/health', 200, J, JSON.stringify({ ...health, success: 'true' })], /does not match/);
  // An error whose envelope lacks its code.
  refused(['GET', '/api/payment/health', 503, J, '{"success":false,"message":"down","error":{}}'], /does not match/);
  // A status the operation does not list.
  refused(['GET', '/api/payment/health', 418, J, '{}'], /not documented/);
  // A path the document lacks, answered as if it existed.
  refused(['GET', '/api/payment/not-in-the-document', 200, J, '{"success":true,"data":{}}'], /no such path/);
  // A method the path does not take, answered other than 405.
  refused(['DELETE', '/api/payment/health', 200, J, '{"success":true,"data":{}}'], /no DELETE/);
  // A content type the answer is not documented with.
  refused(['GET', '/api/payment/health', 200, 'text/html', '<html></html>'], /content type/);
  // A payment id that is not a UUID names no payment: `/{id}` does not match it.
  refused(['GET', '/api/payment/123', 200, J, '{"success":true,"data":{}}'], /no such path/);
});
