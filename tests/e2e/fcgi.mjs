// A minimal FastCGI client (the responder role, one request per connection),
// for talking to the pool's socket directly, without nginx in front: what
// the workers do must hold even when nginx's own limits do not apply.
import { connect } from 'node:net';
import { checkResponse } from './openapi.mjs';

const VERSION = 1, BEGIN_REQUEST = 1, END_REQUEST = 3, PARAMS = 4, STDIN = 5, STDOUT = 6, RESPONDER = 1;

function record(type, content = Buffer.alloc(0)) {
  const header = Buffer.alloc(8);
  header.writeUInt8(VERSION, 0);
  header.writeUInt8(type, 1);
  header.writeUInt16BE(1, 2);            // request id
  header.writeUInt16BE(content.length, 4);
  return Buffer.concat([header, content]);
}

function length(n) {
  if (n < 128) return Buffer.from([n]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | 0x80000000) >>> 0);
  return b;
}

function params(env) {
  const parts = Object.entries(env).map(([k, v]) => {
    const name = Buffer.from(k), value = Buffer.from(String(v));
    return Buffer.concat([length(name.length), length(value.length), name, value]);
  });
  return Buffer.concat(parts);
}

// Sends one request; `body` (a Buffer) goes out as STDIN, cut into records.
// Resolves with { status, headers, body } parsed from the CGI response; rejects
// when the answer is not what the OpenAPI document says (openapi.mjs).
export function fcgiRequest(socketPath, env, body = Buffer.alloc(0)) {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const chunks = [];
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 8) {
        const type = buf.readUInt8(1), len = buf.readUInt16BE(4), pad = buf.readUInt8(6);
        if (buf.length < 8 + len + pad) break;
        if (type === STDOUT) chunks.push(buf.subarray(8, 8 + len));
        buf = buf.subarray(8 + len + pad);
        if (type === END_REQUEST) {
          sock.end();
          const text = Buffer.concat(chunks).toString('utf8');
          const split = text.indexOf('\r\n\r\n');
          const headers = Object.fromEntries(text.slice(0, split).split('\r\n')
            .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
          const r = { status: Number(headers.status?.split(' ')[0]), headers, body: text.slice(split + 4) };
          try {
            checkResponse(env.REQUEST_METHOD, env.DOCUMENT_URI, r.status, headers['content-type'], r.body);
          } catch (e) { reject(e); return; }
          resolve(r);
        }
      }
    });
    const begin = Buffer.alloc(8);
    begin.writeUInt16BE(RESPONDER, 0);
    const out = [record(BEGIN_REQUEST, begin), record(PARAMS, params(env)), record(PARAMS)];
    for (let i = 0; i < body.length; i += 65535) out.push(record(STDIN, body.subarray(i, i + 65535)));
    out.push(record(STDIN));
    sock.write(Buffer.concat(out));
  });
}
