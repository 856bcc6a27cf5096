// Callback delivery as SHKeeper does it: POST the JSON body with the API key,
// a timestamp and an HMAC signature; only 202 acknowledges, anything else
// (200 included, or no answer) is tried again with a fresh timestamp and
// signature.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

// HMAC-SHA256(key = API key, message = "<timestamp>." + raw body), lowercase hex.
export const sign = (apiKey, timestamp, body) =>
  createHmac('sha256', apiKey).update(`${timestamp}.`).update(body).digest('hex');

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export class Deliverer {
  // ca: PEM text to trust (the stack's self-signed certificate), or null to
  // skip verification, which is allowed for the local host only.
  constructor({ apiKey, ca = null, timeoutMs = 30000, log = () => {} }) {
    Object.assign(this, { apiKey, ca, timeoutMs, log });
  }

  // One POST. `timestamp`/`signature` null leave that header out; undefined
  // means "now" and "computed over these bytes".
  async post(url, body, { timestamp, signature, apiKeyHeader = true } = {}) {
    const ts = timestamp === undefined ? String(Math.floor(Date.now() / 1000)) : timestamp;
    const sig = signature === undefined && ts !== null ? sign(this.apiKey, ts, body) : signature;
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    if (apiKeyHeader) headers['x-shkeeper-api-key'] = this.apiKey;
    if (ts !== null) headers['x-shkeeper-timestamp'] = String(ts);
    if (sig !== null && sig !== undefined) headers['x-shkeeper-signature'] = sig;
    const result = await this.#request(url, headers, body);
    this.log(`callback POST ${url} -> ${result.status || result.error}`);
    return { ...result, url, body, timestamp: ts, signature: sig ?? null };
  }

  // Tries until a 202 or `maxRetries` retries; `makeBody` is called before
  // every try, since SHKeeper rebuilds the payload from current state.
  // Resolves after the first try; `onDone` hears the final outcome.
  async deliver(url, makeBody, { retryMs, maxRetries, onDone = () => {} }) {
    let attempts = 0;
    const attempt = async () => {
      attempts += 1;
      const r = await this.post(url, makeBody());
      return { ...r, attempts, delivered: r.status === 202 };
    };
    const first = await attempt();
    if (first.delivered || maxRetries === 0) {
      onDone(first);
      return first;
    }
    (async () => {
      let last = first;
      while (!last.delivered && attempts <= maxRetries) {
        await new Promise((r) => setTimeout(r, retryMs));
        last = await attempt();
      }
      onDone(last);
    })();
    return first;
  }

  #request(url, headers, body) {
    const u = new URL(url);
    const tls = u.protocol === 'https:';
    const opts = { method: 'POST', headers, timeout: this.timeoutMs };
    if (tls) {
      if (this.ca) opts.ca = this.ca;
      else if (LOCAL_HOSTS.has(u.hostname)) opts.rejectUnauthorized = false;
    }
    return new Promise((resolve) => {
      const req = (tls ? https : http).request(u, opts, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, contentType: res.headers['content-type'] ?? null,
          response: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => resolve({ status: 0, error: e.message }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve({ status: 0, error: e.message }));
      req.end(body);
    });
  }
}
