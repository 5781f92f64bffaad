#!/usr/bin/env node
// Node `ws` WebSocket peer (client or server) driven by a scenario JSON file.
// usage: node node_peer.js {client|server} SCENARIO.json PAIR OUT.jsonl [--gate FILE]
// Sent truth is taken from ws's Sender (patched below), so automatic pongs and
// close replies are recorded in the order ws writes them.
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const path = require('path');
const WebSocket = require(path.join(__dirname, 'node_modules', 'ws'));
const { Sender, WebSocketServer } = WebSocket;
const WS_VERSION = require(path.join(__dirname, 'node_modules', 'ws', 'package.json')).version;
const IMPL_NAME = `node-ws ${WS_VERSION}`;

const [ROLE, SCEN, PAIR, OUT] = process.argv.slice(2, 6);
const gi = process.argv.indexOf('--gate');
const GATE = gi > 0 ? process.argv[gi + 1] : null;
const SC = JSON.parse(fs.readFileSync(SCEN, 'utf8'));
const P = SC.pairs.find((p) => p.name === PAIR);
if (!P) throw new Error(`pair ${PAIR} not found`);
const SCRIPTS = SC.scripts;
const ME = ROLE === 'client' ? 'client' : 'server';
const SENT_DIR = ME === 'client' ? 'client_to_server' : 'server_to_client';
const RECV_DIR = ME === 'client' ? 'server_to_client' : 'client_to_server';
// wss:// when the scenario gives the server a "tls" object (scenarios.py: tls())
const TLS = P.server.tls;
const KEYLOG = OUT.replace(/\.jsonl$/, '') + '.keys';
const TLSINFO = OUT.replace(/\.jsonl$/, '') + '.tls.jsonl';
const CERTS = process.env.WSD_CERTS || '/tmp/wsdissect-testdata-work/certs';
const SNI = 'ws.test';
const tls = require('tls');
const https = require('https');
const SESSIONS = {}; // client: connection index -> last TLS session it received
// the 'keylog' events give NSS key log lines (with their newline); written as they come
const keylog = (line) => fs.appendFileSync(KEYLOG, line);
function tlsOptions(o) {
  const r = {};
  if (o.min_version) r.minVersion = o.min_version;
  if (o.max_version) r.maxVersion = o.max_version;
  // node takes the TLS 1.3 suites (TLS_*) in the same 'ciphers' string as the <= 1.2 ones
  const c = [o.ciphersuites, o.ciphers].filter((x) => x).join(':');
  if (c) r.ciphers = c;
  if (o.alpn) r.ALPNProtocols = o.alpn;
  let so = 0;
  for (const name of o.options || []) so |= { NO_TICKET: crypto.constants.SSL_OP_NO_TICKET }[name];
  if (so) r.secureOptions = so;
  return r;
}
function tlsInfo(sock, conn, cport, sport) {
  const c = sock.getCipher();
  fs.appendFileSync(TLSINFO, JSON.stringify({
    role: ME, conn, client_port: cport, server_port: sport, version: sock.getProtocol(),
    cipher: c ? c.name : null, cipher_standard_name: c ? c.standardName : null,
    sni: ME === 'server' ? (sock.servername || null) : SNI, alpn: sock.alpnProtocol || null,
    resumed: sock.isSessionReused(), library: `node ${process.version} OpenSSL ${process.versions.openssl}`,
  }) + '\n');
}
const TIMEOUT = parseFloat(process.env.PEER_TIMEOUT || '60') * 1000;
setTimeout(() => { console.error(`node_peer ${ROLE} ${PAIR} TIMEOUT`); process.exit(2); }, TIMEOUT).unref();

// ---- payload generation (must match common.py) ----
function sha256(b) { return crypto.createHash('sha256').update(b).digest(); }
function genRandom(size, seed) {
  const bufs = []; let n = 0; let i = 0;
  while (n < size) { const d = sha256(Buffer.from(`${seed}:${i}`)); bufs.push(d); n += d.length; i++; }
  return Buffer.concat(bufs).subarray(0, size);
}
function genPattern(size, seed) {
  const unit = Buffer.from(`wsdissect-${seed} the quick brown fox jumps over the lazy dog 0123456789\n`);
  const reps = Math.floor(size / unit.length) + 1;
  return Buffer.concat(Array(reps).fill(unit)).subarray(0, size);
}
function genHextext(size, seed) {
  return Buffer.from(genRandom(Math.ceil(size / 2), seed).toString('hex')).subarray(0, size);
}
function payloadOf(act) {
  if ('text' in act) return Buffer.from(act.text, 'utf8');
  if ('hex' in act) return Buffer.from(act.hex, 'hex');
  if (act.gen) {
    const { kind, size } = act.gen; const seed = act.gen.seed || 0;
    return { random: genRandom, pattern: genPattern, hextext: genHextext }[kind](size, seed);
  }
  return Buffer.alloc(0);
}
function closePayload(code, reason) {
  if (code === null || code === undefined) return Buffer.alloc(0);
  const b = Buffer.alloc(2); b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason || '', 'utf8')]);
}
function toBuf(d) {
  if (d === undefined || d === null) return Buffer.alloc(0);
  if (typeof d === 'string') return Buffer.from(d, 'utf8');
  if (typeof d === 'number') return Buffer.from(String(d));
  if (Buffer.isBuffer(d)) return Buffer.from(d);
  if (d instanceof ArrayBuffer) return Buffer.from(new Uint8Array(d));
  if (ArrayBuffer.isView(d)) return Buffer.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  throw new Error('unsupported payload type');
}

function record(c, o) {
  const payload = o.payload;
  const r = {
    peer: ME, view: o.view, impl: IMPL_NAME, conn: c.conn,
    client_port: c.cport, server_port: c.sport,
    direction: o.direction, index: o.index === undefined ? null : o.index,
    opcode: o.opcode, length: payload.length, sha256: sha256(payload).toString('hex'),
    fragments: o.fragments === undefined ? null : o.fragments,
    compressed: o.compressed === undefined ? null : o.compressed,
    close_code: o.close_code === undefined ? null : o.close_code,
    close_reason: o.close_reason === undefined ? null : o.close_reason,
    auto: !!o.auto,
  };
  if (o.opcode === 'text' && payload.length <= 200) r.text = payload.toString('utf8');
  if (payload.length <= 200) r.hex = payload.toString('hex');
  return r;
}

// ---- patch the Sender so every frame ws writes is logged in order ----
const origSend = Sender.prototype.send;
const origPing = Sender.prototype.ping;
const origPong = Sender.prototype.pong;
const origClose = Sender.prototype.close;
Sender.prototype.send = function (data, options, cb) {
  const log = this._truthLog;
  if (log) {
    const first = this._firstFragment;
    const buf = toBuf(data);
    const ret = origSend.call(this, data, options, cb);
    if (first) {
      log.push({ opcode: options.binary ? 'binary' : 'text', data: [buf], frags: 1,
        compressed: !!this._compress, fin: !!options.fin, auto: !this._truthApp });
    } else {
      const m = log.openMsg; m.data.push(buf); m.frags += 1; m.fin = !!options.fin;
    }
    const cur = log[log.length - 1];
    // keep a pointer to the open (unfinished) data message; control frames may interleave
    if (first) log.openMsg = cur;
    return ret;
  }
  return origSend.call(this, data, options, cb);
};
for (const [name, orig] of [['ping', origPing], ['pong', origPong]]) {
  Sender.prototype[name] = function (data, mask, cb) {
    if (this._truthLog) {
      this._truthLog.push({ opcode: name, data: [toBuf(data)], frags: 1, compressed: false,
        fin: true, auto: !this._truthApp });
    }
    return orig.call(this, data, mask, cb);
  };
}
Sender.prototype.close = function (code, data, mask, cb) {
  if (this._truthLog) {
    const reason = data === undefined ? '' : toBuf(data).toString('utf8');
    this._truthLog.push({ opcode: 'close', data: [closePayload(code, reason)], frags: 1,
      compressed: false, fin: true, auto: !this._truthApp,
      close_code: code === undefined ? null : code, close_reason: code === undefined ? null : reason });
  }
  return origClose.call(this, code, data, mask, cb);
};

// ---- per-connection adapter ----
class Conn {
  constructor(ws, conn) {
    this.ws = ws; this.conn = conn;
    const s = ws._socket;
    if (ME === 'client') { this.cport = s.localPort; this.sport = s.remotePort; } else { this.cport = s.remotePort; this.sport = s.localPort; }
    if (TLS) tlsInfo(s, conn, this.cport, this.sport);
    this.log = []; ws._sender._truthLog = this.log;
    this.recvd = []; this.queue = []; this.waiters = [];
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        const nocode = code === 1005 || code === 1006;
        if (code !== 1006) {
          this.recvd.push(record(this, { view: 'received', direction: RECV_DIR, opcode: 'close',
            payload: closePayload(nocode ? null : code, reason.toString('utf8')),
            close_code: nocode ? null : code, close_reason: nocode ? null : reason.toString('utf8') }));
        }
        this.isClosed = true;
        for (const w of this.waiters.splice(0)) w.reject(new Error('closed'));
        resolve(code);
      });
    });
    ws.on('message', (data, isBinary) => {
      const buf = toBuf(data);
      const op = isBinary ? 'binary' : 'text';
      this.recvd.push(record(this, { view: 'received', direction: RECV_DIR, opcode: op, payload: buf }));
      const w = this.waiters.shift();
      if (w) w.resolve([op, buf]); else this.queue.push([op, buf]);
    });
    ws.on('ping', (d) => this.recvd.push(record(this, { view: 'received', direction: RECV_DIR, opcode: 'ping', payload: toBuf(d) })));
    ws.on('pong', (d) => this.recvd.push(record(this, { view: 'received', direction: RECV_DIR, opcode: 'pong', payload: toBuf(d) })));
    ws.on('error', (e) => console.error(`${conn}: ws error ${e}`));
  }
  app(fn) { const s = this.ws._sender; s._truthApp = true; try { return fn(); } finally { s._truthApp = false; } }
  recvData() {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.isClosed) return Promise.reject(new Error('closed'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }
  send(act) {
    const op = act.op; const payload = payloadOf(act);
    const opts = {};
    if ('compress' in act) opts.compress = act.compress;
    if (op === 'text' || op === 'binary') {
      const binary = op === 'binary';
      if (act.frags) {
        let pos = 0;
        const total = act.frags.reduce((a, b) => a + b, 0);
        if (total !== payload.length) throw new Error('frags do not sum to payload length');
        act.frags.forEach((n, i) => {
          const chunk = payload.subarray(pos, pos + n); pos += n;
          this.app(() => this.ws.send(chunk, { ...opts, binary, fin: i === act.frags.length - 1 }));
        });
      } else {
        // strings for text so ws sees exactly what a normal app would send
        this.app(() => this.ws.send(binary ? payload : payload.toString('utf8'), { ...opts, binary }));
      }
      return Promise.resolve();
    }
    if (op === 'ping') { this.app(() => this.ws.ping(payload)); return Promise.resolve(); }
    if (op === 'pong') { this.app(() => this.ws.pong(payload)); return Promise.resolve(); }
    if (op === 'close') {
      if (act.code === null) this.app(() => this.ws.close());
      else this.app(() => this.ws.close(act.code === undefined ? 1000 : act.code, act.reason || ''));
      return this.closed;
    }
    throw new Error(`bad op ${op}`);
  }
  async waitClosed() {
    if (this.queue.length) throw new Error('unexpected data message while waiting for close');
    await this.closed;
  }
  finish() {
    const out = this.log.map((m, i) => record(this, {
      view: 'sent', direction: SENT_DIR, index: i, opcode: m.opcode, payload: Buffer.concat(m.data),
      fragments: m.frags, compressed: m.compressed, auto: m.auto,
      close_code: m.close_code, close_reason: m.close_reason,
    }));
    fs.appendFileSync(OUT, [...out, ...this.recvd].map((r) => JSON.stringify(r) + '\n').join(''));
  }
}

async function waitGate(idx) {
  if (!GATE) return;
  if (ROLE === 'client') fs.writeFileSync(`${GATE}.ready.${PAIR}.${idx}`, 'ready\n');
  while (!fs.existsSync(GATE)) await new Promise((r) => setTimeout(r, 50));
}
const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

async function runScript(c, script) {
  for (const act of script) {
    if (act.from === ME) {
      if (act.sleep) await sleep(act.sleep);
      await c.send(act);
      if (act.op === 'close') return;
    } else if (act.op === 'text' || act.op === 'binary') {
      const [op, data] = await c.recvData();
      const exp = payloadOf(act);
      if (op !== act.op || !data.equals(exp)) throw new Error(`${c.conn}: expected ${act.op} ${exp.length}B got ${op} ${data.length}B`);
    } else if (act.op === 'close') {
      await c.waitClosed();
      return;
    }
  }
}

function wsOptions(side) {
  const o = (P[side] && P[side].options) || {};
  return { perMessageDeflate: o.perMessageDeflate === undefined ? false : o.perMessageDeflate, maxPayload: 64 * 1024 * 1024 };
}

async function main() {
  const conns = P.connections;
  const host = P.server.host || '127.0.0.1';
  const port = P.server.port;
  if (ROLE === 'server') {
    const so = P.server.options || {};
    let server = null;
    if (TLS) {
      const kind = TLS.cert || 'rsa';
      server = https.createServer({
        key: fs.readFileSync(path.join(CERTS, `${kind}.key`)), cert: fs.readFileSync(path.join(CERTS, `${kind}.crt`)),
        ...tlsOptions(TLS),
      });
      server.on('keylog', (line) => keylog(line));
      // TLS <= 1.2 session-ID resumption needs a server-side session store (node disables
      // OpenSSL's internal cache); tickets work without it
      const store = new Map();
      server.on('newSession', (id, data, cb) => { store.set(id.toString('hex'), data); cb(); });
      server.on('resumeSession', (id, cb) => cb(null, store.get(id.toString('hex')) || null));
    }
    const wss = new WebSocketServer({
      ...(server ? { server } : { host, port }), ...wsOptions('server'),
      handleProtocols: so.protocols ? (set) => so.protocols.find((p) => set.has(p)) || false : undefined,
    });
    if (server) server.listen(port, host);
    let remaining = conns.length;
    const allDone = new Promise((resolve) => {
      wss.on('connection', async (ws, req) => {
        const idx = parseInt(req.url.split('/').pop(), 10);
        const c = new Conn(ws, `${PAIR}/${idx}`);
        try { await waitGate(idx); await runScript(c, SCRIPTS[conns[idx].script]); await c.closed; } catch (e) { console.error(`${c.conn}: ${e.stack}`); process.exitCode = 1; } finally {
          c.finish(); if (--remaining === 0) resolve();
        }
      });
    });
    await new Promise((r) => (server || wss).on('listening', r));
    console.log('listening');
    await allDone;
    wss.close();
    if (server) server.close();
  } else {
    const co = P.client.options || {};
    const hostpart = host.includes(':') ? `[${host}]` : host;
    const one = async (idx) => {
      let extra = {};
      if (TLS) {
        const o = { cert: TLS.cert || 'rsa', ...(P.client.tls || {}), ...(conns[idx].tls || {}) };
        extra = {
          ca: fs.readFileSync(path.join(CERTS, `${o.cert}.crt`)), servername: SNI, ...tlsOptions(o),
          createConnection: (opts) => {
            opts.path = undefined; // as ws' own tlsConnect: the URL path is not an IPC path
            const sock = tls.connect(opts);
            sock.on('keylog', (line) => keylog(line));
            sock.on('session', (sess) => { SESSIONS[idx] = sess; });
            return sock;
          },
        };
        if (o.resume_from !== undefined) {
          if (!SESSIONS[o.resume_from]) throw new Error(`no session from connection ${o.resume_from}`);
          extra.session = SESSIONS[o.resume_from];
        }
      }
      const scheme = TLS ? 'wss' : 'ws';
      const ws = new WebSocket(`${scheme}://${hostpart}:${port}/${PAIR}/${idx}`, co.protocols || [], { ...wsOptions('client'), ...extra });
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
      const c = new Conn(ws, `${PAIR}/${idx}`);
      try { await waitGate(idx); await runScript(c, SCRIPTS[conns[idx].script]); await c.closed; } finally { c.finish(); }
    };
    if (P.concurrent === false) {
      for (let i = 0; i < conns.length; i++) { await one(i); await sleep(P.gap || 0.05); }
    } else {
      await Promise.all(conns.map((_, i) => one(i)));
    }
  }
}
main().then(() => process.exit(process.exitCode || 0)).catch((e) => { console.error(`node_peer ${ROLE} ${PAIR} FAILED: ${e.stack}`); process.exit(1); });
