// Compiles TestToken.sol with solc and deploys the test tokens to anvil:
// USDT and USDC (what the pool's bsc network is configured with) and OTHER
// (a token the service does not accept), each minted to the test accounts
// and to the account the fake SHKeeper pays its invoices from.
//
//   node deploy.mjs RPC_URL ACCOUNTS_JSON OUT_ENV
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { rpc, mine, waitReceipt } from './rpc.mjs';

const require = createRequire(import.meta.url);
const solc = require('solc');
const here = dirname(fileURLToPath(import.meta.url));
const [url, accountsFile, out] = process.argv.slice(2);
if (!out) throw new Error('usage: node deploy.mjs RPC_URL ACCOUNTS_JSON OUT_ENV');

function compile() {
  const input = {
    language: 'Solidity',
    sources: { 'TestToken.sol': { content: readFileSync(join(here, 'TestToken.sol'), 'utf8') } },
    settings: { optimizer: { enabled: true, runs: 200 }, outputSelection: { '*': { TestToken: ['evm.bytecode.object', 'evm.methodIdentifiers'] } } },
  };
  const res = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (res.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  return res.contracts['TestToken.sol'].TestToken.evm;
}

// ABI encoding of (string, string, uint8): the constructor's arguments.
function encodeCtor(name, symbol, decimals) {
  const word = (n) => BigInt(n).toString(16).padStart(64, '0');
  const str = (s) => {
    const hex = Buffer.from(s, 'utf8').toString('hex');
    return word(s.length) + hex.padEnd(Math.ceil(hex.length / 64) * 64 || 64, '0');
  };
  const a = str(name), b = str(symbol);
  return word(96) + word(96 + a.length / 2) + word(decimals) + a + b;
}

const word = (v) => BigInt(v).toString(16).padStart(64, '0');
const addrWord = (a) => a.toLowerCase().replace(/^0x/, '').padStart(64, '0');

async function send(from, to, data) {
  const tx = { from, data };
  if (to) tx.to = to;
  const hash = await rpc(url, 'eth_sendTransaction', [tx]);
  await mine(url, 1);
  const r = await waitReceipt(url, hash);
  if (r.status !== '0x1') throw new Error(`transaction ${hash} reverted`);
  return r;
}

const accounts = JSON.parse(readFileSync(accountsFile, 'utf8'));
const addrs = accounts.available_accounts;
const keys = accounts.private_keys;
const deployer = addrs[0];
const evm = compile();
const bytecode = evm.bytecode.object;
const tokens = {};
for (const [sym, dec] of [['USDT', 18], ['USDC', 18], ['OTHER', 18]]) {
  const r = await send(deployer, null, '0x' + bytecode + encodeCtor(`Test ${sym}`, sym, dec));
  tokens[sym] = r.contractAddress;
  // 1,000,000 tokens to each buyer account (1..8); 9 signs the raw-transaction test;
  // 10 is the fake SHKeeper's buyers, who pay its invoices (tests/fakes/shkeeper/chain.mjs).
  for (const a of [...addrs.slice(1, 9), addrs[10]])
    await send(deployer, r.contractAddress, '0x40c10f19' + addrWord(a) + word(10n ** 24n));
}

const env = [
  `ANVIL_URL=${url}`,
  `CHAIN_TOKEN_USDT=${tokens.USDT}`,
  `CHAIN_TOKEN_USDC=${tokens.USDC}`,
  `CHAIN_TOKEN_OTHER=${tokens.OTHER}`,
  `CHAIN_BUYERS=${addrs.slice(1, 9).join(',')}`,
  `CHAIN_SIGNER_KEY=${keys[9]}`,
  `CHAIN_SELECTOR_TRANSFER_TWO=0x${evm.methodIdentifiers['transferTwo(address,uint256,address,uint256)']}`,
  `CHAIN_SELECTOR_TRANSFER_NOISY=0x${evm.methodIdentifiers['transferNoisy(address,uint256,uint256)']}`,
  `CHAIN_SIGNER_ADDRESS=${addrs[9]}`,
  `CHAIN_SHKEEPER_PAYER=${addrs[10]}`,
  `PAYMENTS_RPC_BSC=${url}`,
  'PAYMENTS_CHAIN_ID_BSC=56',
  'PAYMENTS_CONFIRMATIONS_BSC=3',
  `PAYMENTS_TOKEN_BSC_USDT=${tokens.USDT}`,
  'PAYMENTS_TOKEN_DECIMALS_BSC_USDT=18',
  `PAYMENTS_TOKEN_BSC_USDC=${tokens.USDC}`,
  'PAYMENTS_TOKEN_DECIMALS_BSC_USDC=18',
];
writeFileSync(out, env.join('\n') + '\n');
