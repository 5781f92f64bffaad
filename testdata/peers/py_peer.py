#!/usr/bin/env python3
"""Python WebSocket peer (client or server) driven by a scenario JSON file.

usage: py_peer.py {client|server} {python-websockets|aiohttp} SCENARIO.json PAIR OUT.jsonl [--gate FILE]

Implements the lock-step script runner described in testdata/README.md and
writes one truth record per WebSocket message it SENT (view "sent", taken from
the library's own frame writer, so automatic pongs / close replies are
included in on-wire order) and per message it RECEIVED (view "received").
"""

import asyncio
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import OPNAMES, payload_of, split_frags, record, close_payload  # noqa: E402

ROLE, IMPL, SCEN, PAIR, OUT = sys.argv[1:6]
GATE = None
if "--gate" in sys.argv:
    GATE = sys.argv[sys.argv.index("--gate") + 1]
SC, P = common.load(SCEN, PAIR)
SCRIPTS = SC["scripts"]
ME = "client" if ROLE == "client" else "server"
OUTF = open(OUT, "a")
# wss:// when the scenario gives the server a "tls" object (see tlsutil.py)
TLS = P["server"].get("tls")
KEYLOG = OUT[:-len(".jsonl")] + ".keys" if OUT.endswith(".jsonl") else OUT + ".keys"
TLSINFO = OUT[:-len(".jsonl")] + ".tls.jsonl" if OUT.endswith(".jsonl") else OUT + ".tls.jsonl"
SNI_LOG = {}
if TLS is not None:
    import tlsutil  # noqa: E402


def emit_tls(info):
    with open(TLSINFO, "a") as f:
        f.write(json.dumps(info) + "\n")


def emit(recs):
    for r in recs:
        OUTF.write(json.dumps(r, ensure_ascii=False) + "\n")
    OUTF.flush()


class Closed(Exception):
    pass


async def wait_gate(idx):
    if not GATE:
        return
    if ROLE == "client":
        with open(f"{GATE}.ready.{PAIR}.{idx}", "w") as f:
            f.write("ready\n")
    while not os.path.exists(GATE):
        await asyncio.sleep(0.05)


def sent_dir():
    return "client_to_server" if ME == "client" else "server_to_client"


def recv_dir():
    return "server_to_client" if ME == "client" else "client_to_server"


# --------------------------------------------------------------------------
# python-websockets
# --------------------------------------------------------------------------
if IMPL == "python-websockets":
    import websockets
    import websockets.protocol as wproto
    from websockets.asyncio.client import connect as ws_connect
    from websockets.asyncio.server import serve as ws_serve
    from websockets.exceptions import ConnectionClosed

    IMPL_NAME = f"python-websockets {websockets.__version__}"

    _orig_send_frame = wproto.Protocol.send_frame

    def _send_frame(self, frame):
        _orig_send_frame(self, frame)
        log = getattr(self, "_truth_frames", None)
        if log is not None:
            rsv1 = bool(self.writes[-1][0] & 0x40) if self.writes else None
            log.append((int(frame.opcode), frame.fin, bytes(frame.data), rsv1,
                        not getattr(self, "_truth_app", False)))

    wproto.Protocol.send_frame = _send_frame

    class WsAdapter:
        def __init__(self, ws, conn):
            self.ws = ws
            self.conn = conn
            self.recvd = []
            self.pings = []
            ws.protocol._truth_frames = []
            if ME == "client":
                self.cport, self.sport = ws.local_address[1], ws.remote_address[1]
            else:
                self.cport, self.sport = ws.remote_address[1], ws.local_address[1]
            self.sslobj = ws.transport.get_extra_info("ssl_object")
            if self.sslobj is not None:
                sni = SNI_LOG.get(id(self.sslobj)) if ME == "server" else self.sslobj.server_hostname
                emit_tls(tlsutil.info(self.sslobj, ME, conn, self.cport, self.sport, sni))

        def key_update(self, requested):
            tlsutil.key_update(self.sslobj, requested)

        def rec(self, **kw):
            return record(peer=ME, impl=IMPL_NAME, cport=self.cport, sport=self.sport,
                          conn=self.conn, **kw)

        async def app(self, coro_fn):
            self.ws.protocol._truth_app = True
            try:
                r = coro_fn()
                # frames are queued synchronously before the first await completes
                return await r
            finally:
                self.ws.protocol._truth_app = False

        async def send(self, act):
            op = act["op"]
            payload = payload_of(act)
            if op in ("text", "binary"):
                if "frags" in act:
                    chunks = split_frags(payload, act["frags"])
                    if op == "text":
                        chunks = [c.decode("utf-8") for c in chunks]
                    await self.app(lambda: self.ws.send(chunks))
                else:
                    data = payload.decode("utf-8") if op == "text" else payload
                    await self.app(lambda: self.ws.send(data))
            elif op == "ping":
                waiter = await self.app(lambda: self.ws.ping(payload))

                def done(fut, payload=payload):
                    if not fut.cancelled() and fut.exception() is None:
                        self.recvd.append(self.rec(direction=recv_dir(), view="received", index=None,
                                                   opcode="pong", payload=payload))
                waiter.add_done_callback(done)
            elif op == "pong":
                await self.app(lambda: self.ws.pong(payload))
            elif op == "close":
                await self.app(lambda: self.ws.close(act.get("code", 1000), act.get("reason", "")))
                await self.ws.wait_closed()
            else:
                raise ValueError(op)

        async def recv_data(self):
            try:
                m = await self.ws.recv()
            except ConnectionClosed:
                raise Closed()
            if isinstance(m, str):
                op, data = "text", m.encode("utf-8")
            else:
                op, data = "binary", bytes(m)
            self.recvd.append(self.rec(direction=recv_dir(), view="received", index=None,
                                       opcode=op, payload=data))
            return op, data

        async def wait_closed(self):
            try:
                while True:
                    m = await self.ws.recv()
                    raise RuntimeError(f"unexpected message while waiting for close: {m!r:.80}")
            except ConnectionClosed:
                pass
            await self.ws.wait_closed()

        def finish(self):
            frames = self.ws.protocol._truth_frames
            msgs = []
            cur = None
            for opcode, fin, data, rsv1, auto in frames:
                if opcode in (1, 2):
                    cur = {"opcode": OPNAMES[opcode], "data": bytearray(data), "frags": 1,
                           "compressed": rsv1, "auto": auto}
                    if fin:
                        msgs.append(cur)
                        cur = None
                elif opcode == 0:
                    cur["data"] += data
                    cur["frags"] += 1
                    if fin:
                        msgs.append(cur)
                        cur = None
                else:
                    # control frames may be interleaved inside a fragmented message;
                    # they are complete messages of their own, in wire order.
                    msgs.append({"opcode": OPNAMES[opcode], "data": bytearray(data), "frags": 1,
                                 "compressed": False, "auto": auto})
            out = []
            for i, m in enumerate(msgs):
                kw = {}
                if m["opcode"] == "close":
                    d = bytes(m["data"])
                    if len(d) >= 2:
                        kw = {"close_code": int.from_bytes(d[:2], "big"),
                              "close_reason": d[2:].decode("utf-8")}
                out.append(self.rec(direction=sent_dir(), view="sent", index=i, opcode=m["opcode"],
                                    payload=bytes(m["data"]), fragments=m["frags"],
                                    compressed=m["compressed"], auto=m["auto"], **kw))
            cr = self.ws.protocol.close_rcvd
            if cr is not None:
                code = int(cr.code) if cr.code != 1005 else None
                self.recvd.append(self.rec(direction=recv_dir(), view="received", index=None,
                                           opcode="close",
                                           payload=close_payload(code, cr.reason),
                                           close_code=code,
                                           close_reason=cr.reason if code is not None else None))
            emit(out + self.recvd)

    def ws_kwargs(side):
        o = P[side].get("options", {})
        kw = dict(max_size=None, ping_interval=None, close_timeout=10,
                  compression=o.get("compression", "deflate"))
        if o.get("protocols"):
            kw["subprotocols"] = o["protocols"]
        return kw

# --------------------------------------------------------------------------
# aiohttp
# --------------------------------------------------------------------------
elif IMPL == "aiohttp":
    import aiohttp
    from aiohttp import web, WSMsgType
    from aiohttp._websocket.writer import WebSocketWriter

    IMPL_NAME = f"aiohttp {aiohttp.__version__}"

    _orig_wsend = WebSocketWriter.send_frame

    async def _wsend(self, message, opcode, compress=None):
        log = getattr(self, "_truth_log", None)
        if log is not None:
            op = int(opcode)
            log.append((op, bytes(message), bool(compress or self.compress) and op < 8))
        return await _orig_wsend(self, message, opcode, compress)

    WebSocketWriter.send_frame = _wsend

    class AioAdapter:
        def __init__(self, ws, conn, cport, sport):
            self.ws = ws
            self.conn = conn
            self.cport, self.sport = cport, sport
            self.recvd = []
            self.log = []
            self.auto = set()
            ws._writer._truth_log = self.log
            self.closed = False

        def rec(self, **kw):
            return record(peer=ME, impl=IMPL_NAME, cport=self.cport, sport=self.sport,
                          conn=self.conn, **kw)

        async def send(self, act):
            op = act["op"]
            payload = payload_of(act)
            if "frags" in act:
                raise ValueError("aiohttp cannot send fragmented messages")
            if op == "text":
                await self.ws.send_str(payload.decode("utf-8"))
            elif op == "binary":
                await self.ws.send_bytes(payload)
            elif op == "ping":
                await self.ws.ping(payload)
            elif op == "pong":
                await self.ws.pong(payload)
            elif op == "close":
                await self.ws.close(code=act.get("code", 1000),
                                    message=act.get("reason", "").encode("utf-8"))
                self.closed = True
                if self.ws.close_code is not None:
                    self.recvd.append(self.rec(direction=recv_dir(), view="received", index=None,
                                               opcode="close", payload=b"",
                                               close_code=self.ws.close_code, close_reason=None,
                                               ))
                    self.recvd[-1]["length"] = None
                    self.recvd[-1]["sha256"] = None
                    self.recvd[-1].pop("hex", None)
            else:
                raise ValueError(op)

        async def _receive(self):
            """Returns (op, bytes) for data; handles control frames itself."""
            while True:
                msg = await self.ws.receive()
                t = msg.type
                if t in (WSMsgType.TEXT, WSMsgType.BINARY):
                    if t == WSMsgType.TEXT:
                        op, data = "text", msg.data.encode("utf-8")
                    else:
                        op, data = "binary", bytes(msg.data)
                    self.recvd.append(self.rec(direction=recv_dir(), view="received", index=None,
                                               opcode=op, payload=data))
                    return op, data
                if t == WSMsgType.PING:
                    self.recvd.append(self.rec(direction=recv_dir(), view="received", index=None,
                                               opcode="ping", payload=bytes(msg.data)))
                    self.auto.add(len(self.log))
                    await self.ws.pong(msg.data)
                    continue
                if t == WSMsgType.PONG:
                    self.recvd.append(self.rec(direction=recv_dir(), view="received", index=None,
                                               opcode="pong", payload=bytes(msg.data)))
                    continue
                if t == WSMsgType.CLOSE:
                    code, reason = msg.data, msg.extra or ""
                    self.recvd.append(self.rec(direction=recv_dir(), view="received", index=None,
                                               opcode="close", payload=close_payload(code, reason),
                                               close_code=code, close_reason=reason))
                    self.auto.add(len(self.log))
                    # echo the close frame like the other libraries do
                    await self.ws.close(code=code, message=reason.encode("utf-8"))
                    self.closed = True
                    raise Closed()
                raise Closed(f"unexpected {t}")

        async def recv_data(self):
            return await self._receive()

        async def wait_closed(self):
            try:
                op, data = await self._receive()
                raise RuntimeError(f"unexpected {op} message while waiting for close")
            except Closed:
                pass

        def finish(self):
            out = []
            for i, (op, data, comp) in enumerate(self.log):
                kw = {}
                if op == 8 and len(data) >= 2:
                    kw = {"close_code": int.from_bytes(data[:2], "big"),
                          "close_reason": data[2:].decode("utf-8")}
                out.append(self.rec(direction=sent_dir(), view="sent", index=i, opcode=OPNAMES[op],
                                    payload=data, fragments=1, compressed=comp,
                                    auto=i in self.auto, **kw))
            emit(out + self.recvd)
else:
    raise SystemExit(f"unknown impl {IMPL}")


# --------------------------------------------------------------------------
# lock-step script runner
# --------------------------------------------------------------------------
async def run_script(ad, script):
    for act in script:
        op = act["op"]
        if act["from"] == ME:
            if act.get("sleep"):
                await asyncio.sleep(act["sleep"])
            if op == "keyupdate":  # TLS 1.3 KeyUpdate, goes out before the next data we send
                ad.key_update(act.get("requested", False))
                continue
            await ad.send(act)
            if op == "close":
                return
        else:
            if op in ("text", "binary"):
                got_op, data = await ad.recv_data()
                exp = payload_of(act)
                if got_op != op or data != exp:
                    raise RuntimeError(f"{ad.conn}: expected {op} {len(exp)}B, got {got_op} {len(data)}B")
            elif op == "close":
                await ad.wait_closed()
                return
            # pings/pongs from the other side are not awaited (see README)


async def conn_task(idx, make_adapter_cm):
    spec = P["connections"][idx]
    script = SCRIPTS[spec["script"]]
    await make_adapter_cm(idx, script)


async def main():
    conns = P["connections"]
    host = P["server"].get("host", "127.0.0.1")
    port = P["server"]["port"]
    hostpart = f"[{host}]" if ":" in host else host
    scheme = "wss" if TLS is not None else "ws"
    done = asyncio.Event()
    remaining = [len(conns)]

    def one_done():
        remaining[0] -= 1
        if remaining[0] == 0:
            done.set()

    if IMPL == "python-websockets":
        if ROLE == "server":
            async def handler(ws):
                idx = int(ws.request.path.rsplit("/", 1)[1])
                ad = WsAdapter(ws, f"{PAIR}/{idx}")
                try:
                    await wait_gate(idx)
                    await run_script(ad, SCRIPTS[conns[idx]["script"]])
                finally:
                    ad.finish()
                    one_done()
            extra = {}
            if TLS is not None:
                extra["ssl"] = tlsutil.server_context(TLS, KEYLOG, SNI_LOG)

            async def delay_response(connection, request):
                # "handshake_delay": {"response": s}: hold the 101 back s seconds after the
                # request arrived (the other connections keep talking meanwhile)
                idx = int(request.path.rsplit("/", 1)[1])
                d = conns[idx].get("handshake_delay", {}).get("response")
                if d:
                    await asyncio.sleep(d)
                return None
            async with ws_serve(handler, host, port, **ws_kwargs("server"), process_request=delay_response,
                                **extra):
                print("listening", flush=True)
                await done.wait()
        else:
            async def client(idx):
                extra = {}
                if TLS is not None:
                    o = {"cert": TLS.get("cert", "rsa"), **P["client"].get("tls", {}), **conns[idx].get("tls", {})}
                    extra = {"ssl": tlsutil.client_context(o, KEYLOG), "server_hostname": tlsutil.SNI}
                d = conns[idx].get("handshake_delay", {}).get("request")
                if d:
                    # "handshake_delay": {"request": s}: the TCP handshake now, the HTTP
                    # upgrade request s seconds later (on the same socket)
                    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
                    sock.setblocking(False)
                    await asyncio.get_running_loop().sock_connect(sock, (host, port))
                    await asyncio.sleep(d)
                    extra["sock"] = sock
                async with ws_connect(f"{scheme}://{hostpart}:{port}/{PAIR}/{idx}", **ws_kwargs("client"),
                                      **extra) as ws:
                    ad = WsAdapter(ws, f"{PAIR}/{idx}")
                    try:
                        await wait_gate(idx)
                        await run_script(ad, SCRIPTS[conns[idx]["script"]])
                    finally:
                        ad.finish()
            await run_clients(client, len(conns))
    else:  # aiohttp
        so = P["server"].get("options", {})
        co = P["client"].get("options", {})
        if ROLE == "server":
            async def handler(request):
                idx = int(request.path.rsplit("/", 1)[1])
                ws = web.WebSocketResponse(protocols=so.get("protocols", ()),
                                           compress=bool(so.get("compress", True)),
                                           autoping=False, autoclose=False, max_msg_size=0)
                await ws.prepare(request)
                peer = request.transport.get_extra_info("peername")
                sock = request.transport.get_extra_info("sockname")
                ad = AioAdapter(ws, f"{PAIR}/{idx}", peer[1], sock[1])
                try:
                    await wait_gate(idx)
                    await run_script(ad, SCRIPTS[conns[idx]["script"]])
                finally:
                    ad.finish()
                    one_done()
                return ws
            app = web.Application()
            app.router.add_get("/{tail:.*}", handler)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, host, port)
            await site.start()
            print("listening", flush=True)
            await done.wait()
            await asyncio.sleep(0.2)
            await runner.cleanup()
        else:
            async with aiohttp.ClientSession() as session:
                async def client(idx):
                    ws = await session.ws_connect(
                        f"ws://{hostpart}:{port}/{PAIR}/{idx}",
                        protocols=co.get("protocols", ()), compress=co.get("compress", 15),
                        autoping=False, autoclose=False, max_msg_size=0)
                    sock = ws.get_extra_info("sockname")
                    peer = ws.get_extra_info("peername")
                    ad = AioAdapter(ws, f"{PAIR}/{idx}", sock[1], peer[1])
                    try:
                        await wait_gate(idx)
                        await run_script(ad, SCRIPTS[conns[idx]["script"]])
                    finally:
                        ad.finish()
                        if not ws.closed:
                            await ws.close()
                await run_clients(client, len(conns))


async def run_clients(client, n):
    if P.get("concurrent", True):
        await asyncio.gather(*(client(i) for i in range(n)))
    else:
        for i in range(n):
            await client(i)
            await asyncio.sleep(P.get("gap", 0.05))


if __name__ == "__main__":
    t0 = time.time()
    try:
        asyncio.run(asyncio.wait_for(main(), timeout=float(os.environ.get("PEER_TIMEOUT", "60"))))
    except Exception as e:
        print(f"py_peer {ROLE} {IMPL} {PAIR} FAILED: {e!r}", file=sys.stderr)
        sys.exit(1)
