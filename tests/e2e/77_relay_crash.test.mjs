// The relay killed with SIGKILL in the middle of a backlog, and started
// again by the jobs process: every event is published, none is lost, and
// within a room none comes out of order; the only repeat a follower can see
// is the event that was in flight, right after itself. And an event whose
// transaction commits after a later id's is carried all the same.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { env, token, uid, sql, eventually } from './lib.mjs';
import { subscribe, catchUp } from './sse.mjs';
import { startJobs, stopAllJobs, jobPid, relayed } from './jobs_lib.mjs';

const N = 2400;
const ROOMS = 4;

after(stopAllJobs);

test('a relay killed mid-batch and restarted loses nothing and reorders nothing within a room', async () => {
  // The outbox as a busy hour leaves it while no relay runs (metadata changes of many payments):
  // rooms interleaved, in several transactions.
  let jobs = startJobs();
  await relayed();
  await stopAllJobs();
  const base = uid('rc');
  const rooms = Array.from({ length: ROOMS }, (_, k) => `${base}-${k}`);
  const first = Number(sql(`SELECT coalesce(max(id), 0) FROM events;`)[0][0]);
  for (let part = 0; part < 4; part++) {
    sql(`INSERT INTO events (event, room, payload)
         SELECT 'payment-update', 'user:' || :'b' || '-' || (g % ${ROOMS}),
                jsonb_build_object('paymentId', gen_random_uuid()::text, 'status', 'pending', 'escrowState', 'unfunded',
                                   'previousStatus', 'pending', 'source', 'api')
         FROM generate_series(${part * (N / 4) + 1}, ${(part + 1) * (N / 4)}) AS g ORDER BY g;`, { b: base });
  }
  const expected = Object.fromEntries(rooms.map((r) => [r, sql(`SELECT id FROM events WHERE room = :'r' AND id > :'f'
    ORDER BY id;`, { r: `user:${r}`, f: first }).map(([id]) => Number(id))]));
  assert.equal(Object.values(expected).flat().length, N);

  // A follower in each room, there before the relay starts.
  const admin = token(uid('rca'), 'admin');
  const streams = await Promise.all(rooms.map((r) => subscribe(`user:${r}`, { token: admin })));
  try {
    jobs = startJobs({ PAYMENTS_JOBS_RELAY_SECONDS: '1' });
    const published = () => Number(sql(`SELECT count(*) FROM events WHERE id > :'f' AND relayed_at IS NOT NULL;`, { f: first })[0][0]);
    assert.ok(await eventually(() => published() >= 200, 30000, 10), 'the relay is publishing');
    const victim = jobPid(jobs, 'relay');
    assert.ok(victim, 'the relay runs in a process of its own');
    process.kill(victim, 'SIGKILL');
    const atKill = published();
    assert.ok(atKill < N, `killed mid-way (${atKill} of ${N} published)`);

    // The jobs process starts it again, and it finishes the backlog.
    await eventually(() => jobPid(jobs, 'relay') && jobPid(jobs, 'relay') !== victim, 15000, 100);
    await relayed(60000);
    assert.match(jobs.log, new RegExp(`jobs: relay \\(pid ${victim}\\) was killed by signal 9`));

    for (const [k, r] of rooms.entries()) {
      const want = expected[r];
      await streams[k].until((evs) => want.every((id) => evs.some((e) => Number(e.id) === id)), 30000);
      const got = streams[k].ids();
      // Never backwards: an event seen again can only be the one just before it (the one in flight at the kill).
      for (let i = 1; i < got.length; i++) {
        assert.ok(got[i] >= got[i - 1], `${r}: ${got[i]} came after ${got[i - 1]}`);
      }
      assert.deepEqual([...new Set(got)], want, `${r}: every event, in order`);
      assert.ok(got.length - want.length <= 1, `${r}: at most the one in flight repeated (${got.length - want.length})`);
      // The outbox's catch-up tells the same story, and each event names the one before it in the room.
      const { events } = await catchUp(`user:${r}`, admin, 0);
      const mine = events.filter((e) => e.id > first);
      assert.deepEqual(mine.map((e) => e.id), want);
      for (let i = 1; i < mine.length; i++) assert.equal(mine[i].prev, mine[i - 1].id);
    }
    const [[seqs, distinct]] = sql(`SELECT count(stream_seq), count(DISTINCT stream_seq) FROM events WHERE id > :'f';`, { f: first });
    assert.equal(Number(seqs), N);
    assert.equal(Number(distinct), N);
  } finally {
    for (const s of streams) s.close();
  }
});

test('an event committed after one with a later id is carried too, after it, in the stream and in the catch-up', async () => {
  startJobs({ PAYMENTS_JOBS_RELAY_SECONDS: '1' });
  await relayed();
  const user = uid('oc');
  const admin = token(uid('oca'), 'admin');
  const stream = await subscribe(`user:${user}`, { token: admin });
  const insert = `INSERT INTO events (event, room, payload) VALUES ('payment-update', 'user:${user}',
    jsonb_build_object('paymentId', gen_random_uuid()::text, 'status', 'pending', 'escrowState', 'unfunded',
    'previousStatus', 'pending', 'source', 'api'));`;
  // A transaction takes its id first and commits last.
  const slow = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1'], {
    env: { ...process.env, PGHOST: env.PGHOST, PGPORT: env.PGPORT, PGDATABASE: env.PGDATABASE, PGUSER: env.PGUSER },
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  const closed = new Promise((resolve) => slow.on('exit', resolve));
  try {
    slow.stdin.write(`BEGIN;\n${insert}\n`);
    const early = await eventually(() => sql(`SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'
      AND query LIKE '%' || :'r' || '%';`, { r: `user:${user}` })[0][0] === '1', 10000, 50);
    assert.ok(early, 'the slow transaction holds its event');
    sql(insert);
    const [[later]] = sql(`SELECT id FROM events WHERE room = :'r';`, { r: `user:${user}` });
    await stream.until((evs) => evs.some((e) => Number(e.id) === Number(later)), 5000);
    slow.stdin.end('COMMIT;\n');
    await closed;
    const [[first]] = sql(`SELECT min(id) FROM events WHERE room = :'r';`, { r: `user:${user}` });
    assert.ok(Number(first) < Number(later), 'the committed-late event has the smaller id');
    await stream.until((evs) => evs.some((e) => Number(e.id) === Number(first)), 5000);
    assert.deepEqual(stream.ids(), [Number(later), Number(first)], 'in the order they became visible');
    assert.equal(stream.events[1].data.prev, Number(later));
    const { events } = await catchUp(`user:${user}`, admin, 0);
    assert.deepEqual(events.map((e) => e.id), [Number(later), Number(first)]);
    const after_ = await catchUp(`user:${user}`, admin, Number(later));
    assert.deepEqual(after_.events.map((e) => e.id), [Number(first)], 'a client that saw the later one still gets the earlier id');
  } finally {
    stream.close();
    if (slow.exitCode === null) slow.kill('SIGKILL');
  }
});
