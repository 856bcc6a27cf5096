// Exact decimal amounts for the fake SHKeeper. SHKeeper keeps amounts as
// Python Decimals and prints them as strings; a float would turn "0.1 + 0.2"
// into a balance the real server never reports, so amounts here are BigInts
// scaled by 10^18 (enough for an 18-decimal BEP-20 token).
const SCALE = 18n;
const ONE = 10n ** SCALE;

// "12.5" -> 12500000000000000000n; anything that is not a plain non-negative
// decimal (sign, exponent, more than 18 decimals) is refused with an Error.
export function parse(text) {
  if (typeof text === 'number') text = String(text);
  if (typeof text !== 'string' || !/^\d+(\.\d+)?$/.test(text)) throw new Error(`invalid decimal: ${JSON.stringify(text)}`);
  const [int, frac = ''] = text.split('.');
  if (frac.length > Number(SCALE)) throw new Error(`too many decimals: ${text}`);
  return BigInt(int) * ONE + BigInt(frac.padEnd(Number(SCALE), '0'));
}

// Rounded half-even to `places` decimals (Python's default rounding), then
// printed without trailing zeros unless `fixed` asks for exactly `places`.
export function format(value, places = 10, fixed = false) {
  const unit = 10n ** (SCALE - BigInt(places));
  let q = value / unit;
  const rem = value % unit;
  if (rem * 2n > unit || (rem * 2n === unit && q % 2n === 1n)) q += 1n;
  const digits = q.toString().padStart(places + 1, '0');
  const int = digits.slice(0, digits.length - places);
  let frac = places > 0 ? digits.slice(digits.length - places) : '';
  if (!fixed) frac = frac.replace(/0+$/, '');
  return frac ? `${int}.${frac}` : int;
}

