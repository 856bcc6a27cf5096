// What the tests of payouts a provider sends share: the fakes' payout
// controls, the seed 001 body for a funded pay-in, and looks at the chain,
// the outbox and the inbox.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { api, env, sql, count, eventually } from './lib.mjs';
import { rpc, addrWord } from '../chain/rpc.mjs';
import { URL, USDT, fundedPayin, admin } from './payout_lib.mjs';

export const TRANSFER = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';

async function control(base, method, path, body) {
  const res = await fetch(base + path, {
    method, headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  assert.equal(res.status, 200, `fake ${method} ${path}: ${JSON.stringify(json)}`);
  return json;
}

export const shk = {
  wallet: env.SHKEEPER_PAYOUT_WALLET,
  settings: (body) => control(env.SHKEEPER_URL, 'POST', '/__control/payouts/settings', body),
  mode: (mode) => control(env.SHKEEPER_URL, 'POST', '/__control/mode', { mode }),
  reset: () => control(env.SHKEEPER_URL, 'POST', '/__control/reset'),
  payouts: async () => (await control(env.SHKEEPER_URL, 'GET', '/__control/payouts')),
  payout: async (externalId) => (await control(env.SHKEEPER_URL, 'GET', '/__control/payouts')).payouts.filter((p) => p.external_id === externalId),
  calls: async () => (await control(env.SHKEEPER_URL, 'GET', '/__control/payouts')).calls,
  run: (taskId) => control(env.SHKEEPER_URL, 'POST', '/__control/payouts/run', { task_id: taskId }),
};

// A funded pay-in whose request was delivered, and the seed 001 body that pays its seller.
export async function sellerToPay(amount = '4') {
  const p = await fundedPayin({ amount });
  const body = {
    purchaseRequestId: p.request, sellerOfferId: p.offer, buyerId: p.buyer, sellerId: p.seller,
    amount: Number(amount), recipientAddress: p.sellerWallet, token: 'USDT', network: 'bsc',
  };
  return { ...p, amount, body };
}

export const shkPayout = (body, token = admin) => api('POST', '/api/payment/shkeeper/payout', { token, body });
export const shkStatus = (taskId, path = 'status/') => api('GET', `/api/payment/shkeeper/payout/${path}${taskId}`, { token: admin });

// Transfers of the test USDT from `from` to `to` on the chain, as [{hash, value}].
export async function transfers(from, to) {
  const logs = await rpc(URL, 'eth_getLogs', [{
    fromBlock: '0x0', toBlock: 'latest', address: USDT, topics: [TRANSFER, '0x' + addrWord(from), '0x' + addrWord(to)],
  }]);
  return logs.map((l) => ({ hash: l.transactionHash, value: BigInt(l.data) }));
}

export const outbox = (paymentIds, event) => sql(
  `SELECT payload::text FROM events WHERE payment_id = ANY (string_to_array(:'ids', ',')::uuid[]) AND event = :'e' ORDER BY id;`,
  { ids: paymentIds.join(','), e: event }).map(([p]) => JSON.parse(p));

export const reviews = (payinId, kind) => outbox([payinId], 'payment-needs-review').filter((r) => r.kind === kind);

export const inbox = (provider, externalId) => sql(
  `SELECT id, outcome, coalesce(detail, '') FROM webhook_inbox WHERE provider = :'p' AND external_id = :'e' ORDER BY id;`,
  { p: provider, e: externalId });

export const call = (payoutId) => sql(`SELECT state, attempts FROM payout_calls WHERE payment_id = :'id';`, { id: payoutId })[0];

export const adminNotes = (paymentId, kind) => count('notifications', `user_id = 'admin' AND payment_id = :'p' AND kind = :'k'`,
  { p: paymentId, k: kind });

export const bvnk = {
  wallet: env.BVNK_PAYOUT_WALLET,
  settings: (body) => control(env.BVNK_URL, 'POST', '/__control/settings', body),
  mode: (mode) => control(env.BVNK_URL, 'POST', '/__control/mode', { mode }),
  reset: () => control(env.BVNK_URL, 'POST', '/__control/reset'),
  calls: () => control(env.BVNK_URL, 'GET', '/__control/calls'),
  payouts: async () => (await control(env.BVNK_URL, 'GET', '/__control/payouts')).payouts,
  payout: async (reference) => (await control(env.BVNK_URL, 'GET', '/__control/payouts')).payouts.filter((p) => p.reference === reference),
  // BVNK moves a payout (a real transfer when asked); webhook: false keeps it quiet.
  move: async (uuid, body) => (await control(env.BVNK_URL, 'POST', `/__control/payouts/${uuid}`, body)).payout,
  // Exactly these bytes to the service's webhook, signed by BVNK unless `signature` says otherwise.
  deliver: (body, extra = {}) => control(env.BVNK_URL, 'POST', '/__control/deliver', { body, ...extra }),
};

export const bvnkPayout = (body, token = admin) => api('POST', '/api/payment/bvnk/payout', { token, body });
export const bvnkStatus = (uuid) => api('GET', `/api/payment/bvnk/payout/status/${uuid}`, { token: admin });

// BVNK's x-signature as the service is configured to check it: the complete webhook URL, the
// Content-Type and the body; `material` signs the other variants instead.
export function bvnkSign(body, { contentType = 'application/json', material = 'url' } = {}) {
  const secret = readFileSync(env.BVNK_SECRET_FILE, 'utf8').replace(/[\r\n]+$/, '');
  const url = `${env.BASE_URL}/api/payment/bvnk/webhook`;
  const signed = material === 'body' ? body : `${material === 'path' ? new globalThis.URL(url).pathname : url}${contentType}${body}`;
  return createHmac('sha256', secret).update(signed).digest('hex');
}

// After PostgreSQL came back: every worker has reconnected (each one's first request after the
// outage may still find its old connection gone), so the files after this one start from a healthy pool.
export async function poolReconnected(workers = 2) {
  const ok = await eventually(async () => {
    for (let i = 0; i < 4 * workers; i++) if ((await api('GET', '/api/payment/health')).status !== 200) return false;
    return true;
  }, 15000, 200);
  assert.ok(ok, 'every worker reconnected to the database');
}
