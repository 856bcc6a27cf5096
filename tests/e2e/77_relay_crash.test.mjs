// The relay killed with SIGKILL in the middle of a backlog, and started
// again by the jobs process: every event is published, none is lost, and
// within a room none comes out of order; the only repeat a follower can see
// is the event that was in flight, right after itself.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { token, uid, sql, eventually } from './lib.mjs';
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
