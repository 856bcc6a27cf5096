// The fake SHKeeper's invoices: created by payment_request, paid through the
// control API, and rendered into the exact callback bodies SHKeeper sends
// (shared/PROVIDERS.md section 1).
import { createHash, randomBytes } from 'node:crypto';
import * as dec from './decimal.mjs';

export const CRYPTOS = ['BNB-USDT', 'BNB-USDC', 'ETH-USDT', 'ETH-USDC'];

// Stablecoins against USD: one token is one dollar, so the crypto amount of
// an invoice equals its fiat amount. No fee is configured.
const RATE = '1';

// Python's json.dumps(sort_keys=True, separators=(',', ':')) with its default
// ensure_ascii: keys sorted at every level, no spaces, non-ASCII escaped.
export function pythonJson(value) {
  const sorted = (v) => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]));
    }
    return v;
  };
  return JSON.stringify(sorted(value))
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// "2024-06-25 15:45:38": naive UTC, as SHKeeper prints a datetime.
const pyDate = (d) => d.toISOString().slice(0, 19).replace('T', ' ');

export const randomTxid = () => `0x${randomBytes(32).toString('hex')}`;

export class InvoiceStore {
  constructor() {
    this.byId = new Map();
    this.nextId = 1;
  }

  // SHKeeper updates the invoice with the same (external_id, callback_url,
  // fiat) instead of making a second one, and keeps its id and address.
  request(crypto, { external_id, fiat, amount, callback_url }) {
    const amountFiat = dec.parse(amount);
    let inv = [...this.byId.values()].find((i) =>
      i.externalId === external_id && i.callbackUrl === callback_url && i.fiat === fiat);
    if (!inv) {
      const id = this.nextId++;
      inv = {
        id, externalId: external_id, callbackUrl: callback_url, fiat, crypto,
        wallet: `0x${createHash('sha256').update(`fake-shkeeper-wallet:${id}`).digest('hex').slice(0, 40)}`,
        createdAt: new Date(), txs: [], forcedStatus: null,
      };
      this.byId.set(id, inv);
    }
    inv.crypto = crypto;
    inv.amountFiat = amountFiat;
    return inv;
  }

  // The most recent invoice for an external id (the one a payment targets).
  find(externalId) {
    return this.all(externalId).at(-1);
  }

  all(externalId) {
    return [...this.byId.values()].filter((i) => i.externalId === externalId);
  }

  // Records a transaction; a txid already known is the same transaction seen
  // again (an unconfirmed one becomes confirmed), never a second deposit.
  addTx(inv, { txid = randomTxid(), amountCrypto, confirmed = true }) {
    let tx = inv.txs.find((t) => t.txid === txid);
    if (!tx) {
      tx = { txid, amountCrypto: dec.parse(amountCrypto), date: new Date(), confirmed };
      inv.txs.push(tx);
    } else if (confirmed) {
      tx.confirmed = true;
    }
    return tx;
  }
}

const confirmedTxs = (inv) => inv.txs.filter((t) => t.confirmed);
const balance = (inv) => confirmedTxs(inv).reduce((sum, t) => sum + t.amountCrypto, 0n);
// At an exchange rate of 1 a crypto amount is its fiat amount.
const toFiat = (crypto) => crypto;

// Below 95 % of the fiat amount PARTIAL, below 105 % PAID, else OVERPAID
// (compared exactly: balance * 100 against amount * 95 and * 105).
export function statusOf(inv) {
  if (inv.forcedStatus) return inv.forcedStatus;
  const b = toFiat(balance(inv)) * 100n;
  if (b === 0n) return 'UNPAID';
  if (b < inv.amountFiat * 95n) return 'PARTIAL';
  if (b < inv.amountFiat * 105n) return 'PAID';
  return 'OVERPAID';
}

export function paymentRequestAnswer(inv) {
  return {
    status: 'success',
    id: inv.id,
    exchange_rate: RATE,
    amount: dec.format(inv.amountFiat),
    wallet: inv.wallet,
    recalculate_after: 0,
    display_name: inv.crypto,
  };
}

export function lookupAnswer(invoices) {
  return {
    status: 'success',
    invoices: invoices.map((inv) => ({
      external_id: inv.externalId,
      status: statusOf(inv),
      fiat: inv.fiat,
      amount_fiat: dec.format(inv.amountFiat),
      balance_fiat: dec.format(toFiat(balance(inv))),
      txs: inv.txs.map((t) => ({
        txid: t.txid, crypto: inv.crypto, addr: inv.wallet,
        amount: dec.format(t.amountCrypto), status: t.confirmed ? 'CONFIRMED' : 'UNCONFIRMED',
      })),
    })),
  };
}

// The callback for one confirmed transaction (`trigger`), built from the
// invoice's current state: SHKeeper rebuilds it on every retry.
export function callbackBody(inv, trigger) {
  const bal = balance(inv);
  const status = statusOf(inv);
  const over = toFiat(bal) - inv.amountFiat;
  return pythonJson({
    addr: inv.wallet,
    balance_crypto: dec.format(bal),
    balance_fiat: dec.format(toFiat(bal)),
    crypto: inv.crypto,
    external_id: inv.externalId,
    fee_fixed: '0',
    fee_percent: '0',
    fee_policy: 'PERCENT_FEE',
    fiat: inv.fiat,
    overpaid_fiat: over > 0n ? dec.format(over, 2, true) : '0.00',
    paid: status === 'PAID' || status === 'OVERPAID',
    status,
    transactions: confirmedTxs(inv).map((t) => ({
      amount_crypto: dec.format(t.amountCrypto),
      amount_fiat: dec.format(toFiat(t.amountCrypto)),
      amount_fiat_without_fee: dec.format(toFiat(t.amountCrypto)),
      crypto: inv.crypto,
      date: pyDate(t.date),
      fee_fiat: '0',
      trigger: t.txid === trigger?.txid,
      txid: t.txid,
    })),
  });
}

// The optional early notice for a transaction seen but not yet confirmed.
export function unconfirmedBody(inv, tx) {
  return pythonJson({
    status: 'unconfirmed', external_id: inv.externalId, crypto: inv.crypto,
    addr: inv.wallet, txid: tx.txid, amount: dec.format(tx.amountCrypto),
  });
}
