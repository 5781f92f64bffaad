#!/usr/bin/env python3
"""WebSocket-over-HTTP/2 server (RFC 8441): hypercorn + a small ASGI app, driven by a scenario.

usage: hypercorn_peer.py server SCENARIO.json PAIR OUT.jsonl

hypercorn serves HTTP/2 (h2c with prior knowledge, or h2 over TLS with ALPN) and announces
SETTINGS_ENABLE_CONNECT_PROTOCOL=1; an extended CONNECT (`:protocol websocket`) becomes an
ASGI websocket scope, whose frames hypercorn handles with wsproto (permessage-deflate is
accepted when the client offers it; hypercorn has no option for it).

The ASGI app:
  * websocket `/PAIR/IDX`: accepts (choosing the first of server.options.protocols the client
    offered, if any) and follows the lock-step script of connection IDX (same runner rules as
    py_peer.py). Whole messages go through ASGI `websocket.send`; what ASGI cannot express
    (fragmented messages, pings, unsolicited pongs) is sent through hypercorn's own stream object
    (`WSStream._send_wsproto_event` with wsproto events, e.g. a TextMessage with
    message_finished=False per fragment). Received messages are taken from the ASGI receive
    queue; the truth of both directions comes from wsproto itself (peers/wsproto_truth.py).
  * websocket, any other path: refused before accept (ASGI `websocket.close`), which hypercorn
    answers with 403 on that stream.
  * GET /status.json: a small JSON document (200). GET /: the page of a browser scenario
    (server.options.page: the file PAIR.page.html written by the browser peer); POST /report:
    the browser's report, saved as PAIR.report.json. Anything else: 404.
Writes OUT (truth records with h2_stream_id), OUT-without-.jsonl + .h2.jsonl (per stream:
method, path, :protocol, status, as hypercorn saw/sent them), .tls.jsonl and .keys (wss).
"""

import asyncio
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import wsproto_truth  # noqa: E402  (installs the wsproto hooks)
from common import payload_of, split_frags  # noqa: E402

import hypercorn  # noqa: E402
import hypercorn.asyncio  # noqa: E402
import hypercorn.asyncio.tcp_server as tcp_server  # noqa: E402
import hypercorn.protocol.h2 as hyp_h2  # noqa: E402
import hypercorn.protocol.ws_stream as ws_stream  # noqa: E402
from hypercorn.config import Config  # noqa: E402
from importlib.metadata import version as pkg_version  # noqa: E402
from wsproto.events import BytesMessage, Ping, TextMessage  # noqa: E402

ROLE, SCEN, PAIR, OUT = sys.argv[1:5]
assert ROLE == "server"
SC, P = common.load(SCEN, PAIR)
SCRIPTS = SC["scripts"]
CONNS = P["connections"]
OPTS = P["server"].get("options", {})
TLS = P["server"].get("tls")
BASE = OUT[:-len(".jsonl")]
WDIR = os.path.dirname(OUT)
KEYLOG = BASE + ".keys"
TLSINFO = BASE + ".tls.jsonl"
H2LOG = BASE + ".h2.jsonl"
IMPL_NAME = f"hypercorn {pkg_version('hypercorn')} (wsproto {pkg_version('wsproto')}, h2 {pkg_version('h2')})"
OUTF = open(OUT, "a")
SNI_LOG = {}
if TLS is not None:
    import tlsutil  # noqa: E402


def jlog(path, obj):
    with open(path, "a") as f:
        f.write(json.dumps(obj, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- hooks into hypercorn
_orig_accept = ws_stream.WSStream._accept


async def _accept(self, message):
    await _orig_accept(self, message)
    self.scope["x_wsstream"] = self  # the ASGI app's scope is this very dict


ws_stream.WSStream._accept = _accept

_orig_create = hyp_h2.H2Protocol._create_stream


async def _create_stream(self, request):
    h = {k.decode(): v.decode() for k, v in request.headers if k.startswith(b":")}
    jlog(H2LOG, {"event": "request", "stream": request.stream_id, "client_port": self.client[1],
                 "method": h.get(":method"), "path": h.get(":path"), "protocol": h.get(":protocol"),
                 "headers": [[k.decode(), v.decode()] for k, v in request.headers]})
    await _orig_create(self, request)


hyp_h2.H2Protocol._create_stream = _create_stream

_orig_stream_send = hyp_h2.H2Protocol.stream_send


async def _stream_send(self, event):
    if isinstance(event, hyp_h2.Response):
        jlog(H2LOG, {"event": "response", "stream": event.stream_id, "client_port": self.client[1],
                     "status": event.status_code,
                     "headers": [[k.decode(), v.decode()] for k, v in event.headers]})
    await _orig_stream_send(self, event)


hyp_h2.H2Protocol.stream_send = _stream_send

_orig_run = tcp_server.TCPServer.run


async def _run(self):
    so = self.writer.get_extra_info("ssl_object")
    if so is not None:
        peer = self.writer.get_extra_info("peername")
        sock = self.writer.get_extra_info("sockname")
        jlog(TLSINFO, tlsutil.info(so, "server", None, peer[1], sock[1], SNI_LOG.get(id(so))))
    await _orig_run(self)


tcp_server.TCPServer.run = _run


class Cfg(Config):
    def create_ssl_context(self):
        return tlsutil.server_context({"alpn": ["h2", "http/1.1"], **TLS}, KEYLOG, SNI_LOG)


# ---------------------------------------------------------------- the app
class Closed(Exception):
    pass


class Adapter:
    def __init__(self, scope, receive, send, conn):
        self.scope, self.receive, self.send_asgi = scope, receive, send
        self.conn = conn
        self.stream = None
        self.log = None

    def started(self):
        self.stream = self.scope["x_wsstream"]
        self.log = wsproto_truth.attach(
            self.stream.connection, peer="server", impl=IMPL_NAME, conn=self.conn,
            cport=self.scope["client"][1], sport=self.scope["server"][1], stream_id=self.stream.stream_id,
            sent_dir="server_to_client", recv_dir="client_to_server")

    async def send(self, act):
        op = act["op"]
        payload = payload_of(act)
        if op in ("text", "binary"):
            if "frags" in act:
                chunks = split_frags(payload, act["frags"])
                for i, c in enumerate(chunks):
                    last = i == len(chunks) - 1
                    ev = TextMessage(data=c.decode("utf-8"), message_finished=last) if op == "text" else \
                        BytesMessage(data=c, message_finished=last)
                    await self.stream._send_wsproto_event(ev)
            elif op == "text":
                await self.send_asgi({"type": "websocket.send", "text": payload.decode("utf-8")})
            else:
                await self.send_asgi({"type": "websocket.send", "bytes": payload})
        elif op == "ping":
            await self.stream._send_wsproto_event(Ping(payload=payload))
        elif op == "pong":
            await self.stream._send_wsproto_event(wsproto_truth.AppPong(payload=payload))
        elif op == "close":
            await self.send_asgi({"type": "websocket.close", "code": act.get("code", 1000),
                                  "reason": act.get("reason", "")})
            await self.wait_closed()
        else:
            raise ValueError(op)

    async def recv_data(self):
        m = await self.receive()
        if m["type"] == "websocket.disconnect":
            raise Closed()
        if m.get("text") is not None:
            return "text", m["text"].encode("utf-8")
        return "binary", bytes(m["bytes"])

    async def wait_closed(self):
        while True:
            m = await self.receive()
            if m["type"] == "websocket.disconnect":
                return
            raise RuntimeError(f"{self.conn}: unexpected {m['type']} while waiting for close")


async def run_script(ad, script):
    for act in script:
        op = act["op"]
        if act["from"] == "server":
            await ad.send(act)
            if op == "close":
                return
        elif op in ("text", "binary"):
            got_op, data = await ad.recv_data()
            exp = payload_of(act)
            if got_op != op or data != exp:
                raise RuntimeError(f"{ad.conn}: expected {op} {len(exp)}B, got {got_op} {len(data)}B")
        elif op == "close":
            await ad.wait_closed()
            return
        # the client's pings/pongs and its other HTTP/2 requests are not awaited


DONE = asyncio.Event()
FINISHED = []
ERRORS = []


async def websocket(scope, receive, send):
    m = await receive()
    assert m["type"] == "websocket.connect"
    parts = scope["path"].strip("/").split("/")
    if len(parts) != 2 or parts[0] != PAIR or not parts[1].isdigit() or int(parts[1]) >= len(CONNS):
        await send({"type": "websocket.close", "code": 1000})  # refused before accept: hypercorn sends 403
        return
    idx = int(parts[1])
    conn = f"{PAIR}/{idx}"
    proto = next((p for p in OPTS.get("protocols", []) if p in scope["subprotocols"]), None)
    await send({"type": "websocket.accept", "subprotocol": proto})
    ad = Adapter(scope, receive, send, conn)
    try:
        ad.started()
        await run_script(ad, SCRIPTS[CONNS[idx]["script"]])
        script = SCRIPTS[CONNS[idx]["script"]]
        if OPTS.get("end_stream_after_close") and script[-1]["op"] == "close" and script[-1]["from"] == "client":
            # hypercorn 0.18.0 echoes a client's close frame but never ends its side of the stream;
            # Chromium only reports the close (onclose) once the stream is ended, so end it here
            await ad.stream.send(hyp_h2.EndData(stream_id=ad.stream.stream_id))
    except Exception as e:  # noqa: BLE001
        ERRORS.append(f"{conn}: {e!r}")
        raise
    finally:
        for r in ad.log.records() if ad.log else []:
            OUTF.write(json.dumps(r, ensure_ascii=False) + "\n")
        OUTF.flush()
        FINISHED.append(conn)
        if len(FINISHED) == len(CONNS):
            DONE.set()


async def http(scope, receive, send):
    body = b""
    while True:
        m = await receive()
        body += m.get("body", b"")
        if not m.get("more_body"):
            break
    path, method = scope["path"], scope["method"]
    status, ctype, out = 404, "text/plain", b"not found\n"
    if method == "GET" and path == "/status.json":
        status, ctype = 200, "application/json"
        out = json.dumps({"server": IMPL_NAME, "pair": PAIR, "websockets": len(CONNS),
                          "note": "an ordinary request on the same HTTP/2 connection"}).encode()
    elif method == "GET" and path == "/" and OPTS.get("page"):
        status, ctype = 200, "text/html; charset=utf-8"
        with open(os.path.join(WDIR, f"{PAIR}.page.html"), "rb") as f:
            out = f.read()
    elif method == "POST" and path == "/report" and OPTS.get("page"):
        with open(os.path.join(WDIR, f"{PAIR}.report.json"), "wb") as f:
            f.write(body)
        status, out = 204, b""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype.encode()), (b"content-length", str(len(out)).encode())]})
    await send({"type": "http.response.body", "body": out})


async def app(scope, receive, send):
    if scope["type"] == "websocket":
        await websocket(scope, receive, send)
    elif scope["type"] == "http":
        await http(scope, receive, send)
    elif scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif m["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


async def main():
    host, port = P["server"].get("host", "127.0.0.1"), P["server"]["port"]
    cfg = Cfg()
    # bind + listen here, so "listening" is true when printed, and hand the socket to hypercorn
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(16)
    sock.set_inheritable(True)
    cfg.bind = [f"fd://{sock.fileno()}"]
    cfg.graceful_timeout = 2
    cfg.accesslog = None
    if TLS is not None:
        kind = TLS.get("cert", "rsa")
        cfg.certfile = os.path.join(tlsutil.CERTS, f"{kind}.crt")
        cfg.keyfile = os.path.join(tlsutil.CERTS, f"{kind}.key")

    async def trigger():
        await DONE.wait()
        await asyncio.sleep(1.0)  # let the client end its streams and the connection first

    print("listening", flush=True)
    await hypercorn.asyncio.serve(app, cfg, shutdown_trigger=trigger)
    if ERRORS:
        raise RuntimeError("; ".join(ERRORS))


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(), timeout=float(os.environ.get("PEER_TIMEOUT", "60"))))
    except Exception as e:
        print(f"hypercorn_peer {PAIR} FAILED: {e!r}", file=sys.stderr)
        sys.exit(1)
