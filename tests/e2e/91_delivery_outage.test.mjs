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
import { api, env, sql, stack, eventually, sleep } from './lib.mjs';
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

// Retries until one is acknowledged. A worker whose connection died with the
// database finds out on its next request, so a retry may meet 503 once per
// worker after PostgreSQL is back: that is still "later", never "got it".
async function acknowledged(kind, body) {
  for (const end = Date.now() + 30000; Date.now() < end; await sleep(300)) {
    const r = await kind.retry(body);
    if (r.status === 202) return r;
    assertRetryLater(r, 'a retry while the database comes back');
  }
  return null;
}

const deliveries = [
  {
    name: "SHKeeper's signed PAID",
    async prepare() {
      const m = marketplace(3);
      return { m, d: await intent(m) };
    },
    // The provider's first try, made while the database is away; returns the body it sends.
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

    // The provider keeps trying; each answer is 503 until one is stored and acknowledged.
    assert.ok(await acknowledged(kind, body), 'a retry is acknowledged once PostgreSQL is back');

    const rows = kind.stored(body);
    assert.equal(rows.length, 1, `stored once: ${JSON.stringify(rows)}`);
    assert.equal(rows[0].verdict, 'valid');
    assert.equal(rows[0].outcome, 'applied');
    kind.check(ctx);

    // Any further retry (the fake's own, or this one) is a duplicate with no second effect.
    assert.ok(await acknowledged(kind, body), 'a repeat is acknowledged');
    assert.equal(kind.stored(body).length, 1);
    kind.check(ctx);
  });
}

// The database goes away after the delivery is stored, while it is being
// applied (the test makes PostgreSQL end the worker's session at the
// payment's audit row): still 503 and Retry-After, and SHKeeper's retry of
// the stored delivery finishes it.
test("SHKeeper's signed PAID stored but not applied: 503, then the retry applies it once", async () => {
  const kind = deliveries[0];
  const ctx = await kind.prepare();
  const vars = { p: ctx.d.paymentId };
  sql(`CREATE FUNCTION outage_probe_end_session() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$;
       CREATE TRIGGER outage_probe BEFORE INSERT ON payment_transitions FOR EACH ROW
       WHEN (NEW.payment_id = :'p') EXECUTE FUNCTION outage_probe_end_session();`, vars);
  let body;
  try {
    body = await kind.firstTry(ctx);
  } finally {
    sql(`DROP TRIGGER IF EXISTS outage_probe ON payment_transitions;
         DROP FUNCTION IF EXISTS outage_probe_end_session();`);
  }
  assert.equal(kind.stored(body).length, 1, 'the delivery was stored before the database went away');

  assert.ok(await acknowledged(kind, body), 'a retry is acknowledged');
  const rows = kind.stored(body);
  assert.equal(rows.length, 1, `stored once: ${JSON.stringify(rows)}`);
  assert.equal(rows[0].outcome, 'applied');
  kind.check(ctx);
});

test('after the outage every worker answers again', async () => {
  const healthy = await eventually(async () => {
    for (let i = 0; i < 4 * WORKERS; i++) {
      if ((await api('GET', '/api/payment/health')).status !== 200) return false;
    }
    return true;
  }, 30000);
  assert.ok(healthy);
});
