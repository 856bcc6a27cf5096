// The answers nginx makes itself, before any worker sees the request, are the
// service's JSON error envelope too, with a request id and the security
// headers: a malformed request, TRACE, an oversized URI or header, an
// unsupported transfer coding or HTTP version, plain HTTP on the TLS port,
// and the pool being unreachable. Requests are written by hand over TLS,
// since fetch() will not send most of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, ROOT, stack, pool2Up } from './lib.mjs';
import { checkNginxError } from './openapi.mjs';

// One raw HTTP/1.1 exchange; resolves with { status, headers, body }. A
// refusal's body must be the document's error envelope, or it rejects.
function exchange(text, { port = Number(env.HTTPS_PORT), plain = false } = {}) {
  return new Promise((resolve, reject) => {
    const opts = { host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(env.CA_CERT), ALPNProtocols: ['http/1.1'] };
    const sock = plain ? net.connect(port, '127.0.0.1') : tls.connect(opts);
    let buf = Buffer.alloc(0);
    sock.once(plain ? 'connect' : 'secureConnect', () => sock.write(text));
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
    sock.on('error', reject);
    sock.on('close', () => {
      const raw = buf.toString('latin1');
      const split = raw.indexOf('\r\n\r\n');
      const lines = raw.slice(0, split).split('\r\n');
      const headers = {};
      for (const l of lines.slice(1)) {
        const name = l.slice(0, l.indexOf(':')).toLowerCase();
        headers[name] = headers[name] ? [].concat(headers[name], l.slice(l.indexOf(':') + 1).trim())
          : l.slice(l.indexOf(':') + 1).trim();
      }
      const r = { status: Number(lines[0].split(' ')[1]), headers, body: raw.slice(split + 4) };
      try {
        if (r.status >= 400) checkNginxError(text.slice(0, 60).split('\r\n')[0], r.status, r.body);
      } catch (e) { reject(e); return; }
      resolve(r);
    });
  });
}

function assertEnvelope(r, status, code, what) {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.body}`);
  assert.match(r.headers['content-type'] ?? '', /^application\/json/, what);
  const json = JSON.parse(r.body);
  assert.equal(json.success, false, what);
  assert.equal(typeof json.message, 'string', what);
  assert.equal(json.error.code, code, what);
  assert.match(r.headers['x-request-id'] ?? '', /^[0-9a-f]{32}$/, `${what}: one X-Request-Id`);
  assert.equal(r.headers['x-content-type-options'], 'nosniff', what);
  assert.match(r.headers['strict-transport-security'] ?? '', /max-age=\d+/, what);
}

const close = 'Connection: close\r\n';

test('nginx\'s own refusals are the JSON envelope: 400, 405 for TRACE, 414, 431, 501, 505', async () => {
  const long = 'a'.repeat(9000);
  for (const [req, status, code] of [
    ['GARBAGE\r\n\r\n', 400, 'bad_request'],
    [`GET /api/payment/health HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n${close}\r\n`, 400, 'bad_request'],
    [`GET /api/payment/health HTTP/1.1\r\n${close}\r\n`, 400, 'bad_request'],                   // no Host
    [`TRACE /api/payment/health HTTP/1.1\r\nHost: localhost\r\n${close}\r\n`, 405, 'method_not_allowed'],
    [`TRACE / HTTP/1.1\r\nHost: localhost\r\n${close}\r\n`, 405, 'method_not_allowed'],
    [`GET /api/payment/${long} HTTP/1.1\r\nHost: localhost\r\n${close}\r\n`, 414, 'uri_too_long'],
    [`GET /api/payment/health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${long}\r\n${close}\r\n`, 431, 'headers_too_large'],
    [`POST /api/payment/callback HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n${close}\r\n`, 501, 'not_implemented'],
    [`GET /api/payment/health HTTP/2.5\r\nHost: localhost\r\n\r\n`, 505, 'http_version_not_supported'],
  ]) {
    assertEnvelope(await exchange(req), status, code, req.slice(0, 40));
  }
});

test('plain HTTP sent to the TLS port is answered 400 in the envelope', async () => {
  const r = await exchange(`GET /api/payment/health HTTP/1.1\r\nHost: localhost\r\n${close}\r\n`, { plain: true });
  assert.equal(r.status, 400, r.body);
  assert.equal(JSON.parse(r.body).error.code, 'bad_request');
});

test('a malformed request on the plain-HTTP port is the envelope too; anything else is redirected', async () => {
  const bad = await exchange('GARBAGE\r\n\r\n', { port: Number(env.HTTP_PORT), plain: true });
  assert.equal(bad.status, 400, bad.body);
  assert.equal(JSON.parse(bad.body).error.code, 'bad_request');
  const ok = await exchange(`GET /api/payment/health HTTP/1.1\r\nHost: localhost\r\n${close}\r\n`, { port: Number(env.HTTP_PORT), plain: true });
  assert.equal(ok.status, 301);
});

test('the error pages cannot be fetched directly', async () => {
  const r = await exchange(`GET /_errors/500 HTTP/1.1\r\nHost: localhost\r\n${close}\r\n`);
  assertEnvelope(r, 404, 'not_found', 'GET /_errors/500');
});

test('an unreachable pool is a JSON 503 with Retry-After, from nginx', async () => {
  const port = Number(new URL(pool2Up()).port);
  try {
    // Kill the second pool's master and workers outright: its socket stays, nobody answers.
    const pid = Number(readFileSync(join(env.STACK_DIR, 'pool2.pid'), 'utf8').trim());
    process.kill(-pid, 'SIGKILL');
    const r = await exchange(`GET /api/payment/health HTTP/1.1\r\nHost: localhost\r\n${close}\r\n`, { port });
    assertEnvelope(r, 503, 'service_unavailable', 'pool down');
    assert.equal(r.headers['retry-after'], '5');
  } finally {
    stack('pool2-down');
  }
});

test('every status nginx can produce itself has a JSON page in the site file', () => {
  const site = readFileSync(join(ROOT, 'nginx/fcgi-payments.conf'), 'utf8');
  const https = site.slice(site.indexOf('listen 443'));
  const pages = new Map();
  for (const m of https.matchAll(/^\s*error_page\s+([\d\s]+?)\s+(?:=(\d+)\s+)?(\S+);/gm)) {
    for (const code of m[1].split(/\s+/)) pages.set(code, { status: m[2] ?? code, uri: m[3] });
  }
  for (const code of ['400', '404', '405', '411', '413', '414', '429', '494', '497', '500', '501', '502', '503', '504', '505']) {
    const page = pages.get(code);
    assert.ok(page, `error_page for ${code}`);
    const loc = new RegExp(`location = ${page.uri.replace(/[/.]/g, '\\$&')} \\{ return (\\d+) '(\\{.*\\})\\\\n'; \\}`).exec(https);
    assert.ok(loc, `a location for ${page.uri}`);
    assert.equal(loc[1], page.status, `${code} is answered ${page.status}`);
    const body = JSON.parse(loc[2]);
    assert.equal(body.success, false);
    assert.equal(typeof body.error.code, 'string');
  }
});
