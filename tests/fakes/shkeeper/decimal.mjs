// Exact amounts for the fake SHKeeper. SHKeeper keeps amounts as Python
// Decimals (28 significant digits) and decides statuses on them; a float
// would turn "0.1 + 0.2" into a balance the real server never reports. Here
// every amount is an exact rational of BigInts, and only printing goes
// through a float, exactly where SHKeeper's does (`'%.10f' % Decimal`).

export class Q {
  constructor(n, d = 1n) {
    if (d === 0n) throw new Error('division by zero');
    if (d < 0n) { n = -n; d = -d; }
    const g = gcd(n < 0n ? -n : n, d);
    this.n = n / g;
    this.d = d / g;
  }

  // "12.5" -> 25/2. Anything but a plain non-negative decimal (sign,
  // exponent, ".5") is refused with an Error.
  static of(text) {
    if (text instanceof Q) return text;
    if (typeof text === 'number' || typeof text === 'bigint') text = String(text);
    if (typeof text !== 'string' || !/^\d+(\.\d+)?$/.test(text)) throw new Error(`invalid decimal: ${JSON.stringify(text)}`);
    const [int, frac = ''] = text.split('.');
    return new Q(BigInt(int + frac), 10n ** BigInt(frac.length));
  }

  add(o) { o = Q.of(o); return new Q(this.n * o.d + o.n * this.d, this.d * o.d); }
  sub(o) { o = Q.of(o); return new Q(this.n * o.d - o.n * this.d, this.d * o.d); }
  mul(o) { o = Q.of(o); return new Q(this.n * o.n, this.d * o.d); }
  div(o) { o = Q.of(o); return new Q(this.n * o.d, this.d * o.n); }
  cmp(o) { o = Q.of(o); const a = this.n * o.d, b = o.n * this.d; return a < b ? -1 : a > b ? 1 : 0; }
  lt(o) { return this.cmp(o) < 0; }
  isZero() { return this.n === 0n; }

  // Rounded half-even to `places` decimals (Python's round(Decimal, places)).
  round(places) {
    const scale = 10n ** BigInt(places);
    const num = this.n * scale;
    let q = num / this.d;
    let r = num % this.d;
    if (r < 0n) { q -= 1n; r += this.d; }
    if (r * 2n > this.d || (r * 2n === this.d && q % 2n !== 0n)) q += 1n;
    return new Q(q, scale);
  }

  // Whole units of 10^-places, cut (a token cannot hold less), or rounded up.
  units(places) {
    const num = this.n * 10n ** BigInt(places);
    return num / this.d;
  }

  unitsUp(places) {
    const num = this.n * 10n ** BigInt(places);
    return num / this.d + (num % this.d === 0n ? 0n : 1n);
  }

  // Exact decimal text when the value has one, else cut at `max` places.
  text(max = 36) {
    const neg = this.n < 0n;
    const scale = 10n ** BigInt(max);
    const v = ((neg ? -this.n : this.n) * scale) / this.d;
    const digits = v.toString().padStart(max + 1, '0');
    const int = digits.slice(0, digits.length - max);
    const frac = digits.slice(digits.length - max).replace(/0+$/, '');
    return `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
  }
}

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a || 1n;
}

export const parse = (text) => Q.of(text);

// SHKeeper's remove_exponent(): ('%.10f' % d).rstrip('0').rstrip('.'), where
// %-formatting turns the Decimal into a float first. Large values therefore
// carry float artefacts in their last digits, exactly as SHKeeper prints them.
export function shk(value) {
  const f = Number(Q.of(value).text(40));
  return f.toFixed(10).replace(/0+$/, '').replace(/\.$/, '');
}

// str(round(d.normalize(), 2)): two decimals, half-even (overpaid_fiat).
export function twoPlaces(value) {
  const r = Q.of(value).round(2);
  const neg = r.n < 0n;
  const cents = ((neg ? -r.n : r.n) * 100n) / r.d;
  const s = cents.toString().padStart(3, '0');
  return `${neg ? '-' : ''}${s.slice(0, -2)}.${s.slice(-2)}`;
}
