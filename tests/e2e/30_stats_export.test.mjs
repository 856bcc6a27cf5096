// Stats (counts and exact sums) and exports (JSON and CSV): each user sees
// only their own payments, sums are exact decimals, CSV cells are safe to open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, env, token, uid, sql, count, sale } from './lib.mjs';

const ADMIN = token(uid('admin'), 'admin');

async function create(buyer, amount, currency = 'USDT', over = {}) {
  const body = { purchaseRequestId: uid('pr'), sellerOfferId: uid('o'), buyerId: buyer, sellerId: uid('s'),
    amount: { amount, currency }, ...over };
  sale(buyer, { request: body.purchaseRequestId, offer: body.sellerOfferId, seller: body.sellerId });
  const r = await api('POST', '/api/payment', { token: token(buyer, 'buyer'), body });
  assert.equal(r.status, 201, r.text);
  return r.json.data;
}

async function setStatus(id, status) {
  const r = await api('PUT', `/api/payment/${id}`, { token: ADMIN, body: { status, override: true, reason: 'test fixture' } });
  assert.equal(r.status, 200, r.text);
}

// A strict RFC 4180 reader: rows end with CRLF, "" inside quotes; a quote
// may only open or close a cell, and a CR or LF outside quotes is only ever
// a row's CRLF. Anything else fails the test.
function parseCsv(text) {
  const rows = [];
  let row = [], cell = '', quoted = false, closed = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') { quoted = false; closed = true; }
      else cell += c;
      continue;
    }
    if (c === ',') { row.push(cell); cell = ''; closed = false; }
    else if (c === '\r' && text[i + 1] === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; closed = false; i++; }
    else {
      assert.ok(!closed, `text after a closing quote at ${i}`);
      assert.ok(c !== '\r' && c !== '\n', `a bare line break outside quotes at ${i}`);
      assert.ok(c !== '"' || cell === '', `a quote inside an unquoted cell at ${i}`);
      if (c === '"') quoted = true;
      else cell += c;
    }
  }
  assert.ok(!quoted, 'an unterminated quoted cell');
  assert.equal(cell, '', 'the CSV ends with CRLF');
  assert.equal(row.length, 0, 'the CSV ends with CRLF');
  return rows;
}

const CSV_HEADER = ['id', 'direction', 'provider', 'status', 'escrowState', 'purchaseRequestId', 'sellerOfferId', 'buyerId',
  'sellerId', 'amount', 'currency', 'network', 'token', 'transactionHash', 'createdAt', 'updatedAt', 'completedAt'];

// --- stats ----------------------------------------------------------------

test('stats: counts and exact sums per status and currency (0.1 + 0.2 = 0.3), with the currency\'s decimals', async () => {
  const buyer = uid('b');
  await create(buyer, '0.1');
  await create(buyer, 0.2);
  const done = await create(buyer, '5.5', 'USD');
  await setStatus(done.id, 'completed');
  await create(buyer, '1', 'ETH');
  await create(buyer, '0.000000000000000001', 'ETH');

  const r = await api('GET', '/api/payment/stats', { token: token(buyer, 'buyer') });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.success, true);
  assert.equal(r.json.data.userId, buyer);
  assert.equal(r.json.data.totalCount, 5);
  assert.deepEqual(r.json.data.byStatus.map((g) => [g.status, g.currency, g.count]),
    [['completed', 'USD', 1], ['pending', 'ETH', 2], ['pending', 'USDT', 2]]);
  // Exact decimals in the JSON text itself, not a double's approximation,
  // written with the currency's scale (USDT 6, USD 2, ETH 18), and the same digits as a string.
  assert.match(r.text, /\{"status":"pending","currency":"USDT","count":2,"totalAmount":0\.300000,"totalAmountDecimal":"0\.300000"\}/);
  assert.match(r.text, /\{"status":"completed","currency":"USD","count":1,"totalAmount":5\.50,"totalAmountDecimal":"5\.50"\}/);
  assert.match(r.text, /\{"status":"pending","currency":"ETH","count":2,"totalAmount":1\.000000000000000001,"totalAmountDecimal":"1\.000000000000000001"\}/);
});

test('stats: a user with no payments gets zero counts', async () => {
  const r = await api('GET', '/api/payment/stats', { token: token(uid('nobody'), 'buyer') });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.totalCount, 0);
  assert.deepEqual(r.json.data.byStatus, []);
});

test("stats: a non-admin sees only payments they are buyer or seller of, never another user's", async () => {
  const buyer = uid('b');
  const seller = uid('s');
  await create(buyer, '7', 'USDT', { sellerId: seller });
  await create(uid('stranger'), '1000', 'USDT', { sellerId: uid('s') });
  for (const [sub, role] of [[buyer, 'buyer'], [seller, 'seller']]) {
    for (const path of ['/api/payment/stats', `/api/payment/stats/${sub}`]) {
      const r = await api('GET', path, { token: token(sub, role) });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.data.userId, sub);
      assert.equal(r.json.data.totalCount, 1, `${sub} ${path}`);
      assert.match(r.text, /"count":1,"totalAmount":7\.000000,"totalAmountDecimal":"7\.000000"\}/);
    }
  }
});

test('stats: an admin sees global totals matching the database, and any one user on request', async () => {
  const buyer = uid('b');
  await create(buyer, '2.25');
  const r = await api('GET', '/api/payment/stats', { token: ADMIN });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.userId, null);
  // The sums at each currency's scale (the stack's currencies: USD and EUR 2, USDT and USDC 6, BNB and ETH 18).
  const groups = sql(`SELECT status, currency, count(*), round(sum(amount), greatest(scale(sum(amount)),
    CASE currency WHEN 'USD' THEN 2 WHEN 'EUR' THEN 2 WHEN 'USDT' THEN 6 WHEN 'USDC' THEN 6 ELSE 18 END))::text
    FROM payments GROUP BY status, currency ORDER BY status, currency;`);
  assert.equal(r.json.data.totalCount, groups.reduce((n, g) => n + Number(g[2]), 0));
  assert.equal(r.json.data.totalCount, count('payments'));
  assert.equal(r.json.data.byStatus.length, groups.length);
  for (const [status, currency, n, sum] of groups) {
    assert.ok(r.text.includes(`{"status":"${status}","currency":"${currency}","count":${n},"totalAmount":${sum},"totalAmountDecimal":"${sum}"}`),
      `group ${status}/${currency}: ${n}, ${sum}`);
  }
  const one = await api('GET', `/api/payment/stats/${buyer}`, { token: ADMIN });
  assert.equal(one.status, 200, one.text);
  assert.equal(one.json.data.userId, buyer);
  assert.equal(one.json.data.totalCount, 1);
  assert.match(one.text, /"totalAmount":2\.250000,"totalAmountDecimal":"2\.250000"\}/);
  const bad = await api('GET', '/api/payment/stats/bad!id', { token: ADMIN });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json.error.field, 'userId');
});

// --- export ---------------------------------------------------------------

test("export json: a download of all the caller's payments, exact amounts, nobody else's", async () => {
  const buyer = uid('b');
  const seller = uid('s');
  const mine = [await create(buyer, '12.345678'), await create(buyer, '1', 'USD', { sellerId: seller })];
  const asSeller = await create(uid('b'), '3', 'USDT', { sellerId: buyer });
  const other = await create(uid('stranger'), '99');
  await setStatus(mine[0].id, 'completed');

  const r = await api('GET', '/api/payment/export?format=json', { token: token(buyer, 'buyer') });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.equal(r.headers.get('content-disposition'), 'attachment; filename="payments.json"');
  assert.equal(r.json.success, true);
  const ids = r.json.data.map((p) => p.id);
  assert.deepEqual(new Set(ids), new Set([mine[0].id, mine[1].id, asSeller.id]));
  assert.equal(ids.length, 3);
  assert.ok(!r.text.includes(other.id));
  assert.match(r.text, /"amount":\{"amount":12\.345678,"amountDecimal":"12\.345678","currency":"USDT"\}/);
  // Each exported record is the record GET /:id answers.
  const g = await api('GET', `/api/payment/${mine[0].id}`, { token: token(buyer, 'buyer') });
  assert.deepEqual(r.json.data.find((p) => p.id === mine[0].id), g.json.data);

  // json is the default format.
  const d = await api('GET', '/api/payment/export', { token: token(buyer, 'buyer') });
  assert.equal(d.status, 200);
  assert.equal(d.headers.get('content-disposition'), 'attachment; filename="payments.json"');
  assert.deepEqual(new Set(d.json.data.map((p) => p.id)), new Set(ids));
});

test('export json: a user with no payments gets an empty, complete document', async () => {
  const r = await api('GET', '/api/payment/export?format=json', { token: token(uid('nobody'), 'buyer') });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { success: true, data: [] });
});

test("export csv: header, one row per own payment with exact amounts, nobody else's", async () => {
  const buyer = uid('b');
  const a = await create(buyer, '0.1');
  const b = await create(buyer, '1000000.000001', 'USDC');
  const tx = '0x' + 'ab'.repeat(32);
  const put = await api('PUT', `/api/payment/${b.id}`, { token: ADMIN, body: { status: 'completed', transactionHash: tx, override: true, reason: 'test fixture' } });
  assert.equal(put.status, 200, put.text);
  const other = await create(uid('stranger'), '5');

  const r = await api('GET', '/api/payment/export?format=csv', { token: token(buyer, 'buyer') });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type'), /^text\/csv/);
  assert.equal(r.headers.get('content-disposition'), 'attachment; filename="payments.csv"');
  const rows = parseCsv(r.text);
  assert.deepEqual(rows[0], CSV_HEADER);
  assert.equal(rows.length, 3, r.text);
  for (const row of rows) assert.equal(row.length, CSV_HEADER.length, row.join('|'));
  const byId = Object.fromEntries(rows.slice(1).map((row) => [row[0], Object.fromEntries(CSV_HEADER.map((h, i) => [h, row[i]]))]));
  assert.deepEqual(Object.keys(byId).sort(), [a.id, b.id].sort());
  assert.ok(!r.text.includes(other.id));
  assert.equal(byId[a.id].amount, '0.1');
  assert.equal(byId[a.id].status, 'pending');
  assert.equal(byId[a.id].buyerId, buyer);
  assert.equal(byId[a.id].transactionHash, '');
  assert.equal(byId[a.id].completedAt, '');
  assert.equal(byId[b.id].amount, '1000000.000001');
  assert.equal(byId[b.id].currency, 'USDC');
  assert.equal(byId[b.id].status, 'completed');
  assert.equal(byId[b.id].escrowState, 'funded');
  assert.equal(byId[b.id].transactionHash, tx);
  assert.equal(byId[b.id].completedAt, put.json.data.completedAt);
  assert.equal(byId[b.id].createdAt, b.createdAt);
});

test('export csv: cells starting with "-" are neutralised with an apostrophe so no spreadsheet runs them', async () => {
  const buyer = uid('b');
  const p = await create(buyer, '1', 'USDT', { purchaseRequestId: '-cmd', sellerOfferId: '-2-3', sellerId: `-${uid('s')}` });
  const r = await api('GET', '/api/payment/export?format=csv', { token: token(buyer, 'buyer') });
  assert.equal(r.status, 200, r.text);
  const line = r.text.split('\r\n').find((l) => l.startsWith(p.id));
  assert.ok(line, r.text);
  assert.ok(line.includes(`,"'-cmd",`), line);
  assert.ok(line.includes(`,"'-2-3",`), line);
  assert.ok(line.includes(`,"'${p.sellerId}",`), line);
  const row = parseCsv(r.text).find((cells) => cells[0] === p.id);
  assert.equal(row[5], "'-cmd");
  assert.equal(row[6], "'-2-3");
  assert.equal(row[8], `'${p.sellerId}`);
  // The record itself keeps the id as given.
  assert.equal(p.purchaseRequestId, '-cmd');
  // An id that merely contains a '-' further in is not touched.
  assert.ok(line.includes(`,${buyer},`), line);
});

test('export csv: a user with no payments gets the header only', async () => {
  const r = await api('GET', '/api/payment/export?format=csv', { token: token(uid('nobody'), 'buyer') });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(parseCsv(r.text), [CSV_HEADER]);
});

test("export: an admin exports one user's payments on request, or everyone's", async () => {
  const buyer = uid('b');
  const p = await create(buyer, '4');
  await create(uid('stranger'), '4');
  const one = await api('GET', `/api/payment/export/${buyer}?format=json`, { token: ADMIN });
  assert.equal(one.status, 200, one.text);
  assert.deepEqual(one.json.data.map((x) => x.id), [p.id]);
  const self = await api('GET', `/api/payment/export/${buyer}?format=csv`, { token: token(buyer, 'buyer') });
  assert.equal(self.status, 200);
  assert.equal(parseCsv(self.text).length, 2);
  const all = await api('GET', '/api/payment/export?format=csv', { token: ADMIN });
  assert.equal(all.status, 200);
  assert.equal(parseCsv(all.text).length - 1, count('payments'));
});

test('export: an unknown format is 400 naming format', async () => {
  const t = token(uid('b'), 'buyer');
  for (const q of ['format=xml', 'format=', 'format=JSON', 'format=csv2', 'format=%zz']) {
    const r = await api('GET', `/api/payment/export?${q}`, { token: t });
    assert.equal(r.status, 400, `${q}: ${r.text}`);
    assert.equal(r.json.success, false);
    assert.equal(r.json.error.code, 'invalid_field');
    assert.equal(r.json.error.field, 'format');
    assert.equal(r.headers.get('content-disposition'), null);
  }
});

// CSV has no end of its own: an export the database stops after its first rows
// must not end as a complete answer would, or the part is taken for the whole.
test('export: the database lost mid-stream cuts the answer off, for CSV as for JSON', async () => {
  const rows = 300000;
  sql(`INSERT INTO payments (direction, provider, status, escrow_state, purchase_request_id, buyer_id, seller_id,
         amount, currency, created_by, created_at)
       SELECT 'in', 'manual', 'completed', 'funded', 'cut-pr-' || g, 'cut-buyer', 'cut-seller', 1, 'USDT', 'export-cut',
              now() - interval '1 year' + g * interval '1 millisecond'
       FROM generate_series(1, ${rows}) g;`);
  try {
    for (const format of ['csv', 'json']) {
      const res = await fetch(`${env.BASE_URL}/api/payment/export?format=${format}`, { headers: { authorization: `Bearer ${ADMIN}` } });
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      let got = (await reader.read()).value?.length ?? 0;
      // The worker's session, streaming the export, ends as a failover or an admin would end it.
      const [[ended]] = sql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%FROM payments p%ORDER BY p.created_at, p.id%';`);
      assert.ok(Number(ended) >= 1, 'the export was still streaming');
      const rest = (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return got;
          got += value.length;
        }
      })();
      await assert.rejects(rest, `${format}: an answer cut off, not one that ends`);
    }
  } finally {
    sql(`DELETE FROM payments WHERE created_by = 'export-cut';`);
  }
});
