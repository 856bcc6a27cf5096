// The fake SHKeeper's payouts (shared/PROVIDERS.md section 1; SHKeeper v2.5's
// api_v1.py, services/payout_service.py, models.py Payout, callback.py):
//
// - POST /api/v1/<crypto>/payout, HTTP Basic only: no credentials is a 302 to
//   /login (with only the API key header, a 200 {"status":"error"}); wrong ones
//   a 200 {"status":"error"}. Errors, a duplicate external_id among them, are
//   HTTP 500 {"status":"error","message"}, checked in SHKeeper's order:
//   unknown crypto, duplicate external_id, bad callback_url, then the wallet
//   call itself (a missing field is a KeyError). The payout is recorded only
//   after the wallet backend took it, and answered {"task_id","external_id"}:
//   a failure in between (error_after_send) pays with no record, so its
//   status is 404 and a second call passes the duplicate check and pays again.
// - The task is the wallet backend's Celery task: PENDING, then SUCCESS with
//   [{dest, amount, status, txids}] (an entry may say error: SHKeeper then
//   leaves its payout IN_PROGRESS for ever) or FAILURE with an error string
//   (the payout becomes FAIL). Unknown task ids answer PENDING.
// - GET /api/v1/<crypto>/payout/status?external_id= with the API key: 400
//   without it, 404 {"error":"Payout not found"}, else the payout.
// - The success callback, only when the operator enables it (ENABLE_PAYOUT_CALLBACK):
//   flat JSON with sorted keys, signed with timestamp and signature, no API key
//   header; only 202 acknowledges; at most 7 tries, the n-th after n² units.
// - POST /api/v1/<crypto>/multipayout sends first and checks external ids
//   after, so a repeat pays twice and then answers 500: the hazard, kept.
//
// The payouts are real transfers on the test chain from the fake's own
// payout wallet, so the service can check them.
import { randomUUID } from 'node:crypto';
import { Q } from './decimal.mjs';

// Python's str() of the Numeric column, as the payout callback and status print it.
const TEN_PLACES = 10;
export const decText = (q, places) => {
  const units = Q.of(q).round(places).units(places).toString().padStart(places + 1, '0');
  return `${units.slice(0, -places)}.${units.slice(-places)}`;
};

// datetime.isoformat(): microseconds only when there are some.
const isoformat = (d) => {
  const base = d.toISOString().slice(0, 19);
  const us = d.getUTCMilliseconds() * 1000;
  return us ? `${base}.${String(us).padStart(6, '0')}` : base;
};

// json.dumps(sort_keys=True, separators=(',', ':'), ensure_ascii=False)
export const compactJson = (value) => {
  const sorted = (v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v);
  return JSON.stringify(sorted(value));
};

const DEFAULTS = {
  // ok | error_before_record (500, nothing made) | error_after_send (the wallet took it, the record failed: 500)
  // | error_after_record (made, then 500) | timeout_after_record (made, no answer)
  mode: 'ok',
  // success | failure (task FAILURE) | entry_error (task SUCCESS, our entry error) | hold (PENDING until run)
  // | no_txids (task SUCCESS, our entry "success" naming no transaction: the transfer is made all the same)
  // | failure_after_send (the transfer is made, then the task raises: FAILURE, the payout FAIL, no txid)
  outcome: 'success',
  // exact | wrong_recipient | short: what the transfer really pays
  transfer: 'exact',
  // blocks the transfer is buried under before the task ends (null: the chain's final depth)
  payoutDepth: null,
  // SHKeeper's ENABLE_PAYOUT_CALLBACK (the stack's operator turned it on; tests may turn it off: a dropped callback)
  callbacks: true,
  duplicateCallback: false,
  // ms per "second" of SHKeeper's quadratic retry schedule
  retryUnitMs: 100,
  maxTries: 7,
};

export class Payouts {
  constructor({ auth, apiKey, chain, deliverer, log, callbacks = true, rate = () => '1' }) {
    Object.assign(this, { auth, apiKey, chain, deliverer, log, rate });
    this.defaults = { ...DEFAULTS, callbacks };
    this.reset();
    this.byId = new Map();
    // Payouts the wallet took whose record failed: SHKeeper has no trace of them.
    this.unrecorded = [];
    this.nextId = 1;
    this.tasks = new Map();
  }

  // Settings and counters go back to the defaults; payouts are kept (the service stores their ids).
  reset() {
    this.settings = { ...this.defaults };
    this.calls = { payout: {}, payout_status: {}, task: {}, multipayout: 0 };
  }

  set(patch) {
    for (const k of Object.keys(patch)) if (!(k in DEFAULTS)) throw new Error(`unknown payout setting ${k}`);
    Object.assign(this.settings, patch);
    return this.settings;
  }

  // basic_auth_optional + login_required: null when let through, else [status, body, headers].
  checkBasic(req) {
    const h = req.headers.authorization;
    if (h) {
      const m = /^Basic (.+)$/.exec(h);
      const given = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
      if (given !== this.auth) return [200, { status: 'error', message: 'Bad HTTP Basic Auth credentials' }];
      return null;
    }
    if (req.headers['x-shkeeper-api-key'] !== undefined) {
      return [200, { status: 'error', message: "This endpoint doesn't accept X-Shkeeper-Api-Key auth" }];
    }
    return [302, '<!doctype html>\n<title>Redirecting...</title>\n', { location: '/login' }];
  }

  count(kind, key) {
    this.calls[kind][key] = (this.calls[kind][key] ?? 0) + 1;
  }

  find(crypto, externalId) {
    return [...this.byId.values()].find((p) => p.crypto === crypto && p.externalId === externalId);
  }

  // PayoutService.single_payout. Returns [status, body] or null to leave the request unanswered.
  async create(crypto, req) {
    const ext = req && req.external_id !== undefined && req.external_id !== null ? String(req.external_id) : '';
    this.count('payout', ext);
    const s = this.settings;
    if (!this.chain?.has(crypto)) return [500, { status: 'error', message: `Unknown crypto: ${crypto}` }];
    if (ext && this.find(crypto, ext)) {
      return [500, { status: 'error', message: `Payout with this external_id already exists: ${ext}` }];
    }
    const cb = req.callback_url;
    if (cb && !/^https?:\/\/[^/]+/.test(String(cb))) return [500, { status: 'error', message: `Invalid callback_url: ${cb}` }];
    for (const f of ['destination', 'amount', 'fee']) {
      if (req[f] === undefined) return [500, { status: 'error', message: `'${f}'` }];
    }
    let amount;
    try {
      amount = Q.of(String(req.amount));
    } catch {
      return [500, { status: 'error', message: "[<class 'decimal.ConversionSyntax'>]" }];
    }
    if (s.mode === 'error_before_record') {
      return [500, { status: 'error', message: 'Wallet backend is not available: ConnectionError' }];
    }
    // mkpayout: the wallet backend takes it as a task, then SHKeeper records the payout.
    const taskId = randomUUID();
    const p = {
      id: this.nextId++, crypto, externalId: ext || null, dest: String(req.destination), amount,
      callbackUrl: cb ? String(cb) : null, taskId, status: 'IN_PROGRESS', txids: [], createdAt: new Date(),
      tries: 0, delivered: false,
    };
    this.tasks.set(taskId, { status: 'PENDING', result: null });
    const settings = { ...s };
    if (s.mode === 'error_after_send') {
      // Payout.register_from_mkpayout raised: no record, so no status, no callback; the wallet's task runs.
      this.unrecorded.push(p);
      p.callbackUrl = null;
      this.log(`payout (${ext}): ${amount.text()} ${crypto} to ${p.dest} as task ${taskId}, not recorded`);
      setImmediate(() => this.execute(p, settings));
      return [500, { status: 'error', message: '(psycopg2.errors.SerializationFailure) could not serialize access' }];
    }
    this.byId.set(p.id, p);
    this.log(`payout ${p.id} (${ext}): ${amount.text()} ${crypto} to ${p.dest} as task ${taskId} [${s.mode}, ${s.outcome}, ${s.transfer}]`);
    if (settings.outcome === 'hold') p.release = () => this.execute(p, { ...settings, outcome: 'success' });
    else setImmediate(() => this.execute(p, settings));
    if (s.mode === 'error_after_record') {
      return [500, { status: 'error', message: '(psycopg2.OperationalError) server closed the connection unexpectedly' }];
    }
    if (s.mode === 'timeout_after_record') return null;
    return [200, { task_id: taskId, external_id: ext }];
  }

  // The Celery task, then SHKeeper's pollers: update_from_task, poll_unconfirmed_payouts, the callback notifier.
  async execute(p, s) {
    p.release = null;
    const task = this.tasks.get(p.taskId);
    try {
      if (s.outcome === 'failure') {
        Object.assign(task, { status: 'FAILURE', result: 'Insufficient funds for transfer' });
        p.status = 'FAIL';
        this.log(`payout ${p.id}: task FAILURE`);
        return;
      }
      if (s.outcome === 'entry_error') {
        Object.assign(task, { status: 'SUCCESS', result: [{ dest: p.dest, amount: p.amount.text(), status: 'error', txids: [] }] });
        this.log(`payout ${p.id}: task SUCCESS with an error entry; the payout stays IN_PROGRESS`);
        return;
      }
      const to = s.transfer === 'wrong_recipient' ? `0x${'5e'.repeat(20)}` : p.dest;
      const amount = s.transfer === 'short' ? p.amount.sub(p.amount.div(10n)) : p.amount;
      const hash = await this.chain.payout(p.crypto, to, amount, s.payoutDepth ?? undefined);
      if (s.outcome === 'failure_after_send') {
        // The wallet broadcast it, then gave up waiting for its receipt: Celery records the exception.
        Object.assign(task, { status: 'FAILURE', result: 'Transaction is not in the chain after 120 seconds' });
        p.status = 'FAIL';
        this.log(`payout ${p.id}: sent ${hash}, then task FAILURE`);
        return;
      }
      const txids = s.outcome === 'no_txids' ? [] : [hash];
      Object.assign(task, { status: 'SUCCESS', result: [{ dest: p.dest, amount: p.amount.text(), status: 'success', txids }] });
      p.txids.push(hash);
      p.status = 'SUCCESS';
      this.log(`payout ${p.id}: task SUCCESS, ${hash}`);
      if (s.callbacks && p.callbackUrl) this.notify(p, s);
      else this.log(`payout ${p.id}: no callback (${s.callbacks ? 'no callback_url' : 'ENABLE_PAYOUT_CALLBACK off'})`);
    } catch (e) {
      Object.assign(task, { status: 'FAILURE', result: String(e.message) });
      p.status = 'FAIL';
      this.log(`payout ${p.id}: task FAILURE: ${e.message}`);
    }
  }

  callbackBody(p) {
    return compactJson({
      payout_id: p.id, external_id: p.externalId, tx_hash: p.txids[0], status: 'SUCCESS',
      amount: decText(p.amount, TEN_PLACES), crypto: p.crypto,
      amount_fiat: decText(p.amount.mul(this.rate(p.crypto)), TEN_PLACES + 4), currency_fiat: 'USD',
      timestamp: isoformat(p.createdAt),
    });
  }

  // send_payout_callback_notifier: until a 202, at most maxTries tries, the n-th (n+1)² units after the last.
  async notify(p, s) {
    const body = this.callbackBody(p);
    while (!p.delivered && p.tries < s.maxTries) {
      if (p.tries > 0) await new Promise((r) => setTimeout(r, (p.tries + 1) ** 2 * s.retryUnitMs));
      p.tries += 1;
      const r = await this.deliverer.post(p.callbackUrl, body, { apiKeyHeader: false });
      p.lastCallback = { status: r.status, response: r.response ?? r.error };
      p.delivered = r.status === 202;
      this.log(`payout ${p.id}: callback try ${p.tries} -> ${r.status || r.error}`);
    }
    // A notifier that runs twice (two SHKeeper replicas) sends the same payout's callback again.
    if (s.duplicateCallback && p.delivered) {
      const r = await this.deliverer.post(p.callbackUrl, body, { apiKeyHeader: false });
      this.log(`payout ${p.id}: duplicate callback -> ${r.status || r.error}`);
    }
  }

  status(crypto, externalId) {
    this.count('payout_status', externalId ?? '');
    if (!externalId) return [400, { error: 'external_id is required' }];
    const p = this.find(crypto, externalId);
    if (!p) return [404, { error: 'Payout not found' }];
    return [200, {
      id: p.id, external_id: p.externalId, crypto: p.crypto, status: p.status, amount: decText(p.amount, TEN_PLACES),
      destination: p.dest, txid: p.txids[0] ?? null,
    }];
  }

  task(taskId) {
    this.count('task', taskId);
    const t = this.tasks.get(taskId);
    return t ? { status: t.status, result: t.result } : { status: 'PENDING', result: null };
  }

  // PayoutService.multiple_payout: the money goes first, the external ids are checked after.
  async multipayout(crypto, list) {
    this.calls.multipayout += 1;
    if (!Array.isArray(list)) return [500, { status: 'error', message: 'Expected an array of payouts' }];
    const taskId = randomUUID();
    const result = [];
    for (const e of list) {
      const hash = await this.chain.payout(crypto, String(e.dest), Q.of(String(e.amount)));
      result.push({ dest: e.dest, amount: String(e.amount), status: 'success', txids: [hash] });
    }
    this.tasks.set(taskId, { status: 'SUCCESS', result });
    for (const e of list) {
      if (e.external_id && this.find(crypto, String(e.external_id))) {
        return [500, { status: 'error', message: `Payout with this external_id already exists: ${e.external_id}` }];
      }
    }
    for (const e of list) {
      const p = {
        id: this.nextId++, crypto, externalId: e.external_id ? String(e.external_id) : null, dest: String(e.dest),
        amount: Q.of(String(e.amount)), callbackUrl: e.callback_url ?? null, taskId, status: 'IN_PROGRESS', txids: [],
        createdAt: new Date(), tries: 0, delivered: false,
      };
      this.byId.set(p.id, p);
    }
    return [200, { task_id: taskId, external_ids: list.filter((e) => e.external_id).map((e) => e.external_id) }];
  }

  // The fake's own view, for tests.
  view() {
    return [...this.byId.values()].map((p) => ({
      id: p.id, crypto: p.crypto, external_id: p.externalId, destination: p.dest, amount: p.amount.text(),
      task_id: p.taskId, task: this.tasks.get(p.taskId), status: p.status, txids: p.txids, callback_url: p.callbackUrl,
      callback_tries: p.tries, callback_delivered: p.delivered, last_callback: p.lastCallback ?? null,
      held: !!p.release,
    }));
  }

  run(taskId) {
    const p = [...this.byId.values()].find((x) => x.taskId === taskId);
    if (!p?.release) return false;
    p.release();
    return true;
  }
}
