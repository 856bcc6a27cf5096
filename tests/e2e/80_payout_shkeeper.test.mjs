// Seller payouts through SHKeeper, end to end through nginx: the fake
// SHKeeper pays with real transfers on the local chain from its own payout
// wallet, calls back when its operator enabled it, and fails, times out,
// answers 500 after recording or after paying with no record, drops or
// repeats its callback on request. Money leaves once: the service asks
// SHKeeper before any retry, sends again only when an admin has checked the
// chain, and completes a payout only on a final transfer the chain shows.
import { test, before, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { api, env, sql, count, eventually, stack, pool2Up } from './lib.mjs';
import { skip, admin, payment, requestStatus, events, outgoing, units, tokenBalance, URL } from './payout_lib.mjs';
import { rpc, mine } from '../chain/rpc.mjs';
import {
  shk, sellerToPay, shkPayout, shkStatus, transfers, outbox, reviews, inbox, call, adminNotes, poolReconnected,
} from './provider_payout_lib.mjs';
import { sign, now } from './shkeeper_lib.mjs';
import { compactJson, decText } from '../fakes/shkeeper/payouts.mjs';

before(async () => { if (!skip) await shk.reset(); });
afterEach(async () => { if (!skip) await shk.reset(); });

const completed = (id) => eventually(() => payment(id).status === 'completed', 20000, 100);
// An admin gives confirm-tx the one transfer SHKeeper's wallet made to the seller: the payout completes
// with that hash, the pay-in is released, and no second transfer was ever made.
async function confirmFound(p, id) {
  const sent = await transfers(shk.wallet, p.sellerWallet);
  assert.equal(sent.length, 1, 'one transfer, ever');
  const r = await api('POST', `/api/payment/admin/confirm-tx/${id}`, { token: admin, body: { txHash: sent[0].hash, kind: 'release' } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(payment(id), { status: 'completed', escrow: 'released', tx: sent[0].hash });
  assert.equal(payment(p.id).status, 'released');
  assert.equal(payment(p.id).escrow, 'released');
}

// The payout's last create call, as if it had gone out `minutes` ago.
const sentAgo = (id, minutes) => sql(`UPDATE payout_calls SET sent_at = now() - make_interval(mins => :'m'::int)
  WHERE payment_id = :'id';`, { id, m: minutes });

test('a SHKeeper payout: sent once, called back, checked on the chain, released; a repeat asks SHKeeper nothing', { skip }, async () => {
  const p = await sellerToPay('4');
  const before = await tokenBalance(p.sellerWallet);
  let r = await shkPayout(p.body);
  assert.equal(r.status, 200, r.text);
  const d = r.json.data, id = d.payoutId;
  assert.match(d.taskId, /^[0-9a-f-]{36}$/);
  assert.equal(d.payout.provider, 'shkeeper');
  assert.equal(d.payout.kind, 'release');
  assert.equal(d.payout.payinId, p.id);
  assert.equal(d.payout.senderAddress.toLowerCase(), shk.wallet);
  assert.equal(d.payout.receiverAddress.toLowerCase(), p.sellerWallet.toLowerCase());
  // SHKeeper got our payout id as external_id, the amount as a string, our webhook and the configured fee.
  const [fake] = await shk.payout(id);
  assert.equal(fake.amount, '4');
  assert.equal(fake.destination.toLowerCase(), p.sellerWallet.toLowerCase());
  assert.equal(fake.callback_url, `${env.BASE_URL}/api/payment/shkeeper/payout/webhook`);
  assert.equal(fake.task_id, d.taskId);

  await completed(id);
  assert.deepEqual(payment(id), { status: 'completed', escrow: 'released', tx: fake.txids[0] ?? payment(id).tx });
  assert.deepEqual(payment(p.id), { status: 'released', escrow: 'released', tx: payment(p.id).tx });
  assert.equal(requestStatus(p.request), 'completed');
  const moves = outbox([id], 'purchase-request-update').map((e) => e.to);
  assert.deepEqual(moves, ['seller_paid', 'completed']);
  // The money is where the chain says: one transfer, SHKeeper's wallet to the seller, exactly the amount.
  const sent = await transfers(shk.wallet, p.sellerWallet);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].value, units('4'));
  assert.equal(await tokenBalance(p.sellerWallet) - before, units('4'));
  assert.equal(payment(id).tx, sent[0].hash);
  assert.equal(events([id], 'payout-created'), 1);
  assert.equal(events([id], 'payout-completed'), 1);
  assert.equal(count('notifications', `payment_id = :'id' AND kind = 'payout-sent'`, { id }), 1);
  assert.deepEqual(inbox('shkeeper_payout', id).map(([, o]) => o), ['applied']);

  // The same request again: the same payout, and no call reaches SHKeeper.
  const calls = await shk.calls();
  r = await shkPayout(p.body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.payoutId, id);
  assert.equal(r.json.data.payout.status, 'completed');
  assert.deepEqual(await shk.calls(), calls);
  assert.equal(calls.payout[id], 1);
  assert.equal(outgoing(p.id).length, 1);
  assert.equal(events([id], 'payout-completed'), 1);
});

test('callbacks off: the task is polled (also at the seed\'s shorter path), and its SUCCESS completes the payout on the chain\'s word', { skip }, async () => {
  await shk.settings({ callbacks: false });
  const p = await sellerToPay('2.5');
  const r = await shkPayout(p.body);
  assert.equal(r.status, 200, r.text);
  const { payoutId: id, taskId } = r.json.data;
  await eventually(async () => (await shk.payout(id))[0]?.status === 'SUCCESS', 10000, 100);
  assert.equal((await shk.payout(id))[0].callback_tries, 0, 'SHKeeper sent no callback');
  assert.equal(payment(id).status, 'processing');
  let s = await shkStatus(taskId);
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.data.status, 'completed');
  assert.equal(s.json.data.providerStatus, 'SUCCESS');
  assert.equal(s.json.data.taskId, taskId);
  assert.equal(s.json.data.verification.status, 'confirmed');
  assert.deepEqual(payment(p.id), { status: 'released', escrow: 'released', tx: payment(p.id).tx });
  s = await shkStatus(taskId, '');
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.data.payout.status, 'completed');
  assert.equal(events([id], 'payout-completed'), 1);
  assert.equal((await transfers(shk.wallet, p.sellerWallet)).length, 1);
  assert.equal((await shkStatus('00000000-0000-4000-8000-000000000000')).status, 404);
});

test('SHKeeper\'s failure is seen by polling: FAILURE, or SUCCESS whose entry says error, fails the payout, funds the escrow again and tells the admins; a retry then pays', { skip }, async () => {
  for (const outcome of ['failure', 'entry_error']) {
    await shk.settings({ outcome });
    const p = await sellerToPay('3');
    let r = await shkPayout(p.body);
    assert.equal(r.status, 200, r.text);
    const { payoutId: id, taskId } = r.json.data;
    assert.equal(payment(p.id).escrow, 'releasing');
    await eventually(async () => (await shk.payout(id))[0]?.task.status !== 'PENDING', 10000, 100);
    // Nothing on the chain, but SHKeeper's wallet has had no time to send yet: the payout waits.
    r = await shkStatus(taskId);
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.data.code, 'failure_unconfirmed');
    assert.equal(r.json.data.payout.status, 'processing');
    assert.equal(outbox([id], 'payout-failed').length, 0);
    sentAgo(id, 11);
    if (outcome === 'failure') {
      // SHKeeper's wallet has a transaction the node holds unmined (the test chain mines only when asked):
      // it could be this payout's, so nothing fails yet.
      try {
        await rpc(URL, 'anvil_impersonateAccount', [shk.wallet]);
        await rpc(URL, 'eth_sendTransaction', [{ from: shk.wallet, to: shk.wallet, value: '0x0' }]);
        r = await shkStatus(taskId);
        assert.equal(r.status, 202, r.text);
        assert.equal(r.json.data.code, 'failure_unconfirmed');
        assert.match(r.json.data.message, /not mined yet/);
        assert.equal(reviews(p.id, 'payout_contradicted').length, 0);
        // Still so an hour after the call: it waits on, and a person is told, once.
        sentAgo(id, 61);
        for (let i = 0; i < 2; i++) {
          r = await shkStatus(taskId);
          assert.equal(r.status, 202, r.text);
          assert.equal(r.json.data.code, 'failure_unconfirmed');
        }
        assert.equal(reviews(p.id, 'payout_contradicted').length, 1);
        assert.match(reviews(p.id, 'payout_contradicted')[0].reason, /waiting unmined for over an hour/);
      } finally {
        await mine(URL, 1);
      }
    }
    r = await shkStatus(taskId);
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error.code, 'provider_failed');
    assert.equal(r.json.data.payout.status, 'failed');
    assert.deepEqual(payment(p.id), { status: 'completed', escrow: 'funded', tx: payment(p.id).tx });
    const [failed] = outbox([id], 'payout-failed');
    assert.equal(failed.code, 'provider_failed');
    assert.equal(adminNotes(id, 'payout-failed'), 1, outcome);
    // Asked again: it stays failed, reported once.
    r = await shkStatus(taskId);
    assert.equal(r.status, 409, r.text);
    assert.equal(outbox([id], 'payout-failed').length, 1);
    assert.equal(adminNotes(id, 'payout-failed'), 1);

    // An admin's retry opens a new payout, and this one pays.
    await shk.settings({ outcome: 'success' });
    r = await shkPayout(p.body);
    assert.equal(r.status, 200, r.text);
    const again = r.json.data.payoutId;
    assert.notEqual(again, id);
    await completed(again);
    assert.deepEqual(payment(p.id), { status: 'released', escrow: 'released', tx: payment(p.id).tx });
    assert.equal(requestStatus(p.request), 'completed');
    assert.deepEqual(outgoing(p.id).map(([, s]) => s), ['failed', 'completed']);
    assert.equal((await transfers(shk.wallet, p.sellerWallet)).length, 1);
    await shk.reset();
  }
});

test('a task FAILURE after the wallet sent the money fails nothing: the chain, asked first, shows the transfer, which completes the payout', { skip }, async () => {
  await shk.settings({ outcome: 'failure_after_send', callbacks: false });
  // Mined one block deep: seen, not final, and not recorded until it is.
  await shk.settings({ payoutDepth: 1 });
  const p = await sellerToPay('2.25');
  let r = await shkPayout(p.body);
  assert.equal(r.status, 200, r.text);
  const { payoutId: id, taskId } = r.json.data;
  await eventually(async () => (await shk.payout(id))[0]?.task.status === 'FAILURE', 10000, 100);
  const sent = await transfers(shk.wallet, p.sellerWallet);
  assert.equal(sent.length, 1, 'the wallet sent it before its task failed');
  sentAgo(id, 11);
  r = await shkStatus(taskId);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.data.code, 'sent_despite_failure');
  assert.equal(r.json.data.transactionHash, sent[0].hash);
  assert.deepEqual(payment(id), { status: 'processing', escrow: 'releasing', tx: '' });
  await mine(URL, 3);
  r = await shkStatus(taskId);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.payout.status, 'completed');
  assert.match(r.json.data.message, /says payout .* failed .* but the chain shows it paid/);
  assert.deepEqual(payment(id), { status: 'completed', escrow: 'released', tx: sent[0].hash });
  assert.deepEqual(payment(p.id), { status: 'released', escrow: 'released', tx: payment(p.id).tx });
  assert.equal(outbox([id], 'payout-failed').length, 0);
  assert.equal(events([id], 'payout-completed'), 1);
  // Asked again, SHKeeper's FAILURE changes nothing.
  r = await shkStatus(taskId);
  assert.equal(r.status, 200, r.text);
  assert.equal(payment(id).status, 'completed');
  assert.equal((await transfers(shk.wallet, p.sellerWallet)).length, 1);
});

// The same FAILURE asked about long after: the chain's search for the
// transfer is bounded (500 windows of watch_window_blocks, 4 in this pool),
// and one that stopped short of the payout's opening has not shown it unsent.
test('a task FAILURE asked about after more blocks than the search reaches fails nothing: the payout waits for a person', { skip }, async () => {
  const base2 = pool2Up({ PAYMENTS_WATCH_WINDOW_BLOCKS: '4' });
  try {
    await shk.settings({ outcome: 'failure_after_send', callbacks: false });
    const p = await sellerToPay('2.75');
    let r = await shkPayout(p.body);
    assert.equal(r.status, 200, r.text);
    const { payoutId: id, taskId } = r.json.data;
    await eventually(async () => (await shk.payout(id))[0]?.task.status === 'FAILURE', 10000, 100);
    assert.equal((await transfers(shk.wallet, p.sellerWallet)).length, 1, 'the wallet sent it before its task failed');
    await mine(URL, 2100);
    sentAgo(id, 24 * 60);
    const before = payment(id).status;
    assert.ok(['pending', 'processing'].includes(before), before);
    r = await api('GET', `/api/payment/shkeeper/payout/status/${taskId}`, { token: admin, base: base2 });
    assert.equal(r.status, 503, r.text);
    assert.match(r.json.message, /searched the newest \d+ blocks without reaching the block payout .* was opened in/);
    assert.deepEqual([payment(id).status, payment(p.id).escrow], [before, 'releasing'], 'nothing failed, nothing handed back');
    assert.equal(outbox([id], 'payout-failed').length, 0);
    // The admin's retry cannot open a second payout while this one is open.
    await shk.settings({ outcome: 'success', callbacks: false });
    await shkPayout(p.body);
    assert.equal(count('payments', `payin_id = :'p' AND direction = 'out'`, { p: p.id }), 1, 'one payout, ever');
    assert.equal((await transfers(shk.wallet, p.sellerWallet)).length, 1, 'one transfer, ever');
  } finally {
    stack('pool2-down');
  }
});

test('a SUCCESS whose entry says success but names no transaction fails nothing: the money left; the chain completes it', { skip }, async () => {
  await shk.settings({ outcome: 'no_txids', callbacks: false });
  const p = await sellerToPay('1.75');
  let r = await shkPayout(p.body);
  assert.equal(r.status, 200, r.text);
  const { payoutId: id, taskId } = r.json.data;
  await eventually(async () => (await shk.payout(id))[0]?.task.status === 'SUCCESS', 10000, 100);
  for (let i = 0; i < 2; i++) {
    r = await shkStatus(taskId);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.code, 'no_transaction');
    assert.equal(r.json.data.payout.status, 'processing');
  }
  assert.equal(payment(p.id).escrow, 'releasing');
  assert.equal(outbox([id], 'payout-failed').length, 0);
  // The transfer SHKeeper made is on the chain: its hash settles the payout, checked as any other.
  await confirmFound(p, id);
});

// Each way a create call's answer can be lost after SHKeeper recorded (and paid) the payout.
for (const mode of ['timeout_after_record', 'error_after_record']) {
  test(`a payout call SHKeeper recorded but answered with ${mode === 'timeout_after_record' ? 'nothing (timeout)' : 'HTTP 500'}: the retry asks SHKeeper first and never sends it twice`, { skip }, async () => {
    await shk.settings({ mode, callbacks: false });
    const p = await sellerToPay('1.5');
    let r = await shkPayout(p.body);
    assert.equal(r.status, 502, r.text);
    assert.equal(r.json.error.code, 'provider_uncertain');
    const id = r.json.data.payoutId;
    assert.equal(payment(id).status, 'pending');
    assert.deepEqual(call(id), ['unknown', '1']);
    assert.equal((await shk.payout(id)).length, 1, 'SHKeeper recorded it');

    await shk.settings({ mode: 'ok', callbacks: true });
    r = await shkPayout(p.body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.payoutId, id);
    const calls = await shk.calls();
    assert.equal(calls.payout[id], 1, 'the payout call was not made again');
    assert.equal(calls.payout_status[id], 1, 'SHKeeper was asked first');
    assert.deepEqual(call(id), ['accepted', '1']);
    // Taken over from SHKeeper's record: no task id, followed by external id until its transfer is final.
    await eventually(async () => {
      const x = await shkPayout(p.body);
      return x.json.data?.payout?.status === 'completed';
    }, 10000, 200);
    assert.deepEqual(payment(p.id), { status: 'released', escrow: 'released', tx: payment(p.id).tx });
    assert.equal((await shk.payout(id)).length, 1);
    const sent = await transfers(shk.wallet, p.sellerWallet);
    assert.equal(sent.length, 1, 'one transfer, ever');
    assert.equal(sent[0].value, units('1.5'));
    assert.equal((await shk.calls()).payout[id], 1);
  });
}

// SHKeeper hands a payout to its wallet before it records it: no record after
// a 500 is no proof that nothing was paid.
test('a 500 whose payout SHKeeper paid but never recorded: its 404 sends nothing again; the transfer an admin finds confirms it', { skip }, async () => {
  await shk.settings({ mode: 'error_after_send', callbacks: false });
  const p = await sellerToPay('2.5');
  let r = await shkPayout(p.body);
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error.code, 'provider_uncertain');
  const id = r.json.data.payoutId;
  assert.deepEqual(call(id), ['unknown', '1']);
  // The wallet paid; SHKeeper keeps no payout with our id.
  await eventually(async () => (await transfers(shk.wallet, p.sellerWallet)).length === 1, 20000, 100);
  assert.equal((await shk.payout(id)).length, 0);

  await shk.settings({ mode: 'ok' });
  for (let i = 0; i < 2; i++) {
    r = await shkPayout(p.body);
    assert.equal(r.status, 502, r.text);
    assert.equal(r.json.error.code, 'provider_unconfirmed');
    assert.match(r.json.message, /checkedNotSent/);
  }
  const calls = await shk.calls();
  assert.equal(calls.payout[id], 1, 'the payout call was not made again');
  assert.equal(calls.payout_status[id], 2, 'SHKeeper was asked each time');
  assert.deepEqual(call(id), ['unknown', '1']);
  assert.equal(payment(id).status, 'pending');

  // The admin finds the transfer on the chain: its hash settles the payout, checked like any other.
  await confirmFound(p, id);
  assert.equal((await shk.calls()).payout[id], 1);
});

test('a 500 before SHKeeper paid anything: its 404 sends nothing again until an admin has checked the chain, then once', { skip }, async () => {
  await shk.settings({ mode: 'error_before_record' });
  const p = await sellerToPay('2');
  let r = await shkPayout(p.body);
  assert.equal(r.status, 502, r.text);
  const id = r.json.data.payoutId;
  assert.equal((await shk.payout(id)).length, 0);
  await shk.settings({ mode: 'ok' });
  r = await shkPayout(p.body);
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error.code, 'provider_unconfirmed');
  assert.equal((await shk.calls()).payout[id], 1);
  // checkedNotSent is a SHKeeper word: BVNK refuses a repeated reference by itself, and the body is refused whole.
  r = await api('POST', '/api/payment/bvnk/payout', { token: admin, body: { ...p.body, checkedNotSent: true } });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.field, 'checkedNotSent');
  r = await shkPayout({ ...p.body, checkedNotSent: 'yes' });
  assert.equal(r.status, 400, r.text);
  assert.equal((await shk.calls()).payout[id], 1);
  // Too soon: SHKeeper's wallet may not have sent it yet, so no look at the chain can prove it did not.
  r = await shkPayout({ ...p.body, checkedNotSent: true });
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error.code, 'provider_unconfirmed');
  assert.match(r.json.message, /10 minutes/);
  assert.ok(Number(r.headers.get('retry-after')) > 500, r.headers.get('retry-after'));
  assert.equal((await shk.calls()).payout[id], 1);

  sentAgo(id, 11);
  r = await shkPayout({ ...p.body, checkedNotSent: true });
  assert.equal(r.status, 200, r.text);
  assert.match(r.json.data.taskId, /^[0-9a-f-]{36}$/);
  const calls = await shk.calls();
  assert.equal(calls.payout_status[id], 3);
  assert.equal(calls.payout[id], 2);
  await completed(id);
  assert.equal((await shk.payout(id)).length, 1);
  assert.equal((await transfers(shk.wallet, p.sellerWallet)).length, 1);
  // Taken: a repeat with the same word asks SHKeeper nothing.
  r = await shkPayout({ ...p.body, checkedNotSent: true });
  assert.equal(r.status, 200, r.text);
  assert.equal((await shk.calls()).payout[id], 2);
});

test('SHKeeper down: the call cannot be told to have failed, so nothing is sent until SHKeeper answers and an admin has checked; the breaker answers at once meanwhile', { skip }, async () => {
  const p = await sellerToPay('1');
  await shk.mode('down');
  let r = await shkPayout(p.body);
  assert.equal(r.status, 502, r.text);
  const id = r.json.data.payoutId;
  // Every further try must ask SHKeeper first, and cannot: nothing is sent.
  for (let i = 0; i < 3; i++) {
    r = await shkPayout(p.body);
    assert.ok([502, 503].includes(r.status), r.text);
  }
  const health = await api('GET', '/api/payment/health');
  assert.equal(health.json.data.dependencies.upstreams.shkeeper, 'open');
  r = await shkPayout(p.body);
  assert.equal(r.status, 503, r.text);
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
  assert.equal(payment(id).status, 'pending');
  await shk.mode('ok');
  // A connection cut after the request went out: SHKeeper's "none" is not proof, an admin's check is.
  r = await eventually(async () => {
    const x = await shkPayout(p.body);
    return x.status === 502 && x.json.error.code === 'provider_unconfirmed' ? x : null;
  }, 15000, 500);
  assert.equal(r?.status, 502);
  assert.equal((await shk.calls()).payout[id], 1);
  sentAgo(id, 11);
  r = await shkPayout({ ...p.body, checkedNotSent: true });
  assert.equal(r.status, 200, r.text);
  const calls = await shk.calls();
  assert.equal(calls.payout[id], 2, 'the one lost while down, and the one after an admin checked');
  await completed(id);
  assert.equal((await transfers(shk.wallet, p.sellerWallet)).length, 1);
});

test('a callback whose transaction pays someone else, or less: refused with the reason, nothing released, the admins told', { skip }, async () => {
  for (const transfer of ['wrong_recipient', 'short']) {
    await shk.settings({ transfer });
    const p = await sellerToPay('5');
    const r = await shkPayout(p.body);
    assert.equal(r.status, 200, r.text);
    const id = r.json.data.payoutId;
    await eventually(async () => (await shk.payout(id))[0]?.callback_delivered, 10000, 100);
    const [[, outcome, detail]] = inbox('shkeeper_payout', id);
    assert.equal(outcome, 'rejected');
    assert.match(detail, transfer === 'short' ? /carries 4\.5; the payment expects 5/ : /not to the payout's recipient/);
    assert.equal(payment(id).status, 'processing');
    assert.equal(payment(id).tx, '');
    assert.deepEqual(payment(p.id), { status: 'completed', escrow: 'releasing', tx: payment(p.id).tx });
    assert.equal(requestStatus(p.request), 'delivered');
    const [review] = reviews(p.id, 'payout_refuted');
    assert.ok(review, 'a payment-needs-review for the admins');
    assert.equal(review.payoutId, id);
    assert.match(review.reason, /does not pay it/);
    assert.equal(adminNotes(p.id, 'payment-needs-review'), 1);
    assert.equal(events([id], 'payout-completed'), 0);
    // Polling sees the same transaction and the same refusal; no second finding.
    const s = await shkStatus(r.json.data.taskId);
    assert.equal(s.status, 422, s.text);
    assert.equal(reviews(p.id, 'payout_refuted').length, 1);
    await shk.reset();
  }
});

test('payout callbacks: a bad or missing signature is 401 and stored nowhere; a repeat is one delivery', { skip }, async () => {
  await shk.settings({ duplicateCallback: true });
  const p = await sellerToPay('1.25');
  const r = await shkPayout(p.body);
  assert.equal(r.status, 200, r.text);
  const id = r.json.data.payoutId;
  await completed(id);
  await eventually(() => inbox('shkeeper_payout', id).length === 2, 10000, 100);
  assert.deepEqual(inbox('shkeeper_payout', id).map(([, o]) => o), ['applied', 'duplicate']);
  assert.equal(events([id], 'payout-completed'), 1);

  const body = JSON.stringify({ external_id: id, status: 'SUCCESS', tx_hash: payment(id).tx });
  const stored = count('webhook_inbox', `provider = 'shkeeper_payout'`);
  const ts = String(now());
  for (const headers of [
    { 'x-shkeeper-timestamp': ts, 'x-shkeeper-signature': sign(ts, body, 'not-the-key') },
    { 'x-shkeeper-timestamp': ts },
    { 'x-shkeeper-timestamp': String(now() - 3600), 'x-shkeeper-signature': sign(String(now() - 3600), body) },
  ]) {
    const x = await api('POST', '/api/payment/shkeeper/payout/webhook', { raw: body, headers: { 'content-type': 'application/json', ...headers } });
    assert.equal(x.status, 401, x.text);
  }
  assert.equal(count('webhook_inbox', `provider = 'shkeeper_payout'`), stored);
  assert.ok(count('webhook_rejects', `provider = 'shkeeper_payout'`) >= 1);
});

test('an invalid recipient is 400 and writes nothing; a request that is not the pay-in\'s is refused', { skip }, async () => {
  const p = await sellerToPay('1');
  for (const [recipientAddress, field] of [
    ['0x0000000000000000000000000000000000000000', 'recipientAddress'],
    ['0xBB53B753F00E3b9F82dBDa151DDE82fAd3cc3C20', 'recipientAddress'],
    ['0x1234', 'recipientAddress'],
  ]) {
    const r = await shkPayout({ ...p.body, recipientAddress, reason: 'seller asked' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.field, field);
  }
  for (const [patch, code] of [[{ sellerId: 'someone-else' }, 'seller_mismatch'], [{ amount: 2 }, 'amount_mismatch'],
    [{ network: 'ethereum' }, 'network_mismatch']]) {
    const r = await shkPayout({ ...p.body, ...patch });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error.code, code);
  }
  const { sellerOfferId, ...missing } = p.body;
  const r = await shkPayout(missing);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.field, 'sellerOfferId');
  assert.equal(outgoing(p.id).length, 0);
  assert.equal(payment(p.id).escrow, 'funded');
  assert.equal((await shk.calls()).payout[sellerOfferId] ?? 0, 0);
});

test('two admins ask at once: one call reaches SHKeeper, the other is told it is in flight', { skip }, async () => {
  await shk.settings({ mode: 'timeout_after_record', callbacks: false });
  const p = await sellerToPay('1.75');
  const first = shkPayout(p.body);
  const id = await eventually(() => outgoing(p.id)[0]?.[0], 5000, 20);
  await eventually(() => call(id)?.[0] === 'sending', 5000, 20);
  const second = await shkPayout(p.body);
  assert.equal(second.status, 202, second.text);
  assert.equal(second.json.data.code, 'call_in_flight');
  assert.equal((await first).status, 502);
  assert.equal((await shk.calls()).payout[id], 1);
  await shk.settings({ mode: 'ok' });
  const r = await shkPayout(p.body);
  assert.equal(r.status, 200, r.text);
  await eventually(async () => (await shkPayout(p.body)).json.data?.payout?.status === 'completed', 10000, 200);
  assert.equal((await shk.calls()).payout[id], 1);
  assert.equal(payment(p.id).status, 'released');
  assert.equal((await transfers(shk.wallet, p.sellerWallet)).length, 1);
});

test('a payout callback while the database is down is 503, so SHKeeper delivers it again; the next delivery completes the payout', { skip }, async () => {
  await shk.settings({ callbacks: false });
  const p = await sellerToPay('2.25');
  const r = await shkPayout(p.body);
  assert.equal(r.status, 200, r.text);
  const id = r.json.data.payoutId;
  const fake = await eventually(async () => (await shk.payout(id)).find((x) => x.status === 'SUCCESS'), 10000, 100);
  // The body SHKeeper sends (callback.py), signed as SHKeeper signs it.
  const body = compactJson({
    payout_id: fake.id, external_id: id, tx_hash: fake.txids[0], status: 'SUCCESS', amount: decText('2.25', 10),
    crypto: 'BNB-USDT', amount_fiat: '2.24662500000000', currency_fiat: 'USD', timestamp: '2026-01-01T12:00:00.123456',
  });
  const deliver = () => {
    const ts = String(now());
    return api('POST', '/api/payment/shkeeper/payout/webhook', {
      raw: body, headers: { 'content-type': 'application/json', 'x-shkeeper-timestamp': ts, 'x-shkeeper-signature': sign(ts, body) },
    });
  };
  stack('pg-stop');
  try {
    const down = await deliver();
    assert.equal(down.status, 503, down.text);
  } finally {
    stack('pg-start');
  }
  const up = await eventually(async () => { const x = await deliver(); return x.status === 202 ? x : null; }, 15000, 300);
  assert.equal(up?.json.data.outcome, 'applied');
  assert.equal(payment(id).status, 'completed');
  assert.equal(payment(p.id).status, 'released');
  assert.equal(inbox('shkeeper_payout', id).length, 1);
  await poolReconnected();
});
