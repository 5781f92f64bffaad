"""Truth logging for peers built on `wsproto` (hypercorn's WebSocket layer and the h2 client).

Importing this module wraps, once and for every wsproto connection in the process:
  * FrameProtocol._serialize_frame: every frame the library serializes for the wire, in order,
    with its payload BEFORE compression, FIN and RSV1 (read from the serialized header byte);
  * Connection.send: marks the frames of library replies as `auto` (a Pong that the application
    did not ask for, i.e. the answer to a received Ping, and a CloseConnection sent while the
    connection is REMOTE_CLOSING, i.e. the close echo);
  * Connection.events: every event the library hands to its user (hypercorn or our client), so
    the receiver's view does not depend on what hypercorn passes on to the ASGI app.
A connection is only logged once `attach(conn, ...)` has been called on it.
"""

import os
import sys

from wsproto.connection import Connection, ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.frame_protocol import FrameProtocol

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import OPNAMES, record, close_payload  # noqa: E402

_orig_serialize = FrameProtocol._serialize_frame
_orig_send = Connection.send
_orig_events = Connection.events


def _serialize(self, opcode, payload=b"", fin=True):
    out = _orig_serialize(self, opcode, payload, fin)
    log = getattr(self, "_truth", None)
    if log is not None:
        log.frames.append((int(opcode), fin, bytes(payload), bool(out[0] & 0x40),
                           getattr(self, "_truth_auto", False)))
    return out


def _send(self, event):
    auto = (isinstance(event, Pong) and not isinstance(event, AppPong)) or \
        (isinstance(event, CloseConnection) and self.state == ConnectionState.REMOTE_CLOSING)
    self._proto._truth_auto = auto
    try:
        return _orig_send(self, event)
    finally:
        self._proto._truth_auto = False


def _events(self):
    log = getattr(self._proto, "_truth", None)
    for ev in _orig_events(self):
        if log is not None:
            log.on_event(ev)
        yield ev


FrameProtocol._serialize_frame = _serialize
Connection.send = _send
Connection.events = _events


class AppPong(Pong):
    """a Pong the application sends on its own (unsolicited): not `auto`"""


class TruthLog:
    def __init__(self, *, peer, impl, conn, cport, sport, stream_id, sent_dir, recv_dir):
        self.peer, self.impl, self.conn = peer, impl, conn
        self.cport, self.sport, self.stream_id = cport, sport, stream_id
        self.sent_dir, self.recv_dir = sent_dir, recv_dir
        self.frames = []
        self.recvd = []
        self._partial = None
        self.close_received = None

    def rec(self, **kw):
        r = record(peer=self.peer, impl=self.impl, cport=self.cport, sport=self.sport, conn=self.conn, **kw)
        r["h2_stream_id"] = self.stream_id
        return r

    def on_event(self, ev):
        if isinstance(ev, (TextMessage, BytesMessage)):
            data = ev.data.encode("utf-8") if isinstance(ev, TextMessage) else bytes(ev.data)
            if self._partial is None:
                self._partial = ["text" if isinstance(ev, TextMessage) else "binary", bytearray()]
            self._partial[1] += data
            if ev.message_finished:
                op, d = self._partial
                self._partial = None
                self.recvd.append(self.rec(direction=self.recv_dir, view="received", index=None,
                                           opcode=op, payload=bytes(d)))
        elif isinstance(ev, Ping):
            self.recvd.append(self.rec(direction=self.recv_dir, view="received", index=None,
                                       opcode="ping", payload=bytes(ev.payload)))
        elif isinstance(ev, Pong):
            self.recvd.append(self.rec(direction=self.recv_dir, view="received", index=None,
                                       opcode="pong", payload=bytes(ev.payload)))
        elif isinstance(ev, CloseConnection):
            code = ev.code if ev.code not in (1005, 1006) else None
            if ev.code == 1006:  # transport gone without a close frame: not a message
                return
            reason = ev.reason or ""
            self.close_received = (code, reason)
            self.recvd.append(self.rec(direction=self.recv_dir, view="received", index=None, opcode="close",
                                       payload=close_payload(code, reason), close_code=code,
                                       close_reason=reason if code is not None else None))

    def records(self):
        msgs, cur = [], None
        for opcode, fin, data, rsv1, auto in self.frames:
            if opcode in (1, 2):
                cur = {"opcode": OPNAMES[opcode], "data": bytearray(data), "frags": 1, "compressed": rsv1,
                       "auto": auto}
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
                msgs.append({"opcode": OPNAMES[opcode], "data": bytearray(data), "frags": 1,
                             "compressed": False, "auto": auto})
        out = []
        for i, m in enumerate(msgs):
            kw = {}
            if m["opcode"] == "close":
                d = bytes(m["data"])
                if len(d) >= 2:
                    kw = {"close_code": int.from_bytes(d[:2], "big"), "close_reason": d[2:].decode("utf-8")}
            out.append(self.rec(direction=self.sent_dir, view="sent", index=i, opcode=m["opcode"],
                                payload=bytes(m["data"]), fragments=m["frags"], compressed=m["compressed"],
                                auto=m["auto"], **kw))
        return out + self.recvd


def attach(wsconn, **kw):
    """start logging the wsproto Connection `conn`; returns its TruthLog"""
    log = TruthLog(**kw)
    wsconn._proto._truth = log
    return log
