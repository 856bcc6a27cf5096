#!/usr/bin/env node
// A fake BVNK for tests and `make run`: the payout API the service calls
// (Hawk-authenticated), the signed webhooks BVNK sends, and a control API
// under /__control/ with which tests drive payouts and make BVNK fail. What it
// imitates is written down in shared/PROVIDERS.md section 2 and in the
// seed's webhook examples (shared/seeds/003_…): the payout object, both
// webhook envelopes, a reference unique per merchant ("Duplicate Reference"),
// only 200 acknowledging a webhook, retried with a growing delay, repeats.
// Payouts are real transfers on the test chain from the fake's own payout
// wallet, so the service can check them.
//
//   node tests/fakes/bvnk.mjs --port N --hawk-id ID --hawk-key-file F --merchant-id M
//        --webhook-url URL [--webhook-secret-file F] [--signing url|path|body]
//        [--payout-wallet 0x…] [--ca FILE] [--host 127.0.0.1]
//
// Control API (no auth, so it listens on the loopback only):
//   POST /__control/mode      {"mode":"ok"|"down"|"hang"|"error_before_record"|"error_after_record"|"timeout_after_record"}
//   POST /__control/settings  {"outcome"?: "complete"|"hold"|"expire"|"cancel"|"manual", "envelope"?: "legacy"|"new",
//                              "duplicates"?, "reorder"?, "drop"?, "retryMs"?, "maxRetries"?,
//                              "webhooksFirst"?: its webhooks reach the service before its answer to the create call}
//   GET  /__control/calls     {"create":{"<reference>":N},"get":{"<uuid>":N},"list":N,"unauthorized":N}
//   GET  /__control/payouts   every payout, and the webhooks sent for it
//   POST /__control/payouts/<uuid>  {"status"?, "onHold"?, "transfer"?: true, "webhook"?: false}
//        BVNK moves the payout: a real transfer when asked, then its webhook (unless told not to)
//   POST /__control/deliver   {"body","signature"?,"contentType"?}: exactly these bytes, once (signed unless told otherwise)
//   POST /__control/reset     mode ok, settings and counters back to the defaults (payouts are kept)
import http from 'node:http';
import https from 'node:https';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Q } from './shkeeper/decimal.mjs';
import { Chain } from './shkeeper/chain.mjs';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.BVNK_PORT ?? '18991' },
    host: { type: 'string', default: '127.0.0.1' },
    'hawk-id': { type: 'string' },
    'hawk-key-file': { type: 'string' },
    'webhook-secret-file': { type: 'string' },
    'webhook-url': { type: 'string' },
    'merchant-id': { type: 'string' },
    signing: { type: 'string', default: 'url' },
    'payout-wallet': { type: 'string' },
    ca: { type: 'string' },
  },
});
for (const k of ['hawk-id', 'hawk-key-file', 'webhook-url', 'merchant-id']) {
  if (!opt[k]) {
    console.error(`bvnk fake: --${k} is required`);
    process.exit(2);
  }
}
const secret = (f) => readFileSync(f, 'utf8').replace(/[\r\n]+$/, '');
const HAWK_KEY = secret(opt['hawk-key-file']);
const WEBHOOK_SECRET = opt['webhook-secret-file'] ? secret(opt['webhook-secret-file']) : HAWK_KEY;
const CA = opt.ca ? readFileSync(opt.ca) : null;
const log = (line) => console.log(`${new Date().toISOString()} ${line}`);
const chain = Chain.fromEnv(process.env, log);
const SYMBOL_CRYPTO = { USDT: 'BNB-USDT', USDC: 'BNB-USDC' };

// --- Hawk -----------------------------------------------------------------------

const HAWK_SKEW_S = 60;
const nonces = new Set();

export const hawkMac = (key, { ts, nonce, method, resource, host, port }) =>
  createHmac('sha256', key).update(`hawk.1.header\n${ts}\n${nonce}\n${method}\n${resource}\n${host}\n${port}\n\n\n`).digest('base64');

function hawkOk(req) {
  const h = req.headers.authorization ?? '';
  if (!h.startsWith('Hawk ')) return 'no Hawk header';
  const attrs = Object.fromEntries([...h.slice(5).matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
  if (attrs.id !== opt['hawk-id']) return 'unknown id';
  if (!/^\d+$/.test(attrs.ts ?? '') || Math.abs(Date.now() / 1000 - Number(attrs.ts)) > HAWK_SKEW_S) return 'stale timestamp';
  const [host, port = '80'] = (req.headers.host ?? '').toLowerCase().split(':');
  const mac = hawkMac(HAWK_KEY, { ts: attrs.ts, nonce: attrs.nonce, method: req.method, resource: req.url, host, port });
  if (mac !== attrs.mac) return 'bad mac';
  if (nonces.has(`${attrs.ts}:${attrs.nonce}`)) return 'nonce used';
  nonces.add(`${attrs.ts}:${attrs.nonce}`);
  return null;
}

// --- State ------------------------------------------------------------------------

const DEFAULTS = {
  outcome: 'complete', envelope: 'legacy', duplicates: false, reorder: false, drop: false, retryMs: 200, maxRetries: 100,
  webhooksFirst: false,
};
let mode = 'ok';
let settings = { ...DEFAULTS };
let calls = { create: {}, get: {}, list: 0, unauthorized: 0 };
const payouts = new Map();
const hung = new Set();

function releaseHung() {
  for (const res of hung) res.socket?.destroy();
  hung.clear();
}

const epoch = (d) => d.getTime();

// The payout object BVNK's API and webhooks carry (seed 003's shape).
function view(p) {
  const amount = Number(p.amount.text());
  return {
    uuid: p.uuid, merchantDisplayName: 'Escrow Merchant', merchantId: p.merchantId,
    dateCreated: epoch(p.created), expiryDate: epoch(p.created) + 3600000, quoteExpiryDate: epoch(p.created) + 3600000,
    acceptanceExpiryDate: epoch(p.created) + 60000, quoteStatus: 'ACCEPTED', reference: p.reference, type: 'OUT',
    subType: 'merchantPayOut', status: p.status,
    displayCurrency: { currency: p.currency, amount, actual: p.status === 'COMPLETE' ? amount : 0 },
    walletCurrency: { currency: p.currency, amount, actual: amount },
    paidCurrency: { currency: p.currency, amount, actual: p.status === 'COMPLETE' ? amount : 0 },
    feeCurrency: { currency: p.currency, amount: 0, actual: 0 },
    displayRate: { base: p.currency, counter: p.currency, rate: 1 }, exchangeRate: { base: p.currency, counter: p.currency, rate: 1 },
    address: { address: p.address, tag: null, protocol: p.protocol, uri: `ethereum:${p.address}`, alternatives: [] },
    returnUrl: null, redirectUrl: `https://pay.sandbox.bvnk.com/payout?uuid=${p.uuid}`,
    transactions: p.txs.map((t) => ({
      dateCreated: t.created, dateConfirmed: t.hash ? t.created : null, hash: t.hash, amount, risk: null,
      networkFeeCurrency: 'BNB', networkFeeAmount: 0, sources: [], displayRate: null, exchangeRate: null,
      protocol: p.protocol, isOnHold: t.onHold,
    })),
    refund: null, refunds: [],
  };
}

function send(res, status, value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const errorList = (parameter, code, message) => ({ errorList: [{ parameter, code, message }] });

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// --- Webhooks -----------------------------------------------------------------------

function sign(body, contentType = 'application/json') {
  const u = new URL(opt['webhook-url']);
  const material = opt.signing === 'body' ? body : `${opt.signing === 'path' ? u.pathname : opt['webhook-url']}${contentType}${body}`;
  return createHmac('sha256', WEBHOOK_SECRET).update(material).digest('hex');
}

function post(body, { signature, contentType = 'application/json' } = {}) {
  const u = new URL(opt['webhook-url']);
  const headers = { 'content-type': contentType, 'content-length': Buffer.byteLength(body) };
  const sig = signature === undefined ? sign(body, contentType) : signature;
  if (sig !== null) headers['x-signature'] = sig;
  const opts = { method: 'POST', headers, timeout: 30000 };
  if (u.protocol === 'https:') opts.ca = CA ?? undefined;
  return new Promise((resolve) => {
    const req = (u.protocol === 'https:' ? https : http).request(u, opts, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, response: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => resolve({ status: 0, error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    req.end(body);
  });
}

function envelope(p, hold) {
  const data = view(p);
  if (settings.envelope === 'new') {
    return JSON.stringify({
      event: hold ? 'bvnk:payment:crypto:transaction-on-hold' : 'bvnk:payment:crypto:status-change',
      eventId: randomUUID(), timestamp: new Date().toISOString(), data,
    });
  }
  return JSON.stringify({ source: 'payment', event: hold ? 'transactionOnHold' : 'statusChanged', data });
}

// One webhook, retried until a 200 with a growing delay; sent twice when duplicates are on.
async function deliver(p, body, label) {
  const s = { ...settings };
  const record = { label, tries: 0, statuses: [] };
  p.webhooks.push(record);
  if (s.drop) {
    record.dropped = true;
    return record;
  }
  for (let copy = 0; copy < (s.duplicates ? 2 : 1); copy++) {
    let wait = s.retryMs;
    for (let attempt = 0; attempt <= s.maxRetries; attempt++) {
      const r = await post(body);
      record.tries += 1;
      record.statuses.push(r.status || r.error);
      log(`webhook ${label} for ${p.uuid} -> ${r.status || r.error}`);
      if (r.status === 200) break;
      await new Promise((ok) => setTimeout(ok, wait));
      wait = Math.min(wait * 2, 15 * 60 * 1000);
    }
  }
  return record;
}

// The webhooks of a status change, in the order BVNK sends them (or held back to come after the next).
let heldBack = null;
async function announce(p, hold = false) {
  const body = envelope(p, hold);
  const label = hold ? 'transactionOnHold' : p.status;
  if (settings.reorder && !heldBack) {
    heldBack = { p, body, label };
    return;
  }
  await deliver(p, body, label);
  if (heldBack) {
    const h = heldBack;
    heldBack = null;
    await deliver(h.p, h.body, h.label);
  }
}

async function transfer(p, onHold = false) {
  if (!chain || !opt['payout-wallet']) throw new Error('no test chain or payout wallet');
  const crypto = SYMBOL_CRYPTO[p.currency];
  const hash = await chain.payout(crypto, p.address, p.amount);
  p.txs = [{ hash, created: Date.now(), onHold }];
  return hash;
}

// BVNK's own progress of a payout, after it answered the create call.
async function progress(p, s) {
  try {
    if (s.outcome === 'manual') return;
    await announce(p);
    if (s.outcome === 'expire' || s.outcome === 'cancel') {
      p.status = s.outcome === 'expire' ? 'EXPIRED' : 'CANCELLED';
      return announce(p);
    }
    if (s.outcome === 'hold') {
      p.txs = [{ hash: null, created: Date.now(), onHold: true }];
      return announce(p, true);
    }
    await transfer(p);
    p.status = 'COMPLETE';
    await announce(p);
  } catch (e) {
    log(`payout ${p.uuid}: ${e.stack}`);
  }
}

// --- The API --------------------------------------------------------------------------

async function createPayout(req, res) {
  const text = await readBody(req);
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return send(res, 400, errorList('body', 'invalid', 'Malformed JSON'));
  }
  const ref = typeof body.reference === 'string' ? body.reference : '';
  calls.create[ref] = (calls.create[ref] ?? 0) + 1;
  if (mode === 'error_before_record') return send(res, 500, { message: 'Internal Server Error' });
  if (body.merchantId !== opt['merchant-id']) return send(res, 400, errorList('merchantId', 'invalid', 'Unknown merchant'));
  if (!ref) return send(res, 400, errorList('reference', 'required', 'Reference is required'));
  if ([...payouts.values()].some((p) => p.reference === ref)) return send(res, 400, errorList('reference', 'unique', 'Duplicate Reference'));
  if (body.type !== 'OUT') return send(res, 400, errorList('type', 'invalid', 'Type must be IN or OUT'));
  const d = body.payOutDetails ?? {};
  if (d.code !== 'crypto' || !/^0x[0-9a-fA-F]{40}$/.test(d.address ?? '')) {
    return send(res, 400, errorList('payOutInstruction', 'invalidPayout', 'Invalid payout address'));
  }
  if (!d.protocol && !d.network) return send(res, 400, errorList('payOutDetails.protocol', 'required', 'Protocol is required for this currency'));
  if (!SYMBOL_CRYPTO[body.currency] || d.currency !== body.currency) return send(res, 400, errorList('currency', 'invalid', 'Unsupported currency'));
  let amount;
  try {
    amount = Q.of(/^\d+(\.\d+)?$/.test(String(body.amount)) ? String(body.amount) : 'x');
  } catch {
    return send(res, 400, errorList('amount', 'invalid', 'Invalid amount'));
  }
  const p = {
    uuid: randomUUID(), reference: ref, merchantId: body.merchantId, amount, currency: body.currency, address: d.address,
    protocol: d.protocol ?? d.network, status: 'PROCESSING', txs: [], created: new Date(), webhooks: [],
  };
  payouts.set(p.uuid, p);
  log(`payout ${p.uuid} (${ref}): ${amount.text()} ${p.currency} to ${p.address} [${mode}, ${settings.outcome}]`);
  const s = { ...settings };
  if (s.webhooksFirst) {
    // The answer as BVNK wrote it, reaching the caller only after the webhooks that followed it.
    const answer = view(p);
    await progress(p, s);
    return send(res, 200, answer);
  }
  setImmediate(() => progress(p, s));
  if (mode === 'error_after_record') return send(res, 500, { message: 'Internal Server Error' });
  if (mode === 'timeout_after_record') {
    hung.add(res);
    res.on('close', () => hung.delete(res));
    return;
  }
  send(res, 200, view(p));
}

async function api(req, res, path, query) {
  if (mode === 'down') return req.socket.destroy();
  if (mode === 'hang') {
    hung.add(res);
    res.on('close', () => hung.delete(res));
    return;
  }
  const refused = hawkOk(req);
  if (refused) {
    calls.unauthorized += 1;
    log(`refused ${req.method} ${path}: ${refused}`);
    return send(res, 401, { message: 'Unauthorized' });
  }
  let m;
  if (req.method === 'POST' && path === '/api/v1/pay/summary') return createPayout(req, res);
  if (req.method === 'GET' && path === '/api/v1/pay/summary') {
    calls.list += 1;
    const list = [...payouts.values()].filter((p) => p.merchantId === query.get('merchantId')).reverse()
      .slice(0, Number(query.get('max') ?? 20)).map(view);
    return send(res, 200, list);
  }
  if (req.method === 'GET' && (m = path.match(/^\/api\/v1\/pay\/([^/]+)\/summary$/))) {
    const uuid = decodeURIComponent(m[1]);
    calls.get[uuid] = (calls.get[uuid] ?? 0) + 1;
    const p = payouts.get(uuid);
    return p ? send(res, 200, view(p)) : send(res, 404, errorList('uuid', 'notFound', 'Payment not found'));
  }
  send(res, 404, { message: 'Not Found' });
}

// --- The control API ----------------------------------------------------------------------

const MODES = ['ok', 'down', 'hang', 'error_before_record', 'error_after_record', 'timeout_after_record'];

async function control(req, res, path) {
  const text = req.method === 'POST' ? await readBody(req) : '';
  let body = {};
  try {
    if (text) body = JSON.parse(text);
  } catch (e) {
    return send(res, 400, { error: e.message });
  }
  let m;
  if (req.method === 'POST' && path === '/__control/mode') {
    if (!MODES.includes(body.mode)) return send(res, 400, { error: `mode must be one of ${MODES.join(', ')}` });
    mode = body.mode;
    if (mode !== 'hang' && mode !== 'timeout_after_record') releaseHung();
    return send(res, 200, { mode });
  }
  if (req.method === 'POST' && path === '/__control/settings') {
    for (const k of Object.keys(body)) if (!(k in DEFAULTS)) return send(res, 400, { error: `unknown setting ${k}` });
    Object.assign(settings, body);
    return send(res, 200, { settings });
  }
  if (req.method === 'GET' && path === '/__control/calls') return send(res, 200, calls);
  if (req.method === 'GET' && path === '/__control/payouts') {
    return send(res, 200, { payouts: [...payouts.values()].map((p) => ({ ...view(p), webhooks: p.webhooks })) });
  }
  if (req.method === 'POST' && (m = path.match(/^\/__control\/payouts\/([^/]+)$/))) {
    const p = payouts.get(decodeURIComponent(m[1]));
    if (!p) return send(res, 404, { error: 'no such payout' });
    try {
      if (body.transfer) await transfer(p, !!body.onHold);
      else if (body.onHold !== undefined) {
        if (!p.txs.length) p.txs = [{ hash: null, created: Date.now(), onHold: false }];
        for (const t of p.txs) t.onHold = !!body.onHold;
      }
      if (body.status) p.status = body.status;
    } catch (e) {
      return send(res, 400, { error: e.message });
    }
    if (body.webhook !== false) await announce(p, !!body.onHold);
    return send(res, 200, { payout: view(p) });
  }
  if (req.method === 'POST' && path === '/__control/deliver') {
    const raw = typeof body.body === 'string' ? body.body : JSON.stringify(body.body ?? {});
    const r = await post(raw, { signature: body.signature, contentType: body.contentType });
    return send(res, 200, { ...r, body: raw });
  }
  if (req.method === 'POST' && path === '/__control/reset') {
    mode = 'ok';
    settings = { ...DEFAULTS };
    calls = { create: {}, get: {}, list: 0, unauthorized: 0 };
    heldBack = null;
    releaseHung();
    return send(res, 200, { reset: true });
  }
  send(res, 404, { error: `no control endpoint ${req.method} ${path}` });
}

// --- The server -------------------------------------------------------------------------------

const server = http.createServer(async (req, res) => {
  const started = Date.now();
  const { pathname: path, searchParams: query } = new URL(req.url, 'http://fake');
  res.on('finish', () => log(`${req.method} ${path} ${res.statusCode} ${Date.now() - started}ms`));
  try {
    if (path.startsWith('/__control/')) await control(req, res, path);
    else await api(req, res, path, query);
  } catch (e) {
    log(`error: ${e.stack}`);
    if (!res.headersSent) send(res, 500, { message: e.message });
  }
});

if (chain && opt['payout-wallet']) await chain.fundPayoutWallet(opt['payout-wallet']);

server.listen(Number(opt.port), opt.host, () => {
  log(`listening on http://${opt.host}:${server.address().port}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    releaseHung();
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
