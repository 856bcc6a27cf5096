// A provider's delivery is acknowledged only once it is stored. With
// PostgreSQL down, a signed delivery is answered 503 with Retry-After, never
// 202: a provider that hears 202 never sends it again and the payment would
// be lost. Once PostgreSQL is back, the provider's retry is stored once,
// answered 202 and completes the payment once. Run after the resilience
// file; PostgreSQL is always started again.
//
// One entry per signed provider delivery that moves money: a webhook added
// later (payout callbacks, BVNK) gets its own entry in `deliveries`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { api, env, stack, eventually } from './lib.mjs';
import {
  fake, marketplace, intent, payment, eventCount, completedTransitions, inboxByBody, assertOncePerRoom,
  WEBHOOK, sign, now, API_KEY,
} from './shkeeper_lib.mjs';

const WORKERS = Number(/^\s*workers\s*=\s*(\d+)/m.exec(readFileSync(env.CONFIG, 'utf8'))?.[1] ?? 1);

function assertRetryLater(r, what) {
  assert.equal(r.status, 503, `${what}: ${r.text}`);
  assert.match(r.headers.get('retry-after') ?? '', /^\d+$/, `${what}: Retry-After`);
  assert.equal(r.json?.success, false, `${what}: ${r.text}`);
  assert.equal(r.json.error.code, 'database_unavailable', `${what}: ${r.text}`);
}

const deliveries = [
  {
    name: "SHKeeper's signed PAID",
    async prepare() {
      const m = marketplace(3);
      return { m, d: await intent(m) };
    },
    // The provider's first try, made while PostgreSQL is down; returns the body it sends.
    async firstTry({ d }) {
      const r = await fake.pay({ external_id: d.externalId, amount_crypto: '10' });
      assert.equal(r.lastStatus, 503, `the first try: ${r.lastStatus} ${r.response}`);
      assert.equal(JSON.parse(r.response).error.code, 'database_unavailable', r.response);
      return r.body;
    },
    // The provider's retry as it makes it: the same bytes, a fresh timestamp and signature.
    retry: (body) => {
      const ts = String(now());
      return api('POST', WEBHOOK, { raw: body, headers: { 'content-type': 'application/json',
        'x-shkeeper-api-key': API_KEY, 'x-shkeeper-timestamp': ts, 'x-shkeeper-signature': sign(ts, body) } });
    },
    stored: (body) => inboxByBody(body).filter((row) => row.outcome !== 'duplicate'),
    check({ m, d }) {
      assert.deepEqual([payment(d.paymentId).status, payment(d.paymentId).escrow], ['completed', 'funded']);
      assert.equal(completedTransitions(d.paymentId), 1, 'completed once');
      assertOncePerRoom(d.paymentId, 'payment-update');
      assert.equal(eventCount(d.paymentId, 'purchase-request-update'), 1, 'the cascade ran once');
      assert.equal(eventCount(d.paymentId, 'chat-requested'), 1);
      assert.equal(eventCount(d.paymentId, 'seller-offer-update'), m.offers.length);
    },
  },
];

for (const kind of deliveries) {
  test(`${kind.name} while PostgreSQL is down: 503 + Retry-After, then stored once and applied once`, async () => {
    const ctx = await kind.prepare();
    let body;
    try {
      stack('pg-stop');
      body = await kind.firstTry(ctx);
      // Every worker, on its stale connection and after, says "later", never "got it".
      for (let i = 0; i < 3 * WORKERS; i++) assertRetryLater(await kind.retry(body), `retry ${i + 1} during the outage`);
    } finally {
      stack('pg-start');
    }
    assert.equal(kind.stored(body).length, 0, 'nothing could be stored during the outage');

    // The provider keeps trying; each answer is 503 until one is stored and acknowledged.
    const acked = await eventually(async () => {
      const r = await kind.retry(body);
      if (r.status !== 202) assertRetryLater(r, 'a retry while PostgreSQL comes back');
      return r.status === 202 ? r : null;
    }, 30000, 300);
    assert.ok(acked, 'a retry is acknowledged once PostgreSQL is back');

    const rows = kind.stored(body);
    assert.equal(rows.length, 1, `stored once: ${JSON.stringify(rows)}`);
    assert.equal(rows[0].verdict, 'valid');
    assert.equal(rows[0].outcome, 'applied');
    kind.check(ctx);

    // Any further retry (the fake's own, or this one) is a duplicate with no second effect.
    const again = await kind.retry(body);
    assert.equal(again.status, 202, again.text);
    assert.equal(kind.stored(body).length, 1);
    kind.check(ctx);
  });
}

test('after the outage every worker answers again', async () => {
  const healthy = await eventually(async () => {
    for (let i = 0; i < 4 * WORKERS; i++) {
      if ((await api('GET', '/api/payment/health')).status !== 200) return false;
    }
    return true;
  }, 30000);
  assert.ok(healthy);
});
