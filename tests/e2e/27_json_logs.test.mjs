// log_format = json: a second pool and a jobs process run with it, and every
// line they write is parsed as one JSON object. The lines of known requests
// carry the request's id, the route's pattern (never the raw path), the status
// and duration it was answered with, and the payment it was about; a message
// full of quotes, line breaks and control bytes from upstream stays inside one
// line; no token or key is ever written.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { api, env, token, uid, sale, stack, eventually, pool2Up } from './lib.mjs';
import { API_KEY, fake, marketplace, intentBody, restoreUpstream } from './shkeeper_lib.mjs';
import { startJobs, stopJobs } from './jobs_lib.mjs';

const PAY = '/api/payment';
const LOG = join(env.STACK_DIR, 'pool2.log');
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const LEVELS = new Set(['debug', 'info', 'warn', 'error']);
let base2;
let from = 0;
const secrets = [API_KEY];

before(() => {
  // pool2.log is appended to by every file that starts the second pool: this one's lines start here.
  from = existsSync(LOG) ? statSync(LOG).size : 0;
  base2 = pool2Up({ PAYMENTS_LOG_FORMAT: 'json' });
});

after(async () => {
  await restoreUpstream();
  stack('pool2-down');
});

// Each line is one JSON object with the fields every line has; returns them parsed.
function parseLines(text, what) {
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', `${what} ends with a line break`);
  assert.ok(lines.length > 0, `${what} has lines`);
  return lines.map((l) => {
    let o;
    assert.doesNotThrow(() => { o = JSON.parse(l); }, `${what}: not JSON: ${l}`);
    assert.equal(typeof o, 'object', l);
    assert.match(o.time, TIME, l);
    assert.ok(Math.abs(Date.parse(o.time) - Date.now()) < 10 * 60 * 1000, `${l}: time is now`);
    assert.ok(LEVELS.has(o.level), l);
    assert.ok(Number.isInteger(o.pid) && o.pid > 0, l);
    assert.equal(typeof o.message, 'string', l);
    for (const s of secrets) assert.ok(!l.includes(s), `${what}: a secret in ${l}`);
    return o;
  });
}

// Read as bytes: `from` is a byte offset, and earlier lines may hold multi-byte characters.
const poolText = () => readFileSync(LOG).subarray(from).toString('utf8');
const poolLines = () => parseLines(poolText(), 'pool2.log');

// The lines of one request, once its closing line (the one with a status) is written.
async function linesOf(r) {
  const id = r.headers.get('x-request-id');
  assert.match(id ?? '', /^[0-9a-f]{32}$/);
  const done = await eventually(() => poolLines().filter((o) => o.requestId === id).some((o) => 'status' in o), 5000, 50);
  if (!done) poolLines();     // a line that is not JSON fails here, saying which
  assert.ok(done, `the closing line of request ${id}`);
  const mine = poolLines().filter((o) => o.requestId === id);
  const closing = mine.filter((o) => 'status' in o);
  assert.equal(closing.length, 1, `one closing line: ${JSON.stringify(mine)}`);
  assert.equal(closing[0].status, r.status);
  assert.ok(Number.isInteger(closing[0].durationMs) && closing[0].durationMs >= 0, JSON.stringify(closing[0]));
  assert.equal(new Set(mine.map((o) => o.pid)).size, 1, 'one worker served it');
  return { lines: mine, closing: closing[0] };
}

test('a request\'s lines name its route pattern, status, duration and payment; never the raw path', async () => {
  const buyer = uid('b');
  const t = token(buyer, 'buyer');
  secrets.push(t);
  const created = await api('POST', PAY, { base: base2, token: t,
    body: { ...sale(buyer), buyerId: buyer, amount: { amount: '1.5', currency: 'USDT' } } });
  assert.equal(created.status, 201, created.text);
  const id = created.json.data.id;

  // Created: the payment is the one the coordinator recorded, on every line after it.
  let { lines, closing } = await linesOf(created);
  assert.equal(closing.route, PAY);
  assert.equal(closing.message, `POST ${PAY}`);
  assert.equal(closing.paymentId, id);
  assert.ok(lines.some((o) => o.message === `payment ${id} created by ${buyer}` && o.route === PAY && o.paymentId === id),
    JSON.stringify(lines));

  // Read: the payment named by the path; the route is the pattern.
  const read = await api('GET', `${PAY}/${id}`, { base: base2, token: t });
  assert.equal(read.status, 200, read.text);
  ({ closing } = await linesOf(read));
  assert.deepEqual([closing.route, closing.paymentId, closing.message, closing.level],
    [`${PAY}/:id`, id, `GET ${PAY}/:id`, 'info']);

  // A template's :id is no payment.
  const template = randomUUID();
  const tpl = await api('GET', `${PAY}/templates/${template}`, { base: base2, token: t });
  assert.equal(tpl.status, 404, tpl.text);
  ({ closing } = await linesOf(tpl));
  assert.equal(closing.route, `${PAY}/templates/:id`);
  assert.equal(closing.paymentId, undefined);

  // A path no route takes: no route, and nothing of what the client typed.
  const probe = `probe${randomUUID().slice(0, 8)}`;
  const lost = await api('GET', `${PAY}/${probe}/%22%0a%7B%7D`, { base: base2, token: t });
  assert.equal(lost.status, 404, lost.text);
  ({ lines, closing } = await linesOf(lost));
  assert.equal(closing.route, undefined);
  assert.equal(closing.message, 'GET (no route)');
  assert.ok(!poolText().includes(probe), 'the raw path is never logged');
  assert.ok(!poolText().includes(template), 'nor an id from a path that is no payment\'s');

  // Every route written is a pattern of the table, never a path with an id in it.
  for (const o of poolLines().filter((l) => 'route' in l)) {
    assert.match(o.route, /^\/api\/payment[a-zA-Z/:_.-]*$/, JSON.stringify(o));
    assert.doesNotMatch(o.route, /[0-9a-f]{8}-[0-9a-f]{4}/, JSON.stringify(o));
  }
});

test('an upstream message with quotes, line breaks and control bytes stays one line, escaped', async () => {
  const hostile = 'refused "all" of it\\\nforged {"level":"error","message":"x"}\r\n\t\u0001\u001b[31m\u007f caf\u00e9 \u20ac \u{1f600}';
  await fake.mode('error', { message: hostile });
  const m = marketplace(1);
  let r;
  try {
    r = await api('POST', `${PAY}/shkeeper/intents`, { base: base2, token: m.token, body: intentBody(m) });
  } finally {
    await fake.mode('ok');
  }
  assert.equal(r.status, 502, r.text);
  secrets.push(m.token);
  const id = /pending payment ([0-9a-f-]{36})/.exec(r.json.message)?.[1];
  assert.ok(id, r.text);
  const { lines, closing } = await linesOf(r);
  const said = lines.filter((o) => o.message === `intent ${id}: SHKeeper refused: ${hostile}`);
  assert.equal(said.length, 1, JSON.stringify(lines));
  assert.deepEqual([said[0].level, said[0].route, said[0].paymentId], ['warn', `${PAY}/shkeeper/intents`, id]);
  assert.deepEqual([closing.route, closing.paymentId], [`${PAY}/shkeeper/intents`, id]);
  // Nothing the message holds became a line of its own.
  assert.ok(!poolLines().some((o) => o.message.startsWith('forged')));
});

test('the jobs process writes JSON too, each line naming its job', async () => {
  const jobs = startJobs({ PAYMENTS_LOG_FORMAT: 'json', PAYMENTS_JOBS_RETENTION_SECONDS: '1', PAYMENTS_JOBS_RELAY_SECONDS: '0' });
  try {
    const ran = () => parseLines(jobs.log.slice(0, jobs.log.lastIndexOf('\n') + 1), 'the jobs log')
      .filter((o) => o.job === 'retention' && /^job=retention result=ok /.test(o.message));
    assert.ok(await eventually(() => ran().length >= 2, 15000, 100), jobs.log);
    for (const o of ran()) {
      assert.match(o.requestId, /^job-retention-\d+$/);
      assert.ok(Number.isInteger(o.durationMs) && o.durationMs >= 0, JSON.stringify(o));
      assert.equal(o.route, undefined);
      assert.equal(o.status, undefined);
    }
  } finally {
    await stopJobs(jobs);
  }
  const all = parseLines(jobs.log, 'the jobs log');
  // The supervisor's lines name no job; each job's process names its own on every line.
  assert.ok(all.some((o) => o.job === undefined && /jobs: started/.test(o.message)), jobs.log);
  const pids = new Map();
  for (const o of all.filter((l) => l.job)) {
    assert.ok(!pids.has(o.pid) || pids.get(o.pid) === o.job, `process ${o.pid} names one job`);
    pids.set(o.pid, o.job);
  }
});
