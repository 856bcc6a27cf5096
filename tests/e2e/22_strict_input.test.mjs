// What a hostile client sends: escaped NULs in amounts and ids, numbers and
// strings no reader holds as sent, bodies of another media type, query
// numbers with signs and blanks, paths that name no payment. Every one is
// refused where all input passes (the strict JSON reader, the query and path
// readers), with the field named; nothing is stored, nothing answers 500.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, env, token, uid, sql, count, sale } from './lib.mjs';
import { marketplace, intentBody } from './shkeeper_lib.mjs';

const ADMIN = token(uid('admin'), 'admin');
const JSON_CT = { 'content-type': 'application/json' };

function assertBad(r, field, code = 'invalid_field') {
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json?.success, false, r.text);
  assert.equal(r.json.error.code, code, r.text);
  if (field !== undefined) assert.equal(r.json.error.field, field, r.text);
}

const createBody = (buyer, over = {}) => ({ ...sale(buyer), buyerId: buyer,
  amount: { amount: '3', currency: 'USDT' }, ...over });

// The body as raw text, so escapes reach the service exactly as written here.
const rawCreate = (buyer, raw, headers = JSON_CT) =>
  api('POST', '/api/payment', { token: token(buyer, 'buyer'), raw, headers });

async function create(buyer, over = {}) {
  const r = await api('POST', '/api/payment', { token: token(buyer, 'buyer'), body: createBody(buyer, over) });
  assert.equal(r.status, 201, r.text);
  return r.json.data;
}

// --- an escaped NUL in an amount or an id --------------------------------------------

test('an escaped NUL in an amount is refused naming the field, never read as the digits before it', async () => {
  const buyer = uid('b');
  const head = `{"purchaseRequestId":"${uid('pr')}","sellerOfferId":"o1","buyerId":"${buyer}","sellerId":"s1",`;
  assertBad(await rawCreate(buyer, `${head}"amount":{"amount":"1\\u00002","currency":"USDT"}}`), 'amount.amount');
  assertBad(await rawCreate(buyer, `${head}"amount":{"amount":"1","currency":"USDT\\u0000X"}}`), 'amount.currency');
  assertBad(await rawCreate(buyer, `${head}"amount":{"amount":"1","currency":"USDT"},"blockchain":{"network":"bsc\\u0000","token":"USDT"}}`),
    'blockchain.network');
  assertBad(await rawCreate(buyer, `{"purchaseRequestId":"pr\\u0000x","sellerOfferId":"o1","buyerId":"${buyer}","sellerId":"s1","amount":{"amount":"1","currency":"USDT"}}`),
    'purchaseRequestId');
  assert.equal(count('payments', `buyer_id = :'b'`, { b: buyer }), 0);
});

test('an intent priced "10\\u0000999" does not pass a 10 USD offer\'s price check', async () => {
  const m = marketplace(1);
  const raw = JSON.stringify(intentBody(m, { amount: 'AMOUNT' })).replace('"AMOUNT"', '"10\\u0000999"');
  const r = await api('POST', '/api/payment/shkeeper/intents', { token: m.token, raw, headers: JSON_CT });
  assertBad(r, 'amount');
  assert.equal(count('payments', `buyer_id = :'b'`, { b: m.buyer }), 0);
});

test('other bodies that take an amount refuse the escaped NUL too', async () => {
  const buyer = uid('b');
  assertBad(await api('POST', '/api/payment/configuration', { raw: '{"amount":"5\\u00001"}', headers: JSON_CT }), 'amount');
  const save = `{"purchaseRequestId":"${uid('pr')}","sellerOfferId":"o1","sellerId":"s1","amount":"2\\u00009",` +
    '"token":"USDT","network":"bsc"}';
  assertBad(await api('POST', '/api/payment/decentralized/save', { token: token(buyer, 'buyer'), raw: save, headers: JSON_CT }), 'amount');
  assert.equal(count('payments', `buyer_id = :'b'`, { b: buyer }), 0);
});

// --- metadata: stored as sent, or refused naming it ------------------------------------

test('metadata a database or json-c would change is refused with 400 naming it, never 500', async () => {
  const buyer = uid('b');
  const with_ = (meta) => `{"purchaseRequestId":"${uid('pr')}","sellerOfferId":"o1","buyerId":"${buyer}","sellerId":"s1",` +
    `"amount":{"amount":"1","currency":"USDT"},"metadata":${meta}}`;
  for (const [meta, field] of [
    ['{"x":"a\\u0000b"}', 'metadata.x'],                   // jsonb refuses NUL: was a 500
    ['{"x":99999999999999999999999}', 'metadata.x'],       // json-c clamped it to 2^64 - 1
    ['{"x":-99999999999999999999999}', 'metadata.x'],
    ['{"a\\u0000b":1}', 'metadata.a?b'],                     // the name was cut to "a"
    ['{"x":"\\ud800"}', 'metadata.x'],                      // became U+FFFD
    ['{"x":["ok","\\udc00"]}', 'metadata.x[1]'],
    ['{"x":1e999999}', 'metadata.x'],                       // numeric overflow in PostgreSQL: a 500
  ]) {
    const r = await rawCreate(buyer, with_(meta));
    assertBad(r, field);
    assert.ok(r.json.error.field.startsWith('metadata'), r.text);
  }
  // A member given twice would keep only the last.
  assertBad(await rawCreate(buyer, with_('{"x":1,"x":2}')), undefined, 'invalid_json');
  assert.equal(count('payments', `buyer_id = :'b'`, { b: buyer }), 0);
});

test('metadata is bounded in depth, members and size', async () => {
  const buyer = uid('b');
  let deep = 1;
  for (let i = 0; i < 9; i++) deep = { d: deep };
  assertBad(await api('POST', '/api/payment', { token: token(buyer, 'buyer'), body: createBody(buyer, { metadata: deep }) }), 'metadata');
  const wide = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k${i}`, i]));
  assertBad(await api('POST', '/api/payment', { token: token(buyer, 'buyer'), body: createBody(buyer, { metadata: wide }) }), 'metadata');
  const long = { a: Array.from({ length: 300 }, () => 1) };
  assertBad(await api('POST', '/api/payment', { token: token(buyer, 'buyer'), body: createBody(buyer, { metadata: long }) }), 'metadata');
  assertBad(await api('POST', '/api/payment', { token: token(buyer, 'buyer'), body: createBody(buyer, { metadata: { x: 'y'.repeat(8200) } }) }), 'metadata');
  assert.equal(count('payments', `buyer_id = :'b'`, { b: buyer }), 0);

  // Just inside every bound is taken.
  let seven = 1;
  for (let i = 0; i < 7; i++) seven = { d: seven };
  const p = await create(buyer, { metadata: { seven, n: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i])) } });
  // Updates merge, and what they merge into stays bounded.
  const t = token(buyer, 'buyer');
  for (let i = 0; i < 2; i++) {
    const r = await api('PUT', `/api/payment/${p.id}`, { token: t, body: { metadata: { [`blob${i}`]: 'z'.repeat(6000) } } });
    assert.equal(r.status, 200, r.text);
  }
  assertBad(await api('PUT', `/api/payment/${p.id}`, { token: t, body: { metadata: { blob2: 'z'.repeat(6000) } } }), 'metadata');
  assert.ok(Number(sql(`SELECT octet_length(metadata::text) FROM payments WHERE id = :'id'`, { id: p.id })[0][0]) < 20000);
});

test('metadata that can be held is stored and answered exactly as sent', async () => {
  const buyer = uid('b');
  const meta = '{"big":18446744073709551615,"neg":-9223372036854775808,"huge":1e300,"tiny":1.5e-7,' +
    '"text":"caf\\u00e9 \\ud83d\\ude00","esc":"tab\\there"}';
  const s = sale(buyer);
  const r = await rawCreate(buyer, `{"purchaseRequestId":"${s.purchaseRequestId}","sellerOfferId":"${s.sellerOfferId}","buyerId":"${buyer}",` +
    `"sellerId":"${s.sellerId}","amount":{"amount":"1","currency":"USDT"},"metadata":${meta}}`);
  assert.equal(r.status, 201, r.text);
  const g = await api('GET', `/api/payment/${r.json.data.id}`, { token: token(buyer, 'buyer') });
  assert.equal(g.status, 200, g.text);
  // Compared as text: a double would hide a clamped or rounded integer.
  const m = /"metadata":(\{.*?\}),"createdBy"/.exec(g.text)?.[1];
  assert.ok(m, g.text);
  assert.match(m, /"big": ?18446744073709551615\b/);
  assert.match(m, /"neg": ?-9223372036854775808\b/);
  assert.match(m, new RegExp(`"huge": ?1${'0'.repeat(300)}\\b`));
  assert.equal(g.json.data.metadata.tiny, 1.5e-7);
  assert.equal(g.json.data.metadata.text, 'café 😀');
  assert.equal(g.json.data.metadata.esc, 'tab\there');
});

// --- media type ------------------------------------------------------------------------

test('Content-Type must be application/json (parameters allowed, UTF-8 only): 415 otherwise', async () => {
  const buyer = uid('b');
  const body = JSON.stringify(createBody(buyer));
  for (const ct of ['application/jsonx', 'application/json-patch+json', 'application/jsonp; charset=utf-8',
    'application/json; charset=latin1', 'application/json; charset="iso-8859-1"', 'application/json;;x', 'text/json',
    'application/json x', 'application/json; x']) {
    const r = await rawCreate(buyer, body, { 'content-type': ct });
    assert.equal(r.status, 415, `${ct}: ${r.text}`);
    assert.equal(r.json.error.code, 'unsupported_media_type', ct);
  }
  // A body with no Content-Type at all is not taken for JSON either.
  const none = await api('POST', '/api/payment', { token: token(buyer, 'buyer'), raw: Buffer.from(body) });
  assert.equal(none.status, 415, none.text);
  assert.equal(count('payments', `buyer_id = :'b'`, { b: buyer }), 0);
  for (const ct of ['application/json', 'Application/JSON', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"',
    'application/json ; charset=utf8 ; v=1']) {
    const r = await rawCreate(buyer, JSON.stringify(createBody(buyer)), { 'content-type': ct });
    assert.equal(r.status, 201, `${ct}: ${r.text}`);
  }
});

// --- query numbers and lists -----------------------------------------------------------

test('query numbers are plain digits and lists have no empty members: 400 otherwise', async () => {
  const t = token(uid('b'), 'buyer');
  for (const q of ['limit=+5', 'limit=%205', 'limit=5%20', 'limit=%2B5', 'limit=-0', 'limit=0x10', 'limit=5&limit=6',
    'offset=+1', 'offset=1e2', 'status=,,,', 'status=', 'status=pending,', 'status=,completed', 'status=pending&status=completed']) {
    const r = await api('GET', `/api/payment?${q}`, { token: t });
    assert.equal(r.status, 400, `${q}: ${r.text}`);
    assert.equal(r.json.error.code, 'invalid_field', q);
    assert.ok(['limit', 'offset', 'status'].includes(r.json.error.field), `${q}: ${r.text}`);
  }
  const a = await api('GET', '/api/payment/admin/events?after=+1', { token: ADMIN });
  assertBad(a, 'after');
  for (const q of ['limit=5', 'limit=005', 'offset=0', 'status=pending,completed', 'status=all']) {
    const r = await api('GET', `/api/payment?${q}`, { token: t });
    assert.equal(r.status, 200, `${q}: ${r.text}`);
  }
});

// --- paths -----------------------------------------------------------------------------

test('an unknown path under /api/payment/ is 404 with or without a token', async () => {
  const buyer = token(uid('b'), 'buyer');
  for (const path of ['/api/payment/nonsense', '/api/payment/not-a-uuid/debug', '/api/payment/paymentz',
    '/api/payment/123', '/api/payment/decentralized/status/abc', '/api/payment/payments/xyz/fetch-tx']) {
    for (const t of [undefined, buyer]) {
      const method = path.endsWith('fetch-tx') ? 'POST' : 'GET';
      const r = await api(method, path, { token: t });
      assert.equal(r.status, 404, `${path} ${t ? 'with' : 'without'} a token: ${r.text}`);
      assert.equal(r.json.error.code, 'not_found');
    }
  }
  // A path that does name a payment still asks for a token first.
  const r = await api('GET', '/api/payment/6f1c2a4e-0000-4000-8000-000000000001');
  assert.equal(r.status, 401, r.text);
});

// --- the seller's view and the older spellings -----------------------------------------

test('the seller of a payment reads its /decentralized/status; a stranger does not', async () => {
  const p = await create(uid('b'));
  const seller = await api('GET', `/api/payment/decentralized/status/${p.id}`, { token: token(p.sellerId, 'seller') });
  assert.equal(seller.status, 200, seller.text);
  assert.equal(seller.json.data.paymentId, p.id);
  const stranger = await api('GET', `/api/payment/decentralized/status/${p.id}`, { token: token(uid('s'), 'seller') });
  assert.equal(stranger.status, 404, stranger.text);
});

test('GET /payments/stats is the admin\'s /stats; buyers are refused', async () => {
  await create(uid('b'));
  const a = await api('GET', '/api/payment/payments/stats', { token: ADMIN });
  const b = await api('GET', '/api/payment/stats', { token: ADMIN });
  assert.equal(a.status, 200, a.text);
  assert.deepEqual(a.json, b.json);
  assert.equal((await api('GET', '/api/payment/payments/stats', { token: token(uid('b'), 'buyer') })).status, 403);
  assert.equal((await api('GET', '/api/payment/payments/stats')).status, 401);
});

test('GET /fetch-tx/:paymentId answers as POST /payments/:id/fetch-tx', async () => {
  const buyer = uid('b');
  const p = await create(buyer);
  const t = token(buyer, 'buyer');
  const viaPost = await api('POST', `/api/payment/payments/${p.id}/fetch-tx`, { token: t });
  const viaGet = await api('GET', `/api/payment/fetch-tx/${p.id}`, { token: t });
  assert.notEqual(viaGet.status, 404, viaGet.text);
  assert.equal(viaGet.status, viaPost.status, `${viaGet.text} / ${viaPost.text}`);
  assert.equal(viaGet.json.error?.code, viaPost.json.error?.code);
  // Someone else's payment is missing, as on the POST.
  const other = await api('GET', `/api/payment/fetch-tx/${p.id}`, { token: token(uid('x'), 'buyer') });
  assert.equal(other.status, 404, other.text);
  assert.equal((await api('GET', `/api/payment/fetch-tx/${p.id}`)).status, 401);
});

// nginx decodes %FF into the path it hands on: the answer that names the path must stay UTF-8.
test('a path of bytes that are no UTF-8 is answered 404 in JSON that is valid UTF-8', async () => {
  const res = await fetch(`${env.BASE_URL}/api/payment/%FF%C3/x%E2%82`);
  assert.equal(res.status, 404);
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  const j = JSON.parse(text);
  assert.equal(j.error.code, 'not_found');
  assert.match(j.message, /\/api\/payment\/\uFFFD\uFFFD\/x\uFFFD\uFFFD/);
});
