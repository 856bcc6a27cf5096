// The jobs process as the event tests run it: the stack's settings, the
// relay woken by NOTIFY, and the chain and payment jobs off (they have
// nothing to do here and would only add noise to the log).
import { spawn, execFileSync } from 'node:child_process';
import { env, eventually, sql } from './lib.mjs';

const running = new Set();

export function startJobs(overrides = {}) {
  const chain = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('PAYMENTS_')));
  const child = spawn(env.BIN, ['-c', env.CONFIG, 'jobs'], {
    env: {
      ...process.env, ...chain, PAYMENTS_JOBS_REVERIFY_SECONDS: '0', PAYMENTS_JOBS_BACKFILL_SECONDS: '0',
      PAYMENTS_JOBS_RETENTION_SECONDS: '0', PAYMENTS_JOBS_RELAY_SECONDS: '2', PAYMENTS_JOBS_CLEANUP_SECONDS: '0',
      PAYMENTS_JOBS_SHKEEPER_POLL_SECONDS: '0', PAYMENTS_JOBS_RECONCILE_SECONDS: '0', ...overrides,
    },
  });
  child.log = '';
  child.stderr.on('data', (d) => { child.log += d; });
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  running.add(child);
  child.exited.then(() => running.delete(child));
  return child;
}

export async function stopJobs(child) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exited;
  child.kill('SIGTERM');
  return child.exited;
}

export async function stopAllJobs() {
  await Promise.all([...running].map(stopJobs));
}

// The pid of the process running job `name` under a jobs process (`ps` shows it as jobs-<name>).
export function jobPid(child, name) {
  const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(child.pid)], { encoding: 'utf8' });
  const line = out.split('\n').map((l) => l.trim().split(/\s+/)).find(([, comm]) => comm === `jobs-${name}`.slice(0, 15));
  return line ? Number(line[0]) : undefined;
}

// Waits until the relay has taken and published every event written so far.
export async function relayed(ms = 15000) {
  const ok = await eventually(() => sql(`SELECT count(*) FROM events WHERE relayed_at IS NULL;`)[0][0] === '0', ms, 50);
  if (!ok) throw new Error('the relay did not catch up with the outbox');
}
