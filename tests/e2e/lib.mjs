// What every end-to-end test needs: the running stack's addresses, an HTTPS
// client that trusts the stack's certificate, tokens, and a look into the
// database to check what was (or was not) written.
import { execFileSync, spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkResponse } from './openapi.mjs';

const envFile = process.env.STACK_ENV;
if (!envFile) throw new Error('STACK_ENV is not set: run the suite with tests/run');
export const env = Object.fromEntries(
  readFileSync(envFile, 'utf8').split('\n').filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const pgEnv = { ...process.env, PGHOST: env.PGHOST, PGPORT: env.PGPORT, PGDATABASE: env.PGDATABASE, PGUSER: env.PGUSER };

// One HTTP exchange through nginx. `body` is sent as JSON unless `raw` is given.
// Every answer from the stack's HTTPS origin is held to the OpenAPI document
// (openapi.mjs): one that does not match throws, failing the test.
export async function api(method, path, { token, body, raw, headers = {}, base = env.BASE_URL } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload;
  if (raw !== undefined) payload = raw;
  else if (body !== undefined) { payload = JSON.stringify(body); h['content-type'] ??= 'application/json'; }
  const res = await fetch(base + path, { method, headers: h, body: payload, redirect: 'manual' });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  if (base.startsWith('https:')) checkResponse(method, path, res.status, res.headers.get('content-type'), text);
  return { status: res.status, headers: res.headers, text, json };
}

// A token minted by the service's own command, as an operator would.
export function token(sub, role, ttl = 3600) {
  return execFileSync(env.BIN, ['-c', env.CONFIG, 'token', '--sub', sub, '--role', role, '--ttl', String(ttl)],
    { encoding: 'utf8' }).trim();
}

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

// A hand-made token, for the ones the service must refuse.
// The service strips the secret file's trailing newline; so does this.
export function forgeToken(header, payload, secret = readFileSync(join(env.STACK_DIR, 'jwt_secret'), 'utf8').replace(/[\r\n]+$/, '')) {
  const unsigned = `${b64url(header)}.${b64url(payload)}`;
  const sig = secret === null ? '' : createHmac('sha256', secret).update(unsigned).digest('base64url');
  return `${unsigned}.${sig}`;
}

// Runs SQL through psql; `vars` become psql variables, used as :'name' (quoted by psql).
export function sql(query, vars = {}) {
  const args = ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-F', '\t'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  const out = execFileSync('psql', args, { input: query, env: pgEnv, encoding: 'utf8' });
  return out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}

export const count = (table, where = 'true', vars = {}) =>
  Number(sql(`SELECT count(*) FROM ${table} WHERE ${where};`, vars)[0][0]);

export function stack(cmd) {
  execFileSync(join(ROOT, 'tests/stack/stack.sh'), [cmd, env.STACK_DIR], { stdio: 'inherit' });
}

// Starts the second pool (tests/stack/stack.sh pool2-up) with these PAYMENTS_*
// (or POOL2_*) settings on top of the stack's, for it alone; its base URL.
export function pool2Up(settings = {}) {
  const saved = Object.fromEntries(Object.keys(settings).map((k) => [k, process.env[k]]));
  Object.assign(process.env, settings);
  try {
    stack('pool2-up');
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const base = readFileSync(process.env.STACK_ENV, 'utf8').match(/^BASE_URL2=(.*)$/m)?.[1];
  if (!base) throw new Error('pool2-up wrote no BASE_URL2');
  return base;
}

export const uid = (prefix = 'u') => `${prefix}-${randomUUID().slice(0, 8)}`;

// A purchase request of `buyer` with an offer on it from a seller, as the
// marketplace would have it: what a payment record must name.
export function sale(buyer, { request = uid('pr'), offer = uid('o'), seller = uid('s') } = {}) {
  sql(`INSERT INTO purchase_requests (id, buyer_id, status) VALUES (:'r', :'b', 'offers') ON CONFLICT DO NOTHING;
       INSERT INTO seller_offers (id, purchase_request_id, seller_id, status, amount, currency)
       VALUES (:'o', :'r', :'s', 'pending', 10, 'USD') ON CONFLICT DO NOTHING;`, { r: request, b: buyer, o: offer, s: seller });
  return { purchaseRequestId: request, sellerOfferId: offer, sellerId: seller };
}
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls until fn() is truthy or the deadline passes; returns the last value.
export async function eventually(fn, ms = 15000, step = 200) {
  const end = Date.now() + ms;
  let v;
  while (Date.now() < end) {
    try { v = await fn(); if (v) return v; } catch { /* not yet */ }
    await sleep(step);
  }
  return v;
}

// A setting as the pool sees it: the stack's PAYMENTS_* overrides (the local
// chain's token contracts, for one) win over the rendered file, as in core/base/config.c.
const fileSettings = Object.fromEntries(readFileSync(env.CONFIG, 'utf8').split('\n')
  .map((l) => l.replace(/#.*/, '').trim()).filter((l) => l.includes('='))
  .map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]));
const envName = (key) => {
  const [head, net, sym] = key.split('.');
  return sym ? `PAYMENTS_${head.toUpperCase()}_${net.toUpperCase()}_${sym}` : `PAYMENTS_${key.toUpperCase()}`;
};
export const setting = (key) => env[envName(key)] ?? fileSettings[key];

// Every configured token: [{ network, symbol, contract }].
export const configuredTokens = () => {
  const keys = new Set(Object.keys(fileSettings).filter((k) => k.startsWith('token.')));
  for (const k of Object.keys(env)) {
    const m = /^PAYMENTS_TOKEN_([A-Z]+)_([A-Z0-9]+)$/.exec(k);
    if (m) keys.add(`token.${m[1].toLowerCase()}.${m[2]}`);
  }
  return [...keys].map((k) => ({ network: k.split('.')[1], symbol: k.split('.')[2], contract: setting(k) }));
};

// Races scripted as fixed interleavings: a session of the test that takes
// `lock` (SQL run in a transaction; `vars` as for sql()) and holds it until
// release(), which may run more SQL in that transaction before its COMMIT.
export async function holdLock(lock, vars = {}) {
  const args = ['-X', '-At', '-v', 'ON_ERROR_STOP=1'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  const psql = spawn('psql', args, { env: pgEnv, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  psql.stdout.on('data', (c) => { out += c; });
  const exited = new Promise((ok) => psql.on('exit', ok));
  psql.stdin.write(`BEGIN;\n${lock};\nSELECT 'held';\n`);
  for (let i = 0; i < 100 && !out.includes('held'); i++) await sleep(50);
  if (!out.includes('held')) throw new Error(`the test's session did not take the lock: ${out}`);
  return {
    release: async (before = '') => {
      psql.stdin.end(`${before}\nCOMMIT;\n`);
      return exited;
    },
  };
}

// How many of the service's sessions wait for a lock, polled until `n` do (or 5 s pass).
export async function serviceWaiting(n) {
  let w = 0;
  for (let i = 0; i < 100; i++) {
    w = Number(sql(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
      AND application_name = 'fcgi-payments' AND wait_event_type = 'Lock';`)[0][0]);
    if (w >= n) break;
    await sleep(50);
  }
  return w;
}
