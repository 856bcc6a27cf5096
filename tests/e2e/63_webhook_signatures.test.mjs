// Every byte of a webhook's credentials counts. For each way a provider
// proves a delivery is its own, a credential that is right but for its last
// hex digit, or right only in its first half, or a byte too short or too
// long, is refused (401); the right one is taken (202), in upper-case hex too
// where the scheme compares hex. Deliveries name an invoice nobody has, so a
// wrongly accepted one answers 202 and nothing else is touched.
//
// The main pool has SHKeeper's default configuration (timestamped signatures
// only); a second pool on the same database also takes the older
// body-HMAC scheme and the bare API-key header. The payout webhooks
// (SHKeeper's payout callback, BVNK's) have their rows too; a provider
// webhook added later gets its own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { api, env, stack, uid, ROOT, pool2Up } from './lib.mjs';
import { API_KEY, WEBHOOK, callback, randomTxid, now } from './shkeeper_lib.mjs';
import { bvnkSign } from './provider_payout_lib.mjs';
import { compactJson, decText } from '../fakes/shkeeper/payouts.mjs';

const SECRET_FILE = join(env.STACK_DIR, 'shkeeper_webhook_secret');
const SECRET = randomBytes(24).toString('hex');
let base2;

before(() => {
  writeFileSync(SECRET_FILE, `${SECRET}\n`, { mode: 0o600 });
  base2 = pool2Up({ PAYMENTS_SHKEEPER_WEBHOOK_SECRET_FILE: SECRET_FILE, PAYMENTS_SHKEEPER_ALLOW_API_KEY_HEADER: 'true' });
});

after(() => {
  stack('pool2-down');
  rmSync(SECRET_FILE, { force: true });
});

const hmac = (key, text) => createHmac('sha256', key).update(text).digest('hex');
// Another hex digit in place of each of s's.
const otherHex = (s) => [...s].map((c) => ((parseInt(c, 16) + 1) % 16).toString(16)).join('');
const otherChar = (c) => (c === 'a' ? 'b' : 'a');

// A signed PAID as SHKeeper would send it, for an invoice that does not exist.
const paidBody = () => callback({ externalId: uid('nobody'), status: 'PAID',
  txs: [{ txid: randomTxid(), amount: '10', trigger: true }] });

// SHKeeper's payout callback (callback.py's fields) for a payout nobody has.
const payoutBody = () => compactJson({
  payout_id: 7, external_id: randomUUID(), tx_hash: randomTxid(), status: 'SUCCESS', amount: decText('2.25', 10),
  crypto: 'BNB-USDT', amount_fiat: '2.24662500000000', currency_fiat: 'USD', timestamp: '2026-01-01T12:00:00.123456',
});
// One of seed 003's BVNK webhooks, about a payout nobody has.
const BVNK_EXAMPLE = JSON.parse(readFileSync(join(ROOT, 'tests/e2e/fixtures/bvnk_payout_webhooks.json'), 'utf8'))[0];
const bvnkBody = () => JSON.stringify({ ...BVNK_EXAMPLE, data: { ...BVNK_EXAMPLE.data, uuid: randomUUID(), reference: uid('nobody') } });

// The credential, right, and each near miss of it.
function nearMisses(good, { hex }) {
  const half = good.length / 2;
  return {
    'wrong only in its last character': good.slice(0, -1) + (hex ? otherHex(good.at(-1)) : otherChar(good.at(-1))),
    'wrong only in its first character': (hex ? otherHex(good[0]) : otherChar(good[0])) + good.slice(1),
    'right only in its first half': good.slice(0, half) + (hex ? otherHex(good.slice(half)) : [...good.slice(half)].map(otherChar).join('')),
    'one character short': good.slice(0, -1),
    'one character too long': `${good}0`,
    'empty': '',
  };
}

// Each scheme: where it is accepted, how a delivery carries the credential,
// the right credential for a body, and whether upper-case hex is the same credential.
const schemes = [
  {
    name: 'SHKeeper timestamped signature (API key)',
    base: () => env.BASE_URL,
    hex: true,
    upperAccepted: true,
    credential: (body, ts) => hmac(API_KEY, `${ts}.${body}`),
    // SHKeeper sends its legacy key header too; on the default configuration it proves nothing alone.
    headers: (cred, ts) => ({ 'x-shkeeper-timestamp': String(ts), 'x-shkeeper-signature': cred, 'x-shkeeper-api-key': API_KEY }),
  },
  ...['x-shkeeper-signature', 'x-signature', 'signature', 'x-hub-signature', 'x-hub-signature-256'].map((h) => ({
    name: `SHKeeper body HMAC (webhook secret) in ${h}`,
    base: () => base2,
    hex: true,
    upperAccepted: true,
    credential: (body) => hmac(SECRET, body),
    headers: (cred) => ({ [h]: h === 'x-hub-signature-256' ? `sha256=${cred}` : cred }),
  })),
  {
    name: 'SHKeeper legacy API-key header (where the operator allows it)',
    base: () => base2,
    hex: false,
    // A secret compared byte for byte: another case is another key.
    upperAccepted: false,
    credential: () => API_KEY,
    headers: (cred) => ({ 'x-shkeeper-api-key': cred }),
  },
  {
    name: 'SHKeeper payout callback (timestamped signature)',
    base: () => env.BASE_URL,
    path: '/api/payment/shkeeper/payout/webhook',
    body: payoutBody,
    hex: true,
    upperAccepted: true,
    credential: (body, ts) => hmac(API_KEY, `${ts}.${body}`),
    headers: (cred, ts) => ({ 'x-shkeeper-timestamp': String(ts), 'x-shkeeper-signature': cred }),
  },
  {
    name: 'BVNK webhook (x-signature over the URL, the Content-Type and the body)',
    base: () => env.BASE_URL,
    path: '/api/payment/bvnk/webhook',
    body: bvnkBody,
    ok: 200,
    hex: true,
    upperAccepted: true,
    credential: (body) => bvnkSign(body),
    headers: (cred) => ({ 'x-signature': cred }),
  },
];

async function deliver(scheme, body, cred, ts) {
  return api('POST', scheme.path ?? WEBHOOK, { base: scheme.base(), raw: body,
    headers: { 'content-type': 'application/json', ...scheme.headers(cred, ts) } });
}

for (const scheme of schemes) {
  test(`${scheme.name}: the right credential is taken, every near miss refused`, async () => {
    const ts = now();
    const fresh = scheme.body ?? paidBody;
    let body = fresh();
    const ok = await deliver(scheme, body, scheme.credential(body, ts), ts);
    assert.equal(ok.status, scheme.ok ?? 202, `the right credential: ${ok.text}`);
    assert.equal(ok.json.data.outcome, 'unknown_payment', ok.text);

    for (const [what, cred] of Object.entries(nearMisses(scheme.credential(body = fresh(), ts), scheme))) {
      const r = await deliver(scheme, body, cred, ts);
      assert.equal(r.status, 401, `${what} (${cred}): ${r.text}`);
      assert.equal(r.json?.error?.code, 'invalid_signature', `${what}: ${r.text}`);
    }

    body = fresh();
    const good = scheme.credential(body, ts);
    assert.notEqual(good.toUpperCase(), good, 'the credential has letters');
    const upper = await deliver(scheme, body, good.toUpperCase(), ts);
    assert.equal(upper.status, scheme.upperAccepted ? scheme.ok ?? 202 : 401, `upper case: ${upper.text}`);
  });
}

test('SHKeeper timestamped signature: the timestamp is part of what is signed', async () => {
  const scheme = schemes[0];
  const ts = now();
  const body = paidBody();
  const sig = scheme.credential(body, ts);
  for (const other of [ts + 1, ts - 1, `${ts}0`, `0${ts}`]) {
    const r = await deliver(scheme, body, sig, other);
    assert.equal(r.status, 401, `timestamp ${other}: ${r.text}`);
  }
  // The same signature over a body one byte longer.
  const r = await deliver(scheme, `${body} `, sig, ts);
  assert.equal(r.status, 401, r.text);
});
