#!/usr/bin/env python3
"""WebSocket-over-HTTP/2 client (RFC 8441) on the `h2` library + `wsproto`, driven by a scenario.

usage: h2_peer.py client SCENARIO.json PAIR OUT.jsonl

One TCP connection (h2c with prior knowledge: the client starts with the connection preface
`PRI * HTTP/2.0...`; or TLS with ALPN h2 when the server has a "tls" object). After the server's
SETTINGS (which must carry SETTINGS_ENABLE_CONNECT_PROTOCOL=1), every connection IDX of the pair
is opened, in order, as an extended CONNECT on a new stream:
    :method CONNECT, :protocol websocket, :scheme http|https, :path /PAIR/IDX,
    :authority HOST:PORT, sec-websocket-version 13
    [sec-websocket-extensions <wsproto's permessage-deflate offer>]  (connection "ws.deflate")
    [sec-websocket-protocol a, b]                                    (connection "ws.protocols")
and, once all answered 200, the scripts of all connections run concurrently (their messages
interleave on the connection), each in lock-step with the server (py_peer.py rules). The
WebSocket frames are made and parsed by a wsproto Connection(ConnectionType.CLIENT) with the
extensions the server accepted, carried in the stream's DATA frames (flow control respected;
frames are split into DATA frames of at most 16384 bytes). After the closing handshake the
client ends its side of the stream (END_STREAM); at the end it sends GOAWAY and closes.

Extra script ops (client only, not WebSocket messages): {"op": "h2_get", "path"} sends a GET on
a new stream and reads the whole response; {"op": "h2_connect", "path"} sends an extended
CONNECT the server is expected to refuse, records the status, then resets the stream (CANCEL).

Writes OUT (truth records with h2_stream_id), BASE.h2.jsonl (per stream: method, path, protocol,
status, response headers, body length/SHA-256), BASE.tls.jsonl and BASE.keys (TLS).
"""

import asyncio
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import wsproto_truth  # noqa: E402  (installs the wsproto hooks)
from common import payload_of, split_frags  # noqa: E402

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.settings  # noqa: E402
from importlib.metadata import version as pkg_version  # noqa: E402
from wsproto.connection import Connection, ConnectionState, ConnectionType  # noqa: E402
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage  # noqa: E402
from wsproto.extensions import PerMessageDeflate  # noqa: E402
from wsproto.handshake import client_extensions_handshake  # noqa: E402
from wsproto.utilities import split_comma_header  # noqa: E402

ROLE, SCEN, PAIR, OUT = sys.argv[1:5]
assert ROLE == "client"
SC, P = common.load(SCEN, PAIR)
SCRIPTS = SC["scripts"]
CONNS = P["connections"]
TLS = P["server"].get("tls")
BASE = OUT[:-len(".jsonl")]
KEYLOG = BASE + ".keys"
IMPL_NAME = f"h2 {pkg_version('h2')} + wsproto {pkg_version('wsproto')}"
HOST, PORT = P["server"].get("host", "127.0.0.1"), P["server"]["port"]
CLOSED = object()
if TLS is not None:
    import tlsutil  # noqa: E402


def jlog(path, obj):
    with open(path, "a") as f:
        f.write(json.dumps(obj, ensure_ascii=False) + "\n")


class Stream:
    def __init__(self, sid):
        self.sid = sid
        self.headers = None
        self.got_headers = asyncio.Event()
        self.ended = asyncio.Event()
        self.reset = None
        self.body = bytearray()
        self.out = bytearray()
        self.end_pending = False
        self.end_sent = False
        self.ws = None
        self.log = None
        self.q = asyncio.Queue()
        self.ws_closed = asyncio.Event()
        self._partial = None


class Client:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.streams = {}
        self.settings = asyncio.Event()
        self.cport = writer.get_extra_info("sockname")[1]
        self.sport = writer.get_extra_info("peername")[1]

    def flush(self):
        d = self.h2.data_to_send()
        if d:
            self.writer.write(d)

    async def start(self):
        self.h2.initiate_connection()
        self.flush()
        self.reader_task = asyncio.get_running_loop().create_task(self.read_loop())
        await self.settings.wait()
        if not self.h2.remote_settings.enable_connect_protocol:
            raise RuntimeError("server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL=1")

    async def read_loop(self):
        while True:
            data = await self.reader.read(65536)
            if not data:
                break
            try:
                for ev in self.h2.receive_data(data):
                    self.on_event(ev)
            except Exception as e:  # noqa: BLE001  (would otherwise die silently in this task)
                import traceback
                traceback.print_exc()
                self.failed = e
                for st in self.streams.values():
                    st.q.put_nowait(CLOSED)
                    st.ws_closed.set()
                    st.got_headers.set()
                    st.ended.set()
                break
            self.flush()
        for st in self.streams.values():
            st.got_headers.set()
            st.ended.set()
            if st.ws is not None and not st.ws_closed.is_set():
                st.q.put_nowait(CLOSED)
                st.ws_closed.set()

    def on_event(self, ev):
        st = self.streams.get(getattr(ev, "stream_id", None))
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            self.settings.set()
            self.pump_all()
        elif isinstance(ev, h2.events.ResponseReceived):
            st.headers = [(k.decode(), v.decode()) for k, v in ev.headers]
            st.got_headers.set()
        elif isinstance(ev, h2.events.DataReceived):
            self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            if st.ws is not None:
                if st.ws.state == ConnectionState.CLOSED:
                    if ev.data:  # (the server's END_STREAM after its close frame comes as an empty DATA)
                        raise RuntimeError(f"stream {st.sid}: {len(ev.data)} bytes after the closing handshake")
                    return
                st.ws.receive_data(ev.data)
                self.ws_events(st)
            else:
                st.body += ev.data
        elif isinstance(ev, h2.events.StreamEnded):
            st.ended.set()
        elif isinstance(ev, h2.events.StreamReset):
            st.reset = int(ev.error_code)
            st.got_headers.set()
            st.ended.set()
            if st.ws is not None and not st.ws_closed.is_set():
                st.q.put_nowait(CLOSED)
                st.ws_closed.set()
        elif isinstance(ev, h2.events.WindowUpdated):
            self.pump_all()

    def ws_events(self, st):
        for ev in st.ws.events():
            if isinstance(ev, Message):
                data = ev.data.encode("utf-8") if isinstance(ev, TextMessage) else bytes(ev.data)
                if st._partial is None:
                    st._partial = ["text" if isinstance(ev, TextMessage) else "binary", bytearray()]
                st._partial[1] += data
                if ev.message_finished:
                    st.q.put_nowait((st._partial[0], bytes(st._partial[1])))
                    st._partial = None
            elif isinstance(ev, Ping):
                self.ws_send(st, ev.response())  # automatic pong (auto: true in the truth)
            elif isinstance(ev, CloseConnection):
                # closing handshake: the close echo (auto) goes out with END_STREAM; if we sent the
                # first close frame, that frame had END_STREAM already
                st.end_pending = True
                if st.ws.state == ConnectionState.REMOTE_CLOSING:
                    self.ws_send(st, ev.response())
                self.pump(st)
                st.q.put_nowait(CLOSED)
                st.ws_closed.set()

    def ws_send(self, st, event):
        st.out += st.ws.send(event)
        self.pump(st)

    def pump(self, st):
        while st.out:
            n = min(self.h2.local_flow_control_window(st.sid), self.h2.max_outbound_frame_size)
            if n <= 0:
                break
            chunk = bytes(st.out[:n])
            del st.out[:n]
            # the DATA frame that carries our close frame (the last WebSocket bytes) has END_STREAM
            last = not st.out and st.end_pending and st.reset is None
            self.h2.send_data(st.sid, chunk, end_stream=last)
            st.end_sent |= last
        if not st.out and st.end_pending and not st.end_sent and st.reset is None:
            st.end_sent = True
            self.h2.end_stream(st.sid)
        self.flush()

    def pump_all(self):
        for st in self.streams.values():
            if st.out:
                self.pump(st)

    async def request(self, headers, end_stream):
        sid = self.h2.get_next_available_stream_id()
        st = Stream(sid)
        self.streams[sid] = st
        self.h2.send_headers(sid, [(k.encode(), v.encode()) for k, v in headers], end_stream=end_stream)
        self.flush()
        await self.writer.drain()
        await st.got_headers.wait()
        return st

    def authority(self):
        return f"{tlsutil.SNI if TLS is not None else HOST}:{PORT}"

    def connect_headers(self, path, offer=None, protocols=None):
        h = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https" if TLS is not None else "http"),
             (":path", path), (":authority", self.authority()), ("sec-websocket-version", "13")]
        if offer:
            h.append(("sec-websocket-extensions", offer))
        if protocols:
            h.append(("sec-websocket-protocol", ", ".join(protocols)))
        return h

    def log_stream(self, st, method, path, protocol, request_headers, **extra):
        status = dict(st.headers or []).get(":status")
        jlog(BASE + ".h2.jsonl", {"stream": st.sid, "client_port": self.cport, "method": method, "path": path,
                                  "protocol": protocol, "status": int(status) if status else None,
                                  "reset": st.reset, "request_headers": request_headers,
                                  "response_headers": st.headers, **extra})


class Adapter:
    def __init__(self, cl, st, conn):
        self.cl, self.st, self.conn = cl, st, conn

    async def send(self, act):
        op = act["op"]
        payload = payload_of(act)
        if op in ("text", "binary"):
            chunks = split_frags(payload, act["frags"]) if "frags" in act else [payload]
            for i, c in enumerate(chunks):
                last = i == len(chunks) - 1
                ev = TextMessage(data=c.decode("utf-8"), message_finished=last) if op == "text" else \
                    BytesMessage(data=c, message_finished=last)
                self.cl.ws_send(self.st, ev)
        elif op == "ping":
            self.cl.ws_send(self.st, Ping(payload=payload))
        elif op == "pong":
            self.cl.ws_send(self.st, wsproto_truth.AppPong(payload=payload))
        elif op == "close":
            self.st.end_pending = True  # END_STREAM on the DATA frame with the close frame
            self.cl.ws_send(self.st, CloseConnection(code=act.get("code", 1000), reason=act.get("reason", "")))
            await self.wait_closed()
        elif op == "h2_get":
            await self.cl_get(act["path"])
        elif op == "h2_connect":
            await self.cl_refused_connect(act["path"])
        else:
            raise ValueError(op)
        await self.cl.writer.drain()

    async def cl_get(self, path):
        h = [(":method", "GET"), (":scheme", "https" if TLS is not None else "http"), (":path", path),
             (":authority", self.cl.authority()), ("accept", "application/json")]
        st = await self.cl.request(h, end_stream=True)
        await st.ended.wait()
        self.cl.log_stream(st, "GET", path, None, h, body_length=len(st.body),
                           body_sha256=hashlib.sha256(st.body).hexdigest(),
                           body=st.body.decode("utf-8", "replace") if len(st.body) <= 500 else None)

    async def cl_refused_connect(self, path):
        h = self.cl.connect_headers(path)
        st = await self.cl.request(h, end_stream=False)
        status = dict(st.headers or []).get(":status")
        if status == "200":
            raise RuntimeError(f"extended CONNECT to {path} was accepted, expected a refusal")
        await asyncio.wait_for(st.ended.wait(), 10)
        if st.reset is None and not st.end_sent:
            # the server answered and ended its side; we drop our side with RST_STREAM(CANCEL) (an
            # empty DATA frame with END_STREAM on a stream hypercorn has already forgotten makes
            # hypercorn 0.18.0 fail the whole connection: KeyError in H2Protocol._handle_events)
            st.end_sent = True
            self.cl.h2.reset_stream(st.sid, error_code=8)
            self.cl.flush()
        self.cl.log_stream(st, "CONNECT", path, "websocket", h, body_length=len(st.body))

    async def recv_data(self):
        m = await self.st.q.get()
        if m is CLOSED:
            raise RuntimeError(f"{self.conn}: closed while waiting for a message")
        return m

    async def wait_closed(self):
        while True:
            m = await self.st.q.get()
            if m is CLOSED:
                return
            raise RuntimeError(f"{self.conn}: unexpected {m[0]} message while waiting for close")


async def run_script(ad, script):
    for act in script:
        op = act["op"]
        if act["from"] == "client":
            if act.get("sleep"):
                await asyncio.sleep(act["sleep"])
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


async def main():
    if TLS is not None:
        o = {"cert": TLS.get("cert", "rsa"), "alpn": ["h2"], **P["client"].get("tls", {})}
        ctx = tlsutil.client_context(o, KEYLOG)
        reader, writer = await asyncio.open_connection(HOST, PORT, ssl=ctx, server_hostname=tlsutil.SNI)
        so = writer.get_extra_info("ssl_object")
        if so.selected_alpn_protocol() != "h2":
            raise RuntimeError(f"ALPN: {so.selected_alpn_protocol()!r}")
    else:
        reader, writer = await asyncio.open_connection(HOST, PORT)
    cl = Client(reader, writer)
    if TLS is not None:
        with open(BASE + ".tls.jsonl", "a") as f:
            f.write(json.dumps(tlsutil.info(so, "client", None, cl.cport, cl.sport, tlsutil.SNI)) + "\n")
    await cl.start()
    adapters = []
    for idx, cn in enumerate(CONNS):
        wso = cn.get("ws", {})
        ext = None
        offer = None
        if wso.get("deflate") is not None:
            ext = PerMessageDeflate(**wso["deflate"])
            offer = f"{ext.name}; {ext.offer()}"
        path = f"/{PAIR}/{idx}"
        h = cl.connect_headers(path, offer, wso.get("protocols"))
        st = await cl.request(h, end_stream=False)
        rh = dict(st.headers or [])
        if rh.get(":status") != "200":
            raise RuntimeError(f"{path}: extended CONNECT answered {st.headers} reset={st.reset}")
        accepted = split_comma_header(rh["sec-websocket-extensions"].encode()) \
            if "sec-websocket-extensions" in rh else []
        exts = client_extensions_handshake(accepted, [ext] if ext else [])
        st.ws = Connection(ConnectionType.CLIENT, extensions=exts)
        st.log = wsproto_truth.attach(st.ws, peer="client", impl=IMPL_NAME, conn=f"{PAIR}/{idx}", cport=cl.cport,
                                      sport=cl.sport, stream_id=st.sid, sent_dir="client_to_server",
                                      recv_dir="server_to_client")
        cl.log_stream(st, "CONNECT", path, "websocket", h, extensions=rh.get("sec-websocket-extensions"),
                      subprotocol=rh.get("sec-websocket-protocol"), wsproto_extensions=[repr(e) for e in exts])
        adapters.append(Adapter(cl, st, f"{PAIR}/{idx}"))
        # data already received on the stream before st.ws existed would be in st.body
        if st.body:
            raise RuntimeError("WebSocket data before the client was ready")
    errors = []

    async def one(idx, ad):
        try:
            await run_script(ad, SCRIPTS[CONNS[idx]["script"]])
        except Exception as e:  # noqa: BLE001
            errors.append(f"{ad.conn}: {e!r}")
        finally:
            with open(OUT, "a") as f:
                for r in ad.st.log.records():
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")

    await asyncio.gather(*(one(i, ad) for i, ad in enumerate(adapters)))
    if errors:
        raise RuntimeError("; ".join(errors))
    for ad in adapters:  # every stream ended by us (END_STREAM) and all data out
        if ad.st.out or not ad.st.end_sent:
            raise RuntimeError(f"{ad.conn}: stream {ad.st.sid} not finished ({len(ad.st.out)} bytes queued)")
    await asyncio.sleep(0.2)
    cl.h2.close_connection()
    cl.flush()
    await writer.drain()
    writer.close()
    try:
        await writer.wait_closed()
    except Exception:  # noqa: BLE001
        pass


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(), timeout=float(os.environ.get("PEER_TIMEOUT", "60"))))
    except Exception as e:
        print(f"h2_peer {PAIR} FAILED: {e!r}", file=sys.stderr)
        sys.exit(1)
