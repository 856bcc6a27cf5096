// Payment records: create, read, list, update; every refused input is a 400
// that names the field and writes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, token, uid, sql, count, setting, sale, holdLock, serviceWaiting } from './lib.mjs';

const tokens = new Map();
// Minting a token runs the service's binary: keep one per (user, role).
const tok = (sub, role) => {
  if (!tokens.has(`${sub}/${role}`)) tokens.set(`${sub}/${role}`, token(sub, role));
  return tokens.get(`${sub}/${role}`);
};
const ADMIN = token(uid('admin'), 'admin');
const TX = (c) => '0x' + c.repeat(64);
const randomTx = () => '0x' + [...Array(64)].map(() => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');

function body(buyer, over = {}) {
  return { purchaseRequestId: uid('pr'), sellerOfferId: uid('o'), buyerId: buyer, sellerId: uid('s'),
    amount: { amount: '10', currency: 'USDT' }, ...over };
}

// The body's request and offer exist, as the buyer's and the seller's.
function sold(b) {
  sale(b.buyerId, { request: b.purchaseRequestId, offer: b.sellerOfferId, seller: b.sellerId });
  return b;
}

async function create(buyer, over = {}, t = token(buyer, 'buyer')) {
  const r = await api('POST', '/api/payment', { token: t, body: sold(body(buyer, over)) });
  assert.equal(r.status, 201, r.text);
  return r.json.data;
}

const paymentsOf = (buyer) => count('payments', `buyer_id = :'b'`, { b: buyer });

function assertBad(r, field, code = 'invalid_field') {
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json?.success, false, r.text);
  assert.equal(r.json.error.code, code, r.text);
  if (field !== undefined) assert.equal(r.json.error.field, field, r.text);
  assert.equal(typeof r.json.message, 'string');
}

// Sends `raw` (or an object) as a create and checks it is refused naming `field`, with nothing written.
async function refusedCreate(buyer, payload, field, code = 'invalid_field') {
  const t = tok(buyer, 'buyer');
  const before = count('payments');
  const r = typeof payload === 'string'
    ? await api('POST', '/api/payment', { token: t, raw: payload, headers: { 'content-type': 'application/json' } })
    : await api('POST', '/api/payment', { token: t, body: payload });
  assertBad(r, field, code);
  const [[mine, all]] = sql(`SELECT count(*) FILTER (WHERE buyer_id = :'b'), count(*) FROM payments;`, { b: buyer });
  assert.equal(Number(mine), 0, `nothing written for ${JSON.stringify(payload)}`);
  assert.equal(Number(all), before, `nothing written for ${JSON.stringify(payload)}`);
  return r;
}

// --- create ---------------------------------------------------------------

test('create: 201 with the exact amount as a JSON number, the record, an audit row and an event', async () => {
  const buyer = uid('b');
  const { purchaseRequestId: req, sellerOfferId: offer, sellerId: seller } = sale(buyer);
  const r = await api('POST', '/api/payment', {
    token: token(buyer, 'buyer'),
    raw: `{"purchaseRequestId":"${req}","sellerOfferId":"${offer}","buyerId":"${buyer}","sellerId":"${seller}","amount":{"amount":12.345678,"currency":"USDT"},"metadata":{"k":"v"}}`,
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.success, true);
  assert.match(r.text, /"amount":\{"amount":12\.345678,"amountDecimal":"12\.345678","currency":"USDT"\}/);
  const p = r.json.data;
  assert.match(p.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(p.status, 'pending');
  assert.equal(p.escrowState, 'unfunded');
  assert.equal(p.direction, 'in');
  assert.equal(p.provider, 'manual');
  assert.equal(p.purchaseRequestId, req);
  assert.equal(p.sellerOfferId, offer);
  assert.equal(p.buyerId, buyer);
  assert.equal(p.sellerId, seller);
  assert.equal(p.createdBy, buyer);
  assert.deepEqual(p.metadata, { k: 'v' });
  assert.equal(p.completedAt, null);
  assert.equal(p.transactionHash, null);
  assert.match(p.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(sql(`SELECT amount::text, currency, status FROM payments WHERE id = :'id'`, { id: p.id }),
    [['12.345678', 'USDT', 'pending']]);
  assert.deepEqual(sql(`SELECT from_status IS NULL, to_status, to_escrow_state, actor FROM payment_transitions WHERE payment_id = :'id'`, { id: p.id }),
    [['t', 'pending', 'unfunded', buyer]]);
  // Announced once in each room that follows new payments: the buyer's, the request's, the global one.
  const rooms = sql(`SELECT room FROM events WHERE payment_id = :'id' AND event = 'payment-created' ORDER BY room;`, { id: p.id }).map(([r]) => r);
  assert.deepEqual(rooms, ['global', `request:${p.purchaseRequestId}`, `user:${p.buyerId}`].sort());
});

test('create: an amount given as a decimal string is stored exactly and answered as a number', async () => {
  const buyer = uid('b');
  const p = await create(buyer, { amount: { amount: '1000000000000.000001', currency: 'USDT' } });
  assert.equal(sql(`SELECT amount::text FROM payments WHERE id = :'id'`, { id: p.id })[0][0], '1000000000000.000001');
  const g = await api('GET', `/api/payment/${p.id}`, { token: token(buyer, 'buyer') });
  assert.match(g.text, /"amount":1000000000000\.000001,/);
});

test('create: trailing zeros within the currency scale are accepted and normalised', async () => {
  const buyer = uid('b');
  const p = await create(buyer, { amount: { amount: '10.500', currency: 'USD' } });
  assert.equal(sql(`SELECT amount::text FROM payments WHERE id = :'id'`, { id: p.id })[0][0], '10.5');
});

test('create: 18 whole digits and 18 decimals (ETH) are held exactly', async () => {
  const buyer = uid('b');
  const r = await api('POST', '/api/payment', {
    token: token(buyer, 'buyer'),
    raw: JSON.stringify(sold(body(buyer))).replace('"amount":{"amount":"10","currency":"USDT"}',
      '"amount":{"amount":123456789012345678.123456789012345678,"currency":"ETH"}'),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(r.status, 201, r.text);
  assert.match(r.text, /"amount":123456789012345678\.123456789012345678,/);
  // What a JavaScript client reads: the number lost digits, the string has them all.
  assert.notEqual(String(r.json.data.amount.amount), '123456789012345678.123456789012345678');
  assert.equal(r.json.data.amount.amountDecimal, '123456789012345678.123456789012345678');
  assert.equal(sql(`SELECT amount::text FROM payments WHERE id = :'id'`, { id: r.json.data.id })[0][0],
    '123456789012345678.123456789012345678');
});

test('create: with a configured blockchain the token contract and escrow receiver are filled in', async () => {
  const buyer = uid('b');
  const p = await create(buyer, { blockchain: { network: 'bsc', token: 'USDT' } });
  assert.equal(p.blockchain.network, 'bsc');
  assert.equal(p.blockchain.token, 'USDT');
  assert.equal(p.blockchain.tokenContract.toLowerCase(), setting('token.bsc.USDT').toLowerCase());
  assert.match(p.receiverAddress, /^0x[0-9a-fA-F]{40}$/);
});

test('create: buyerId other than the caller is 403 and writes nothing; an admin may create for a buyer', async () => {
  const caller = uid('b');
  const victim = uid('v');
  const r = await api('POST', '/api/payment', { token: token(caller, 'buyer'), body: body(victim) });
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.success, false);
  assert.equal(r.json.error.code, 'forbidden');
  assert.equal(r.json.error.field, 'buyerId');
  assert.equal(paymentsOf(victim), 0);
  assert.equal(paymentsOf(caller), 0);
  // A seller role does not change that.
  const s = await api('POST', '/api/payment', { token: token(caller, 'seller'), body: body(victim) });
  assert.equal(s.status, 403, s.text);
  assert.equal(paymentsOf(victim), 0);

  const adminSub = uid('adm');
  const a = await create(victim, {}, token(adminSub, 'admin'));
  assert.equal(a.buyerId, victim);
  assert.equal(a.createdBy, adminSub);
});

test('create: a second active pay-in for the same buyer and request is 409; allowed again once cancelled', async () => {
  const buyer = uid('b');
  const req = uid('pr');
  const first = await create(buyer, { purchaseRequestId: req });
  const same = { purchaseRequestId: req, sellerOfferId: first.sellerOfferId, sellerId: first.sellerId };
  const r = await api('POST', '/api/payment', { token: token(buyer, 'buyer'), body: body(buyer, same) });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.success, false);
  assert.equal(r.json.error.code, 'payment_exists');
  assert.ok(r.json.message.includes(first.id), r.json.message);
  assert.equal(count('payments', `purchase_request_id = :'r'`, { r: req }), 1);
  assert.equal(count('payment_transitions t JOIN payments p ON p.id = t.payment_id', `p.purchase_request_id = :'r'`, { r: req }), 1);

  // Another buyer cannot record a payment on this buyer's request at all.
  const other = uid('b2');
  const o = await api('POST', '/api/payment', { token: token(other, 'buyer'), body: body(other, same) });
  assert.equal(o.status, 409, o.text);
  assert.equal(o.json.error.code, 'request_mismatch');

  const c = await api('PUT', `/api/payment/${first.id}`, { token: ADMIN, body: { status: 'cancelled' } });
  assert.equal(c.status, 200, c.text);
  const again = await create(buyer, same);
  assert.notEqual(again.id, first.id);
});

test('create: the request must be the buyer\'s and the offer on it from the seller named; 409 otherwise, nothing written', async () => {
  const buyer = uid('b');
  const t = tok(buyer, 'buyer');
  const mine = sale(buyer);
  const theirs = sale(uid('b'));
  const before = count('payments');
  const cases = [
    [{ purchaseRequestId: uid('pr') }, 'request_mismatch', 'purchaseRequestId'],   // no such request
    [{ ...theirs }, 'request_mismatch', 'purchaseRequestId'],                      // another buyer's request
    [{ sellerOfferId: theirs.sellerOfferId, sellerId: theirs.sellerId }, 'offer_mismatch', 'sellerOfferId'],
    [{ sellerOfferId: uid('o') }, 'offer_mismatch', 'sellerOfferId'],             // no such offer
    [{ sellerId: theirs.sellerId }, 'offer_mismatch', 'sellerId'],                 // the offer is not that seller's
  ];
  for (const [over, code, field] of cases) {
    const r = await api('POST', '/api/payment', { token: t, body: body(buyer, { ...mine, ...over }) });
    assert.equal(r.status, 409, `${JSON.stringify(over)}: ${r.text}`);
    assert.equal(r.json.error.code, code, r.text);
    assert.equal(r.json.error.field, field, r.text);
  }
  // An admin recording for a buyer is held to the same rule.
  const a = await api('POST', '/api/payment', { token: ADMIN, body: body(buyer, { ...theirs }) });
  assert.equal(a.status, 409, a.text);
  assert.equal(count('payments'), before, 'nothing written');
  // So the seller named sees nothing it did not sell: not in its list, its stats or its export.
  const seller = tok(theirs.sellerId, 'seller');
  assert.equal((await api('GET', `/api/payment/user/${theirs.sellerId}`, { token: seller })).json.data.payments.length, 0);
  const stats = await api('GET', `/api/payment/stats/${theirs.sellerId}`, { token: seller });
  assert.equal(stats.status, 200, stats.text);
  assert.equal(stats.json.data.totalCount, 0);

  const ok = await api('POST', '/api/payment', { token: t, body: body(buyer, mine) });
  assert.equal(ok.status, 201, ok.text);
});

test('create: malformed JSON, a non-object body, an empty body → 400 invalid_json, nothing written', async () => {
  const buyer = uid('b');
  const good = JSON.stringify(body(buyer));
  for (const raw of ['{', good.slice(0, -1), `${good} {}`, `${good}x`, '[]', '"text"', '42', 'null', '',
    '{"purchaseRequestId":"x",}', good.replace('"10"', "'10'"), good.replace(/}$/, ',"metadata":{"a":1}/* c */}')]) {
    await refusedCreate(buyer, raw, undefined, 'invalid_json');
  }
  const t = token(buyer, 'buyer');
  const e = await api('POST', '/api/payment', { token: t });
  assertBad(e, undefined, 'invalid_json');
  assert.equal(paymentsOf(buyer), 0);
});

// RFC 8259: object keys are double-quoted strings; control characters in a string must be escaped.
// One test each, so every one the parser lets through is reported.
for (const [what, mangle] of [
  ['single-quoted keys', (good) => good.replace(/"(\w+)":/g, "'$1':")],
  ['a raw U+0001 inside a string', (good) => good.replace(/}$/, ',"metadata":{"note":"a\u0001b"}}')],
  ['a raw line break inside a string', (good) => good.replace(/}$/, ',"metadata":{"note":"line\nbreak"}}')],
]) {
  test(`create: invalid JSON that a lax parser reads (${what}) → 400 invalid_json, nothing written`, async () => {
    const buyer = uid('b');
    await refusedCreate(buyer, mangle(JSON.stringify(body(buyer))), undefined, 'invalid_json');
  });
}

test('create: a body that is not application/json → 415, nothing written', async () => {
  const buyer = uid('b');
  const r = await api('POST', '/api/payment', { token: token(buyer, 'buyer'), raw: JSON.stringify(body(buyer)),
    headers: { 'content-type': 'text/plain' } });
  assert.equal(r.status, 415, r.text);
  assert.equal(r.json.success, false);
  assert.equal(paymentsOf(buyer), 0);
});

test('create: each missing required field is named', async () => {
  const buyer = uid('b');
  for (const f of ['purchaseRequestId', 'sellerOfferId', 'buyerId', 'sellerId', 'amount']) {
    const b = body(buyer);
    delete b[f];
    await refusedCreate(buyer, b, f);
  }
  await refusedCreate(buyer, body(buyer, { amount: { currency: 'USDT' } }), 'amount.amount');
  await refusedCreate(buyer, body(buyer, { amount: { amount: '1' } }), 'amount.currency');
  await refusedCreate(buyer, body(buyer, { blockchain: { network: 'bsc' } }), 'blockchain.token');
  await refusedCreate(buyer, body(buyer, { blockchain: { token: 'USDT' } }), 'blockchain.network');
  // An explicit null is as missing as an absent field.
  await refusedCreate(buyer, body(buyer, { sellerId: null }), 'sellerId');
});

test('create: wrong types are refused with the field named', async () => {
  const buyer = uid('b');
  const cases = [
    [{ purchaseRequestId: 123 }, 'purchaseRequestId'],
    [{ sellerOfferId: true }, 'sellerOfferId'],
    [{ sellerId: ['s1'] }, 'sellerId'],
    [{ buyerId: { id: buyer } }, 'buyerId'],
    [{ amount: 10 }, 'amount'],
    [{ amount: '10' }, 'amount'],
    [{ amount: [10, 'USDT'] }, 'amount'],
    [{ amount: { amount: true, currency: 'USDT' } }, 'amount.amount'],
    [{ amount: { amount: null, currency: 'USDT' } }, 'amount.amount'],
    [{ amount: { amount: { v: 1 }, currency: 'USDT' } }, 'amount.amount'],
    [{ amount: { amount: '1', currency: 5 } }, 'amount.currency'],
    [{ metadata: 'note' }, 'metadata'],
    [{ metadata: [1, 2] }, 'metadata'],
    [{ blockchain: 'bsc' }, 'blockchain'],
  ];
  for (const [over, field] of cases) await refusedCreate(buyer, body(buyer, over), field);
});

test('create: unknown fields are refused and named, at the top level and inside objects', async () => {
  const buyer = uid('b');
  await refusedCreate(buyer, body(buyer, { status: 'completed' }), 'status', 'unknown_field');
  await refusedCreate(buyer, body(buyer, { transactionHash: TX('a') }), 'transactionHash', 'unknown_field');
  await refusedCreate(buyer, body(buyer, { isAdmin: true }), 'isAdmin', 'unknown_field');
  await refusedCreate(buyer, body(buyer, { amount: { amount: '1', currency: 'USDT', fee: '0' } }), 'amount.fee', 'unknown_field');
  await refusedCreate(buyer, body(buyer, { blockchain: { network: 'bsc', token: 'USDT', contract: '0x1' } }),
    'blockchain.contract', 'unknown_field');
});

test('create: bad ids are refused with the field named', async () => {
  const buyer = uid('b');
  for (const bad of ['', 'has space', 'a/b', 'a.b', 'é', 'x'.repeat(65), "o'brien", 'a\u0000b']) {
    await refusedCreate(buyer, body(buyer, { purchaseRequestId: bad }), 'purchaseRequestId');
    await refusedCreate(buyer, body(buyer, { sellerOfferId: bad }), 'sellerOfferId');
    await refusedCreate(buyer, body(buyer, { sellerId: bad }), 'sellerId');
  }
  // 64 characters is the most an id may have.
  await create(buyer, { purchaseRequestId: 'p'.repeat(64) });
});

test('create: bad amounts are refused with amount.amount named and never rounded', async () => {
  const buyer = uid('b');
  const amounts = [
    ['-5', 'USDT'], [-5, 'USDT'], ['-0', 'USDT'], [0, 'USDT'], ['0', 'USDT'], ['0.000', 'USDT'], [0.0, 'USDT'],
    ['abc', 'USDT'], ['', 'USDT'], [' 1', 'USDT'], ['1 ', 'USDT'], ['1,5', 'USDT'], ['.5', 'USDT'], ['5.', 'USDT'],
    ['+5', 'USDT'], ['0x10', 'USDT'], ['1e3', 'USDT'], ['Infinity', 'USDT'], ['NaN', 'USDT'],
    ['1.234', 'USD'], ['0.001', 'EUR'], ['1.1234567', 'USDT'], ['0.0000001', 'USDC'],
    ['1234567890123456789', 'USDT'], ['99999999999999999999', 'USDT'], ['1' + '0'.repeat(40), 'USDT'],
    ['0.' + '0'.repeat(18) + '1', 'ETH'],
  ];
  for (const [amount, currency] of amounts) {
    await refusedCreate(buyer, body(buyer, { amount: { amount, currency } }), 'amount.amount');
  }
});

test('create: amounts as JSON number literals that cannot be held exactly are refused', async () => {
  const buyer = uid('b');
  const base = JSON.stringify(body(buyer));
  const lit = (text, cur = 'USDT') => base.replace('{"amount":"10","currency":"USDT"}', `{"amount":${text},"currency":"${cur}"}`);
  for (const [text, cur] of [['1e3'], ['1E3'], ['1.5e2'], ['1e-2'], ['-1'], ['0'], ['-0'], ['0.0'],
    ['1234567890123456789'], ['9223372036854775807'], ['9223372036854775808'], ['99999999999999999999'],
    ['-9223372036854775808'], ['1.234', 'USD'], ['1.1234567']]) {
    await refusedCreate(buyer, lit(text, cur), 'amount.amount');
  }
  // Not JSON numbers (json-c alone would read the last four): refused as malformed JSON.
  for (const text of ['+1', '01', '.5', 'nan', 'NaN', 'Infinity', '-Infinity', '1.']) {
    await refusedCreate(buyer, lit(text), undefined, 'invalid_json');
  }
});

test('create: an unknown or malformed currency, an unsupported network or token → 400 with the field', async () => {
  const buyer = uid('b');
  for (const cur of ['XYZ', 'usdt', 'US DT', '', 'U', 'ABCDEFGHIJK']) {
    await refusedCreate(buyer, body(buyer, { amount: { amount: '1', currency: cur } }), 'amount.currency');
  }
  await refusedCreate(buyer, body(buyer, { blockchain: { network: 'tron', token: 'USDT' } }), 'blockchain.network');
  await refusedCreate(buyer, body(buyer, { blockchain: { network: 'bsc', token: 'DAI' } }), 'blockchain.token');
  await refusedCreate(buyer, body(buyer, { blockchain: { network: 'bsc', token: 'usdt' } }), 'blockchain.token');
});

test('create: metadata larger than 8 KiB is refused', async () => {
  const buyer = uid('b');
  await refusedCreate(buyer, body(buyer, { metadata: { blob: 'x'.repeat(9000) } }), 'metadata');
  await create(buyer, { metadata: { blob: 'x'.repeat(4000) } });
});

// --- list and read --------------------------------------------------------

test('list: by default only completed payments; status=all, a status filter, limit and offset', async () => {
  const buyer = uid('b');
  const t = token(buyer, 'buyer');
  const a = await create(buyer);
  const b = await create(buyer);
  const c = await create(buyer);
  let r = await api('GET', '/api/payment', { token: t });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data.payments, []);
  assert.equal(r.json.data.pagination.total, 0);
  assert.equal(r.json.data.pagination.limit, 50);
  assert.equal(r.json.data.pagination.offset, 0);

  assert.equal((await api('PUT', `/api/payment/${b.id}`, { token: ADMIN, body: { status: 'completed', override: true, reason: 'test fixture' } })).status, 200);
  assert.equal((await api('PUT', `/api/payment/${c.id}`, { token: ADMIN, body: { status: 'failed' } })).status, 200);

  r = await api('GET', '/api/payment', { token: t });
  assert.deepEqual(r.json.data.payments.map((p) => p.id), [b.id]);
  assert.equal(r.json.data.pagination.total, 1);

  r = await api('GET', '/api/payment?status=all', { token: t });
  assert.deepEqual(new Set(r.json.data.payments.map((p) => p.id)), new Set([a.id, b.id, c.id]));
  assert.equal(r.json.data.pagination.total, 3);
  // Newest first.
  assert.deepEqual(r.json.data.payments.map((p) => p.id), [c.id, b.id, a.id]);

  r = await api('GET', '/api/payment?status=pending', { token: t });
  assert.deepEqual(r.json.data.payments.map((p) => p.id), [a.id]);
  r = await api('GET', '/api/payment?status=pending,failed', { token: t });
  assert.deepEqual(r.json.data.payments.map((p) => p.id), [c.id, a.id]);

  r = await api('GET', '/api/payment?status=all&limit=1&offset=1', { token: t });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.data.payments.map((p) => p.id), [b.id]);
  assert.deepEqual(r.json.data.pagination, { total: 3, limit: 1, offset: 1 });
  r = await api('GET', '/api/payment?status=all&limit=100&offset=3', { token: t });
  assert.deepEqual(r.json.data.payments, []);
  assert.equal(r.json.data.pagination.total, 3);
});

test('list: only the caller\'s payments, as buyer or as seller; an admin sees everyone\'s', async () => {
  const buyer = uid('b');
  const seller = uid('s');
  const mine = await create(buyer, { sellerId: seller });
  const someone = await create(uid('other'));
  const ids = async (t, q = '?status=all&limit=100') => (await api('GET', `/api/payment${q}`, { token: t })).json.data.payments.map((p) => p.id);
  assert.deepEqual(await ids(token(buyer, 'buyer')), [mine.id]);
  assert.deepEqual(await ids(token(seller, 'seller')), [mine.id]);
  const all = await api('GET', '/api/payment?status=all&limit=1', { token: ADMIN });
  assert.equal(all.json.data.pagination.total, count('payments'));
  assert.ok(all.json.data.pagination.total >= 2);
  assert.ok(!(await ids(token(buyer, 'buyer'))).includes(someone.id));
});

test('list: bad query parameters are 400 with the parameter named', async () => {
  const t = token(uid('b'), 'buyer');
  for (const [q, field] of [['limit=101', 'limit'], ['limit=0', 'limit'], ['limit=-1', 'limit'], ['limit=abc', 'limit'],
    ['limit=', 'limit'], ['limit=1.5', 'limit'], ['limit=99999999999999999999999', 'limit'], ['offset=-1', 'offset'],
    ['offset=x', 'offset'], ['status=done', 'status'], ['status=pending,bogus', 'status'], ['status=PENDING', 'status'],
    ['status=%zz', 'status']]) {
    for (const path of ['/api/payment', `/api/payment/user/${uid('u')}`]) {
      const r = await api('GET', `${path}?${q}`, { token: path === '/api/payment' ? t : ADMIN });
      assertBad(r, field);
    }
  }
  assert.equal((await api('GET', '/api/payment?limit=100', { token: t })).status, 200);
});

test('user/:userId: self and admin see all statuses; another user is 403; a bad id is 400', async () => {
  const buyer = uid('b');
  const a = await create(buyer);
  const self = await api('GET', `/api/payment/user/${buyer}`, { token: token(buyer, 'buyer') });
  assert.equal(self.status, 200, self.text);
  assert.deepEqual(self.json.data.payments.map((p) => p.id), [a.id]);
  const adm = await api('GET', `/api/payment/user/${buyer}`, { token: ADMIN });
  assert.deepEqual(adm.json.data.payments.map((p) => p.id), [a.id]);
  const filtered = await api('GET', `/api/payment/user/${buyer}?status=completed`, { token: ADMIN });
  assert.deepEqual(filtered.json.data.payments, []);
  const other = await api('GET', `/api/payment/user/${buyer}`, { token: token(uid('x'), 'buyer') });
  assert.equal(other.status, 403, other.text);
  assert.equal(other.json.error.code, 'forbidden');
  const bad = await api('GET', '/api/payment/user/bad!id', { token: ADMIN });
  assertBad(bad, 'userId');
});

test('get: a path whose id is not a payment id names no payment (404); an unknown one is 404', async () => {
  const t = token(uid('b'), 'buyer');
  for (const id of ['not-a-uuid', '12345', '00000000-0000-0000-0000-00000000000g', '00000000000000000000000000000000',
    '00000000-0000-0000-0000-0000000000000']) {
    for (const r of [await api('GET', `/api/payment/${id}`, { token: t }),
      await api('PUT', `/api/payment/${id}`, { token: t, body: { metadata: { a: 1 } } })]) {
      assert.equal(r.status, 404, r.text);
      assert.equal(r.json.error.code, 'not_found', r.text);
    }
  }
  const r = await api('GET', '/api/payment/6f1c2a4e-0000-4000-8000-000000000001', { token: ADMIN });
  assert.equal(r.status, 404, r.text);
  assert.equal(r.json.success, false);
  assert.equal(r.json.error.code, 'not_found');
  const u = await api('PUT', '/api/payment/6f1c2a4e-0000-4000-8000-000000000001', { token: ADMIN, body: { status: 'completed' } });
  assert.equal(u.status, 404, u.text);
});

// --- update ---------------------------------------------------------------

const row = (id) => sql(`SELECT status, escrow_state, coalesce(tx_hash, ''), metadata::text, completed_at IS NOT NULL FROM payments WHERE id = :'id'`, { id })[0];

test('update: the owner changes metadata, merged into what was there', async () => {
  const buyer = uid('b');
  const p = await create(buyer, { metadata: { a: 1, b: 'keep' } });
  const r = await api('PUT', `/api/payment/${p.id}`, { token: token(buyer, 'buyer'), body: { metadata: { a: 2, c: [1, 2] } } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.success, true);
  assert.deepEqual(r.json.data.metadata, { a: 2, b: 'keep', c: [1, 2] });
  assert.equal(r.json.data.status, 'pending');
  assert.deepEqual(JSON.parse(row(p.id)[3]), { a: 2, b: 'keep', c: [1, 2] });
  // No state moved: no new audit row.
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: p.id }), 1);
});

test('update: the owner may not change status or transaction hash (403), and nothing changes', async () => {
  const buyer = uid('b');
  const p = await create(buyer, { metadata: { a: 1 } });
  const before = row(p.id);
  const t = token(buyer, 'buyer');
  for (const [b, field] of [[{ status: 'completed' }, 'status'], [{ transactionHash: randomTx() }, 'transactionHash'],
    [{ status: 'cancelled', metadata: { a: 9 } }, 'status'], [{ transactionHash: randomTx(), metadata: { a: 9 } }, 'transactionHash']]) {
    const r = await api('PUT', `/api/payment/${p.id}`, { token: t, body: b });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.success, false);
    assert.equal(r.json.error.code, 'forbidden');
    assert.equal(r.json.error.field, field);
  }
  // The seller of the payment may not either.
  const s = await api('PUT', `/api/payment/${p.id}`, { token: token(p.sellerId, 'seller'), body: { status: 'completed' } });
  assert.equal(s.status, 403, s.text);
  assert.deepEqual(row(p.id), before);
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: p.id }), 1);
  assert.equal(count('events', `payment_id = :'id' AND event = 'payment-update'`, { id: p.id }), 0);
});

test('update: an admin moves pending → completed: escrow funded, completedAt, audit row and event', async () => {
  const buyer = uid('b');
  const p = await create(buyer);
  const adminSub = uid('adm');
  const tx = randomTx();
  const r = await api('PUT', `/api/payment/${p.id}`, { token: token(adminSub, 'admin'), body: { status: 'completed', transactionHash: tx, override: true, reason: 'test fixture' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.status, 'completed');
  assert.equal(r.json.data.escrowState, 'funded');
  assert.equal(r.json.data.transactionHash, tx);
  assert.match(r.json.data.completedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(row(p.id).slice(0, 3).concat(row(p.id)[4]), ['completed', 'funded', tx, 't']);
  assert.deepEqual(
    sql(`SELECT from_status, to_status, from_escrow_state, to_escrow_state, source, actor FROM payment_transitions WHERE payment_id = :'id' ORDER BY id`, { id: p.id }),
    [['', 'pending', '', 'unfunded', 'api', buyer], ['pending', 'completed', 'unfunded', 'funded', 'admin', adminSub]]);
  const ev = sql(`SELECT room, payload::text FROM events WHERE payment_id = :'id' AND event = 'payment-update'`, { id: p.id });
  assert.equal(ev.length, 1);
  assert.equal(ev[0][0], `user:${buyer}`);
  const payload = JSON.parse(ev[0][1]);
  assert.equal(payload.status, 'completed');
  assert.equal(payload.previousStatus, 'pending');
  assert.equal(payload.escrowState, 'funded');

  // The same status again is no move: 200, no new audit row, completedAt kept.
  const completedAt = r.json.data.completedAt;
  const again = await api('PUT', `/api/payment/${p.id}`, { token: ADMIN, body: { status: 'completed' } });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.data.completedAt, completedAt);
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: p.id }), 2);

  // And on to released.
  const rel = await api('PUT', `/api/payment/${p.id}`, { token: ADMIN, body: { status: 'released', override: true, reason: 'test fixture' } });
  assert.equal(rel.status, 200, rel.text);
  assert.equal(rel.json.data.escrowState, 'released');
  assert.equal(rel.json.data.completedAt, completedAt);
});

test('update: moving backwards (completed → pending, cancelled → completed) is 409 and changes nothing', async () => {
  const buyer = uid('b');
  const p = await create(buyer);
  assert.equal((await api('PUT', `/api/payment/${p.id}`, { token: ADMIN, body: { status: 'completed', override: true, reason: 'test fixture' } })).status, 200);
  const before = row(p.id);
  for (const status of ['pending', 'processing', 'failed', 'cancelled']) {
    const r = await api('PUT', `/api/payment/${p.id}`, { token: ADMIN, body: { status, metadata: { x: 1 } } });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.success, false);
    assert.equal(r.json.error.code, 'invalid_transition');
    assert.equal(r.json.error.field, 'status');
  }
  assert.deepEqual(row(p.id), before);
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: p.id }), 2);

  const q = await create(uid('b'));
  assert.equal((await api('PUT', `/api/payment/${q.id}`, { token: ADMIN, body: { status: 'cancelled' } })).status, 200);
  const back = await api('PUT', `/api/payment/${q.id}`, { token: ADMIN, body: { status: 'completed' } });
  assert.equal(back.status, 409, back.text);
  assert.equal(row(q.id)[0], 'cancelled');
  assert.equal(row(q.id)[4], 'f');
});

test('update: a tx hash already paying another pay-in is 409 tx_hash_used (in any letter case)', async () => {
  const tx = randomTx();
  const p1 = await create(uid('b'));
  const p2 = await create(uid('b'));
  assert.equal((await api('PUT', `/api/payment/${p1.id}`, { token: ADMIN, body: { status: 'completed', transactionHash: tx, override: true, reason: 'test fixture' } })).status, 200);
  const before = row(p2.id);
  for (const t of [tx, '0x' + tx.slice(2).toUpperCase()]) {
    const r = await api('PUT', `/api/payment/${p2.id}`, { token: ADMIN, body: { status: 'completed', transactionHash: t, override: true, reason: 'test fixture' } });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.success, false);
    assert.equal(r.json.error.code, 'tx_hash_used');
    assert.equal(r.json.error.field, 'transactionHash');
    assert.ok(r.json.message.includes(p1.id), r.json.message);
  }
  assert.deepEqual(row(p2.id), before);
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: p2.id }), 1);
  // Setting the same hash again on the payment that has it is fine.
  assert.equal((await api('PUT', `/api/payment/${p1.id}`, { token: ADMIN, body: { transactionHash: tx } })).status, 200);
});

test('update: a hash another pay-in takes between the check and the update is still 409 tx_hash_used', async () => {
  const tx = randomTx();
  const p1 = await create(uid('b'));
  const p2 = await create(uid('b'));
  const before = row(p2.id);
  // p1 takes the hash in a transaction that commits only once p2's update waits on it inside the
  // database: the coordinator's look for the hash found nothing, and its UPDATE meets the index.
  const taker = await holdLock(`UPDATE payments SET tx_hash = :'tx' WHERE id = :'id'`, { tx, id: p1.id });
  let put;
  try {
    put = api('PUT', `/api/payment/${p2.id}`, { token: ADMIN, body: { transactionHash: tx } });
    assert.equal(await serviceWaiting(1), 1, 'the update waits on the uncommitted hash');
  } finally {
    await taker.release();
  }
  const r = await put;
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, 'tx_hash_used');
  assert.equal(r.json.error.field, 'transactionHash');
  assert.ok(r.json.message.includes(p1.id), r.json.message);
  assert.deepEqual(row(p2.id), before);
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: p2.id }), 1);
});

test('update: invalid values, unknown fields, an empty change and a blockchain change are 400', async () => {
  const buyer = uid('b');
  const p = await create(buyer);
  const before = row(p.id);
  const cases = [
    [{ status: 'done' }, 'status'], [{ status: 'COMPLETED' }, 'status'], [{ status: 1 }, 'status'], [{ status: '' }, 'status'],
    [{ transactionHash: '0x1234' }, 'transactionHash'], [{ transactionHash: TX('g') }, 'transactionHash'],
    [{ transactionHash: 'ab'.repeat(33) }, 'transactionHash'], [{ metadata: 'x' }, 'metadata'], [{ metadata: [1] }, 'metadata'],
    [{ blockchain: { network: 'bsc', token: 'USDT' } }, 'blockchain'],
  ];
  for (const [b, field] of cases) assertBad(await api('PUT', `/api/payment/${p.id}`, { token: ADMIN, body: b }), field);
  assertBad(await api('PUT', `/api/payment/${p.id}`, { token: ADMIN, body: { escrowState: 'funded' } }), 'escrowState', 'unknown_field');
  assertBad(await api('PUT', `/api/payment/${p.id}`, { token: ADMIN, body: { amount: { amount: '1', currency: 'USDT' } } }), 'amount', 'unknown_field');
  assertBad(await api('PUT', `/api/payment/${p.id}`, { token: ADMIN, body: {} }));
  assertBad(await api('PUT', `/api/payment/${p.id}`, { token: ADMIN, raw: '{"status":', headers: { 'content-type': 'application/json' } }),
    undefined, 'invalid_json');
  assertBad(await api('PUT', `/api/payment/${p.id}`, { token: ADMIN }), undefined, 'invalid_json');
  assert.deepEqual(row(p.id), before);
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: p.id }), 1);
});

// --- debug ------------------------------------------------------------------

test('debug: an admin sees the payment, its transitions and its events', async () => {
  const buyer = uid('b');
  const p = await create(buyer);
  assert.equal((await api('PUT', `/api/payment/${p.id}`, { token: ADMIN, body: { status: 'processing' } })).status, 200);
  const r = await api('GET', `/api/payment/${p.id}/debug`, { token: ADMIN });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.success, true);
  const d = r.json.data;
  assert.equal(d.payment.id, p.id);
  assert.equal(d.payment.status, 'processing');
  assert.deepEqual(d.transitions.map((t) => [t.fromStatus, t.toStatus]), [[null, 'pending'], ['pending', 'processing']]);
  // Admins hear each audited move (payment-status) beside what the parties hear.
  assert.deepEqual(d.events.map((e) => e.event),
    ['payment-status', 'payment-created', 'payment-created', 'payment-created', 'payment-status', 'payment-update']);
  assert.equal(d.events.at(-1).payload.status, 'processing');
  assert.ok(Array.isArray(d.webhookDeliveries));
  assert.equal(typeof d.walletMonitor, 'object');

  assert.equal((await api('GET', '/api/payment/not-a-uuid/debug', { token: ADMIN })).status, 404);
  const missing = await api('GET', '/api/payment/6f1c2a4e-0000-4000-8000-000000000002/debug', { token: ADMIN });
  assert.equal(missing.status, 404, missing.text);
});

test('update: the seller may read the buyer\'s payment but not write it', async () => {
  const buyer = uid('b');
  const p = await create(buyer);
  const seller = token(p.sellerId, 'seller');
  assert.equal((await api('GET', `/api/payment/${p.id}`, { token: seller })).status, 200);
  const r = await api('PUT', `/api/payment/${p.id}`, { token: seller, body: { metadata: { note: 'mine now' } } });
  assert.equal(r.status, 403, r.text);
  assert.deepEqual(sql(`SELECT metadata::text FROM payments WHERE id = :'id'`, { id: p.id }), [['{}']]);
});

test('update: an admin replacing a recorded transaction hash leaves an audit row naming both', async () => {
  const p = await create(uid('b'));
  const first = '0x' + 'a1'.repeat(32), second = '0x' + 'b2'.repeat(32);
  assert.equal((await api('PUT', `/api/payment/${p.id}`, { token: ADMIN, body: { transactionHash: first } })).status, 200);
  const before = count('payment_transitions', `payment_id = :'id'`, { id: p.id });
  const r = await api('PUT', `/api/payment/${p.id}`, { token: ADMIN, body: { transactionHash: second } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.transactionHash, second);
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: p.id }), before + 1);
  const [[reason, source]] = sql(`SELECT reason, source FROM payment_transitions WHERE payment_id = :'id' ORDER BY id DESC LIMIT 1`, { id: p.id });
  assert.ok(reason.includes(first) && reason.includes(second), reason);
  assert.equal(source, 'admin');
});
