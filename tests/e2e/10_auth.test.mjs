// Authentication and authorisation: who may call what, and what a refused
// caller gets to see (nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, token, forgeToken, env, uid, sql, count, sale } from './lib.mjs';

// The service drops the secret file's trailing newline (config.c); lib.mjs's
// forgeToken() signs with the raw file, so hand it the secret as the service
// reads it. The first test below proves that a forged token signed this way
// is accepted, so every refusal after it is for the reason the test names.
const SECRET = readFileSync(join(env.STACK_DIR, 'jwt_secret'), 'utf8').replace(/[\r\n]+$/, '');
const HS256 = { alg: 'HS256', typ: 'JWT' };
const now = () => Math.floor(Date.now() / 1000);

function assertRefused(r, code = 'invalid_token', message) {
  assert.equal(r.status, 401, r.text);
  assert.equal(r.json?.success, false, r.text);
  assert.equal(r.json.error.code, code, r.text);
  assert.equal(typeof r.json.message, 'string');
  assert.ok(r.headers.get('www-authenticate')?.startsWith('Bearer'), 'WWW-Authenticate: Bearer');
  if (message) assert.match(r.json.message, message);
}

async function createPayment(buyer, extra = {}) {
  const r = await api('POST', '/api/payment', {
    token: token(buyer, 'buyer'),
    body: { ...sale(buyer, { seller: extra.sellerId }), buyerId: buyer,
      amount: { amount: '25.5', currency: 'USDT' }, metadata: { note: 'secret-note' }, ...extra },
  });
  assert.equal(r.status, 201, r.text);
  return r.json.data;
}

test('a forged token signed with the real secret and valid claims is accepted (control)', async () => {
  const sub = uid('fb');
  const r = await api('GET', '/api/payment', { token: forgeToken(HS256, { sub, role: 'buyer', exp: now() + 600 }, SECRET) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.success, true);
});

test('no Authorization header: 401 with the error envelope', async () => {
  for (const [method, path] of [['GET', '/api/payment'], ['POST', '/api/payment'], ['GET', '/api/payment/stats'],
    ['GET', '/api/payment/export'], ['POST', '/api/payment/payments/cleanup-pending']]) {
    const r = await api(method, path);
    assertRefused(r, 'unauthorized');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer', `${method} ${path}`);
  }
});

test('a request refused for lack of a token writes nothing', async () => {
  const buyer = uid('b');
  const r = await api('POST', '/api/payment', {
    body: { purchaseRequestId: uid('pr'), sellerOfferId: 'o1', buyerId: buyer, sellerId: 's1', amount: { amount: 1, currency: 'USDT' } },
  });
  assertRefused(r, 'unauthorized');
  assert.equal(count('payments', `buyer_id = :'b'`, { b: buyer }), 0);
});

test('a non-Bearer scheme or an empty bearer token: 401', async () => {
  const good = token(uid('b'), 'buyer');
  for (const value of [`Basic ${Buffer.from('a:b').toString('base64')}`, 'Bearer ', 'Bearer', good, `Token ${good}`]) {
    const r = await api('GET', '/api/payment', { headers: { authorization: value } });
    assertRefused(r, 'unauthorized');
  }
});

test('malformed tokens: 401 invalid_token', async () => {
  const good = token(uid('b'), 'buyer');
  const [h, p, s] = good.split('.');
  for (const bad of ['not-a-jwt', 'a.b', 'a.b.c', `${h}.${p}`, `${h}.${p}.${s}.extra`, `${h}..${s}`,
    `!!!.${p}.${s}`, `${b64('{"alg":"HS256"')}.${p}.${s}`, `${b64('[1,2]')}.${p}.${s}`, 'x'.repeat(4000)]) {
    const r = await api('GET', '/api/payment', { token: bad });
    assertRefused(r, 'invalid_token');
  }
});

function b64(s) { return Buffer.from(s).toString('base64url'); }

test('an expired token (beyond the 30 s leeway) is refused; one inside the leeway is not', async () => {
  const sub = uid('fb');
  const expired = forgeToken(HS256, { sub, role: 'buyer', iat: now() - 7200, exp: now() - 120 }, SECRET);
  assertRefused(await api('GET', '/api/payment', { token: expired }), 'invalid_token', /expired/);
  const justExpired = forgeToken(HS256, { sub, role: 'buyer', exp: now() - 5 }, SECRET);
  assert.equal((await api('GET', '/api/payment', { token: justExpired })).status, 200, 'inside the leeway');
});

test('an admin token that expired a day ago is refused on an admin endpoint', async () => {
  const sub = uid('fb');
  const t = forgeToken(HS256, { sub, role: 'admin', iat: now() - 100000, exp: now() - 86400 }, SECRET);
  assertRefused(await api('GET', '/api/payment/stats', { token: t }), 'invalid_token', /expired/);
});

test('a token not valid yet (nbf or iat in the future) is refused', async () => {
  const sub = uid('fb');
  assertRefused(await api('GET', '/api/payment', { token: forgeToken(HS256, { sub, role: 'buyer', nbf: now() + 3600, exp: now() + 7200 }, SECRET) }),
    'invalid_token', /not valid yet/);
  assertRefused(await api('GET', '/api/payment', { token: forgeToken(HS256, { sub, role: 'buyer', iat: now() + 3600, exp: now() + 7200 }, SECRET) }),
    'invalid_token', /not valid yet/);
});

test('alg "none" (unsigned) is refused, with or without a signature part', async () => {
  const claims = { sub: uid('fb'), role: 'admin', exp: now() + 600 };
  for (const alg of ['none', 'None', 'NONE']) {
    assertRefused(await api('GET', '/api/payment/stats', { token: forgeToken({ alg, typ: 'JWT' }, claims, null) }), 'invalid_token');
    assertRefused(await api('GET', '/api/payment/stats', { token: forgeToken({ alg, typ: 'JWT' }, claims, SECRET) }), 'invalid_token');
  }
  // No alg at all.
  assertRefused(await api('GET', '/api/payment/stats', { token: forgeToken({ typ: 'JWT' }, claims, SECRET) }), 'invalid_token');
});

test('other algorithms in the header (HS512, RS256, hs256) are refused even with an HS256 signature', async () => {
  const claims = { sub: uid('fb'), role: 'buyer', exp: now() + 600 };
  for (const alg of ['HS512', 'HS384', 'RS256', 'ES256', 'hs256']) {
    const r = await api('GET', '/api/payment', { token: forgeToken({ alg, typ: 'JWT' }, claims, SECRET) });
    assertRefused(r, 'invalid_token', /algorithm/);
  }
});

test('a token signed with another secret is refused', async () => {
  const claims = { sub: uid('fb'), role: 'admin', exp: now() + 600 };
  assertRefused(await api('GET', '/api/payment/stats', { token: forgeToken(HS256, claims, 'another-secret-another-secret-32b!') }),
    'invalid_token', /signature/);
  // The untrimmed file (secret plus newline) is another secret too.
  assertRefused(await api('GET', '/api/payment/stats', { token: forgeToken(HS256, claims, SECRET + '\n') }),
    'invalid_token', /signature/);
});

test('a real token whose payload was edited (buyer → admin) is refused', async () => {
  const sub = uid('b');
  const [h, , s] = token(sub, 'buyer').split('.');
  const forged = `${h}.${b64(JSON.stringify({ sub, role: 'admin', exp: now() + 3600 }))}.${s}`;
  assertRefused(await api('GET', '/api/payment/stats', { token: forged }), 'invalid_token', /signature/);
  // The signature truncated or altered in one character.
  const real = token(sub, 'buyer');
  assertRefused(await api('GET', '/api/payment', { token: real.slice(0, -2) }), 'invalid_token');
  const last = real.at(-5);
  assertRefused(await api('GET', '/api/payment', { token: real.slice(0, -5) + (last === 'A' ? 'B' : 'A') + real.slice(-4) }), 'invalid_token');
});

test('claims: missing or non-numeric exp, missing or bad sub, unknown role are refused', async () => {
  const sub = uid('fb');
  const cases = [
    { sub, role: 'buyer' },                                  // no exp
    { sub, role: 'buyer', exp: String(now() + 600) },        // exp as a string
    { sub, role: 'buyer', exp: now() + 600.5 },              // exp not an integer
    { role: 'buyer', exp: now() + 600 },                     // no sub
    { sub: 'has space', role: 'buyer', exp: now() + 600 },   // sub not an id
    { sub: 42, role: 'buyer', exp: now() + 600 },            // sub not a string
    { sub, role: 'superuser', exp: now() + 600 },            // unknown role
    { sub, role: 'Admin', exp: now() + 600 },                // roles are exact
    { sub, exp: now() + 600 },                               // no role
    { sub, role: ['admin'], exp: now() + 600 },              // role not a string
  ];
  for (const claims of cases) {
    const r = await api('GET', '/api/payment', { token: forgeToken(HS256, claims, SECRET) });
    assertRefused(r, 'invalid_token');
    assert.match(r.json.message, /exp|sub|role/, JSON.stringify(claims));
  }
});

test('buyer and seller are refused on admin endpoints (403), and nothing changes', async () => {
  const buyer = uid('b');
  const p = await createPayment(buyer);
  sql(`UPDATE payments SET updated_at = now() - interval '3 hours' WHERE id = :'id'`, { id: p.id });
  for (const role of ['buyer', 'seller']) {
    const t = token(buyer, role);
    const d = await api('GET', `/api/payment/${p.id}/debug`, { token: t });
    assert.equal(d.status, 403, d.text);
    assert.equal(d.json.success, false);
    assert.equal(d.json.error.code, 'forbidden');
    assert.ok(!d.text.includes('secret-note'), 'no payment data in a refusal');
    const c = await api('POST', '/api/payment/payments/cleanup-pending', { token: t, body: { olderThanMinutes: 60 } });
    assert.equal(c.status, 403, c.text);
    assert.equal(c.json.error.code, 'forbidden');
  }
  assert.equal(sql(`SELECT status FROM payments WHERE id = :'id'`, { id: p.id })[0][0], 'pending');
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: p.id }), 1);
});

test("another user's payment is answered as missing (404), never with its data", async () => {
  const owner = uid('b');
  const p = await createPayment(owner);
  const other = token(uid('x'), 'buyer');
  const g = await api('GET', `/api/payment/${p.id}`, { token: other });
  assert.equal(g.status, 404, g.text);
  assert.equal(g.json.success, false);
  assert.equal(g.json.error.code, 'not_found');
  assert.ok(!g.text.includes(owner) && !g.text.includes('secret-note') && !g.text.includes('25.5'), g.text);

  // Exactly like a payment that does not exist.
  const missing = await api('GET', '/api/payment/00000000-0000-4000-8000-000000000000', { token: other });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, g.json.error.code);

  const u = await api('PUT', `/api/payment/${p.id}`, { token: other, body: { metadata: { hacked: true } } });
  assert.equal(u.status, 404, u.text);
  assert.ok(!u.text.includes(owner) && !u.text.includes('secret-note'), u.text);
  const meta = JSON.parse(sql(`SELECT metadata::text FROM payments WHERE id = :'id'`, { id: p.id })[0][0]);
  assert.deepEqual(meta, { note: 'secret-note' });

  // A seller who is not this payment's seller sees nothing either.
  const s = await api('GET', `/api/payment/${p.id}`, { token: token(uid('s'), 'seller') });
  assert.equal(s.status, 404);
});

test("the payment's own buyer and seller, and an admin, can read it", async () => {
  const buyer = uid('b');
  const seller = uid('s');
  const p = await createPayment(buyer, { sellerId: seller });
  for (const t of [token(buyer, 'buyer'), token(seller, 'seller'), token(uid('a'), 'admin')]) {
    const g = await api('GET', `/api/payment/${p.id}`, { token: t });
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.data.id, p.id);
    assert.equal(g.json.data.buyerId, buyer);
  }
});

test("another user's /user/:userId, /stats/:userId and /export/:userId are 403", async () => {
  const owner = uid('b');
  await createPayment(owner);
  const other = token(uid('x'), 'buyer');
  for (const path of [`/api/payment/user/${owner}`, `/api/payment/stats/${owner}`, `/api/payment/export/${owner}`,
    `/api/payment/export/${owner}?format=csv`]) {
    const r = await api('GET', path, { token: other });
    assert.equal(r.status, 403, `${path}: ${r.text}`);
    assert.equal(r.json.success, false);
    assert.equal(r.json.error.code, 'forbidden');
    assert.ok(!r.text.includes('secret-note'), path);
    // The owner and an admin may.
    assert.equal((await api('GET', path, { token: token(owner, 'buyer') })).status, 200, path);
    assert.equal((await api('GET', path, { token: token(uid('a'), 'admin') })).status, 200, path);
  }
});

// --- tokens signed with the real key that the body reader would refuse ----------------
// Each is a token we could have signed, so the signature passes: the claims
// reader itself must refuse it (401), as strictly as a request body.

const RAW = (header, payload) => forgeToken(header, payload, SECRET);

test('a sub or role holding an escaped NUL is refused, not read as the prefix', async () => {
  const exp = now() + 600;
  for (const payload of [{ sub: 'alice\u0000x', role: 'buyer', exp }, { sub: uid('u'), role: 'buyer\u0000admin', exp },
    { sub: uid('u'), role: 'admin\u0000', exp }]) {
    assert.match(JSON.stringify(payload), /\\u0000/);
    assertRefused(await api('GET', '/api/payment', { token: RAW(HS256, payload) }));
  }
});

test('token JSON the strict reader refuses: NaN, a raw tab, a name given twice, single quotes', async () => {
  const exp = now() + 600;
  for (const payload of [`{"sub":"${uid('u')}","role":"buyer","exp":${exp},"n":NaN}`,
    `{"sub":"${uid('u')}","role":"buyer","exp":${exp},"n":Infinity}`,
    `{"sub":"${uid('u')}","role":"buyer","exp":${exp},"note":"a\tb"}`,
    `{"sub":"${uid('u')}","role":"buyer","role":"admin","exp":${exp}}`,
    `{"sub":"${uid('u')}","role":"buyer","exp":${exp}} `.trimEnd() + 'x']) {
    assertRefused(await api('GET', '/api/payment', { token: RAW(HS256, payload) }));
  }
  assertRefused(await api('GET', '/api/payment', { token: RAW(`{"alg":"HS256","alg":"none"}`, { sub: uid('u'), role: 'buyer', exp }) }));
  assertRefused(await api('GET', '/api/payment', { token: RAW(`{'alg':'HS256'}`, { sub: uid('u'), role: 'buyer', exp }) }));
});

test('a header listing critical extensions (crit) is refused (RFC 7515 §4.1.11)', async () => {
  const payload = { sub: uid('u'), role: 'buyer', exp: now() + 600 };
  for (const header of [{ alg: 'HS256', crit: ['exp'] }, { alg: 'HS256', crit: ['b64'], b64: false }, { alg: 'HS256', crit: [] }]) {
    assertRefused(await api('GET', '/api/payment', { token: RAW(header, payload) }), 'invalid_token', /crit/);
  }
});

test('time claims far outside any clock are refused before any arithmetic', async () => {
  const sub = uid('u');
  for (const payload of [`{"sub":"${sub}","role":"buyer","exp":9223372036854775807}`,
    `{"sub":"${sub}","role":"buyer","exp":18446744073709551615}`,
    `{"sub":"${sub}","role":"buyer","exp":-1}`,
    `{"sub":"${sub}","role":"buyer","exp":${now() + 600},"nbf":-9223372036854775808}`,
    `{"sub":"${sub}","role":"buyer","exp":${now() + 600},"iat":-9223372036854775807}`]) {
    assertRefused(await api('GET', '/api/payment', { token: RAW(HS256, payload) }));
  }
  // A far but possible expiry is fine.
  const ok = await api('GET', '/api/payment', { token: RAW(HS256, { sub, role: 'buyer', exp: 253402300799 }) });
  assert.equal(ok.status, 200, ok.text);
});
