// A few JSON-RPC helpers for anvil, shared by the deploy script and the e2e tests.
let nextId = 1;

export async function rpc(url, method, params = []) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
  });
  const body = await res.json();
  if (body.error) throw Object.assign(new Error(`${method}: ${body.error.message}`), { rpcError: body.error });
  return body.result;
}

// Mines n blocks at once (anvil runs with --no-mining: nothing is mined unasked).
export const mine = (url, n = 1) => rpc(url, 'anvil_mine', ['0x' + n.toString(16)]);

export async function waitReceipt(url, hash) {
  for (let i = 0; i < 50; i++) {
    const r = await rpc(url, 'eth_getTransactionReceipt', [hash]);
    if (r) return r;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`no receipt for ${hash}`);
}

export const word = (v) => BigInt(v).toString(16).padStart(64, '0');
export const addrWord = (a) => a.toLowerCase().replace(/^0x/, '').padStart(64, '0');

// transfer(to, value) calldata, built by hand: the tests need no ABI library.
export const transferData = (to, value) => '0xa9059cbb' + addrWord(to) + word(value);
