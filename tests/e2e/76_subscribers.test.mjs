// Signed webhooks to the marketplace's other services (subscribers), sent by
// the jobs process: one that fails for a while then recovers gets every
// event, once per id apart from retries of that id, each signed; one that
// hangs holds up neither the others nor the live stream; admins see which
// subscriber is failing and can send deliveries again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, env, token, uid, sql, eventually, sale } from './lib.mjs';
import { fake, marketplace, intent } from './shkeeper_lib.mjs';
import { subscribe, catchUp } from './sse.mjs';
import { startJobs, stopAllJobs, relayed } from './jobs_lib.mjs';

const GIVE_UP = 10;
const admin = token(uid('dadm'), 'admin');

// A subscriber's endpoint: records every request; answers 500 ('fail'), 204 ('ok') or never ('hang').
function endpoint(name, mode) {
  const secret = `${name}-secret-${uid('k')}-0123456789abcdef`;
  const file = join(env.STACK_DIR, `subscriber_${name}_secret`);
  writeFileSync(file, secret, { mode: 0o600 });
  const ep = { name, secret, file, mode, got: [], server: null };
  ep.server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const answer = ep.mode === 'ok' ? 204 : ep.mode === 'fail' ? 500 : null;
      ep.got.push({ headers: req.headers, body, json: JSON.parse(body), status: answer, at: Date.now() });
      if (answer) res.writeHead(answer).end();
      // 'hang': never answered; the connection is dropped by the sender's timeout.
    });
  });
  return new Promise((resolve) => ep.server.listen(0, '127.0.0.1', () => {
    ep.url = `http://127.0.0.1:${ep.server.address().port}/hooks/${name}`;
    resolve(ep);
  }));
}

const subscriberEnv = (ep, events) => ({
  [`PAYMENTS_SUBSCRIBER_${ep.name.toUpperCase()}_URL`]: ep.url,
  [`PAYMENTS_SUBSCRIBER_${ep.name.toUpperCase()}_EVENTS`]: events,
  [`PAYMENTS_SUBSCRIBER_${ep.name.toUpperCase()}_SECRET_FILE`]: ep.file,
});

let orders, dead, chat, startId;

before(async () => {
  orders = await endpoint('orders', 'fail');
  dead = await endpoint('dead', 'hang');
  chat = await endpoint('chat', 'ok');
  // Whatever earlier files left unrelayed is carried first, to no subscriber.
  startJobs();
  await relayed();
  await stopAllJobs();
  startId = Number(sql(`SELECT coalesce(max(id), 0) FROM events;`)[0][0]);
  startJobs({
    ...subscriberEnv(orders, '*'), ...subscriberEnv(dead, '*'), ...subscriberEnv(chat, 'chat-requested'),
    PAYMENTS_SUBSCRIBER_RETRY_BASE_SECONDS: '1', PAYMENTS_SUBSCRIBER_RETRY_MAX_SECONDS: '2',
    PAYMENTS_SUBSCRIBER_TIMEOUT_MS: '1500', PAYMENTS_SUBSCRIBER_CONNECT_TIMEOUT_MS: '500',
    PAYMENTS_SUBSCRIBER_GIVE_UP_SECONDS: String(GIVE_UP), PAYMENTS_JOBS_DELIVER_SECONDS: '1',
  });
});

after(async () => {
  await stopAllJobs();
  for (const ep of [orders, dead, chat]) {
    ep?.server.closeAllConnections();
    ep?.server.close();
  }
});

const ours = () => sql(`SELECT id, event FROM events WHERE id > :'s' ORDER BY id;`, { s: startId })
  .map(([id, event]) => ({ id: Number(id), event }));

function assertSigned(ep, r) {
  const ts = r.headers['x-payments-timestamp'];
  assert.match(ts, /^\d+$/);
  assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 300, 'a fresh timestamp');
  const expected = createHmac('sha256', ep.secret).update(`${ts}.${r.body}`).digest('hex');
  assert.equal(r.headers['x-payments-signature'], expected, 'signed with the subscriber\'s secret');
  assert.equal(r.headers['x-payments-event-id'], String(r.json.id));
  assert.equal(r.headers['x-payments-event'], r.json.event);
  assert.match(r.headers['content-type'], /^application\/json/);
}

test('a subscriber that fails for a while, then recovers, gets every event once per id, signed; a hanging one delays neither it nor the stream', async () => {
  const m = marketplace(2);
  const stream = await subscribe(`user:${m.buyer}`, { token: m.token });
  try {
    const d = await intent(m);
    await eventually(() => orders.got.length >= 2, 10000, 50);
    assert.ok(orders.got.every((r) => r.status === 500), 'failing so far');

    // The pay-in completes while one subscriber fails and another hangs: the buyer still hears at once.
    const paid = await fake.pay({ external_id: d.externalId, amount_crypto: '10' });
    assert.equal(paid.lastStatus, 202);
    const committed = Date.now();
    await stream.until((evs) => evs.some((e) => e.event === 'payment-update' && e.data.data.status === 'completed'), 1000);
    assert.ok(Date.now() - committed <= 1000);

    // A second try of the same event is the same body under a new signature.
    const retried = await eventually(() => {
      const ids = orders.got.map((r) => r.json.id);
      return ids.find((id, i) => ids.indexOf(id) !== i);
    }, 10000, 50);
    assert.ok(retried, 'a failed delivery is tried again');
    orders.mode = 'ok';

    const expected = ours();
    const deliveredAll = () => {
      const ok = new Set(orders.got.filter((r) => r.status === 204).map((r) => r.json.id));
      return expected.every((e) => ok.has(e.id));
    };
    assert.ok(await eventually(deliveredAll, 20000, 100), 'every event reached the recovered subscriber');
    // Nothing new is sent once delivered: let any attempt in flight land, then compare.
    await relayed();
    await eventually(() => sql(`SELECT count(*) FROM event_deliveries WHERE subscriber = 'orders' AND state = 'pending'
      AND event_id > :'s';`, { s: startId })[0][0] === '0', 10000, 100);

    for (const e of expected) {
      const reqs = orders.got.filter((r) => r.json.id === e.id);
      assert.ok(reqs.length >= 1, `event ${e.id} delivered`);
      assert.equal(reqs.filter((r) => r.status === 204).length, 1, `event ${e.id} acknowledged once`);
      assert.ok(reqs.slice(0, -1).every((r) => r.status === 500), `event ${e.id}: only failed tries before the good one`);
      assert.ok(reqs.every((r) => r.body === reqs[0].body), `event ${e.id}: every try carries the same body`);
      assert.equal(reqs[0].json.event, e.event);
      for (const r of reqs) assertSigned(orders, r);
    }
    assert.ok(expected.some((e) => e.event === 'payment-update'), 'the pay-in\'s events were among them');

    // The chat service asked for chat-requested alone, and got exactly that, once.
    const chats = expected.filter((e) => e.event === 'chat-requested').map((e) => e.id);
    assert.equal(chats.length, 1);
    await eventually(() => chat.got.some((r) => r.json.id === chats[0]), 10000, 50);
    assert.deepEqual(chat.got.filter((r) => r.json.id > startId).map((r) => r.json.id), chats);
    for (const r of chat.got) assertSigned(chat, r);
    assert.equal(chat.got[0].json.data.purchaseRequestId, m.request);
  } finally {
    stream.close();
  }
});

test('admins see the hanging subscriber failing, and redeliver what it missed once it answers', async () => {
  // Its deliveries give up after the configured time.
  await eventually(() => Number(sql(`SELECT count(*) FROM event_deliveries WHERE subscriber = 'dead' AND state = 'failed'
    AND event_id > :'s';`, { s: startId })[0][0]) > 0, (GIVE_UP + 15) * 1000, 250);

  assert.equal((await api('GET', '/api/payment/admin/deliveries', { token: token(uid('u'), 'buyer') })).status, 403);
  const view = await api('GET', '/api/payment/admin/deliveries', { token: admin });
  assert.equal(view.status, 200, view.text);
  const byName = Object.fromEntries(view.json.data.subscribers.map((s) => [s.name, s]));
  assert.equal(byName.dead.failing, true);
  assert.ok(byName.dead.failed > 0);
  assert.match(byName.dead.lastError, /timed out|timeout/i);
  assert.equal(byName.orders.failing, false);
  assert.equal(byName.orders.lastStatus, 204);

  const failed = await api('GET', '/api/payment/admin/deliveries?subscriber=dead&state=failed&limit=100', { token: admin });
  assert.equal(failed.status, 200);
  assert.ok(failed.json.data.deliveries.length > 0);
  for (const d of failed.json.data.deliveries) {
    assert.equal(d.subscriber, 'dead');
    assert.equal(d.state, 'failed');
    assert.ok(d.attempts >= 1);
    assert.equal(d.deliveredAt, null);
  }
  assert.equal((await api('GET', '/api/payment/admin/deliveries?state=lost', { token: admin })).status, 400);
  const attempts = Number(sql(`SELECT count(*) FROM event_delivery_attempts a JOIN event_deliveries d ON d.id = a.delivery_id
    WHERE d.subscriber = 'dead' AND a.http_status IS NULL AND a.error IS NOT NULL;`)[0][0]);
  assert.ok(attempts >= 1, 'each attempt is recorded with what went wrong');

  // It answers again; everything it gave up on is sent once more, on request.
  dead.mode = 'ok';
  const wanted = sql(`SELECT event_id FROM event_deliveries WHERE subscriber = 'dead' AND state = 'failed';`).map(([id]) => Number(id));
  const again = await api('POST', '/api/payment/admin/deliveries/redeliver', { token: admin, body: { subscriber: 'dead' } });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.data.redelivered, wanted.length);
  const okIds = () => new Set(dead.got.filter((r) => r.status === 204).map((r) => r.json.id));
  assert.ok(await eventually(() => wanted.every((id) => okIds().has(id)), 30000, 200), 'every failed delivery arrived');
  for (const r of dead.got.filter((x) => x.status === 204)) assertSigned(dead, r);

  // One delivered delivery sent again on request: the same event id, a fresh signature.
  const [[one, eventId]] = sql(`SELECT id, event_id FROM event_deliveries WHERE subscriber = 'orders' AND state = 'delivered'
    AND event_id > :'s' ORDER BY id LIMIT 1;`, { s: startId });
  const before_ = orders.got.filter((r) => r.json.id === Number(eventId)).length;
  const single = await api('POST', `/api/payment/admin/deliveries/${one}/redeliver`, { token: admin });
  assert.equal(single.status, 200, single.text);
  assert.equal(single.json.data.deliveries[0].state, 'pending');
  await eventually(() => orders.got.filter((r) => r.json.id === Number(eventId)).length === before_ + 1, 10000, 100);
  assert.equal((await api('POST', '/api/payment/admin/deliveries/999999999/redeliver', { token: admin })).status, 404);
});

test('with the publisher away, subscribers still get every event, and the stream catches up when it is back', async () => {
  await stopAllJobs();
  orders.mode = 'ok';
  const jobs = startJobs({
    ...subscriberEnv(orders, '*'), PAYMENTS_SUBSCRIBER_RETRY_BASE_SECONDS: '1', PAYMENTS_SUBSCRIBER_RETRY_MAX_SECONDS: '2',
    PAYMENTS_STREAM_PUBLISHER: `unix:${join(env.STACK_DIR, 'no-such-publisher.sock')}`, PAYMENTS_JOBS_RELAY_SECONDS: '2',
  });
  const buyer = uid('pa');
  const t = token(buyer, 'buyer');
  const r = await api('POST', '/api/payment', {
    token: t, body: { ...sale(buyer, { request: uid('pap') }), buyerId: buyer, amount: { amount: '3', currency: 'USDT' } },
  });
  assert.equal(r.status, 201, r.text);
  const mine = sql(`SELECT id FROM events WHERE payment_id = :'p' ORDER BY id;`, { p: r.json.data.id }).map(([id]) => Number(id));
  assert.ok(await eventually(() => mine.every((id) => orders.got.some((g) => g.json.id === id && g.status === 204)), 15000, 100),
    'the webhooks went out');
  assert.equal(sql(`SELECT count(*) FROM events WHERE payment_id = :'p' AND relayed_at IS NULL;`, { p: r.json.data.id })[0][0],
    String(mine.length), 'none published');
  // Each failure waits for the next poll instead of retrying on every new event.
  const tries = (jobs.log.match(/relay: publishing event \d+ failed/g) ?? []).length;
  assert.ok(tries >= 1 && tries <= 10, `${tries} failed tries logged`);
  await stopAllJobs();
  startJobs();
  await relayed();
  const { events } = await catchUp(`user:${buyer}`, t, 0);
  assert.deepEqual(events.map((e) => e.id), mine.filter((id) => sql(`SELECT room FROM events WHERE id = :'i';`, { i: id })[0][0] === `user:${buyer}`));
});

test('retention prunes old events only once relayed and sent to every subscriber, never one whose delivery failed', async () => {
  await stopAllJobs();
  const mark = uid('ret');
  const old = (room, extra = '') => Number(sql(`INSERT INTO events (event, room, payload, created_at ${extra ? ', stream_seq, relayed_at' : ''})
    VALUES ('payment-update', :'r', '{}', now() - interval '40 days' ${extra}) RETURNING id;`, { r: room })[0][0]);
  const relayedCols = ", nextval('events_stream_seq'), now() - interval '40 days'";
  const done = old(`user:${mark}-a`, relayedCols);
  const owed = old(`user:${mark}-b`, relayedCols);
  const sent = old(`user:${mark}-c`, relayedCols);
  const unrelayed = old(`user:${mark}-d`);
  const failed = old(`user:${mark}-e`, relayedCols);
  sql(`INSERT INTO event_deliveries (event_id, subscriber, give_up_at) VALUES (:'o', 'gone', now() + interval '1 day');
       INSERT INTO event_deliveries (event_id, subscriber, give_up_at, state, delivered_at)
       VALUES (:'s', 'orders', now(), 'delivered', now());
       INSERT INTO event_deliveries (event_id, subscriber, give_up_at, state)
       VALUES (:'f', 'gone', now() - interval '39 days', 'failed');`, { o: owed, s: sent, f: failed });
  const left = () => sql(`SELECT id FROM events WHERE id IN (:'a', :'b', :'c', :'d', :'e') ORDER BY id;`,
    { a: done, b: owed, c: sent, d: unrelayed, e: failed }).map(([id]) => Number(id));
  // Retention alone: nothing relays or delivers meanwhile.
  startJobs({ PAYMENTS_JOBS_RETENTION_SECONDS: '1', PAYMENTS_JOBS_RELAY_SECONDS: '0', PAYMENTS_JOBS_DELIVER_SECONDS: '0' });
  try {
    assert.ok(await eventually(() => left().length === 3, 15000, 100), `left: ${left()}`);
    assert.deepEqual(left(), [owed, unrelayed, failed], 'a failed delivery waits for an admin to redeliver it');
    assert.equal(sql(`SELECT count(*) FROM event_deliveries WHERE event_id = :'s';`, { s: sent })[0][0], '0', 'its delivery went with it');
  } finally {
    await stopAllJobs();
    sql(`DELETE FROM event_deliveries WHERE event_id IN (:'o', :'f'); DELETE FROM events WHERE id IN (:'o', :'d', :'f');`,
      { o: owed, d: unrelayed, f: failed });
  }
});
