// A SHKeeper pay-in confirmed two ways at once: the buyer's transaction
// checked on the chain (confirm-transaction) and SHKeeper's PAID callback.
// Whichever comes first moves the payment; the other changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, env, sql, count } from './lib.mjs';
import { fake, marketplace, intent, payment } from './shkeeper_lib.mjs';
import { rpc, mine, waitReceipt, transferData } from '../chain/rpc.mjs';

const URL = env.ANVIL_URL;
const skip = URL ? false : 'no test chain in this stack (tests/chain/setup.sh)';
const buyerWallet = () => (env.CHAIN_BUYERS ?? '').split(',').at(-1);
const UNIT = 10n ** 18n;

async function pay(to, units) {
  const h = await rpc(URL, 'eth_sendTransaction', [{ from: buyerWallet(), to: env.CHAIN_TOKEN_USDT, data: transferData(to, units) }]);
  await mine(URL, 1);
  await waitReceipt(URL, h);
  return h;
}

const confirm = (m, id, hash) =>
  api('POST', '/api/payment/shkeeper/confirm-transaction', { token: m.token, body: { paymentId: id, transactionHash: hash } });

test('a short transfer is refused with the reason and changes nothing; a shallow one is pending', { skip }, async () => {
  await fake.reset();
  const m = marketplace(2);
  const inv = await intent(m);
  // SHKeeper's PAID needs 95 % of the 10 USD price at the invoice's rate: about 9.51 tokens.
  const short = await pay(inv.walletAddress, UNIT * 9n);
  await mine(URL, 3);
  const r = await confirm(m, inv.paymentId, short);
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.error.field, 'transactionHash');
  assert.equal(r.json.error.code, 'amount_short');
  assert.deepEqual(payment(inv.paymentId), { status: 'pending', escrow: 'unfunded', txHash: '' });

  const fresh = await pay(inv.walletAddress, UNIT * 10n);
  const p = await confirm(m, inv.paymentId, fresh);
  assert.equal(p.status, 202, p.text);
  assert.equal(payment(inv.paymentId).status, 'pending');
});

test('confirm-transaction and the PAID callback racing: one transition, one cascade', { skip }, async () => {
  await fake.reset();
  for (let round = 0; round < 3; round++) {
    const m = marketplace(3);
    const inv = await intent(m);
    assert.equal(String(inv.amount), (await fake.invoice(inv.externalId)).amount);
    const hash = await pay(inv.walletAddress, UNIT * 10n);
    await mine(URL, 3);   // deeper than the finalized block

    const [c, w] = await Promise.all([
      confirm(m, inv.paymentId, hash),
      fake.pay({ external_id: inv.externalId, amount_crypto: '10', txid: hash }),
    ]);
    assert.equal(c.status, 200, c.text);
    assert.equal(w.lastStatus, 202, JSON.stringify(w));
    assert.deepEqual(payment(inv.paymentId), { status: 'completed', escrow: 'funded', txHash: hash });
    const id = { id: inv.paymentId };
    assert.equal(count('payment_transitions', `payment_id = :'id' AND to_status = 'completed'`, id), 1);
    assert.equal(count('events', `payment_id = :'id' AND event = 'seller-offer-update' AND payload->>'eventType' = 'payment-completed'`, id), 1);
    assert.equal(count('events', `payment_id = :'id' AND event = 'seller-offer-update' AND payload->>'eventType' = 'offer-rejected'`, id), 2);
    assert.equal(count('events', `payment_id = :'id' AND event = 'purchase-request-update'`, id), 1);
    assert.equal(count('notifications', `payment_id = :'id'`, id), 3);
    const [[source]] = sql(`SELECT source FROM payment_transitions WHERE payment_id = :'id' AND to_status = 'completed';`, id);
    assert.ok(source === 'chain' || source === 'shkeeper', source);
  }
});

test('after the callback won, the buyer\'s confirmation is a no-op that says so', { skip }, async () => {
  await fake.reset();
  const m = marketplace(1);
  const inv = await intent(m);
  const hash = await pay(inv.walletAddress, UNIT * 10n);
  await mine(URL, 3);
  const w = await fake.pay({ external_id: inv.externalId, amount_crypto: '10', txid: hash });
  assert.equal(w.lastStatus, 202);
  const c = await confirm(m, inv.paymentId, hash);
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.data.status, 'completed');
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: inv.paymentId }), 2);   // created, completed
});

test('a completed SHKeeper pay-in missing its hash gets it from SHKeeper\'s invoice', async () => {
  await fake.reset();
  const m = marketplace(1);
  const inv = await intent(m);
  const w = await fake.pay({ external_id: inv.externalId, amount_crypto: '10' });
  assert.equal(w.lastStatus, 202);
  assert.equal(payment(inv.paymentId).status, 'completed');
  // A record from before hashes were kept: the hash is gone, the payment is settled.
  sql(`UPDATE payments SET tx_hash = NULL WHERE id = :'id';`, { id: inv.paymentId });
  const transitions = count('payment_transitions', `payment_id = :'id'`, { id: inv.paymentId });

  const other = await api('POST', `/api/payment/payments/${inv.paymentId}/fetch-tx`, { token: marketplace(0).token });
  assert.equal(other.status, 404, other.text);
  const r = await api('POST', `/api/payment/payments/${inv.paymentId}/fetch-tx`, { token: m.token });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.transactionHash, w.txid);
  assert.equal(r.json.data.source, 'shkeeper');
  assert.deepEqual(payment(inv.paymentId), { status: 'completed', escrow: 'funded', txHash: w.txid });
  assert.equal(count('payment_transitions', `payment_id = :'id'`, { id: inv.paymentId }), transitions, 'no state moved');
});
