// What operators and developers see of SHKeeper pay-ins: webhook counters,
// the monitors' status, the outbox of events, and the dev-mode helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, sql, token, uid, fake, marketplace, intent, payment, callback, randomTxid, webhookUrl, inboxByExternal,
  eventually, chainTransfer, noChain,
} from './shkeeper_lib.mjs';

const admin = token('adm-shk', 'admin');

// Every number in a JSON document, by its path.
function numbers(value, path = '', out = {}) {
  if (typeof value === 'number') out[path] = value;
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) numbers(v, `${path}.${k}`, out);
  return out;
}

test('webhook-stats: admins only, and its counters follow the deliveries', async () => {
  const buyer = await api('GET', '/api/payment/shkeeper/webhook-stats', { token: token(uid('b'), 'buyer') });
  assert.equal(buyer.status, 403, buyer.text);
  assert.equal((await api('GET', '/api/payment/shkeeper/webhook-stats')).status, 401);

  const before = await api('GET', '/api/payment/shkeeper/webhook-stats', { token: admin });
  assert.equal(before.status, 200, before.text);
  assert.equal(before.json.success, true);
  const body = callback({ externalId: uid('nobody'), status: 'PAID', txs: [{ txid: randomTxid(), amount: '1', trigger: true }] });
  assert.equal((await fake.deliver({ callback_url: webhookUrl(), body })).lastStatus, 202);
  assert.equal((await fake.deliver({ callback_url: webhookUrl(), body: body + ' ', signature: '00'.repeat(32) })).lastStatus, 401);
  const after = await api('GET', '/api/payment/shkeeper/webhook-stats', { token: admin });
  const [[stored]] = sql(`SELECT count(*) FROM webhook_inbox WHERE provider = 'shkeeper';`);
  const a = before.json.data, b = after.json.data;
  // The totals are the inbox's SHKeeper deliveries, split by outcome; the stored delivery is among them.
  assert.equal(b.total, Number(stored), after.text);
  assert.equal(Object.values(b.byOutcome).reduce((x, y) => x + y, 0), b.total, after.text);
  const [row] = inboxByExternal(JSON.parse(body).external_id);
  assert.equal(row.outcome, 'unknown_payment');
  assert.ok(b.byOutcome.unknown_payment >= (a.byOutcome.unknown_payment ?? 0) + 1, after.text);
  assert.ok(b.total >= a.total + 1, after.text);
  const rows = b.deliveries.filter((d) => d.provider === 'shkeeper' && d.outcome === 'unknown_payment');
  assert.equal(rows.reduce((x, d) => x + d.count, 0), b.byOutcome.unknown_payment, after.text);
  // The forged one was counted, never stored.
  const refused = (d) => d.refused.byProvider.shkeeper?.['bad signature']?.deliveries ?? 0;
  assert.equal(refused(b), refused(a) + 1, after.text);
  for (const [k, v] of Object.entries(numbers(a))) if (!/age|seconds|rate|percent|latest|last/i.test(k)) assert.ok(numbers(b)[k] >= v, `${k} never shrinks`);
});

test('wallet-monitor and auto-webhook status answer honestly', async () => {
  for (const path of ['/api/payment/shkeeper/wallet-monitor/status', '/api/payment/shkeeper/auto-webhook/status']) {
    const r = await api('GET', path, { token: admin });
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    assert.equal(r.json.success, true);
  }
  const m = (await api('GET', '/api/payment/shkeeper/wallet-monitor/status', { token: admin })).json.data;
  assert.equal(typeof m.isMonitoring, 'boolean');
  const [[senders]] = sql(`SELECT count(DISTINCT lower(sender_address)) FROM payments WHERE provider = 'decentralized'
                           AND direction = 'in' AND status IN ('pending', 'processing') AND sender_address IS NOT NULL;`);
  assert.equal(m.watchedSenderWallets, Number(senders));
  const cursors = sql(`SELECT network, last_block FROM chain_cursors ORDER BY network;`);
  assert.deepEqual(m.networks.map((n) => [n.network, String(n.cursor)]), cursors);
  for (const n of m.networks) assert.equal(n.lagBlocks, Math.max(0, n.headBlock - n.cursor));
  const p = (await api('GET', '/api/payment/shkeeper/auto-webhook/status', { token: admin })).json.data;
  assert.equal(typeof p.isRunning, 'boolean');
  const [[open]] = sql(`SELECT count(*) FROM payments WHERE provider = 'shkeeper' AND direction = 'in'
                        AND status IN ('pending', 'processing') AND external_id IS NOT NULL;`);
  assert.equal(p.pendingInvoices, Number(open), JSON.stringify(p));
  assert.ok(p.dueInvoices <= p.pendingInvoices, JSON.stringify(p));
});

test('admin events: ascending ids after `after`, at most `limit`, admins only', async () => {
  const [[max]] = sql('SELECT coalesce(max(id), 0) FROM events;');
  const m = marketplace(2);
  const d = await intent(m);
  await fake.pay({ external_id: d.externalId, amount_crypto: '10' });
  const r = await api('GET', `/api/payment/admin/events?after=${max}&limit=100`, { token: admin });
  assert.equal(r.status, 200, r.text);
  const list = Array.isArray(r.json.data) ? r.json.data : r.json.data.events;
  assert.ok(Array.isArray(list), r.text);
  const ids = list.map((e) => Number(e.id));
  assert.ok(ids.every((id) => id > Number(max)), 'only ids after `after`');
  assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'ascending');
  const names = list.map((e) => e.event);
  for (const e of ['payment-created', 'payment-update', 'seller-offer-update', 'purchase-request-update', 'chat-requested']) {
    assert.ok(names.includes(e), `${e} in ${names}`);
  }
  const two = await api('GET', `/api/payment/admin/events?after=${max}&limit=2`, { token: admin });
  const page = Array.isArray(two.json.data) ? two.json.data : two.json.data.events;
  assert.deepEqual(page.map((e) => Number(e.id)), ids.slice(0, 2));
  const buyer = await api('GET', `/api/payment/admin/events?after=0&limit=1`, { token: m.token });
  assert.equal(buyer.status, 403, buyer.text);
});

test('dev helpers exist in dev mode', async () => {
  const t = await api('POST', '/api/payment/shkeeper/test', { token: admin, body: {} });
  assert.notEqual(t.status, 404, t.text);
  assert.ok(t.status < 500, `shkeeper/test reaches the fake: ${t.status} ${t.text}`);
  for (const method of ['GET', 'POST']) {
    const r = await api(method, '/api/payment/shkeeper/callback-test', method === 'POST' ? { body: { ping: 1 } } : {});
    assert.equal(r.status, 200, `${method} callback-test: ${r.text}`);
  }
  const c = await api('POST', '/api/payment/shkeeper/create-test-payment', { token: admin, body: {} });
  assert.notEqual(c.status, 404, c.text);
  assert.ok(c.status < 500, c.text);
});

test('trigger-webhook sends a correctly signed delivery to our own webhook', { skip: noChain }, async () => {
  const m = marketplace(1);
  const d = await intent(m);
  // The PAID is checked on the chain like any other: it names a real transfer of the invoice's amount.
  const hash = await chainTransfer(d.walletAddress, String(d.amount));
  const r = await api('POST', '/api/payment/shkeeper/trigger-webhook',
    { token: m.token, body: { paymentId: d.paymentId, status: 'PAID', transactionHash: hash } });
  assert.ok(r.status >= 200 && r.status < 300, `${r.status} ${r.text}`);
  const rows = await eventually(() => inboxByExternal(d.externalId).filter((x) => x.verdict === 'valid').length && inboxByExternal(d.externalId));
  assert.ok(rows && rows.some((x) => x.verdict === 'valid'), `a valid delivery stored: ${JSON.stringify(rows)}`);
  assert.deepEqual(await eventually(() => payment(d.paymentId).status === 'completed' && payment(d.paymentId)),
    { status: 'completed', escrow: 'funded', txHash: hash });
});

test('the inbox list and replay: only deliveries that changed nothing are replayed', async () => {
  const m = marketplace(1);
  const inv = await intent(m);
  const lost = callback({ externalId: uid('nobody'), status: 'PAID', txs: [{ txid: randomTxid(), amount: '10', trigger: true }] });
  assert.equal((await fake.deliver({ callback_url: webhookUrl(), body: lost })).lastStatus, 202);
  const forged = callback({ externalId: inv.externalId, status: 'PAID', txs: [{ txid: randomTxid(), amount: '10', trigger: true }] });
  assert.equal((await fake.deliver({ callback_url: webhookUrl(), body: forged, signature: '00'.repeat(32) })).lastStatus, 401);
  // Signed, but two JSON documents: stored as invalid, never read.
  assert.equal((await fake.deliver({ callback_url: webhookUrl(), body: forged + forged })).lastStatus, 400);
  const w = await fake.pay({ external_id: inv.externalId, amount_crypto: '10' });
  assert.equal(w.lastStatus, 202);

  assert.equal((await api('GET', '/api/payment/admin/webhooks', { token: m.token })).status, 403);
  assert.equal((await api('GET', '/api/payment/admin/webhooks?outcome=bogus', { token: admin })).status, 400);
  const list = await api('GET', '/api/payment/admin/webhooks?outcome=unknown_payment&limit=100', { token: admin });
  assert.equal(list.status, 200, list.text);
  assert.ok(list.json.data.deliveries.every((d) => d.outcome === 'unknown_payment'));
  const all = (await api('GET', '/api/payment/admin/webhooks?limit=100', { token: admin })).json.data.deliveries;
  const byBody = (outcome) => all.find((d) => d.outcome === outcome && (d.externalId === inv.externalId || outcome === 'unknown_payment'));

  const applied = byBody('applied');
  const rejected = all.find((d) => d.verdict === 'invalid' && d.externalId === null);
  const unknown = list.json.data.deliveries[0];
  assert.ok(applied && rejected && unknown, JSON.stringify(all.slice(0, 5)));
  const replay = (id) => api('POST', `/api/payment/admin/webhooks/${id}/replay`, { token: admin });
  assert.equal((await replay(applied.id)).json.error.code, 'already_processed');
  assert.equal((await replay(rejected.id)).json.error.code, 'not_replayable');
  assert.equal((await replay('999999999')).status, 404);
  assert.equal((await replay('abc')).status, 404, 'not a delivery id: no such path');
  // The unknown one is still unknown: replayed, answered, and nothing else changes.
  const again = await replay(unknown.id);
  assert.equal(again.status, 202, again.text);
  assert.equal(again.json.data.outcome, 'unknown_payment');
  assert.equal(payment(inv.paymentId).status, 'completed');
});
