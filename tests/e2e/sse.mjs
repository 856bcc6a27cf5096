// A browser-like client of the live streams, without a dependency: Node 20
// has no EventSource, so this reads text/event-stream over node:https the
// way the EventSource specification does (id, event, data lines; a blank
// line ends an event; a comment starts with ':'), and follows a room the way
// the README tells a browser to: remember the last id, resume with it, and
// catch up from GET /api/payment/events?room=&after= when the stream cannot
// (410), or when an event's `prev` is not the last event seen.
import https from 'node:https';
import { api, env } from './lib.mjs';
import { checkResponse } from './openapi.mjs';

export const streamPath = (room) => `/api/payment/events/stream/${room}`;

// One subscription. Resolves once the answer's head arrived: { status, headers, body (when not 200) }.
export function subscribe(room, { token, lastEventId, query = {}, headers = {}, base = env.BASE_URL } = {}) {
  const url = new URL(base + streamPath(room));
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const h = { accept: 'text/event-stream', ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (lastEventId !== undefined) h['last-event-id'] = String(lastEventId);
  const sub = { events: [], waiters: [], closed: false, error: null };
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'GET', headers: h }, (res) => {
      sub.status = res.statusCode;
      sub.headers = res.headers;
      sub.res = res;
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => {
          sub.body = body;
          try { sub.json = JSON.parse(body); } catch { /* not JSON */ }
          try {
            checkResponse('GET', url.pathname + url.search, res.statusCode, res.headers['content-type'], body);
          } catch (e) { reject(e); return; }
          resolve(sub);
        });
        return;
      }
      try {
        checkResponse('GET', url.pathname + url.search, res.statusCode, res.headers['content-type'], '');
      } catch (e) { reject(e); res.destroy(); return; }
      let buf = '';
      let cur = { data: [] };
      res.on('data', (chunk) => {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          if (line === '') {
            if (cur.data.length) {
              const ev = { id: cur.id, event: cur.event ?? 'message', raw: cur.data.join('\n') };
              try { ev.data = JSON.parse(ev.raw); } catch { ev.data = undefined; }
              sub.events.push(ev);
              sub.waiters = sub.waiters.filter((w) => !w());
            }
            cur = { data: [] };
          } else if (!line.startsWith(':')) {
            const i = line.indexOf(':');
            const field = i < 0 ? line : line.slice(0, i);
            const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
            if (field === 'data') cur.data.push(value);
            else if (field === 'id') cur.id = value;
            else if (field === 'event') cur.event = value;
          }
        }
      });
      res.on('close', () => { sub.closed = true; sub.waiters = sub.waiters.filter((w) => !w()); });
      resolve(sub);
    });
    req.on('error', (e) => { sub.error = e; sub.closed = true; reject(e); });
    req.end();
    sub.req = req;
  }).then(() => {
    sub.close = () => { sub.closed = true; sub.req.destroy(); };
    // Resolves with the events once pred(events) holds; rejects after ms.
    sub.until = (pred, ms = 10000) => new Promise((resolve, reject) => {
      const check = () => {
        if (pred(sub.events)) { clearTimeout(t); resolve(sub.events); return true; }
        if (sub.closed) { clearTimeout(t); reject(new Error(`stream closed with ${sub.events.length} events`)); return true; }
        return false;
      };
      const t = setTimeout(() => {
        sub.waiters = sub.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${ms}ms with ${sub.events.length} events, the last: ${sub.events.slice(-5).map((e) => e.id)}`));
      }, ms);
      if (!check()) sub.waiters.push(check);
    });
    sub.ids = () => sub.events.map((e) => Number(e.id));
    return sub;
  });
}

// The outbox's catch-up for a room after `after`, every page of it.
export async function catchUp(room, token, after) {
  const got = [];
  for (;;) {
    const r = await api('GET', `/api/payment/events?room=${encodeURIComponent(room)}&after=${after}&limit=100`, { token });
    if (r.status !== 200) throw Object.assign(new Error(`catch-up: ${r.status} ${r.text}`), { response: r });
    got.push(...r.json.data.events);
    after = r.json.data.nextAfter;
    if (!r.json.data.more) return { events: got, last: after };
  }
}

// A client that follows a room without loss, as a browser should: every
// event once, in stream order. `applied` lists what it applied, `caughtUp`
// what came from the outbox rather than the stream, `refusals` the 410s.
export function follower(room, token) {
  const f = { room, token, applied: [], seen: new Set(), last: undefined, caughtUp: [], refusals: 0, sub: null };
  const apply = (ev) => {
    if (f.seen.has(ev.id)) return;            // at-least-once: a repeat of an id is dropped
    f.seen.add(ev.id);
    f.applied.push(ev);
    f.last = ev.id;
  };
  f.fromStream = async (ev) => {
    if (f.last !== undefined && ev.data.prev !== f.last && !f.seen.has(ev.data.id)) {
      // The stream skipped something (its buffer lost it): the outbox has it.
      const { events } = await catchUp(room, token, f.last);
      for (const e of events) { if (e.id === ev.data.id) break; f.caughtUp.push(e.id); apply(e); }
    }
    apply(ev.data);
  };
  // (Re)connects from the last event applied; on 410, catches up first.
  f.connect = async () => {
    for (;;) {
      const sub = await subscribe(room, { token, lastEventId: f.last });
      if (sub.status === 410) {
        f.refusals++;
        const { events } = await catchUp(room, token, f.last);
        for (const e of events) { f.caughtUp.push(e.id); apply(e); }
        continue;
      }
      if (sub.status !== 200) throw new Error(`subscribe ${room}: ${sub.status} ${sub.body}`);
      f.sub = sub;
      let handled = 0;
      let chain = Promise.resolve();
      sub.waiters.push(() => {
        while (handled < sub.events.length) {
          const ev = sub.events[handled++];
          chain = chain.then(() => f.fromStream(ev));
        }
        return false;
      });
      f.drain = () => chain;
      return sub;
    }
  };
  f.disconnect = () => { f.sub?.close(); f.sub = null; };
  // Resolves once every id in `ids` was applied.
  f.until = async (ids, ms = 15000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      await f.drain?.();
      if (ids.every((id) => f.seen.has(id))) return f.applied;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`follower of ${room}: still missing ${ids.filter((id) => !f.seen.has(id)).slice(0, 10)}`);
  };
  return f;
}

// The same room over a WebSocket, as a browser opens one (the token in the
// query): each text frame is one event's SSE block. A minimal RFC 6455
// client: the handshake, then the server's unmasked frames.
export function wsSubscribe(room, { query = {}, base = env.BASE_URL } = {}) {
  const url = new URL(base + streamPath(room));
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const key = Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))).toString('base64');
  const ws = { messages: [], waiters: [], closed: false };
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': key, 'sec-websocket-version': '13' },
    });
    req.on('response', (res) => {                 // no upgrade: a refusal
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        try {
          checkResponse('GET', url.pathname + url.search, res.statusCode, res.headers['content-type'], body);
        } catch (e) { reject(e); return; }
        Object.assign(ws, { status: res.statusCode, body });
        resolve(ws);
      });
    });
    req.on('upgrade', (res, socket, head) => {
      try {
        checkResponse('GET', url.pathname + url.search, res.statusCode, res.headers['content-type'], '');
      } catch (e) { socket.destroy(); reject(e); return; }
      ws.status = res.statusCode;
      ws.headers = res.headers;
      ws.socket = socket;
      let buf = head;
      socket.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          if (buf.length < 2) return;
          const op = buf[0] & 0x0f;
          let len = buf[1] & 0x7f, off = 2;
          if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
          else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
          if (buf.length < off + len) return;
          const payload = buf.subarray(off, off + len);
          buf = buf.subarray(off + len);
          if (op === 1) ws.messages.push(payload.toString('utf8'));
          ws.waiters = ws.waiters.filter((w) => !w());
        }
      });
      socket.on('close', () => { ws.closed = true; ws.waiters = ws.waiters.filter((w) => !w()); });
      resolve(ws);
    });
    req.on('error', reject);
    req.end();
  }).then(() => {
    ws.close = () => { ws.closed = true; ws.socket?.destroy(); };
    ws.until = (pred, ms = 10000) => new Promise((resolve, reject) => {
      const check = () => {
        if (pred(ws.messages)) { clearTimeout(t); resolve(ws.messages); return true; }
        if (ws.closed) { clearTimeout(t); reject(new Error(`websocket closed with ${ws.messages.length} messages`)); return true; }
        return false;
      };
      const t = setTimeout(() => reject(new Error(`timed out after ${ms}ms with ${ws.messages.length} messages`)), ms);
      if (!check()) ws.waiters.push(check);
    });
    return ws;
  });
}
