// The fake SHKeeper's invoices: created by payment_request, paid through the
// control API, and rendered into the exact bodies SHKeeper sends
// (shared/PROVIDERS.md section 1; SHKeeper v2.5's models.py and callback.py).
//
// What it keeps faithfully:
// - the invoice's crypto `amount` carries SHKeeper's fee: (price + fee) / rate,
//   rounded to 8 decimals; the fee is 2 % by default, and the rate is not 1;
// - a transaction's fiat value is its crypto amount times the invoice's rate
//   (another crypto's, at that crypto's rate: a stray token sent to the same
//   address counts in SHKeeper's fiat balance, not in its crypto balance);
// - PAID is decided in fiat on the price without the fee: below llimit % (95)
//   PARTIAL, below ulimit % (105) PAID, else OVERPAID;
// - re-pricing (Invoice.update_with_tx): once `recalc` hours have passed
//   since the invoice was made, every transaction that arrives makes SHKeeper
//   price the invoice again at the crypto's current rate (new `amount` and
//   exchange rate) and value that transaction at the new rate, whatever its
//   crypto; earlier transactions keep the value they had. The fake's clock
//   can be moved forward (InvoiceStore's `now`) so tests need not wait hours;
// - amounts are printed as SHKeeper prints them (decimal.shk).
import { createHash, randomBytes } from 'node:crypto';
import { Q, shk, twoPlaces } from './decimal.mjs';

export const CRYPTOS = ['BNB-USDT', 'BNB-USDC', 'ETH-USDT', 'ETH-USDC'];

// The display names SHKeeper's crypto modules carry.
export const DISPLAY_NAMES = {
  'BNB-USDT': 'BEP20 USDT', 'BNB-USDC': 'BEP20 USDC', 'ETH-USDT': 'ERC20 USDT', 'ETH-USDC': 'ERC20 USDC',
};

// The other token of the same chain: its deposits land on the same address.
export const SIBLING = { 'BNB-USDT': 'BNB-USDC', 'BNB-USDC': 'BNB-USDT', 'ETH-USDT': 'ETH-USDC', 'ETH-USDC': 'ETH-USDT' };

// SHKeeper's defaults (ExchangeRate: fee 2 %, PERCENT_FEE; Wallet: llimit 95,
// ulimit 105, recalc 0), with rates a rate source might report for
// stablecoins: close to the dollar, never exactly it.
const DEFAULT_RATES = { 'BNB-USDT': '0.9985', 'BNB-USDC': '1.0002', 'ETH-USDT': '0.9985', 'ETH-USDC': '1.0002' };
const DEFAULT_WALLET = { fee_percent: '2', fee_fixed: '0', fee_policy: 'PERCENT_FEE', llimit: '95', ulimit: '105', recalc: 0 };
const FEE_POLICIES = ['NO_FEE', 'PERCENT_FEE', 'FIXED_FEE', 'PERCENT_OR_MINIMAL_FIXED_FEE'];

// Per-crypto settings, as SHKeeper's admin would set them.
export class Settings {
  constructor() { this.reset(); }

  reset() {
    this.by = Object.fromEntries(CRYPTOS.map((c) => [c, { ...DEFAULT_WALLET, rate: DEFAULT_RATES[c] }]));
  }

  get(crypto) { return this.by[crypto] ?? { ...DEFAULT_WALLET, rate: '1' }; }

  // patch: any of rate, fee_percent, fee_fixed, fee_policy, llimit, ulimit, recalc; crypto null for all.
  set(crypto, patch) {
    const targets = crypto ? [crypto] : CRYPTOS;
    for (const key of Object.keys(patch)) {
      const v = patch[key];
      if (key === 'recalc') {
        if (!Number.isInteger(v) || v < 0) throw new Error('recalc must be a whole number of hours');
      } else if (key === 'fee_policy') {
        if (!FEE_POLICIES.includes(v)) throw new Error(`fee_policy must be one of ${FEE_POLICIES.join(', ')}`);
      } else if (['rate', 'fee_percent', 'fee_fixed', 'llimit', 'ulimit'].includes(key)) {
        Q.of(String(v));
        if (key === 'rate' && Q.of(String(v)).isZero()) throw new Error('rate must be above 0');
      } else {
        throw new Error(`unknown setting ${key}`);
      }
    }
    for (const c of targets) {
      if (!CRYPTOS.includes(c)) throw new Error(`unknown crypto ${c}`);
      for (const [k, v] of Object.entries(patch)) this.by[c][k] = k === 'recalc' || k === 'fee_policy' ? v : String(v);
    }
    return targets.map((c) => ({ crypto: c, ...this.by[c] }));
  }
}

// ExchangeRate.get_fee / get_orig_amount.
function fee(s, amount) {
  const pct = amount.mul(Q.of(s.fee_percent)).div(100n);
  switch (s.fee_policy) {
    case 'NO_FEE': return new Q(0n);
    case 'FIXED_FEE': return Q.of(s.fee_fixed);
    case 'PERCENT_OR_MINIMAL_FIXED_FEE': return pct.lt(Q.of(s.fee_fixed)) ? Q.of(s.fee_fixed) : pct;
    default: return pct;
  }
}

function withoutFee(s, withFee) {
  const pct = withFee.mul(100n).div(Q.of(s.fee_percent).add(100n));
  switch (s.fee_policy) {
    case 'NO_FEE': return withFee;
    case 'FIXED_FEE': return withFee.sub(Q.of(s.fee_fixed));
    case 'PERCENT_OR_MINIMAL_FIXED_FEE': {
      const fixed = withFee.sub(Q.of(s.fee_fixed));
      return pct.lt(fixed) ? pct : fixed;
    }
    default: return pct;
  }
}

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

// str(datetime): "2024-06-25 15:45:38", with ".ffffff" when there are microseconds.
const pyDate = (d) => {
  const base = d.toISOString().slice(0, 19).replace('T', ' ');
  const us = d.getUTCMilliseconds() * 1000;
  return us ? `${base}.${String(us).padStart(6, '0')}` : base;
};

export const randomTxid = () => `0x${randomBytes(32).toString('hex')}`;

export class InvoiceStore {
  // now: the fake's clock, a function returning a Date.
  constructor(settings, now = () => new Date()) {
    this.settings = settings;
    this.now = now;
    this.byId = new Map();
    this.nextId = 1;
  }

  // ExchangeRate.convert: (amount + fee) / rate at the crypto's current rate, rounded to its precision (8).
  #price(inv) {
    const s = this.settings.get(inv.crypto);
    inv.exchangeRate = Q.of(s.rate);
    inv.amountCrypto = inv.amountFiat.add(fee(s, inv.amountFiat)).div(inv.exchangeRate).round(8);
  }

  // SHKeeper updates the invoice with the same (external_id, callback_url)
  // instead of making a second one, keeps its id and address, and prices it
  // again at the current rate.
  request(crypto, { external_id, fiat, amount, callback_url }) {
    const amountFiat = Q.of(amount);
    let inv = [...this.byId.values()].find((i) => i.externalId === external_id && i.callbackUrl === callback_url);
    if (!inv) {
      const id = this.nextId++;
      inv = {
        id, externalId: external_id, callbackUrl: callback_url, crypto,
        wallet: `0x${createHash('sha256').update(`fake-shkeeper-wallet:${id}`).digest('hex').slice(0, 40)}`,
        createdAt: this.now(), txs: [], forcedStatus: null,
      };
      this.byId.set(id, inv);
    }
    inv.crypto = crypto;
    inv.fiat = fiat;
    inv.amountFiat = amountFiat;
    this.#price(inv);
    return inv;
  }

  // The most recent invoice for an external id (the one a payment targets).
  find(externalId) {
    return this.all(externalId).at(-1);
  }

  all(externalId) {
    return [...this.byId.values()].filter((i) => i.externalId === externalId);
  }

  // Records a transaction to the invoice's address, in its own crypto unless
  // told otherwise; a txid already known is the same transaction seen again
  // (an unconfirmed one becomes confirmed), never a second deposit.
  addTx(inv, { txid = randomTxid(), amountCrypto, crypto = inv.crypto, confirmed = true }) {
    let tx = inv.txs.find((t) => t.txid === txid && t.crypto === crypto);
    if (!tx) {
      tx = { txid, crypto, amountCrypto: Q.of(amountCrypto), amountFiat: null, date: this.now(), confirmed: false };
      inv.txs.push(tx);
    }
    if (confirmed && !tx.confirmed) this.#confirm(inv, tx);
    return tx;
  }

  // A transaction SHKeeper records as confirmed (Transaction.add, then
  // Invoice.update_with_tx): valued when it is added, never again.
  #confirm(inv, tx) {
    // The invoice's own crypto at the invoice's rate, another at its current rate ...
    const rate = tx.crypto === inv.crypto ? inv.exchangeRate : Q.of(this.settings.get(tx.crypto).rate);
    tx.amountFiat = tx.amountCrypto.mul(rate);
    // ... unless recalc hours have passed: the invoice is priced again, and this
    // transaction valued at its new rate, even one of another crypto.
    const { recalc } = this.settings.get(inv.crypto);
    if (recalc > 0 && inv.createdAt.getTime() + recalc * 3600e3 < this.now().getTime()) {
      this.#price(inv);
      tx.amountFiat = tx.amountCrypto.mul(inv.exchangeRate);
    }
    tx.date = this.now();
    tx.confirmed = true;
  }

  // The invoice's figures as SHKeeper keeps them.
  figures(inv) {
    const s = this.settings.get(inv.crypto);
    const txs = inv.txs.filter((t) => t.confirmed);
    const balanceFiat = txs.reduce((sum, t) => sum.add(t.amountFiat), new Q(0n));
    const balanceCrypto = txs.filter((t) => t.crypto === inv.crypto).reduce((sum, t) => sum.add(t.amountCrypto), new Q(0n));
    const low = inv.amountFiat.mul(Q.of(s.llimit)).div(100n);
    const high = inv.amountFiat.mul(Q.of(s.ulimit)).div(100n);
    let status = 'UNPAID';
    if (txs.length) status = balanceFiat.lt(low) ? 'PARTIAL' : balanceFiat.lt(high) ? 'PAID' : 'OVERPAID';
    return { s, txs, balanceFiat, balanceCrypto, high, status: inv.forcedStatus ?? status };
  }

  statusOf(inv) {
    return this.figures(inv).status;
  }

  paymentRequestAnswer(inv) {
    return {
      status: 'success',
      id: inv.id,
      exchange_rate: shk(inv.exchangeRate),
      amount: shk(inv.amountCrypto),
      wallet: inv.wallet,
      recalculate_after: this.settings.get(inv.crypto).recalc,
      display_name: DISPLAY_NAMES[inv.crypto] ?? inv.crypto,
    };
  }

  // GET /api/v1/invoices/<external_id> (Invoice.to_json).
  lookupAnswer(invoices) {
    return {
      status: 'success',
      invoices: invoices.map((inv) => {
        const f = this.figures(inv);
        return {
          external_id: inv.externalId,
          status: f.status,
          fiat: inv.fiat,
          amount_fiat: shk(inv.amountFiat),
          balance_fiat: shk(f.balanceFiat),
          txs: inv.txs.map((t) => ({
            txid: t.txid, crypto: t.crypto, addr: inv.wallet,
            amount: shk(t.amountCrypto), status: t.confirmed ? 'CONFIRMED' : 'UNCONFIRMED',
          })),
        };
      }),
    };
  }

  // GET /api/v1/tx-info/<txid>/<external_id>: a confirmed transaction of one
  // of the external id's invoices, valued as it was when it was added.
  txInfo(externalId, txid) {
    for (const inv of this.all(externalId)) {
      const t = inv.txs.find((x) => x.txid === txid && x.confirmed);
      if (t) return { crypto: t.crypto, amount: shk(t.amountFiat), addr: inv.wallet };
    }
    return {};
  }

  // The callback for one confirmed transaction (`trigger`), built from the
  // invoice's current state: SHKeeper rebuilds it on every retry.
  callbackBody(inv, trigger) {
    const f = this.figures(inv);
    const over = f.balanceFiat.sub(f.high);
    return pythonJson({
      addr: inv.wallet,
      balance_crypto: shk(f.balanceCrypto),
      balance_fiat: shk(f.balanceFiat),
      crypto: inv.crypto,
      external_id: inv.externalId,
      fee_fixed: shk(Q.of(f.s.fee_fixed)),
      fee_percent: shk(Q.of(f.s.fee_percent)),
      fee_policy: f.s.fee_policy,
      fiat: inv.fiat,
      overpaid_fiat: over.cmp(0n) > 0 ? twoPlaces(over) : '0.00',
      paid: f.status === 'PAID' || f.status === 'OVERPAID',
      status: f.status,
      transactions: f.txs.map((t) => {
        const without = withoutFee(this.settings.get(t.crypto), t.amountFiat);
        return {
          amount_crypto: shk(t.amountCrypto),
          amount_fiat: shk(t.amountFiat),
          amount_fiat_without_fee: shk(without),
          crypto: t.crypto,
          date: pyDate(t.date),
          fee_fiat: shk(t.amountFiat.sub(without)),
          trigger: t === trigger,
          txid: t.txid,
        };
      }),
    });
  }

  // The optional early notice for a transaction seen but not yet confirmed.
  unconfirmedBody(inv, tx) {
    return pythonJson({
      status: 'unconfirmed', external_id: inv.externalId, crypto: tx.crypto,
      addr: inv.wallet, txid: tx.txid, amount: shk(tx.amountCrypto),
    });
  }
}
