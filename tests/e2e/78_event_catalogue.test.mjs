// The event catalogue in README.md, held against the seeds' Socket.IO events,
// against every event the code writes, and against the outbox itself: each
// name documented, each room and payload field as documented. Then the
// events this service adds to the seeds' list, seen live: new-notification
// for every notification, payment-status to admin for every audited move,
// payment-completed when a wallet-direct pay-in is confirmed on the chain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { api, env, token, uid, sql, ROOT } from './lib.mjs';
import { fake, marketplace, intent } from './shkeeper_lib.mjs';
import { subscribe } from './sse.mjs';
import { startJobs, stopAllJobs, relayed } from './jobs_lib.mjs';
import { rpc, mine, waitReceipt, transferData } from '../chain/rpc.mjs';

// Every event the seeds' frontend and services listen for, and where the seeds name it.
const SEED_EVENTS = {
  'payment-created': 'seed 001 (intents: globally and to the request room), 002, 004',
  'payment-update': 'seed 004 (the buyer\'s checkout page)',
  'template-checkout-payment-confirmed': 'seed 004',
  'seller-offer-update': 'seed 001, 002, 004 (payment-completed to the winner, offer-rejected to the others)',
  'purchase-request-update': 'seed 001, 002, 004 (status-changed to the request room)',
  'new-notification': 'seed 002, 004 (to both parties)',
  'payment-status': 'seed 000 (admin, on each transition)',
  'payment-completed': 'seed 002 (the wallet-direct flow, after its cascade)',
  'payout-created': 'seed 001 (payouts)',
  'payout-completed': 'seed 000, 001 (payouts)',
  'payout-updated': 'seed 001 (payouts)',
};

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### Event catalogue'));
const table = section.slice(0, section.indexOf('\n### '));
// name → { rooms: [regexp], fields: Set }
const catalogue = Object.fromEntries(table.split('\n').filter((l) => /^\| `[a-z-]+` \|/.test(l)).map((l) => {
  const [, name, rooms, , payload] = l.split('|').map((c) => c.trim());
  const room = (r) => new RegExp('^' + r.replace(/<[a-z]+>/, '[A-Za-z0-9_-]{1,64}') + '$');
  return [name.replaceAll('`', ''), {
    rooms: [...rooms.matchAll(/`([^`]+)`/g)].map(([, r]) => room(r)),
    fields: new Set([...payload.matchAll(/`([^`]+)`/g)].map(([, f]) => f)),
  }];
}));
const notEmitted = table.slice(table.indexOf('Not emitted'));

// The names every INSERT INTO events in core/ and sql/ writes (C string literals joined first).
function writtenNames() {
  const files = [];
  for (const dir of readdirSync(join(ROOT, 'core'))) {
    for (const f of readdirSync(join(ROOT, 'core', dir))) if (f.endsWith('.c')) files.push(join(ROOT, 'core', dir, f));
  }
  for (const f of readdirSync(join(ROOT, 'sql'))) if (f.endsWith('.sql')) files.push(join(ROOT, 'sql', f));
  const names = new Set();
  for (const f of files) {
    const text = readFileSync(f, 'utf8').replace(/"\s*\n\s*(?:\/\*[^]*?\*\/\s*)?"/g, '').replace(/\\\s*\n/g, ' ');
    for (const m of text.matchAll(/INSERT INTO events\b/g)) {
      const stmt = text.slice(m.index, text.indexOf(';', m.index) > 0 ? Math.min(text.indexOf(';', m.index), m.index + 2000) : m.index + 2000);
      for (const [, n] of stmt.matchAll(/(?:VALUES|\),|SELECT)\s*\(?\s*'([a-z]+(?:-[a-z]+)+)'/g)) names.add(n);
    }
  }
  return names;
}

before(async () => {
  startJobs();
  await relayed();
});
after(stopAllJobs);

test('every event the seeds name is in the catalogue, or said not to be emitted yet', () => {
  assert.ok(Object.keys(catalogue).length >= 10, 'the catalogue table was read');
  for (const [name, where] of Object.entries(SEED_EVENTS)) {
    assert.ok(catalogue[name] || notEmitted.includes(`\`${name}\``), `${name} (${where}) is neither documented nor listed as not emitted`);
  }
});

test('every event the code writes is in the catalogue, and every catalogued one is written', () => {
  const written = writtenNames();
  assert.ok(written.has('payment-update') && written.has('new-notification'), `the scan found the writers: ${[...written]}`);
  for (const n of written) assert.ok(catalogue[n], `${n} is written but not in README's catalogue`);
  for (const n of Object.keys(catalogue)) assert.ok(written.has(n), `${n} is catalogued but nothing writes it`);
});

test('the outbox holds only catalogued events, in their documented rooms, with their documented fields', () => {
  const rows = sql(`SELECT event, room, (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(payload) AS k)
                    FROM events GROUP BY 1, 2, 3;`);
  assert.ok(rows.length > 0);
  for (const [event, room, keys] of rows) {
    const c = catalogue[event];
    assert.ok(c, `${event} is in the outbox but not in the catalogue`);
    assert.ok(c.rooms.some((r) => r.test(room)), `${event} written to ${room}, not a documented room`);
    for (const k of (keys ?? '').split(',').filter(Boolean)) assert.ok(c.fields.has(k), `${event}.${k} is not documented`);
  }
});

test('a paid pay-in: every notification reaches its user live, and admins see every audited move', async () => {
  const m = marketplace(2);
  const admin = token(uid('cat'), 'admin');
  const adminRoom = await subscribe('admin', { token: admin });
  const sellerRoom = await subscribe(`user:${m.winner.seller}`, { token: token(m.winner.seller, 'seller') });
  try {
    const d = await intent(m);
    const paid = await fake.pay({ external_id: d.externalId, amount_crypto: '10' });
    assert.equal(paid.lastStatus, 202);
    await relayed();

    const notes = sql(`SELECT id, user_id, kind FROM notifications WHERE payment_id = :'p' ORDER BY id;`, { p: d.paymentId });
    assert.ok(notes.length >= 3, 'buyer and sellers notified');
    for (const [id, user, kind] of notes) {
      const ev = sql(`SELECT room, payload->>'kind' FROM events WHERE event = 'new-notification'
                      AND (payload->>'notificationId')::bigint = :'n';`, { n: id });
      assert.deepEqual(ev, [[`user:${user}`, kind]], `notification ${id} announced once, to its user`);
    }
    const sellerNotes = notes.filter(([, user]) => user === m.winner.seller).map(([id]) => Number(id));
    await sellerRoom.until((evs) => sellerNotes.every((n) => evs.some((e) => e.event === 'new-notification' && e.data.data.notificationId === n)), 5000);

    const moves = sql(`SELECT from_status, to_status, to_escrow_state, source FROM payment_transitions
                       WHERE payment_id = :'p' ORDER BY id;`, { p: d.paymentId });
    const statuses = sql(`SELECT coalesce(payload->>'previousStatus', ''), payload->>'status', payload->>'escrowState', payload->>'source'
                          FROM events WHERE event = 'payment-status' AND payment_id = :'p' ORDER BY id;`, { p: d.paymentId });
    assert.deepEqual(statuses, moves, 'one payment-status per audited move, saying what the audit says');
    assert.deepEqual(statuses.map(([, s]) => s), ['pending', 'completed']);
    await adminRoom.until((evs) => evs.filter((e) => e.event === 'payment-status' && e.data.paymentId === d.paymentId).length === moves.length, 5000);
  } finally {
    adminRoom.close();
    sellerRoom.close();
  }
});

test('a wallet-direct pay-in confirmed on the chain tells its buyer and its request payment-completed', { skip: env.ANVIL_URL ? false : 'no test chain' }, async () => {
  const URL = env.ANVIL_URL;
  const wallet = env.CHAIN_BUYERS.split(',')[5];
  const buyer = uid('cw');
  const t = token(buyer, 'buyer');
  const request = uid('cwr');
  sql(`INSERT INTO user_wallets (user_id, network, address) VALUES (:'u', 'bsc', :'a')
       ON CONFLICT (user_id, network) DO UPDATE SET address = EXCLUDED.address;`, { u: buyer, a: wallet });
  const stream = await subscribe(`user:${buyer}`, { token: t });
  try {
    const saved = await api('POST', '/api/payment/decentralized/save', {
      token: t, body: { purchaseRequestId: request, sellerOfferId: 'o1', sellerId: 's1', amount: '2', token: 'USDT', network: 'bsc' },
    });
    assert.equal(saved.status, 201, saved.text);
    const id = saved.json.data.paymentId;
    const escrow = (await api('GET', '/api/payment/decentralized/receiver')).json.data.address;
    const hash = await rpc(URL, 'eth_sendTransaction', [{ from: wallet, to: env.CHAIN_TOKEN_USDT, data: transferData(escrow, 2n * 10n ** 18n) }]);
    await mine(URL, 1);
    await waitReceipt(URL, hash);
    await mine(URL, 3);
    const v = await api('POST', `/api/payment/decentralized/verify/${id}`, { token: t, body: { transactionHash: hash } });
    assert.equal(v.status, 200, v.text);

    const done = await stream.until((evs) => evs.some((e) => e.event === 'payment-completed'), 5000);
    const ev = done.find((e) => e.event === 'payment-completed');
    assert.equal(ev.data.paymentId, id);
    assert.equal(ev.data.data.transactionHash.toLowerCase(), hash.toLowerCase());
    assert.equal(ev.data.data.purchaseRequestId, request);
    const rooms = sql(`SELECT room FROM events WHERE event = 'payment-completed' AND payment_id = :'p' ORDER BY room;`, { p: id }).map(([r]) => r);
    assert.deepEqual(rooms, [`request:${request}`, `user:${buyer}`]);
    // Confirming again changes nothing, and says nothing again.
    await api('POST', `/api/payment/decentralized/verify/${id}`, { token: t, body: { transactionHash: hash } });
    assert.equal(sql(`SELECT count(*) FROM events WHERE event = 'payment-completed' AND payment_id = :'p';`, { p: id })[0][0], '2');
  } finally {
    stream.close();
  }
});
