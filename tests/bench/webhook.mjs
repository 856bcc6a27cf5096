// The bench's webhook helpers (tests/bench/run), with the stack's env in STACK_ENV:
//
//   node webhook.mjs sign PREFIX FROM TO OUT
//       one signed SHKeeper PAID callback per pay-in PREFIX<FROM>..PREFIX<TO>
//       (as tests/bench/run prepares them), shaped and signed as the e2e
//       tests' SHKeeper callbacks are; OUT gets "timestamp signature body"
//       lines for webhook.lua.
//   node webhook.mjs tx EXTERNAL_ID
//       the transaction hash a bench pay-in is paid with.
//   node webhook.mjs pgbench PGLOG FROM_BYTE CAPTURE_JSON SCRIPT DEFINES
//       turns the statements one delivery ran (logged with log_statement =
//       all from byte FROM_BYTE of PGLOG) into a pgbench script that runs the
//       same statements for a fresh pay-in each transaction; DEFINES gets
//       the constant parameters as pgbench -D arguments, one a line.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, openSync, readSync, fstatSync } from 'node:fs';
import { callback, sign, now } from '../e2e/shkeeper_lib.mjs';

// A pay-in's transaction: derived from its external id, so the database can
// derive it too ('0x' || md5(e) || md5('x' || e), the provider_payment_id
// tests/bench/run gives each bench pay-in; its payment_url holds the same
// 64 digits, which pgbench's deliveries use as their body digest).
const md5 = (s) => createHash('md5').update(s).digest('hex');
const txOf = (externalId) => `0x${md5(externalId)}${md5(`x${externalId}`)}`;
export const RECEIVER = `0x${'ab'.repeat(20)}`;

function signAll(prefix, from, to, out) {
  const lines = [];
  const ts = String(now());
  for (let g = Number(from); g <= Number(to); g++) {
    const externalId = `${prefix}${g}`;
    const body = callback({ externalId, status: 'PAID', addr: RECEIVER,
      txs: [{ txid: txOf(externalId), amount: '10.2', trigger: true }] });
    lines.push(`${ts} ${sign(ts, body)} ${body}`);
  }
  writeFileSync(out, lines.join('\n') + '\n');
}

// --- From a logged delivery to a pgbench script ---------------------------------

// "$1 = 'a''b', $2 = NULL" → ['a\'b', null]
function parseParams(text) {
  const out = [];
  let i = 0;
  while (i < text.length) {
    const m = /^\s*,?\s*\$(\d+) = /.exec(text.slice(i));
    if (!m) break;
    i += m[0].length;
    if (text.startsWith('NULL', i)) {
      out[Number(m[1]) - 1] = null;
      i += 4;
      continue;
    }
    if (text[i] !== "'") throw new Error(`unexpected parameter text at ${text.slice(i, i + 40)}`);
    let v = '';
    i++;
    for (;;) {
      const q = text.indexOf("'", i);
      if (q < 0) throw new Error('unterminated parameter');
      v += text.slice(i, q);
      if (text[q + 1] === "'") { v += "'"; i = q + 2; continue; }
      i = q + 1;
      break;
    }
    out[Number(m[1]) - 1] = v;
  }
  return out;
}

// The statements each backend ran, in order: [{ pid, sql, params }].
function loggedStatements(log) {
  const stmts = [];
  let last;
  for (const line of log.split('\n')) {
    const m = /^(\d+)\|(LOG|DETAIL):\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, kind, rest] = m;
    if (kind === 'LOG') {
      const s = /^(?:execute [^:]+|statement): (.*)$/.exec(rest);
      last = s ? { pid, sql: s[1], params: [] } : undefined;
      if (last) stmts.push(last);
    } else if (last && last.pid === pid && rest.startsWith('parameters: ')) {
      last.params = parseParams(rest.slice('parameters: '.length));
    }
  }
  return stmts;
}

// pgbench reads ":name" anywhere in a statement, also inside a string
// literal ('service:chat', to_char's 'HH24:MI'): such a literal is split
// around its colons, which PostgreSQL folds back into the same constant.
function shieldColons(sql) {
  return sql.replace(/'(?:[^']|'')*'/g, (lit) =>
    (/:[A-Za-z_]/.test(lit) ? `(${lit.replace(/:(?=[A-Za-z_])/g, ":' || '")})` : lit));
}

function pgbenchScript(pglog, from, captureJson, scriptOut, definesOut) {
  const cap = JSON.parse(captureJson);
  const fd = openSync(pglog, 'r');
  const size = fstatSync(fd).size - Number(from);
  const buf = Buffer.alloc(size);
  readSync(fd, buf, 0, size, Number(from));
  const all = loggedStatements(buf.toString('utf8'));
  const insert = all.find((s) => s.sql.includes('INSERT INTO webhook_inbox') && s.params.includes(cap.externalId));
  if (!insert) throw new Error('the delivery\'s statements are not in the log');
  // From the delivery's first statement (the BEGIN of the insert's
  // transaction, or the insert itself when it commits alone) to the
  // backend's last: one delivery was sent.
  const mine = all.filter((s) => s.pid === insert.pid);
  let start = mine.indexOf(insert);
  for (let i = start - 1; i >= 0 && mine[i].sql !== 'COMMIT'; i--) {
    if (mine[i].sql === 'BEGIN') { start = i; break; }
  }
  const run = mine.slice(start);
  const commits = run.filter((s) => s.sql === 'COMMIT').length + (run[0] === insert ? 1 : 0);

  // Each transaction pays its own pay-in: the values of the captured one become the picked one's.
  const vars = new Map([
    [cap.paymentId, 'p_id'], [cap.externalId, 'p_external_id'], [cap.request, 'p_purchase_request_id'],
    [cap.offer, 'p_seller_offer_id'], [cap.buyer, 'p_buyer_id'], [cap.seller, 'p_seller_id'],
    [cap.tx, 'p_provider_payment_id'], [cap.digest, 'p_payment_url'], [cap.inboxId, 'i_id'],
  ]);
  const constants = new Map();
  const lookup = run.find((s) => s.sql.startsWith('SELECT') && s.sql.includes('external_id = $1') &&
    s.params[0] === cap.externalId);
  if (!lookup) throw new Error('the delivery\'s payment lookup is not in the log');
  const lines = [];
  const emit = (s, gset) => {
    let sql = shieldColons(s.sql);
    for (let n = s.params.length; n >= 1; n--) {
      const v = s.params[n - 1];
      let by;
      if (v === null) by = 'NULL';
      // Once per statement (an init plan): in the WHERE clause itself it would be drawn per row.
      else if (s === lookup && n === 1) by = "(SELECT 'bp-' || nextval('bench_pick'))";
      else if (vars.has(v)) by = `:${vars.get(v)}`;
      else {
        if (!constants.has(v)) constants.set(v, `c${constants.size + 1}`);
        by = `:${constants.get(v)}`;
      }
      sql = sql.replaceAll(`$${n}`, by);
    }
    const stray = sql.replace(/:(p_|i_|c\d)[A-Za-z0-9_]*/g, '').match(/(?<!:):[A-Za-z_]/);
    if (stray) throw new Error(`a colon pgbench would take for a variable: ${sql}`);
    // \gset needs a name for every column: the pay-in's are taken by name from the lookup as it ran.
    if (gset === 'p_') {
      sql = `SELECT l.id, l.external_id, l.purchase_request_id, l.seller_offer_id, l.buyer_id, l.seller_id,
        l.provider_payment_id, l.payment_url FROM (${sql}) AS l`.replace(/\s+/g, ' ');
    }
    lines.push(gset ? `${sql} \\gset ${gset}` : `${sql};`);
  };
  // The lookup goes first (it picks the pay-in every later statement names;
  // after the BEGIN if there is one), then the rest in order.
  if (run[0] !== insert) emit(run[0]);
  emit(lookup, 'p_');
  for (const s of run.slice(run[0] !== insert ? 1 : 0)) {
    if (s === lookup) continue;
    emit(s, s === insert ? 'i_' : undefined);
  }
  writeFileSync(scriptOut, `-- ${run.length} statements, ${commits} commit(s): one SHKeeper PAID delivery as the service ran it\n${lines.join('\n')}\n`);
  writeFileSync(definesOut, [...constants].map(([v, k]) => `${k}=${v}`).join('\n') + '\n');
  process.stdout.write(`${run.length} ${commits}\n`);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'sign') signAll(...args);
else if (cmd === 'tx') process.stdout.write(`${txOf(args[0])}\n`);
else if (cmd === 'pgbench') pgbenchScript(...args);
else { console.error('usage: webhook.mjs sign|tx|pgbench ...'); process.exit(2); }
