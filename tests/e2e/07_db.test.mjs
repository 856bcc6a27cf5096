// The database-level tests (tests/db, cmocka programs built beside the unit
// tests) need a real PostgreSQL: each runs here against the stack's, as the
// service's own role. Then the schema's own pattern rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { env, sql } from './lib.mjs';

const dir = join(dirname(env.BIN), 'db');
const programs = readdirSync(dir).filter((f) => f.startsWith('test_')).sort();

test('the database-level tests are built', () => {
  assert.ok(programs.includes('test_commit'), `tests/db programs in ${dir}: ${programs}`);
});

for (const name of programs) {
  test(`tests/db/${name}`, () => {
    const r = spawnSync(join(dir, name), [], {
      env: { ...process.env, TEST_DATABASE_URL: env.DATABASE_URL }, encoding: 'utf8', timeout: 60000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, out);
    assert.match(out, /\[ {2}PASSED {2}\] [1-9]\d* test/, out);
    assert.doesNotMatch(out, /\[ {2}FAILED {2}\]/, out);
  });
}

// Every CHECK that matches a pattern, with the rule it was first written as.
// The schema spells a counted repeat as a pattern plus a length, which
// PostgreSQL checks many times faster (sql/030): each constraint, evaluated
// as PostgreSQL stores it, must accept exactly what the counted pattern does.
const ref = /^[A-Za-z0-9_-]{1,64}$/, address = /^0x[0-9a-fA-F]{40}$/, ticker = /^[A-Z0-9]{2,10}$/;
const RULES = {
  ref, address, ticker,
  hash: /^0x[0-9a-fA-F]{64}$/,
  lowerHash: /^0x[0-9a-f]{64}$/,
  pair: /^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$/,
  digest: /^[0-9a-f]{64}$/,
  digestOrOverflow: /^([0-9a-f]{64}|overflow)$/,
  event: /^[a-z][a-z-]{0,63}$/,
  room: /^((user|request|service):[A-Za-z0-9_-]{1,64}|admin|global)$/,
  msgId: /^[0-9]{1,20}:[0-9]{1,6}$/,
  job: /^[a-z][a-z0-9_]{0,39}$/,
  subscriber: /^[a-z][a-z0-9_]{0,23}$/,
  outcome: /^[a-z_]{1,32}$/,
  status: /^[A-Za-z_]{1,32}$/,
  idemKey: /^[!-~]{1,255}$/,
};
// Values at each rule's edges; every one is also tried one longer, one
// shorter, with a character outside the class, and with a newline.
const EDGES = {
  ref: ['a', 'Z9_-', 'x'.repeat(64)],
  address: [`0x${'aB'.repeat(20)}`, `0X${'ab'.repeat(20)}`],
  ticker: ['US', 'USDT', 'ABCDEFGH10', 'usdt'],
  hash: [`0x${'aB'.repeat(32)}`],
  lowerHash: [`0x${'ab'.repeat(32)}`, `0x${'AB'.repeat(32)}`],
  pair: ['BN-US', 'BNB-USDT', 'ABCDEFGH10-ABCDEFGH10', 'ABCDEFGH10X-US', 'US-ABCDEFGH10X', 'B-USDT', 'BNB-U',
    'BNB-USDT-X', 'BNBUSDT', '-USDT', 'BNB-'],
  digest: ['ab'.repeat(32), 'AB'.repeat(32)],
  digestOrOverflow: ['ab'.repeat(32), 'overflow', 'overflowx'],
  event: ['a', 'payment-update', `a${'-'.repeat(63)}`, '-a', 'A'],
  room: ['admin', 'global', 'user:a', `request:${'x'.repeat(64)}`, `service:${'_'.repeat(65)}`, 'user:', 'user:a:b',
    'users:a', `x:${'a'.repeat(60)}`, 'admins', 'Admin'],
  msgId: ['1:0', `${'9'.repeat(20)}:${'9'.repeat(6)}`, `${'9'.repeat(21)}:1`, `1:${'9'.repeat(7)}`, '1:', ':1',
    '1:2:3', '12'],
  job: ['a', `a${'_9'.repeat(19)}z`, '9a'],
  subscriber: ['a', `a${'b'.repeat(23)}`, '_a'],
  outcome: ['a', 'x'.repeat(32), 'A'],
  status: ['a', 'X'.repeat(32), 'a1'],
  idemKey: ['!', '~'.repeat(255), 'a b'],
};
const CONSTRAINTS = {
  payments_buyer_id_check: 'ref', payments_seller_id_check: 'ref', payments_purchase_request_id_check: 'ref',
  payments_seller_offer_id_check: 'ref', payments_currency_check: 'ticker', payments_token_check: 'ticker',
  payments_crypto_name_check: 'pair', payments_receiver_address_check: 'address',
  payments_sender_address_check: 'address', payments_token_contract_check: 'address', payments_tx_hash_check: 'hash',
  purchase_requests_id_check: 'ref', purchase_requests_buyer_id_check: 'ref', seller_offers_id_check: 'ref',
  seller_offers_seller_id_check: 'ref', seller_offers_currency_check: 'ticker', events_event_shape: 'event',
  events_room_shape: 'room', events_stream_msg_id_check: 'msgId', notifications_user_id_check: 'ref',
  webhook_inbox_body_digest_check: 'digest', idempotency_keys_idem_key_check: 'idemKey',
  hot_wallet_txs_address_check: 'address', hot_wallet_txs_tx_hash_check: 'lowerHash',
  user_wallets_address_check: 'address', user_wallets_user_id_check: 'ref', checkout_templates_currency_check: 'ticker',
  checkout_templates_seller_id_check: 'ref', webhook_rejects_body_digest_check: 'digestOrOverflow',
  job_runs_job_check: 'job', event_deliveries_subscriber_check: 'subscriber',
  shkeeper_polls_last_outcome_check: 'outcome', shkeeper_polls_last_status_check: 'status',
};

function candidates(rule) {
  const all = new Set(['']);
  for (const s of EDGES[rule]) {
    for (const v of [s, s + s.at(-1), s.slice(0, -1), `${s}\n`, `\n${s}`, `é${s.slice(1)}`,
      `${s.slice(0, 1)}.${s.slice(1)}`, `${s.slice(0, 1)} ${s.slice(1)}`]) all.add(v);
  }
  return [...all];
}

test('every pattern CHECK accepts exactly what its rule says, and none counts a repeat', () => {
  const found = sql(`SELECT c.conname, a.attname, pg_get_expr(c.conbin, c.conrelid)
    FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    WHERE c.contype = 'c' AND pg_get_expr(c.conbin, c.conrelid) LIKE '%~%' ORDER BY 1;`);
  assert.deepEqual(found.map(([name]) => name).sort(), Object.keys(CONSTRAINTS).sort(),
    'a pattern CHECK added or removed: give it its rule here');
  for (const [name, column, expr] of found) {
    assert.doesNotMatch(expr, /\{\d+(,\d*)?\}/, `${name} counts a repeat: ${expr}`);
    const rule = CONSTRAINTS[name], values = candidates(rule);
    // CHECK passes unless its expression is false; the column is read from a one-column row.
    const verdicts = sql(`SELECT i, (${expr}) IS NOT FALSE
      FROM jsonb_array_elements_text(:'vals'::jsonb) WITH ORDINALITY AS v(${column}, i) ORDER BY i;`,
    { vals: JSON.stringify(values) });
    assert.equal(verdicts.length, values.length, name);
    for (const [i, ok] of verdicts) {
      const value = values[Number(i) - 1];
      assert.equal(ok === 't', RULES[rule].test(value), `${name} on ${JSON.stringify(value)}`);
    }
  }
});
