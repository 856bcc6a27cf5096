// The SHKeeper paths against a hostile sender and a confused gateway:
// anonymous deliveries cannot fill the database, a signed body is read as
// strictly as any other, a timestamp is digits, and an invoice id that
// already belongs to another payment is SHKeeper's fault, not a 500.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  api, sql, count, uid, token, fake, marketplace, intent, postIntent, payment, callback, randomTxid, webhookUrl,
  inboxByBody, eventsOf, now, sign, restoreUpstream,
} from './shkeeper_lib.mjs';
import { sale } from './lib.mjs';

after(() => restoreUpstream());

const digest = (body) => createHash('sha256').update(body).digest('hex');
const rejectRow = (provider, body) => sql(`SELECT reason, count, body_bytes, headers::text FROM webhook_rejects
  WHERE provider = :'p' AND body_digest = :'d';`, { p: provider, d: digest(body) })
  .map(([reason, n, bytes, headers]) => ({ reason, count: Number(n), bytes: Number(bytes), headers: JSON.parse(headers) }))[0];
const inboxBytes = () => Number(sql('SELECT coalesce(sum(octet_length(body)), 0) FROM webhook_inbox;')[0][0]);

// A raw POST to the webhook, with whatever headers a sender chooses.
const post = (body, headers = {}) =>
  api('POST', '/api/payment/shkeeper/webhook', { raw: body, headers: { 'content-type': 'application/json', ...headers } });

// --- anonymous deliveries --------------------------------------------------------------

test('deliveries without valid credentials are counted, not stored: the database does not grow with them', async () => {
  const rows = count('webhook_inbox');
  const bytes = inboxBytes();
  const bodies = Array.from({ length: 20 }, (_, i) => JSON.stringify({ external_id: uid('x'), pad: `${i}`.padEnd(200 * 1024, 'x') }));
  const ts = String(now());
  for (const [i, body] of bodies.entries()) {
    const headers = i % 3 === 0 ? {} : i % 3 === 1 ? { 'x-shkeeper-signature': 'ab'.repeat(32), 'x-shkeeper-timestamp': ts }
      : { 'x-shkeeper-api-key': 'guess', 'user-agent': 'scanner/1.0' };
    const r = await post(body, headers);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error.code, 'invalid_signature');
  }
  assert.equal(count('webhook_inbox'), rows, 'nothing stored in the inbox');
  assert.equal(inboxBytes(), bytes);
  // What an operator needs instead: when, from where, which headers, how big, the digest; never the body or a key.
  const first = rejectRow('shkeeper', bodies[0]);
  assert.equal(first.reason, 'missing credentials');
  assert.equal(first.bytes, Buffer.byteLength(bodies[0]));
  assert.equal(rejectRow('shkeeper', bodies[1]).reason, 'bad signature');
  assert.equal(rejectRow('shkeeper', bodies[1]).headers['x-shkeeper-signature'], '(present)');
  const keyed = rejectRow('shkeeper', bodies[2]);
  assert.equal(keyed.headers['x-shkeeper-api-key'], '(present, not stored)');
  assert.equal(keyed.headers['user-agent'], 'scanner/1.0');
  assert.ok(!JSON.stringify(keyed.headers).includes('guess'), 'the key a sender tried is not kept');
  assert.equal(sql(`SELECT count(*) FROM webhook_rejects WHERE source IS NOT NULL AND body_digest = :'d';`, { d: digest(bodies[0]) })[0][0], '1');

  // The same body again is one more count on its row, not a new row.
  const before = count('webhook_rejects');
  for (let i = 0; i < 5; i++) assert.equal((await post(bodies[0])).status, 401);
  assert.equal(count('webhook_rejects'), before);
  assert.equal(rejectRow('shkeeper', bodies[0]).count, 6);

  // Admins see the refusals counted.
  const stats = await api('GET', '/api/payment/shkeeper/webhook-stats', { token: token(uid('adm'), 'admin') });
  assert.equal(stats.status, 200, stats.text);
  assert.ok(stats.json.data.refused.byProvider.shkeeper['missing credentials'].deliveries >= 6, stats.text);
});

test('the summary table has a cap: past it, new bodies are only counted', async () => {
  // Fill the table to its cap with stand-ins, then refuse two new bodies.
  const have = count('webhook_rejects');
  sql(`INSERT INTO webhook_rejects (provider, body_digest, reason, body_bytes)
       SELECT 'bvnk', encode(sha256(('filler-' || g)::bytea), 'hex'), 'test filler', 0
       FROM generate_series(1, greatest(0, 10000 - :have)) g;`, { have });
  try {
    const a = JSON.stringify({ external_id: uid('over') }), b = JSON.stringify({ external_id: uid('over') });
    for (const body of [a, b]) assert.equal((await post(body)).status, 401);
    assert.equal(rejectRow('shkeeper', a), undefined, 'no row of its own past the cap');
    assert.ok(count('webhook_rejects', `provider = 'shkeeper' AND body_digest = 'overflow'`) === 1);
    assert.ok(Number(sql(`SELECT count FROM webhook_rejects WHERE provider = 'shkeeper' AND body_digest = 'overflow';`)[0][0]) >= 2);
    assert.ok(count('webhook_rejects') <= 10001 + 4, 'the table stays at its cap');
  } finally {
    sql(`DELETE FROM webhook_rejects WHERE reason = 'test filler' OR body_digest = 'overflow';`);
  }
});

test('POST /callback keeps nothing for unknown payments and at most 20 callbacks of a known one', async () => {
  const rows = count('webhook_inbox');
  for (let i = 0; i < 10; i++) {
    const id = `0badc0de-0000-4000-8000-${String(Date.now() + i).padStart(12, '0').slice(-12)}`;
    const r = await api('POST', '/api/payment/callback', { body: { paymentId: id, status: 'completed', data: { pad: 'y'.repeat(10000) } } });
    assert.equal(r.status, 202, r.text);
  }
  assert.equal(count('webhook_inbox'), rows, 'no callback for an unknown payment is stored');

  const buyer = uid('b');
  const created = await api('POST', '/api/payment', { token: token(buyer, 'buyer'), body: { ...sale(buyer),
    buyerId: buyer, amount: { amount: '1', currency: 'USDT' } } });
  const id = created.json.data.id;
  for (let i = 0; i < 22; i++) {
    const r = await api('POST', '/api/payment/callback', { body: { paymentId: id, status: `try-${i}` } });
    assert.equal(r.status, 202, r.text);
  }
  // A repeat of a stored one is counted, not stored again.
  assert.equal((await api('POST', '/api/payment/callback', { body: { paymentId: id, status: 'try-0' } })).status, 202);
  assert.equal(count('webhook_inbox', `provider = 'callback' AND external_id = :'id'`, { id }), 20);
  assert.equal(payment(id).status, 'pending');
});

// --- signed bodies are read strictly ----------------------------------------------------

test('a signed body with trailing bytes or a second object is refused (400) and kept as invalid', async () => {
  const m = marketplace(1);
  const d = await intent(m);
  const one = callback({ externalId: d.externalId, status: 'PAID', addr: d.walletAddress,
    txs: [{ txid: randomTxid(), amount: '10', trigger: true }] });
  for (const body of [one + 'x', one + one, `${one} {"status":"PAID"}`, `${one}\u0000`]) {
    const r = await fake.deliver({ callback_url: webhookUrl(), body });
    assert.equal(r.lastStatus, 400, `${JSON.stringify(body.slice(-30))}: ${r.response}`);
    const [row] = sql(`SELECT verdict, outcome FROM webhook_inbox WHERE provider = 'shkeeper' AND body_digest = :'d';`,
      { d: digest(body) }).map(([verdict, outcome]) => ({ verdict, outcome }));
    assert.ok(row, 'the signed bytes are kept');
    assert.equal(row.verdict, 'invalid');
    assert.equal(row.outcome, 'rejected');
  }
  assert.deepEqual(payment(d.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });
  // The callback itself, alone, is read and stored as authentic (its made-up transaction is
  // then held by the on-chain check, which answers 503 until the chain shows it).
  const alone = await fake.deliver({ callback_url: webhookUrl(), body: one });
  assert.notEqual(alone.lastStatus, 400, alone.response);
  const [[verdict]] = sql(`SELECT verdict FROM webhook_inbox WHERE provider = 'shkeeper' AND body_digest = :'d';`, { d: digest(one) });
  assert.equal(verdict, 'valid');
});

test('SHKeeper\'s own amounts with an escaped NUL are refused, not read as their prefix', async () => {
  const m = marketplace(1);
  const d = await intent(m);
  const body = callback({ externalId: d.externalId, status: 'PAID', addr: d.walletAddress,
    txs: [{ txid: randomTxid(), amount: '10', trigger: true }] })
    .replace('"balance_fiat":"10"', '"balance_fiat":"10\\u0000999"')
    .replace('"amount_crypto":"10"', '"amount_crypto":"1\\u00000"');
  assert.match(body, /\\u0000/);
  const r = await fake.deliver({ callback_url: webhookUrl(), body });
  assert.equal(r.lastStatus, 400, r.response);
  assert.match(r.response, /"field":"(balance_fiat|transactions\[0\]\.amount_crypto)"/);
  assert.equal(inboxByBody(body)[0].verdict, 'invalid');
  assert.deepEqual(payment(d.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });
});

test('a timestamp header is digits only, even under a correct signature', async () => {
  const m = marketplace(1);
  const d = await intent(m);
  const body = callback({ externalId: d.externalId, status: 'PAID', addr: d.walletAddress,
    txs: [{ txid: randomTxid(), amount: '10', trigger: true }] });
  for (const ts of [`+${now()}`, `${now()}.0`, `-${now()}`, `${now()}x`]) {
    // The fake signs "<timestamp>.<body>" with the real key, whatever the timestamp says.
    const r = await fake.deliver({ callback_url: webhookUrl(), body, timestamp: ts, signature: sign(ts, body) });
    assert.equal(r.lastStatus, 401, `${ts}: ${r.response}`);
  }
  assert.equal(inboxByBody(body).length, 0);
  assert.deepEqual(payment(d.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });
});

// --- an invoice id that is already another payment's --------------------------------------

test('SHKeeper answering with an invoice another payment holds: 502, the pay-in kept for a retry, admins told once', async () => {
  // A gateway whose database was restored hands out ids it gave before. The
  // fake numbers invoices in order: make the next one already ours.
  const first = await intent(marketplace(1));
  const next = String(Number(first.shkeeperInvoiceId) + 1);
  sql(`UPDATE payments SET provider_payment_id = :'n' WHERE id = :'id';`, { n: next, id: first.paymentId });

  const m = marketplace(1);
  const r = await postIntent(m);
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.success, false);
  assert.equal(r.json.error.code, 'upstream_conflict');
  assert.match(r.json.message, new RegExp(`invoice ${next}`));
  assert.match(r.headers.get('retry-after') ?? '', /^\d+$/);
  const [[id, status, providerId, leased]] = sql(`SELECT id, status, coalesce(provider_payment_id, ''),
    upstream_lease_until IS NOT NULL FROM payments WHERE buyer_id = :'b';`, { b: m.buyer });
  assert.deepEqual([status, providerId, leased], ['pending', '', 'f'], 'pending, nothing attached, free to retry');
  assert.equal(count('payments', `provider = 'shkeeper' AND provider_payment_id = :'n'`, { n: next }), 1);
  const review = () => eventsOf(id).filter((e) => e.event === 'payment-needs-review');
  assert.equal(review().length, 1);
  assert.equal(review()[0].room, 'admin');
  assert.equal(review()[0].payload.invoiceId, next);
  assert.equal(review()[0].payload.otherPaymentId, first.paymentId);

  // A retry meets the same answer and tells the admins nothing new.
  assert.equal((await postIntent(m)).status, 502);
  assert.equal(review().length, 1);

  // Once the records are put right, the retry takes the invoice.
  sql(`UPDATE payments SET provider_payment_id = :'n' WHERE id = :'id';`, { n: first.shkeeperInvoiceId, id: first.paymentId });
  const ok = await postIntent(m);
  assert.ok(ok.status === 200 || ok.status === 201, ok.text);
  assert.equal(ok.json.data.paymentId, id);
  assert.equal(ok.json.data.shkeeperInvoiceId, next);
});
