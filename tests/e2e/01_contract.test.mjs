// The OpenAPI document is served as it is in the repository, and the check
// every answer of this suite goes through (openapi.mjs) does refuse what the
// document does not say: a wrong body, an undocumented status, path, method
// or content type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { api } from './lib.mjs';
import { checkResponse, DOC_PATH, doc } from './openapi.mjs';

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

// Amounts: the document's one rule, and the check that holds every answer to it.
const DECIMAL = '#/components/schemas/Decimal';
const DECIMAL_STRING = '#/components/schemas/DecimalString';
const refsTo = (s, ref) => !!s && typeof s === 'object' &&
  (s.$ref === ref || ['allOf', 'oneOf', 'anyOf'].some((k) => (s[k] ?? []).some((b) => refsTo(b, ref))));

test('the document gives every amount (a Decimal) its sibling <name>Decimal (a DecimalString), required alike', () => {
  const amounts = [];
  const visit = (o, at) => {
    if (!o || typeof o !== 'object') return;
    if (o.properties && typeof o.properties === 'object') {
      for (const [name, s] of Object.entries(o.properties)) {
        if (!refsTo(s, DECIMAL)) continue;
        amounts.push(`${at}.${name}`);
        const sibling = o.properties[`${name}Decimal`];
        assert.ok(refsTo(sibling, DECIMAL_STRING), `${at}.${name} has no ${name}Decimal DecimalString`);
        assert.equal((o.required ?? []).includes(`${name}Decimal`), (o.required ?? []).includes(name), `${at}.${name}Decimal required as ${name} is`);
        const nullable = (x) => (x.oneOf ?? []).some((b) => b.type === 'null');
        assert.equal(nullable(sibling), nullable(s), `${at}.${name}Decimal is null when ${name} is`);
      }
    }
    for (const [k, v] of Object.entries(o)) if (k !== 'example' && k !== 'examples') visit(v, `${at}/${k}`);
  };
  visit(doc, '#');
  // The amounts clients read: payments and payouts (amount, crypto amount, rate), templates, stats, intents, wallet-direct.
  for (const a of ['Payment/properties/amount.amount', 'Payment.cryptoAmount', 'Payout.exchangeRate', 'Template.price',
    'Stats/properties/byStatus/items.totalAmount', 'Intent.fiatAmount', 'ChainPayment.amount']) {
    assert.ok(amounts.some((x) => x.endsWith(a)), `${a} is an amount of the document: ${amounts.join(' ')}`);
  }
});

test('the check refuses an amount without its exact string, comparing the digits as sent', () => {
  const template = (price, sibling) => `{"success":true,"data":{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","sellerId":"s",` +
    `"title":"t","price":${price}${sibling === undefined ? '' : `,"priceDecimal":${JSON.stringify(sibling)}`},"currency":"USD",` +
    `"active":true,"purchaseRequestId":"template-checkout-7c9e6679-7425-40de-944b-e07fc1f90ae7","createdBy":"s",` +
    `"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:00Z"}}`;
  const at = ['GET', '/api/payment/templates/7c9e6679-7425-40de-944b-e07fc1f90ae7', 200, J];
  const big = '123456789012345678.123456789012345678';
  checkResponse(...at, template('10.50', '10.50'));
  checkResponse(...at, template(big, big));
  // No sibling at all (the schema requires it too).
  assert.throws(() => checkResponse(...at, template('10.50')), /does not match|without its exact string/);
  // Digits that differ from the number's text, though a float reads them alike.
  assert.throws(() => checkResponse(...at, template('10.50', '10.5')), /priceDecimal is "10\.5", the number is 10\.50/);
  assert.throws(() => checkResponse(...at, template(big, '123456789012345678.123456789012345679')), /the number is 123456789012345678\.123456789012345678/);
  assert.throws(() => checkResponse(...at, template(big, String(Number(big)))), /without its exact string/);
  // Inside an array: a stats group whose string lost the 18th decimal.
  const stats = (sibling) => `{"success":true,"data":{"userId":null,"totalCount":1,"byStatus":[{"status":"pending",` +
    `"currency":"ETH","count":1,"totalAmount":1.000000000000000001,"totalAmountDecimal":"${sibling}"}]}}`;
  checkResponse('GET', '/api/payment/stats', 200, J, stats('1.000000000000000001'));
  assert.throws(() => checkResponse('GET', '/api/payment/stats', 200, J, stats('1')), /byStatus\[0\]\.totalAmountDecimal is "1"/);
});
