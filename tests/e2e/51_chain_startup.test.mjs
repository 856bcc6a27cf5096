// Start-up checks against the test chain: the service refuses to start when
// the node's chain id or a token's decimals differ from the configuration,
// and starts (marking the network unavailable) when the node is unreachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
