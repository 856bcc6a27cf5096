// Live streams through the real nginx (nchan) and the jobs process's relay:
// a buyer sees its pay-in move as it happens and nothing of anyone else's;
// a subscription is let in only for a room its token may follow; a client
// that was away gets exactly what it missed, from nginx's buffer when it
// still holds it and from the outbox when it does not; and no client can
// reach the publisher.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import { api, env, token, uid, sql, ROOT, forgeToken, sale } from './lib.mjs';
import { fake, marketplace, intent } from './shkeeper_lib.mjs';
import { subscribe, catchUp, follower, wsSubscribe } from './sse.mjs';
import { startJobs, stopAllJobs, relayed } from './jobs_lib.mjs';

// The buffer nginx keeps per room, as the production site file sets it.
const site = readFileSync(join(ROOT, 'nginx/fcgi-payments.conf'), 'utf8');
const BUFFER = Number(/nchan_message_buffer_length\s+(\d+);/.exec(site)[1]);

before(async () => {
  startJobs();
  await relayed();
});
after(stopAllJobs);

// A payment of `buyer` whose metadata the test changes to make payment-update events in the buyer's room.
async function ownPayment(buyer, t) {
  const r = await api('POST', '/api/payment', {
    token: t,
    body: { ...sale(buyer, { request: uid('spr'), offer: uid('so'), seller: uid('ss') }), buyerId: buyer, amount: { amount: '10', currency: 'USDT' } },
  });
  assert.equal(r.status, 201, r.text);
  return r.json.data.id;
}

// `n` payment-update events in the buyer's room, in order; returns their outbox ids.
async function updates(id, t, n) {
  const before_ = Number(sql(`SELECT coalesce(max(id), 0) FROM events;`)[0][0]);
  for (let i = 0; i < n; i++) {
    const r = await api('PUT', `/api/payment/${id}`, { token: t, body: { metadata: { step: i } } });
    assert.equal(r.status, 200, r.text);
  }
  return sql(`SELECT id FROM events WHERE payment_id = :'p' AND event = 'payment-update' AND id > :'a' ORDER BY id;`,
    { p: id, a: before_ }).map(([x]) => Number(x));
}

test('a buyer following its room sees its pay-in created, then paid within a second of the webhook, and no one else\'s events', async () => {
  const alice = marketplace(2);
  const bob = marketplace(1);
  // As a browser's EventSource would: the token in the query, no headers.
  const stream = await subscribe(`user:${alice.buyer}`, { query: { access_token: alice.token } });
  assert.equal(stream.status, 200);
  assert.match(stream.headers['content-type'], /^text\/event-stream/);
  try {
    const mine = await intent(alice);
    const theirs = await intent(bob);
    await stream.until((evs) => evs.some((e) => e.event === 'payment-created'), 5000);

    const paidBob = await fake.pay({ external_id: theirs.externalId, amount_crypto: '10' });
    assert.equal(paidBob.lastStatus, 202);
    const paid = await fake.pay({ external_id: mine.externalId, amount_crypto: '10' });
    assert.equal(paid.lastStatus, 202, paid.response);
    // The callback was committed when SHKeeper got its 202.
    const committed = Date.now();
    await stream.until((evs) => evs.some((e) => e.event === 'payment-update' && e.data.data.status === 'completed'), 1000);
    assert.ok(Date.now() - committed <= 1000);

    const created = stream.events.findIndex((e) => e.event === 'payment-created');
    const completed = stream.events.findIndex((e) => e.event === 'payment-update' && e.data.data.status === 'completed');
    assert.ok(created >= 0 && created < completed, 'created, then completed');
    assert.equal(stream.events[created].data.data.paymentId, mine.paymentId);
    assert.equal(stream.events[completed].data.paymentId, mine.paymentId);
    for (const e of stream.events) {
      // The SSE id is the outbox id, and every event is the buyer's own.
      assert.equal(Number(e.id), e.data.id);
      assert.equal(e.data.room, `user:${alice.buyer}`);
      assert.equal(e.event, e.data.event);
      assert.notEqual(e.data.paymentId, theirs.paymentId);
    }
    assert.ok(stream.events.some((e) => e.event === 'new-notification'), 'the buyer\'s notification came live too');
  } finally {
    stream.close();
  }
});

test('a WebSocket follows a room the same way, each frame one event as on the SSE stream', async () => {
  const buyer = uid('sw');
  const t = token(buyer, 'buyer');
  const refused = await wsSubscribe(`user:${buyer}`, { query: { access_token: token(uid('x'), 'buyer') } });
  assert.equal(refused.status, 403);
  const ws = await wsSubscribe(`user:${buyer}`, { query: { access_token: t } });
  assert.equal(ws.status, 101);
  try {
    const id = await ownPayment(buyer, t);
    const [update] = await updates(id, t, 1);
    const frames = await ws.until((m) => m.some((f) => f.startsWith(`id: ${update}\n`)), 5000);
    const frame = frames.find((f) => f.startsWith(`id: ${update}\n`));
    const [idLine, eventLine, dataLine] = frame.split('\n');
    assert.equal(idLine, `id: ${update}`);
    assert.equal(eventLine, 'event: payment-update');
    const data = JSON.parse(dataLine.replace(/^data: /, ''));
    assert.equal(data.id, update);
    assert.equal(data.data.paymentId, id);
  } finally {
    ws.close();
  }
});

test('a subscription is let in only for a room the token may follow', async () => {
  const m = marketplace(1);
  const stranger = token(uid('x'), 'buyer');
  const admin = token(uid('adm'), 'admin');
  const seller = token(m.winner.seller, 'seller');
  const refused = async (room, opts, status) => {
    const s = await subscribe(room, opts);
    assert.equal(s.status, status, `${room}: ${s.status} ${s.body}`);
    assert.equal(s.json?.success, false, s.body);
    return s;
  };
  await refused(`user:${m.buyer}`, {}, 401);
  await refused(`user:${m.buyer}`, { query: { access_token: 'not-a-token' } }, 401);
  const expired = forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub: m.buyer, role: 'buyer', exp: Math.floor(Date.now() / 1000) - 3600 });
  await refused(`user:${m.buyer}`, { token: expired }, 401);
  await refused(`user:${m.buyer}`, { token: stranger }, 403);
  await refused(`request:${m.request}`, { token: stranger }, 403);
  await refused('admin', { token: m.token }, 403);
  await refused('global', { token: m.token }, 403);
  // Rooms that are not rooms, and service rooms, are not streams at all.
  const odd = await subscribe('service:chat', { token: admin });
  assert.equal(odd.status, 404);

  for (const [room, t] of [[`user:${m.buyer}`, m.token], [`request:${m.request}`, m.token],
    [`request:${m.request}`, seller], ['admin', admin], [`user:${m.buyer}`, admin]]) {
    const s = await subscribe(room, { token: t });
    assert.equal(s.status, 200, `${room}`);
    s.close();
  }
  // The same rule guards the catch-up.
  assert.equal((await api('GET', `/api/payment/events?room=user:${m.buyer}`, { token: stranger })).status, 403);
  assert.equal((await api('GET', '/api/payment/events?room=admin', { token: m.token })).status, 403);
  assert.equal((await api('GET', `/api/payment/events?room=user:${m.buyer}`)).status, 401);
  assert.equal((await api('GET', '/api/payment/events?room=bogus', { token: m.token })).status, 400);
});

// EventSource sends its bearer token in the query: nginx's logs must never hold it,
// whichever location answers (the stream, a named location, an error page).
test('a token given as ?access_token= is written in no log, let in or refused', async () => {
  const m = marketplace(1);
  const stranger = token(uid('x'), 'buyer');
  const forged = `${token(uid('y'), 'buyer').slice(0, -4)}AAAA`;
  const ok = await subscribe(`user:${m.buyer}`, { query: { access_token: m.token } });
  assert.equal(ok.status, 200);
  ok.close?.();
  assert.equal((await subscribe(`user:${m.buyer}`, { query: { access_token: stranger } })).status, 403);
  assert.equal((await subscribe(`user:${m.buyer}`, { query: { access_token: forged } })).status, 401);
  // The parameter's name in any case is the same parameter to nginx.
  assert.equal((await subscribe(`user:${m.buyer}`, { query: { ACCESS_TOKEN: stranger } })).status, 403);
  const logs = join(env.STACK_DIR, 'nginx', 'logs');
  const access = await (async () => {
    // nginx writes its line when the request ends: the open stream's when it closes.
    for (let i = 0; i < 50; i++) {
      const text = readFileSync(join(logs, 'fcgi-payments.access.log'), 'utf8');
      if (text.includes(`/events/stream/user:${m.buyer}?(withheld)`)) return text;
      await new Promise((r) => setTimeout(r, 100));
    }
    return readFileSync(join(logs, 'fcgi-payments.access.log'), 'utf8');
  })();
  assert.match(access, new RegExp(`/events/stream/user:${m.buyer}\\?\\(withheld\\) HTTP/1\\.1" 40[13]`));
  const everything = access + readFileSync(join(logs, 'fcgi-payments.error.log'), 'utf8') + readFileSync(join(logs, 'error.log'), 'utf8');
  for (const secret of [m.token, stranger, forged]) {
    assert.ok(!everything.includes(secret.split('.')[2]), 'a token in the logs');
  }
});

test('a client that missed 50 events gets exactly those 50, in order, when it resumes with Last-Event-ID', async () => {
  const buyer = uid('sb');
  const t = token(buyer, 'buyer');
  const id = await ownPayment(buyer, t);
  const first = await subscribe(`user:${buyer}`, { token: t });
  const [seen] = await updates(id, t, 1);
  await first.until((evs) => evs.some((e) => Number(e.id) === seen));
  first.close();

  const missed = await updates(id, t, 50);
  assert.equal(missed.length, 50);
  await relayed();
  const back = await subscribe(`user:${buyer}`, { token: t, lastEventId: seen });
  assert.equal(back.status, 200);
  // One more after reconnecting marks the end: nothing else may come between.
  const [marker] = await updates(id, t, 1);
  await back.until((evs) => evs.some((e) => Number(e.id) === marker));
  back.close();
  assert.deepEqual(back.ids(), [...missed, marker]);
  // Each names the one before it in the room, so a client can tell nothing is missing.
  assert.equal(back.events[0].data.prev, seen);
  for (let i = 1; i < back.events.length; i++) assert.equal(back.events[i].data.prev, back.ids()[i - 1]);
});

test(`a client away longer than the stream's buffer (${BUFFER} events) is told so and catches up exactly from the outbox`, async () => {
  const buyer = uid('sc');
  const t = token(buyer, 'buyer');
  const id = await ownPayment(buyer, t);
  const f = follower(`user:${buyer}`, t);
  await f.connect();
  const [seen] = await updates(id, t, 1);
  await f.until([seen]);
  f.disconnect();

  const missed = await updates(id, t, BUFFER + 20);
  await relayed();
  // Straight to the stream, the way a browser would, it is refused: its buffer cannot serve this.
  const direct = await subscribe(`user:${buyer}`, { token: t, lastEventId: seen });
  assert.equal(direct.status, 410, direct.body);
  assert.equal(direct.json.error.code, 'stream_gap');
  assert.match(direct.json.message, /GET \/api\/payment\/events\?room=/);

  await f.connect();
  assert.equal(f.refusals, 1);
  const [marker] = await updates(id, t, 1);
  await f.until([...missed, marker]);
  f.disconnect();
  const applied = f.applied.map((e) => e.id);
  assert.deepEqual(applied, [...applied].sort((a, b) => a - b), 'in order');
  assert.deepEqual(applied.slice(applied.indexOf(seen) + 1), [...missed, marker], 'exactly what was missed, once each');
  assert.deepEqual(f.caughtUp, missed, 'the missed ones came from the outbox');

  // The catch-up itself: pages in stream order, and a cursor that is not in the room is told apart.
  const { events } = await catchUp(`user:${buyer}`, t, seen);
  assert.deepEqual(events.map((e) => e.id), [...missed, marker]);
  const foreign = await api('GET', `/api/payment/events?room=user:${buyer}&after=${seen + 1000000}`, { token: t });
  assert.equal(foreign.status, 410);
  assert.equal(foreign.json.data.latest, marker);
});

test('the publisher is reachable only through its socket, and the subscription check only from nginx', async () => {
  for (const [method, path] of [['POST', '/pub/user:someone'], ['GET', '/pub/user:someone'],
    ['POST', '/api/payment/events/stream/user:someone'], ['GET', '/api/payment/events/authorize']]) {
    const r = await api(method, path, { token: token('someone', 'admin'), raw: method === 'POST' ? 'id: 1\ndata: {}\n' : undefined });
    assert.ok([404, 405, 403].includes(r.status), `${method} ${path}: ${r.status}`);
    assert.notEqual(r.status, 200);
  }
  // Over HTTP only the redirect answers.
  const plain = await fetch(`${env.HTTP_URL}/api/payment/events/stream/user:someone`, { redirect: 'manual' });
  assert.equal(plain.status, 301);
  // The socket itself publishes (that is how the relay does).
  const sock = join(env.STACK_DIR, 'nginx', 'stream.sock');
  const status = await new Promise((resolve, reject) => {
    const r = http.request({ socketPath: sock, path: '/pub/user:publisher-check', method: 'POST' }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    r.on('error', reject);
    r.end('id: 1\nevent: x\ndata: {}\n');
  });
  assert.ok(status === 201 || status === 202, `publisher over its socket: ${status}`);
});
