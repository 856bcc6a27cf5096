#!/usr/bin/env node
// A fake SHKeeper v2.5 for tests and `make run`: the invoice API the service
// calls, the signed callbacks SHKeeper sends, and a control API under
// /__control/ with which tests pay invoices and make the upstream fail.
// What it imitates is written down in shared/PROVIDERS.md section 1: the fee
// inside `amount` (2 %), an exchange rate that is not 1, PAID decided in fiat
// at llimit, amounts printed through a float as SHKeeper prints them.
// Deposits are real ERC-20 transfers on the test chain when one is
// configured (see shkeeper/chain.mjs), so the service can check them.
//
//   node tests/fakes/shkeeper.mjs --port N --api-key-file F [--ca FILE]
//        [--retry-ms N] [--max-retries N] [--host 127.0.0.1]
//
// Control API (no auth, so it listens on the loopback only):
//   POST /__control/mode     {"mode":"ok"|"error"|"down"|"hang"|"slow","delayMs":N,"message":"…"}
//   GET  /__control/calls    {"payment_request":{"<external_id>":N},"total":N,"invoice_lookup":{…},"tx_info":{…}}
//   POST /__control/reset    mode ok, counters zero, settings back to the defaults, the clock
//                            back to now (invoices are kept: the service stores their ids)
//   POST /__control/settings {"crypto"?,"rate"?,"fee_percent"?,"fee_fixed"?,"fee_policy"?,
//                            "llimit"?,"ulimit"?,"recalc"?}   SHKeeper's per-crypto settings
//   POST /__control/clock    {"offsetSeconds":N}   the fake's clock runs N seconds ahead of the
//                            real one (N ≥ 0), so an invoice's `recalc` hours can pass at once
//   POST /__control/pay      {"external_id","amount_crypto","txid"?,"status"?,"unconfirmed"?,
//                            "stray"?,"depth"?,"callback"?}
//        A deposit of amount_crypto of the invoice's token: a real transfer to the
//        invoice's address (mined `depth` blocks deep, final by default; one block for
//        an unconfirmed notice), or the given txid (a transfer the caller made, or a
//        made-up one). "stray": first a deposit of that much of the chain's other
//        token to the same address, announced with its own callback, as SHKeeper does.
//        "callback": false records the deposit and sends nothing (a lost callback).
//   POST /__control/deliver  {"callback_url"?,"body","timestamp"?,"signature"?,"apiKeyHeader"?}
//   GET  /__control/requests?external_id=X   the payment_request calls received (raw bodies)
//   GET  /__control/invoices/<external_id>   the fake's own view, for debugging
//
// Payouts (shkeeper/payouts.mjs), with HTTP Basic credentials from
// --payout-auth-file (user:password), paid from --payout-wallet on the test
// chain; --payout-callbacks is SHKeeper's ENABLE_PAYOUT_CALLBACK:
//   POST /__control/payouts/settings {"mode"?,"outcome"?,"transfer"?,"payoutDepth"?,"callbacks"?,"duplicateCallback"?,
//                                     "retryUnitMs"?,"maxTries"?}   failure switches (reset restores them)
//   GET  /__control/payouts          every payout, its task and callback tries, and the payout calls counted
//   POST /__control/payouts/run      {"task_id"}: a held task (outcome "hold") runs now
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CRYPTOS, SIBLING, InvoiceStore, Settings, pythonJson, randomTxid } from './shkeeper/invoices.mjs';
import { Q, shk } from './shkeeper/decimal.mjs';
import { Deliverer } from './shkeeper/deliver.mjs';
import { Chain } from './shkeeper/chain.mjs';
import { Payouts } from './shkeeper/payouts.mjs';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.SHKEEPER_PORT ?? '18990' },
    host: { type: 'string', default: '127.0.0.1' },
    'api-key-file': { type: 'string', default: process.env.SHKEEPER_API_KEY_FILE },
    ca: { type: 'string', default: process.env.SHKEEPER_FAKE_CA },
    'retry-ms': { type: 'string', default: '500' },
    'max-retries': { type: 'string', default: '20' },
    'payout-auth-file': { type: 'string' },
    'payout-wallet': { type: 'string' },
    'payout-callbacks': { type: 'boolean', default: false },
  },
});
if (!opt['api-key-file']) {
  console.error('shkeeper fake: --api-key-file is required');
  process.exit(2);
}
// The service drops a secret file's trailing newline; so does SHKeeper's admin form.
const API_KEY = readFileSync(opt['api-key-file'], 'utf8').replace(/[\r\n]+$/, '');
const RETRY_MS = Number(opt['retry-ms']);
const MAX_RETRIES = Number(opt['max-retries']);

const log = (line) => console.log(`${new Date().toISOString()} ${line}`);
const settings = new Settings();
// The fake's clock: the real one, moved ahead by tests (/__control/clock).
let clockOffsetMs = 0;
const store = new InvoiceStore(settings, () => new Date(Date.now() + clockOffsetMs));
const deliverer = new Deliverer({ apiKey: API_KEY, ca: opt.ca ? readFileSync(opt.ca) : null, log });
const chain = Chain.fromEnv(process.env, log);
log(chain ? `deposits are transfers on ${process.env.ANVIL_URL} (${Object.keys(chain.tokens).join(', ')})`
  : 'no test chain (ANVIL_URL, CHAIN_SHKEEPER_PAYER): transaction ids are made up');
const payouts = new Payouts({
  auth: opt['payout-auth-file'] ? readFileSync(opt['payout-auth-file'], 'utf8').replace(/[\r\n]+$/, '') : null,
  apiKey: API_KEY, chain, deliverer, log, callbacks: opt['payout-callbacks'],
  rate: (crypto) => settings.get(crypto).rate,
});

// How the upstream behaves, set by tests through /__control/mode.
let mode = { mode: 'ok', delayMs: 0, message: 'payment gateway is unavailable' };
const hung = new Set();
let calls = { payment_request: {}, total: 0, invoice_lookup: {}, tx_info: {} };
// The last payment_request calls as received, so tests can check what the
// service sent (amount as a string, the callback URL, the key).
const MAX_RECORDED = 500;
let received = [];

function releaseHung() {
  for (const res of hung) res.socket?.destroy();
  hung.clear();
}

function send(res, status, value, type = 'application/json') {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

// SHKeeper reports every failure as HTTP 200 with status "error"; an
// exception it did not expect also carries its traceback.
const shkError = (message, traceback) =>
  (traceback ? { status: 'error', message, traceback } : { status: 'error', message });

const traceback = (exc, message) =>
  'Traceback (most recent call last):\n  File "/shkeeper/api_v1.py", line 91, in payment_request\n' +
  `    invoice = Invoice.add(crypto=crypto, request=req)\n${exc}: ${message}\n`;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text) {
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: e.message };
  }
}

// --- The SHKeeper API -------------------------------------------------------

function checkKey(req) {
  const key = req.headers['x-shkeeper-api-key'];
  if (key === undefined) return shkError('No API key');
  if (key !== API_KEY) return shkError('Bad API key');
  return null;
}

async function paymentRequest(req, res, crypto) {
  const text = await readBody(req);
  const parsed = parseJson(text);
  const body = parsed.value && typeof parsed.value === 'object' ? parsed.value : {};
  record(req, crypto, text);

  const refused = checkKey(req);
  if (refused) return send(res, 200, refused);
  if (mode.mode === 'error') return send(res, 200, shkError(mode.message));
  if (!CRYPTOS.includes(crypto)) return send(res, 200, shkError(`${crypto} payment gateway is unavailable`));
  if (parsed.error) return send(res, 200, shkError(parsed.error, traceback('JSONDecodeError', parsed.error)));
  for (const field of ['external_id', 'fiat', 'amount', 'callback_url']) {
    if (body[field] === undefined || body[field] === null) {
      return send(res, 200, shkError(`'${field}'`, traceback('KeyError', `'${field}'`)));
    }
  }
  if (typeof body.amount === 'number') log(`warning: amount sent as a JSON number (${body.amount}), not a string`);
  let inv;
  try {
    inv = store.request(crypto, {
      external_id: String(body.external_id), fiat: String(body.fiat),
      amount: body.amount, callback_url: String(body.callback_url),
    });
  } catch (e) {
    return send(res, 200, shkError(`[<class 'decimal.ConversionSyntax'>]`, traceback('decimal.InvalidOperation', e.message)));
  }
  send(res, 200, store.paymentRequestAnswer(inv));
}

function invoiceLookup(req, res, externalId) {
  calls.invoice_lookup[externalId] = (calls.invoice_lookup[externalId] ?? 0) + 1;
  const refused = checkKey(req);
  if (refused) return send(res, 200, refused);
  send(res, 200, store.lookupAnswer(store.all(externalId)));
}

// GET /api/v1/tx-info/<txid>/<external_id> (get_txid_info): a confirmed
// transaction of the invoice, its fiat value under "amount"; {} for one it
// does not hold.
function txInfo(req, res, txid, externalId) {
  calls.tx_info[externalId] = (calls.tx_info[externalId] ?? 0) + 1;
  const refused = checkKey(req);
  if (refused) return send(res, 200, refused);
  send(res, 200, { status: 'success', info: store.txInfo(externalId, txid) });
}

function cryptoList(res) {
  send(res, 200, {
    status: 'success',
    crypto: CRYPTOS,
    crypto_list: CRYPTOS.map((name) => ({ name, display_name: name })),
  });
}

function hang(res) {
  hung.add(res);
  res.on('close', () => hung.delete(res));
}

async function api(req, res, path, query) {
  // Outages first: whatever the endpoint, a down or hung SHKeeper answers nothing.
  const pr = path.match(/^\/api\/v1\/([^/]+)\/payment_request$/);
  const po = req.method === 'POST' && path.match(/^\/api\/v1\/([^/]+)\/payout$/);
  if (mode.mode === 'down' || mode.mode === 'hang') {
    if (pr) record(req, decodeURIComponent(pr[1]), await readBody(req));
    // A payout call that never got an answer still reached SHKeeper's door: counted.
    if (po) payouts.count('payout', String(parseJson(await readBody(req)).value?.external_id ?? ''));
    if (mode.mode === 'down') return req.socket.destroy();
    return hang(res);
  }
  if (mode.mode === 'slow') await new Promise((r) => setTimeout(r, mode.delayMs));

  let m;
  if (req.method === 'POST' && pr) return paymentRequest(req, res, decodeURIComponent(pr[1]));
  if (req.method === 'GET' && (m = path.match(/^\/api\/v1\/invoices\/([^/]+)$/))) {
    return invoiceLookup(req, res, decodeURIComponent(m[1]));
  }
  if (req.method === 'GET' && (m = path.match(/^\/api\/v1\/tx-info\/([^/]+)\/([^/]+)$/))) {
    return txInfo(req, res, decodeURIComponent(m[1]), decodeURIComponent(m[2]));
  }
  if (req.method === 'GET' && path === '/api/v1/crypto') return cryptoList(res);
  if (payoutPath(path)) return payoutApi(req, res, path, query);
  send(res, 404, '<!doctype html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n', 'text/html; charset=utf-8');
}

// --- Payouts (shkeeper/payouts.mjs) ----------------------------------------------

const payoutPath = (path) => /^\/api\/v1\/[^/]+\/(payout|multipayout|payout\/status|task\/[^/]+)$/.test(path);

// Flask's force=True JSON: a body that is not JSON is a 400 page, before any view runs.
async function jsonBody(req, res) {
  const p = parseJson(await readBody(req));
  if (p.error) {
    send(res, 400, '<!doctype html>\n<title>400 Bad Request</title>\n<h1>Bad Request</h1>\n', 'text/html; charset=utf-8');
    return undefined;
  }
  return p.value;
}

async function payoutApi(req, res, path, query) {
  const [, , , rawCrypto, what, id] = path.split('/');
  const crypto = decodeURIComponent(rawCrypto);
  if (req.method === 'GET' && what === 'payout' && id === 'status') {
    const refused = checkKey(req);
    if (refused) return send(res, 200, refused);
    const [status, body] = payouts.status(crypto, query.get('external_id'));
    return send(res, status, body);
  }
  const denied = payouts.auth ? payouts.checkBasic(req) : [302, '', { location: '/login' }];
  if (denied) {
    const [status, body, headers = {}] = denied;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json', ...headers });
    return res.end(text);
  }
  if (req.method === 'GET' && what === 'task') return send(res, 200, payouts.task(decodeURIComponent(id)));
  if (req.method === 'POST' && what === 'payout' && id === undefined) {
    const body = await jsonBody(req, res);
    if (body === undefined) return;
    const answer = await payouts.create(crypto, body && typeof body === 'object' ? body : {});
    if (answer === null) return hang(res);
    return send(res, answer[0], answer[1]);
  }
  if (req.method === 'POST' && what === 'multipayout') {
    const body = await jsonBody(req, res);
    if (body === undefined) return;
    const [status, answer] = await payouts.multipayout(crypto, body);
    return send(res, status, answer);
  }
  send(res, 405, '<!doctype html>\n<title>405 Method Not Allowed</title>\n', 'text/html; charset=utf-8');
}

// Every payment_request counts, including those a down or hung SHKeeper
// never answers: they reached it.
function record(req, crypto, text) {
  const p = parseJson(text);
  const key = String((p.value && p.value.external_id) ?? '');
  calls.payment_request[key] = (calls.payment_request[key] ?? 0) + 1;
  calls.total += 1;
  received.push({
    at: new Date().toISOString(), crypto, external_id: key, mode: mode.mode,
    apiKey: req.headers['x-shkeeper-api-key'] === API_KEY, contentType: req.headers['content-type'] ?? null,
    body: text,
  });
  if (received.length > MAX_RECORDED) received = received.slice(-MAX_RECORDED);
}

// --- The control API --------------------------------------------------------

const MODES = ['ok', 'error', 'down', 'hang', 'slow'];

async function control(req, res, path, query) {
  const text = req.method === 'POST' ? await readBody(req) : '';
  const parsed = text ? parseJson(text) : { value: {} };
  if (parsed.error) return send(res, 400, { error: `invalid JSON: ${parsed.error}` });
  const body = parsed.value ?? {};
  let m;

  if (req.method === 'POST' && path === '/__control/mode') {
    if (!MODES.includes(body.mode)) return send(res, 400, { error: `mode must be one of ${MODES.join(', ')}` });
    mode = { mode: body.mode, delayMs: Number(body.delayMs ?? 0), message: body.message ?? 'payment gateway is unavailable' };
    if (mode.mode !== 'hang') releaseHung();
    return send(res, 200, mode);
  }
  if (req.method === 'GET' && path === '/__control/calls') return send(res, 200, { ...calls, payouts: payouts.calls });
  if (req.method === 'POST' && path === '/__control/payouts/settings') {
    try {
      return send(res, 200, { settings: payouts.set(body) });
    } catch (e) {
      return send(res, 400, { error: e.message });
    }
  }
  if (req.method === 'GET' && path === '/__control/payouts') return send(res, 200, { payouts: payouts.view(), calls: payouts.calls });
  if (req.method === 'POST' && path === '/__control/payouts/run') {
    return payouts.run(String(body.task_id)) ? send(res, 200, { run: body.task_id }) : send(res, 404, { error: `no held task ${body.task_id}` });
  }
  if (req.method === 'GET' && path === '/__control/requests') {
    const id = query.get('external_id');
    return send(res, 200, { requests: id === null ? received : received.filter((r) => r.external_id === id) });
  }
  if (req.method === 'POST' && path === '/__control/settings') {
    const { crypto = null, ...patch } = body;
    try {
      return send(res, 200, { settings: settings.set(crypto, patch) });
    } catch (e) {
      return send(res, 400, { error: e.message });
    }
  }
  if (req.method === 'POST' && path === '/__control/clock') {
    const offset = Number(body.offsetSeconds);
    if (!Number.isInteger(offset) || offset < 0) return send(res, 400, { error: 'offsetSeconds must be a whole number ≥ 0' });
    clockOffsetMs = offset * 1000;
    return send(res, 200, { offsetSeconds: offset, now: store.now().toISOString() });
  }
  if (req.method === 'POST' && path === '/__control/reset') {
    mode = { mode: 'ok', delayMs: 0, message: 'payment gateway is unavailable' };
    clockOffsetMs = 0;
    settings.reset();
    releaseHung();
    calls = { payment_request: {}, total: 0, invoice_lookup: {}, tx_info: {} };
    received = [];
    payouts.reset();
    return send(res, 200, { reset: true });
  }
  if (req.method === 'POST' && path === '/__control/pay') return pay(res, body);
  if (req.method === 'POST' && path === '/__control/deliver') return deliverRaw(res, body);
  if (req.method === 'GET' && (m = path.match(/^\/__control\/invoices\/([^/]+)$/))) {
    return send(res, 200, { invoices: store.all(decodeURIComponent(m[1])).map(controlView) });
  }
  send(res, 404, { error: `no control endpoint ${req.method} ${path}` });
}

// The fake's whole view of an invoice: what the API shows plus its id,
// address, amounts and callback URL.
const controlView = (inv) => ({
  ...store.lookupAnswer([inv]).invoices[0],
  id: inv.id, crypto: inv.crypto, wallet: inv.wallet, callback_url: inv.callbackUrl,
  amount: shk(inv.amountCrypto), exchange_rate: shk(inv.exchangeRate),
});

// A deposit's transaction: a real transfer on the test chain where the
// crypto has one, else a made-up id. `txid` given: the caller's own.
async function deposit(inv, crypto, amount, { txid, depth }) {
  const known = txid && inv.txs.find((t) => t.txid === txid && t.crypto === crypto);
  if (known) {
    // Seen before unconfirmed (one block deep): now buried deep enough to be final.
    if (!known.confirmed && known.ownTransfer && depth > 1) await chain.deepen(depth - 1);
    return { txid, own: known.ownTransfer };
  }
  if (txid) return { txid, own: false };
  if (chain?.has(crypto)) return { txid: await chain.transfer(crypto, inv.wallet, amount, depth), own: true };
  return { txid: randomTxid(), own: false };
}

const FINAL_DEPTH = 4;

// A deposit to an invoice's address: recorded, then announced to the
// invoice's callback_url the way SHKeeper would, retried until 202.
async function pay(res, body) {
  const inv = store.find(String(body.external_id ?? ''));
  if (!inv) return send(res, 404, { error: `no invoice with external_id ${body.external_id}` });
  const amount = String(body.amount_crypto ?? '0');
  const unconfirmed = !!body.unconfirmed;
  const depth = Number(body.depth ?? (unconfirmed ? 1 : FINAL_DEPTH));
  let tx = null;
  let stray = null;
  let strayReport = null;
  try {
    Q.of(amount);
    if (body.stray !== undefined && body.stray !== null) {
      const sib = SIBLING[inv.crypto];
      const d = await deposit(inv, sib, Q.of(String(body.stray)), { depth });
      stray = store.addTx(inv, { txid: d.txid, amountCrypto: String(body.stray), crypto: sib });
      stray.ownTransfer = d.own;
    }
    if (amount !== '0' || body.txid) {
      const d = await deposit(inv, inv.crypto, Q.of(amount), { txid: body.txid, depth });
      tx = store.addTx(inv, { txid: d.txid, amountCrypto: amount, confirmed: !unconfirmed });
      tx.ownTransfer ??= d.own;
    }
  } catch (e) {
    return send(res, 400, { error: e.message });
  }
  if (stray) {
    // SHKeeper announces every transaction it records, the stray one too.
    log(`pay ${inv.externalId}: stray ${body.stray} ${stray.crypto} -> ${store.statusOf(inv)}`);
    const s = stray;
    strayReport = await deliverer.deliver(inv.callbackUrl, () => store.callbackBody(inv, s), { retryMs: RETRY_MS, maxRetries: MAX_RETRIES });
  }
  // Only the stray deposit: its own callback was the one SHKeeper sends.
  if (stray && !tx && !body.status) return send(res, 200, report(strayReport, null, stray));
  if (unconfirmed) {
    if (!tx) return send(res, 400, { error: 'an unconfirmed notice needs amount_crypto' });
    const r = await deliverer.deliver(inv.callbackUrl, () => store.unconfirmedBody(inv, tx), { retryMs: RETRY_MS, maxRetries: 0 });
    return send(res, 200, report(r, tx, stray));
  }
  // A forced status (EXPIRED, CANCELLED, …) imitates what the seed lists but
  // SHKeeper itself never sends; it sticks until a payment without one.
  inv.forcedStatus = body.status ? String(body.status) : null;
  log(`pay ${inv.externalId}: ${amount} ${inv.crypto} -> ${store.statusOf(inv)}`);
  // Recorded, never announced: the lost callback users of SHKeeper report.
  if (body.callback === false) return send(res, 200, report({ delivered: false, attempts: 0, status: null }, tx, stray));
  const r = await deliverer.deliver(inv.callbackUrl, () => store.callbackBody(inv, tx), {
    retryMs: RETRY_MS, maxRetries: MAX_RETRIES,
    onDone: (last) => log(`callback for ${inv.externalId} ${last.delivered ? 'acknowledged' : 'given up'} after ${last.attempts} tries`),
  });
  send(res, 200, report(r, tx, stray));
}

const report = (r, tx, stray = null) => ({
  delivered: r.delivered, attempts: r.attempts, lastStatus: r.status, response: r.response ?? r.error,
  url: r.url ?? null, contentType: r.contentType ?? null, body: r.body, timestamp: r.timestamp, signature: r.signature, txid: tx?.txid ?? null,
  strayTxid: stray?.txid ?? null,
});

// Exactly the bytes a test gives, once: for bad signatures, stale
// timestamps, missing headers and byte-identical repeats.
async function deliverRaw(res, body) {
  let url = body.callback_url;
  const raw = typeof body.body === 'string' ? body.body : pythonJson(body.body ?? {});
  if (!url) {
    const p = parseJson(raw);
    url = p.value && store.find(String(p.value.external_id))?.callbackUrl;
  }
  if (!url) return send(res, 400, { error: 'callback_url is required (no invoice matches the body)' });
  const r = await deliverer.post(url, raw, {
    timestamp: body.timestamp === undefined ? undefined : body.timestamp === null ? null : String(body.timestamp),
    signature: body.signature,
    apiKeyHeader: body.apiKeyHeader !== false,
  });
  send(res, 200, report({ ...r, attempts: 1, delivered: r.status === 202 }, null));
}

// --- The server -------------------------------------------------------------

const server = http.createServer(async (req, res) => {
  const started = Date.now();
  const { pathname: path, searchParams: query } = new URL(req.url, 'http://fake');
  res.on('finish', () => log(`${req.method} ${path} ${res.statusCode} ${Date.now() - started}ms`));
  res.on('close', () => { if (!res.writableFinished) log(`${req.method} ${path} closed without an answer (${mode.mode})`); });
  try {
    if (path.startsWith('/__control/')) await control(req, res, path, query);
    else await api(req, res, path, query);
  } catch (e) {
    log(`error: ${e.stack}`);
    if (!res.headersSent) send(res, 500, { error: e.message });
  }
});

if (chain && opt['payout-wallet']) await chain.fundPayoutWallet(opt['payout-wallet']);

server.listen(Number(opt.port), opt.host, () => {
  const { port } = server.address();
  log(`listening on http://${opt.host}:${port}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    releaseHung();
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
