// Start-up checks against the test chain: the service refuses to start when
// the node's chain id or a token's decimals differ from the configuration,
// and starts (marking the network unavailable) when the node is unreachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env, eventually } from './lib.mjs';

const skip = env.ANVIL_URL ? false : 'no test chain in this stack (tests/chain/setup.sh)';

// The stack's configuration and chain settings, with a socket of our own.
function serveEnv(dir, overrides) {
  const chain = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('PAYMENTS_')));
  return { ...process.env, ...chain, PAYMENTS_LISTEN: `unix:${join(dir, 'fcgi.sock')}`, PAYMENTS_WORKERS: '1', ...overrides };
}

function serveOnce(overrides) {
  const dir = mkdtempSync(join(tmpdir(), 'chain-start-'));
  try {
    return spawnSync(env.BIN, ['-c', env.CONFIG, 'serve'], { encoding: 'utf8', timeout: 30000, env: serveEnv(dir, overrides) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a node on another chain id stops the service from starting', { skip }, () => {
  const r = serveOnce({ PAYMENTS_CHAIN_ID_BSC: '97' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /network bsc: the RPC of bsc reports chain id 56; chain_id\.bsc is 97/);
});

test('a token whose decimals() differ from the configuration stops the service', { skip }, () => {
  const r = serveOnce({ PAYMENTS_TOKEN_DECIMALS_BSC_USDC: '6' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /token\.bsc\.USDC .* has 18 decimals on chain; token_decimals\.bsc\.USDC is 6/);
});

test('a token address without a contract stops the service', { skip }, () => {
  const r = serveOnce({ PAYMENTS_TOKEN_BSC_USDC: '0x00000000000000000000000000000000000000aa' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /token\.bsc\.USDC .*no contract at this address/);
});

test('an unreachable node marks the network unavailable and the service starts', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chain-start-'));
  const child = spawn(env.BIN, ['-c', env.CONFIG, 'serve'], { env: serveEnv(dir, { PAYMENTS_RPC_BSC: 'http://127.0.0.1:9' }) });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  try {
    const seen = await eventually(() => /network bsc unavailable at start/.test(log), 15000);
    assert.ok(seen, log);
    assert.equal(child.exitCode, null, log);
  } finally {
    child.kill('SIGTERM');
    await new Promise((ok) => (child.exitCode !== null ? ok() : child.on('exit', ok)));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reload (SIGHUP) to a configuration start-up would refuse is refused: the running one stays, and so do its workers', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chain-reload-'));
  const config = join(dir, 'payments.conf');
  // The decimals from the file, where a reload reads them, not from the stack's environment.
  writeFileSync(config, `${readFileSync(env.CONFIG, 'utf8')}\ntoken_decimals.bsc.USDC = 18\n`);
  const childEnv = serveEnv(dir, {});
  delete childEnv.PAYMENTS_TOKEN_DECIMALS_BSC_USDC;
  const child = spawn(env.BIN, ['-c', config, 'serve'], { env: childEnv });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const workers = () => {
    const r = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' });
    return r.stdout.split('\n').filter(Boolean).sort().join(',');
  };
  try {
    assert.ok(await eventually(() => /worker ready/.test(log), 15000), log);
    const before = workers();
    assert.ok(before, log);
    writeFileSync(config, readFileSync(config, 'utf8').replace('token_decimals.bsc.USDC = 18', 'token_decimals.bsc.USDC = 6'));
    child.kill('SIGHUP');
    assert.ok(await eventually(() => /reload refused/.test(log), 15000), log);
    assert.match(log, /reload refused, keeping the running configuration: network bsc: .*token_decimals\.bsc\.USDC is 6/);
    assert.doesNotMatch(log, /configuration reloaded/);
    await new Promise((ok) => setTimeout(ok, 1500));
    assert.equal(workers(), before, 'no worker was restarted');
    assert.equal(child.exitCode, null, log);
  } finally {
    child.kill('SIGTERM');
    await new Promise((ok) => (child.exitCode !== null ? ok() : child.on('exit', ok)));
    rmSync(dir, { recursive: true, force: true });
  }
});
