// What the payout tests share: funded pay-ins made through the real
// wallet-direct flow on the local chain (a buyer's transfer to the escrow,
// verified), marketplace rows written as the marketplace would, and the
// escrow wallet driven through anvil's impersonation (the test chain has no
// key for the configured escrow address: anvil signs for it, as the admin's
// wallet would).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { api, env, token, uid, sql } from './lib.mjs';
import { rpc, mine, waitReceipt, transferData, addrWord, word } from '../chain/rpc.mjs';

export const URL = env.ANVIL_URL;
export const skip = URL ? false : 'no test chain in this stack (tests/chain/setup.sh)';
export const USDT = env.CHAIN_TOKEN_USDT, OTHER = env.CHAIN_TOKEN_OTHER;
export const buyers = (env.CHAIN_BUYERS ?? '').split(',');
export const UNIT = 10n ** 18n;
export const admin = URL ? token('payout-admin', 'admin') : '';

export const randomAddress = () => '0x' + randomBytes(20).toString('hex');

export const registerWallet = (user, address, network = 'bsc') => sql(
  `INSERT INTO user_wallets (user_id, network, address) VALUES (:'u', :'n', :'a')
   ON CONFLICT (user_id, network) DO UPDATE SET address = EXCLUDED.address;`, { u: user, n: network, a: address });

let escrowAddress;
export async function escrow() {
  if (escrowAddress) return escrowAddress;
  const r = await api('GET', '/api/payment/decentralized/receiver');
  escrowAddress = r.json.data.address;
  await rpc(URL, 'anvil_impersonateAccount', [escrowAddress]);
  await rpc(URL, 'anvil_setBalance', [escrowAddress, '0x56bc75e2d63100000']);
  return escrowAddress;
}

export async function send(from, to, data, extra = {}) {
  return rpc(URL, 'eth_sendTransaction', [{ from, to, data, ...extra }]);
}

export async function sendAndMine(from, to, data, extra = {}, depth = 3) {
  const h = await send(from, to, data, extra);
  await mine(URL, depth);
  await waitReceipt(URL, h);
  return h;
}

export async function tokenBalance(owner, contract = USDT) {
  const r = await rpc(URL, 'eth_call', [{ to: contract, data: '0x70a08231' + addrWord(owner) }, 'latest']);
  return BigInt(r);
}

export const mint = (to, amount, contract = USDT) =>
  sendAndMine(buyers[0], contract, '0x40c10f19' + addrWord(to) + word(amount), {}, 1);

/*
 * A pay-in of `amount` USDT, funded through the wallet-direct flow: a request
 * with an offer, the buyer's registered wallet paying the escrow, verified on
 * chain. The request is then moved to `requestStatus` as the marketplace
 * would. Returns { id, buyer, seller, request, offer, buyerWallet, sellerWallet }.
 */
export async function fundedPayin({ amount = '12.5', wallet = buyers[1], requestStatus = 'delivered',
  sellerWallet = randomAddress(), fund = true, seller = uid('ps') } = {}) {
  const buyer = uid('pb'), request = uid('ppr'), offer = uid('po');
  sql(`INSERT INTO purchase_requests (id, buyer_id, status) VALUES (:'r', :'b', 'offers');
       INSERT INTO seller_offers (id, purchase_request_id, seller_id, amount, currency) VALUES (:'o', :'r', :'s', :'a', 'USDT');`,
  { r: request, b: buyer, o: offer, s: seller, a: amount });
  registerWallet(buyer, wallet);
  if (sellerWallet) registerWallet(seller, sellerWallet);
  const t = token(buyer, 'buyer');
  const s = await api('POST', '/api/payment/decentralized/save', {
    token: t, body: { purchaseRequestId: request, sellerOfferId: offer, sellerId: seller, amount, token: 'USDT', network: 'bsc' },
  });
  assert.equal(s.status, 201, s.text);
  const id = s.json.data.paymentId;
  if (fund) {
    const units = BigInt(Math.round(Number(amount) * 1e6)) * 10n ** 12n;
    const hash = await sendAndMine(wallet, USDT, transferData(await escrow(), units));
    const v = await api('POST', `/api/payment/decentralized/verify/${id}`, { token: t, body: { transactionHash: hash } });
    assert.equal(v.status, 200, v.text);
    assert.equal(v.json.data.payment.escrowState, 'funded');
  }
  sql(`UPDATE purchase_requests SET status = :'s' WHERE id = :'r';`, { s: requestStatus, r: request });
  return { id, buyer, seller, request, offer, buyerWallet: wallet, sellerWallet, buyerToken: t };
}

// What the test signs and sends as the escrow wallet: exactly the transaction the service answered.
export async function signAndSend(tx) {
  const fields = { from: tx.from, to: tx.to, data: tx.data, value: tx.value, gas: tx.gas, nonce: tx.nonce };
  if (tx.type === '0x2') Object.assign(fields, { maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas, type: '0x2' });
  else Object.assign(fields, { gasPrice: tx.gasPrice, type: '0x0' });
  return rpc(URL, 'eth_sendTransaction', [fields]);
}

export const payment = (id) => {
  const [[status, escrowState, tx]] = sql(`SELECT status, escrow_state, coalesce(tx_hash, '') FROM payments WHERE id = :'id';`, { id });
  return { status, escrow: escrowState, tx };
};

export const requestStatus = (id) => sql(`SELECT status FROM purchase_requests WHERE id = :'id';`, { id })[0][0];

export const events = (paymentIds, event) => Number(sql(
  `SELECT count(*) FROM events WHERE payment_id = ANY (string_to_array(:'ids', ',')::uuid[]) AND event = :'e';`,
  { ids: paymentIds.join(','), e: event })[0][0]);

export const outgoing = (payin) => sql(
  `SELECT id, status, escrow_state, provider, kind, coalesce(tx_hash, '') FROM payments WHERE payin_id = :'id' ORDER BY created_at;`,
  { id: payin });

export const units = (amount) => BigInt(Math.round(Number(amount) * 1e6)) * 10n ** 12n;
