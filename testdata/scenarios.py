#!/usr/bin/env python3
"""Writes testdata/scenarios/*.json: the scripted conversations both peers follow
plus how each one is captured.  Run by generate.sh; the JSON files are committed
too so the peers can be run by hand.

Script actions (executed in lock-step, see README):
  {"from": "c"|"s" (rewritten to client/server), "op": text|binary|ping|pong|close,
   payload: "text": str | "hex": str | "gen": {"kind": random|pattern|hextext, "size": N, "seed": S},
   "frags": [byte lengths] (fragmented send), "compress": bool (node only),
   "code": N|null, "reason": str (close), "sleep": seconds before sending}
  {"from": ..., "op": "keyupdate", "requested": bool}: TLS 1.3 KeyUpdate (Python peers only),
   sent by OpenSSL before that side's next record; not a WebSocket message, no truth record.
wss:// scenarios have "tls": true and a "tls" object on the server (see tls()); a connection
may be (script name, client TLS options) instead of a script name.
Rule: after a ping from A, A's next data message comes before B sends anything,
so the automatic pong's place in B's direction is deterministic.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "scenarios")

WHO = {"c": "client", "s": "server"}


def T(w, text, **kw):
    return {"from": WHO[w], "op": "text", "text": text, **kw}


def TG(w, size, kind="pattern", seed=0, **kw):
    return {"from": WHO[w], "op": "text", "gen": {"kind": kind, "size": size, "seed": seed}, **kw}


def B(w, size, kind="random", seed=0, **kw):
    return {"from": WHO[w], "op": "binary", "gen": {"kind": kind, "size": size, "seed": seed}, **kw}


def BH(w, hexs, **kw):
    return {"from": WHO[w], "op": "binary", "hex": hexs, **kw}


def FT(w, parts, **kw):
    """fragmented text message split at the given string parts (char boundaries)."""
    text = "".join(parts)
    return {"from": WHO[w], "op": "text", "text": text,
            "frags": [len(p.encode("utf-8")) for p in parts], **kw}


def PING(w, data, **kw):
    return {"from": WHO[w], "op": "ping", "text": data, **kw} if isinstance(data, str) else \
        {"from": WHO[w], "op": "ping", "hex": data.hex(), **kw}


def PONG(w, data):
    return {"from": WHO[w], "op": "pong", "text": data}


def CLOSE(w, code=1000, reason=""):
    return {"from": WHO[w], "op": "close", "code": code, "reason": reason}


EMOJI = "héllo wörld — 日本語のテキスト 🎉🚀 中文 한국어 Ελληνικά"
CJK_LONG = "縦書きと横書き、漢字仮名交じり文。" * 12 + "🙂" * 20  # > 200 bytes


def mix(seed, closer="c", code=1000, reason="bye", big=None, node=False, aio=False, node_srv=None, light=False):
    """A conversation touching most features.  aio=True avoids fragmentation
    (aiohttp cannot send fragmented messages)."""
    s = [
        T("c", f"hello from client {seed}"),
        T("s", f"hello from server {seed}"),
        T("c", ""),
        B("s", 0),
        T("c", EMOJI),
        T("s", CJK_LONG),
        B("c", 125, seed=seed),
        B("s", 126, seed=seed + 1),
        TG("c", 125, seed=seed),
        TG("s", 126, seed=seed),
        PING("c", f"ping-{seed} payload"),
        T("c", "after ping"),
        PING("s", bytes([0, 1, 2, 255]) + b"server-ping"),
        B("s", 300, seed=seed + 2),
        PING("c", ""),
        B("c", 65535, seed=seed + 3),
        B("s", 65536, seed=seed + 4),
        TG("c", 65536, kind="hextext", seed=seed + 5),
        TG("s", 65535, seed=seed + 6),
        PONG("c", "unsolicited pong"),
        TG("c", 20000, seed=seed + 7),
    ]
    if light:  # drop the 64 KiB messages (keeps multi-connection captures small)
        s = [a for a in s if a.get("gen", {}).get("size", 0) < 65535]
    if not aio:
        s += [
            FT("c", ["Hello, ", "fragmented ", "wörld 🎉"]),
            {**B("s", 30000, seed=seed + 8), "frags": [10000, 10000, 10000]},
            {**TG("c", 5000, seed=seed + 9), "frags": [1000, 0, 4000]},
            {**B("s", 3, seed=seed + 10), "frags": [1, 1, 1]},
        ]
    if node_srv is None:
        node_srv = node
    # node ws can split a UTF-8 character across fragments of a text message
    # (node=True: the client is node ws; node_srv=True: the server is node ws)
    if node:
        s.append({"from": "client", "op": "text", "hex": "f09f8e89" * 3, "frags": [1, 3, 2, 6]})
    if node_srv:
        s.append({"from": "server", "op": "text", "hex": "e697a5e69cace8aa9e", "frags": [2, 7]})
    if big:
        s += [B("c", big, seed=seed + 11), T("s", "got the big one")]
    s += [TG("s", 2000, kind="hextext", seed=seed + 12), CLOSE(closer, code, reason)]
    return s


def bulk(seed, n=14):
    """multi-KB traffic both ways (for the lossy run)."""
    s = []
    for i in range(n):
        s.append(B("c", 2000 + 1500 * i, seed=seed + i))
        s.append(TG("s", 3000 + 1000 * i, kind="hextext" if i % 2 else "pattern", seed=seed + 100 + i))
        if i % 5 == 2:
            s.append(PING("c", f"lossy ping {i}"))
    s.append(T("c", "done"))
    s.append(CLOSE("c", 1000, "lossy done"))
    return s


def tls_short(seed, closer="c", code=1000, reason="bye", big=65536):
    """a shorter conversation for captures with many TLS connections (every frame-length
    boundary is kept: 125/126 bytes, 16-bit and 64-bit lengths)."""
    return [
        T("c", f"hello over TLS {seed}"),
        T("s", f"TLS reply {seed} " + EMOJI),
        T("c", ""),
        B("s", 125, seed=seed),
        B("c", 126, seed=seed + 1),
        PING("c", f"tls ping {seed}"),
        TG("c", 3000, seed=seed + 2),
        PING("s", bytes([0, 1, 2, 255])),
        B("s", 4000, seed=seed + 3),
        FT("c", ["frag ", "mented ", "TLS ✓"]),
        B("c", big, seed=seed + 4),
        TG("s", 2000, kind="hextext", seed=seed + 5),
        CLOSE(closer, code, reason),
    ]


def keyupdates(seed):
    """TLS 1.3 KeyUpdate in both directions, requested and not, with traffic before/after."""
    KU = lambda w, req: {"from": WHO[w], "op": "keyupdate", "requested": req}  # noqa: E731
    s = [T("c", f"before any KeyUpdate {seed}"), T("s", "server: before any KeyUpdate")]
    for i in range(3):
        s += [KU("c", i != 1), T("c", f"client after KeyUpdate #{i} (update_requested={i != 1})"),
              B("s", 700 + i, seed=seed + i),
              KU("s", i == 2), T("s", f"server after KeyUpdate #{i} (update_requested={i == 2})"),
              B("c", 20000 + i, seed=seed + 10 + i)]
    s += [PING("c", "ping after key updates"), T("c", "last"), KU("s", False), TG("s", 3000, seed=seed),
          CLOSE("c", 1000, "key updates done")]
    return s


def browser(seed):
    """for a browser client: no client pings/pongs/fragments (the WebSocket API has none) and no
    server pings (the browser answers them without telling the page, so its truth would miss them)."""
    return [
        T("c", f"hello from the browser {seed}"),
        T("s", "hello browser " + EMOJI),
        T("c", EMOJI),
        B("s", 125, seed=seed),
        B("c", 126, seed=seed + 1),
        T("c", ""),
        FT("s", ["server ", "fragmented ", "✓"]),
        TG("c", 5000, seed=seed + 2),
        B("s", 65536, seed=seed + 3),
        B("c", 65536, seed=seed + 4),
        TG("s", 3000, kind="hextext", seed=seed + 5),
        CLOSE("c", 1000, "browser done"),
    ]


def late(seed):
    return [
        T("c", f"first message after the capture started {seed}", sleep=0.2),
        T("s", "reply " + EMOJI),
        B("c", 3000, seed=seed),
        TG("s", 4000, seed=seed),
        PING("c", "late ping"),
        T("c", "x"),
        CLOSE("s", 1001, "going away"),
    ]


def pyws(port, options=None, host="127.0.0.1"):
    return {"impl": "python-websockets", "host": host, "port": port, "options": options or {}}


def nodews(port, options=None, host="127.0.0.1"):
    return {"impl": "node-ws", "host": host, "port": port, "options": options or {}}


def pair(name, server, client_impl, scripts, client_options=None, concurrent=True, client_tls=None):
    """scripts: script names, or (script name, per-connection client TLS options) for wss://"""
    p = {"name": name, "server": server,
         "client": {"impl": client_impl, "options": client_options or {}},
         "connections": [{"script": s} if isinstance(s, str) else dict(s) if isinstance(s, dict)
                         else {"script": s[0], "tls": s[1]} for s in scripts],
         "concurrent": concurrent}
    if client_tls is not None:
        p["client"]["tls"] = client_tls
    return p


def tls(server, **o):
    """wss:// server: TLS options (peers/tlsutil.py for Python, node_peer.js for node):
    cert rsa|ecdsa, min_version/max_version TLSv1.2|TLSv1.3, ciphers (OpenSSL list, <= 1.2),
    ciphersuites (TLS 1.3), options [NO_ENCRYPT_THEN_MAC, NO_TICKET], alpn [..]; client side
    also resume_from (node: connection index whose session to offer)."""
    return {**server, "tls": o}


def hyper(port, options=None, host="127.0.0.1"):
    """WebSocket-over-HTTP/2 server: hypercorn + ASGI app (peers/hypercorn_peer.py)"""
    return {"impl": "hypercorn", "host": host, "port": port, "options": options or {}}


def h2ws(script, deflate=None, protocols=None):
    """one WebSocket (extended CONNECT) of the h2 client (peers/h2_peer.py): deflate = None (no
    offer) or the keyword arguments of wsproto's PerMessageDeflate (its offer is sent)"""
    ws = {}
    if deflate is not None:
        ws["deflate"] = deflate
    if protocols:
        ws["protocols"] = protocols
    return {"script": script, "ws": ws}


def h2_mix(seed, closer="c", code=1000, reason="bye", light=False, big=None, extra=()):
    """mix() for the wsproto peers: everything (wsproto sends no empty final continuation frame,
    so a fragmented message has exactly len(frags) frames); `extra` is inserted after action 6
    (e.g. the client's other HTTP/2 requests)."""
    s = mix(seed, closer=closer, code=code, reason=reason, light=light, big=big)
    return s[:6] + list(extra) + s[6:]


def rotated_bulk(seed):
    """a/0 of 27-rotated: ~2.8 MB both ways in three timed phases (sleep), so that a/1's
    delayed handshake (request ~1.0 s after its TCP handshake, 101 ~1.0 s later) has more
    than 1 MB of this connection's traffic between its SYN and its request and between
    its request and its 101: tcpdump -C 1 must start a new file inside both.  Large
    deflate messages (random: incompressible; hextext: about half), fragmented ones,
    pings, a close."""
    return [
        # phase 1: ~1.2 MB, from 0.1 s
        T("c", f"rotated set: hello from a/0 {seed}", sleep=0.1),
        T("s", f"rotated set: hello back {seed}"),
        B("c", 300000, seed=seed),
        TG("s", 400000, kind="hextext", seed=seed + 1),
        {**B("s", 240000, seed=seed + 2), "frags": [80000, 80000, 80000]},
        PING("c", f"a/0 ping {seed}"),
        T("c", "after the first ping"),
        {**TG("c", 300000, kind="hextext", seed=seed + 3), "frags": [100000, 100000, 100000]},
        B("c", 200000, seed=seed + 4),
        # phase 2: ~1.1 MB from ~1.3 s (a/1's request went out at ~1.0 s)
        B("s", 350000, seed=seed + 5, sleep=0.9),
        TG("c", 400000, kind="hextext", seed=seed + 6),
        B("c", 300000, seed=seed + 7),
        PING("s", bytes([0, 1, 2, 255]) + b"rotated"),
        B("s", 250000, seed=seed + 8),
        # phase 3: from ~2.3 s (a/1's 101 went out at ~2.0 s)
        TG("s", 300000, seed=seed + 9, sleep=0.8),
        B("c", 250000, seed=seed + 10),
        TG("s", 200000, kind="hextext", seed=seed + 11),
        PONG("c", "unsolicited pong"),
        FT("c", ["Hello, ", "rotated ", "wörld 🎉"]),
        {**B("s", 3, seed=seed + 12), "frags": [1, 1, 1]},
        T("c", EMOJI),
        CLOSE("c", 1000, "rotated a/0 done"),
    ]


def rotated_node(seed):
    """b/0 of 27-rotated (node ws, deflate with context takeover, threshold 0): ~0.6 MB spread
    over the same ~3 s, a fragmented compressed message, a UTF-8 character split across
    frames, a ping, the server closes."""
    return [
        T("c", f"node: hello {seed}"),
        T("s", "node: hello back " + EMOJI),
        B("c", 150000, seed=seed, sleep=0.2),
        TG("s", 200000, kind="hextext", seed=seed + 1, sleep=0.3),
        {**B("s", 120000, seed=seed + 2), "frags": [40000, 40000, 40000]},
        PING("c", f"node ping {seed}"),
        T("c", "node: after ping"),
        {"from": "client", "op": "text", "hex": "f09f8e89" * 3, "frags": [1, 3, 2, 6]},
        B("c", 100000, seed=seed + 3, sleep=0.6),
        TG("s", 100000, kind="hextext", seed=seed + 4, sleep=0.6),
        TG("c", 5000, seed=seed + 5, sleep=0.5),
        CLOSE("s", 1001, "node b/0 going away"),
    ]


def timed(seed):
    """28-rotated-time: a light conversation spread over ~4 s (tcpdump -G 1)."""
    s = mix(seed, closer="c", code=1000, reason="timed bye", light=True)
    for i in range(2, len(s), 4):
        s[i] = {**s[i], "sleep": 0.45}
    return s


DEFLATE_CTX = {"perMessageDeflate": {"threshold": 0}}
DEFLATE_NOCTX_SRV = {"perMessageDeflate": {
    "threshold": 64, "serverNoContextTakeover": True, "clientNoContextTakeover": True,
    "serverMaxWindowBits": 9, "clientMaxWindowBits": 10}}
DEFLATE_NOCTX_CLI = {"perMessageDeflate": {
    "threshold": 64, "serverNoContextTakeover": True, "clientNoContextTakeover": True,
    "serverMaxWindowBits": 9, "clientMaxWindowBits": 10}}
DEFLATE_DEFAULT_THRESHOLD = {"perMessageDeflate": True}


def node_deflate_script(seed):
    s = mix(seed, closer="s", code=4000, reason="custom close ✓", node=True)
    # per-message compress:false inside a deflate connection (rsv1 clear)
    s.insert(3, {**T("c", "this one is sent with compress:false"), "compress": False})
    s.insert(4, {**TG("s", 3000, seed=seed), "compress": False})
    return s


SCENARIOS = [
    {
        "name": "01-python-websockets-deflate",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo"},
        "description": "python-websockets client+server, default permessage-deflate (context takeover, "
                       "client_max_window_bits offer); text/binary/empty/non-ASCII, 125/126/65535/65536 B, "
                       "fragmented send (iterable), pings with payloads, unsolicited pong, close 1000.",
        "pairs": [pair("a", pyws(8001), "python-websockets", ["mix1"])],
        "scripts": {"mix1": mix(1, closer="c", code=1000, reason="normal closure")},
    },
    {
        "name": "02-node-ws-plain-2mb",
        "capture": {"format": "pcap-ns", "tool": "tcpdump", "iface": "lo"},
        "description": "node ws client+server without extensions; 2 MB random binary message; "
                       "fragmented (fin:false) incl. a text message whose UTF-8 character is split "
                       "across frames; empty close frame (no status code). Nanosecond pcap.",
        "pairs": [pair("a", nodews(8002), "node-ws", ["mixbig"])],
        "scripts": {"mixbig": mix(2, closer="c", node=True, big=2 * 1024 * 1024)[:-1] + [CLOSE("c", None)]},
    },
    {
        "name": "03-node-ws-deflate",
        "capture": {"format": "pcapng", "tool": "dumpcap", "iface": "lo"},
        "description": "node ws client+server with permessage-deflate, context takeover, threshold 0 (every "
                       "message compressed) plus two messages sent with compress:false; close 4000 with "
                       "non-ASCII reason from the server. pcapng via dumpcap.",
        "pairs": [pair("a", nodews(8003, DEFLATE_CTX), "node-ws", ["nd"], client_options=DEFLATE_CTX)],
        "scripts": {"nd": node_deflate_script(3)},
    },
    {
        "name": "04-node-ws-deflate-nocontext-sll2",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "any", "linktype": "LINUX_SLL2"},
        "description": "node ws with server_no_context_takeover + client_no_context_takeover, "
                       "server_max_window_bits=9, client_max_window_bits=10, threshold 64 (messages "
                       "under 64 bytes go uncompressed). Also node ws with default deflate settings "
                       "(threshold 1024 has no effect with context takeover). Captured on -i any "
                       "(Linux cooked v2).",
        "pairs": [
            pair("a", nodews(8004, DEFLATE_NOCTX_SRV), "node-ws", ["nc1", "nc2"], client_options=DEFLATE_NOCTX_CLI,
                 concurrent=False),
            pair("b", nodews(8014, DEFLATE_DEFAULT_THRESHOLD), "node-ws", ["dflt"],
                 client_options=DEFLATE_DEFAULT_THRESHOLD),
        ],
        "scripts": {"nc1": node_deflate_script(4), "nc2": mix(40, closer="c", code=1000, reason=""),
                    "dflt": mix(41, closer="s", code=1000, reason="server bye")},
    },
    {
        "name": "05-aiohttp-compress-subprotocol",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo"},
        "description": "aiohttp client+server, compress=15 and subprotocol negotiation (client offers "
                       "chat.v2, chat.v1; server picks chat.v2). aiohttp cannot send fragmented messages.",
        "pairs": [pair("a", {"impl": "aiohttp", "host": "127.0.0.1", "port": 8005,
                             "options": {"protocols": ["chat.v2"], "compress": True}},
                       "aiohttp", ["aio"], client_options={"protocols": ["chat.v2", "chat.v1"], "compress": 15})],
        "scripts": {"aio": mix(5, closer="c", code=1000, reason="aiohttp bye", aio=True)},
    },
    {
        "name": "06-cross-node-python",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo"},
        "description": "cross pairs: node ws client (deflate, threshold 0) -> python-websockets server "
                       "(deflate); python-websockets client -> node ws server (deflate, context takeover); "
                       "aiohttp client -> python-websockets server (deflate). Run concurrently.",
        "pairs": [
            pair("a", pyws(8006), "node-ws", ["x1"], client_options=DEFLATE_CTX),
            pair("b", nodews(8016, DEFLATE_CTX), "python-websockets", ["x2"]),
            pair("c", pyws(8026), "aiohttp", ["x3"], client_options={"compress": 15}),
        ],
        "scripts": {"x1": mix(6, closer="s", code=1011, reason="server error (simulated)", node=True, node_srv=False),
                    "x2": mix(7, closer="c", code=3000, reason="registered code", node_srv=True),
                    "x3": mix(8, closer="c", code=1000, reason="", aio=True)},
    },
    {
        "name": "07-ipv6",
        "capture": {"format": "pcapng", "tool": "dumpcap", "iface": "lo"},
        "description": "IPv6 loopback (::1): python-websockets client -> node ws server (plain) and "
                       "node ws client -> python-websockets server (deflate). pcapng via dumpcap.",
        "pairs": [
            pair("a", nodews(8007, host="::1"), "python-websockets", ["v1"],
                 client_options={"compression": None}),
            pair("b", pyws(8017, host="::1"), "node-ws", ["v2"], client_options=DEFLATE_CTX),
        ],
        "scripts": {"v1": mix(9, closer="s", code=1000, reason="v6 bye", node_srv=True),
                    "v2": mix(10, closer="c", code=1000, reason="v6 bye", node=True, node_srv=False)},
    },
    {
        "name": "08-concurrent",
        "capture": {"format": "pcap-ns", "tool": "tcpdump", "iface": "lo"},
        "description": "several concurrent connections in one capture: 4 python-websockets (deflate) "
                       "connections to one server and 3 node ws (plain) connections to another, all "
                       "interleaved. Nanosecond pcap.",
        "pairs": [
            pair("a", pyws(8008), "python-websockets", ["c1", "c2", "c3", "c4"]),
            pair("b", nodews(8018), "node-ws", ["c5", "c6", "c7"]),
        ],
        "scripts": {f"c{i}": mix(20 + i, closer="c" if i % 2 else "s", code=1000 + (i % 2),
                                 reason=f"conn {i} done", node=i >= 5, light=i not in (1, 5))
                    for i in range(1, 8)},
    },
    {
        "name": "09-snaplen300",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo", "snaplen": 300},
        "description": "snap length 300: every packet is truncated to 300 bytes, so most payloads are "
                       "incomplete. python-websockets (deflate) and node ws (plain).",
        "pairs": [
            pair("a", pyws(8009), "python-websockets", ["s1"]),
            pair("b", nodews(8019), "node-ws", ["s2"]),
        ],
        "scripts": {"s1": mix(30, closer="c", code=1000, reason="snap"),
                    "s2": mix(31, closer="c", code=1000, reason="snap", node=True)},
    },
    {
        "name": "10-late-start",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo", "late": True},
        "description": "capture started after the TCP and WebSocket handshakes completed (peers wait on a "
                       "gate file until tcpdump is listening). node ws plain, node ws deflate (context "
                       "takeover) and python-websockets deflate connections. Without the handshake the "
                       "deflate connections cannot be inflated.",
        "pairs": [
            pair("a", nodews(8010), "node-ws", ["l1"]),
            pair("b", nodews(8020, DEFLATE_CTX), "node-ws", ["l2"], client_options=DEFLATE_CTX),
            pair("c", pyws(8030), "python-websockets", ["l3"]),
        ],
        "scripts": {"l1": late(50), "l2": late(51), "l3": late(52)},
    },
    {
        "name": "11-lossy",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo", "lossy": True},
        # note: a DROP in OUTPUT is reported to the sending TCP (EPERM), which re-sends the segment
        # at once, so data segments are mostly delayed; dropped ACKs cause spurious retransmissions
        # (duplicate data in the capture, D-SACKs). 12-lossy-gaps has real gaps.
        "description": "iptables drops 4% of TCP packets on OUTPUT in the namespace, so the TCP stacks "
                       "retransmit: the capture has gaps filled late/out of order. node ws plain, "
                       "node ws deflate and python-websockets deflate, multi-KB messages.",
        "pairs": [
            pair("a", nodews(8011), "node-ws", ["b1"]),
            pair("b", nodews(8021, DEFLATE_CTX), "node-ws", ["b2"], client_options=DEFLATE_CTX),
            pair("c", pyws(8031), "python-websockets", ["b3"]),
        ],
        "scripts": {"b1": bulk(60), "b2": bulk(61), "b3": bulk(62)},
    },
    {
        "name": "12-lossy-gaps",
        "capture": {"format": "pcap-us", "tool": "nflog", "iface": "nflog:5", "lossy": "input-nflog"},
        "description": "real gaps: iptables drops 4% of TCP packets on INPUT and logs the survivors to "
                       "NFLOG; the capture is that NFLOG stream rewritten as Ethernet (zero MACs, like lo), "
                       "so it holds exactly what the receiving stacks got: segments missing, then "
                       "retransmissions arriving late / out of order, plus duplicates. node ws plain, "
                       "node ws deflate, python-websockets deflate, multi-KB messages.",
        "pairs": [
            pair("a", nodews(8012), "node-ws", ["g1"]),
            pair("b", nodews(8022, DEFLATE_CTX), "node-ws", ["g2"], client_options=DEFLATE_CTX),
            pair("c", pyws(8032), "python-websockets", ["g3"]),
        ],
        "scripts": {"g1": bulk(70), "g2": bulk(71), "g3": bulk(72)},
    },
    # ------------------------------------------------------------- wss:// (TLS)
    # "tls": true marks a wss:// scenario: orchestrate.py creates the certificates, collects
    # the peers' NSS key logs into corpus/<name>.keys and their TLS reports into the manifest.
    {
        "name": "13-python-tls13",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo"},
        "tls": True,
        "description": "wss://: python-websockets client+server over TLS 1.3 (RSA certificate, SNI ws.test), "
                       "permessage-deflate. a/0 default suite (TLS_AES_256_GCM_SHA384), a/1 client limited "
                       "to TLS_AES_128_GCM_SHA256 (SSL_CTX_set_ciphersuites via ctypes). Full mix of "
                       "messages on a/0, light mix on a/1. Key log: both peers' NSS key logs.",
        "pairs": [pair("a", tls(pyws(8443), cert="rsa"), "python-websockets",
                       [("t13a", {}), ("t13b", {"ciphersuites": "TLS_AES_128_GCM_SHA256"})],
                       concurrent=False)],
        "scripts": {"t13a": mix(80, closer="c", code=1000, reason="tls13 bye"),
                    "t13b": mix(81, closer="s", code=1001, reason="tls13 going away", light=True)},
    },
    {
        "name": "14-python-tls12",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo"},
        "tls": True,
        "description": "wss://: python-websockets client+server, client forced to TLS 1.2 (maximum_version), "
                       "one suite per connection via set_ciphers: ECDHE-RSA-AES128-GCM-SHA256, "
                       "ECDHE-RSA-AES256-GCM-SHA384 (SHA-384 PRF), ECDHE-RSA-CHACHA20-POLY1305, "
                       "ECDHE-RSA-AES128-SHA256 (CBC) with encrypt-then-mac, the same without "
                       "(OP_NO_ENCRYPT_THEN_MAC), static RSA AES128-GCM-SHA256 and static RSA AES256-SHA "
                       "(CBC, SHA-1 HMAC, no EtM) at @SECLEVEL=0. Sequential connections, deflate on; a 65536-byte "
                       "binary message on a/0, a/3, a/4.",
        "pairs": [pair("a", tls(pyws(8444), cert="rsa", ciphers="ALL:@SECLEVEL=0"), "python-websockets",
                       [("t12a", {"ciphers": "ECDHE-RSA-AES128-GCM-SHA256"}),
                        ("t12b", {"ciphers": "ECDHE-RSA-AES256-GCM-SHA384"}),
                        ("t12c", {"ciphers": "ECDHE-RSA-CHACHA20-POLY1305"}),
                        ("t12d", {"ciphers": "ECDHE-RSA-AES128-SHA256"}),
                        ("t12e", {"ciphers": "ECDHE-RSA-AES128-SHA256", "options": ["NO_ENCRYPT_THEN_MAC"]}),
                        ("t12f", {"ciphers": "AES128-GCM-SHA256:@SECLEVEL=0"}),
                        ("t12g", {"ciphers": "AES256-SHA:@SECLEVEL=0", "options": ["NO_ENCRYPT_THEN_MAC"]})],
                       client_tls={"max_version": "TLSv1.2"}, concurrent=False)],
        "scripts": {f"t12{c}": tls_short(90 + i, closer="cs"[i % 2], reason=f"tls12 {c}",
                                         big=65536 if c in "ade" else 300)
                    for i, c in enumerate("abcdefg")},
    },    {
        "name": "15-node-ws-tls",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo"},
        "tls": True,
        "description": "wss://: node ws client+server over node's tls (https server), ALPN http/1.1 on both "
                       "sides, permessage-deflate (threshold 0). Pair a (ECDSA P-256 certificate, session "
                       "tickets on), sequential: a/0 TLS 1.3 TLS_CHACHA20_POLY1305_SHA256; a/1 TLS 1.3 "
                       "TLS_AES_128_GCM_SHA256; a/2 TLS 1.3 PSK resumption of a/1's session (ticket); a/3 TLS 1.2 "
                       "ECDHE-ECDSA-AES256-GCM-SHA384; a/4 TLS 1.2 resumption of a/3 by session ticket. Pair b "
                       "(RSA certificate, SSL_OP_NO_TICKET, server session cache): b/0 TLS 1.2 "
                       "ECDHE-RSA-CHACHA20-POLY1305; b/1 TLS 1.2 resumption of b/0 by session ID. Key logs from "
                       "the 'keylog' events of the client sockets and of the servers.",
        "pairs": [
            pair("a", tls(nodews(8445, DEFLATE_CTX), cert="ecdsa", alpn=["http/1.1"]), "node-ws",
                 [("n0", {"ciphersuites": "TLS_CHACHA20_POLY1305_SHA256"}),
                  ("n1", {"ciphersuites": "TLS_AES_128_GCM_SHA256"}),
                  ("n2", {"ciphersuites": "TLS_AES_128_GCM_SHA256", "resume_from": 1}),
                  ("n3", {"max_version": "TLSv1.2", "ciphers": "ECDHE-ECDSA-AES256-GCM-SHA384"}),
                  ("n4", {"max_version": "TLSv1.2", "ciphers": "ECDHE-ECDSA-AES256-GCM-SHA384", "resume_from": 3})],
                 client_options=DEFLATE_CTX, client_tls={"alpn": ["http/1.1"]}, concurrent=False),
            pair("b", tls(nodews(8446, DEFLATE_CTX), cert="rsa", alpn=["http/1.1"], options=["NO_TICKET"]),
                 "node-ws",
                 [("n5", {"max_version": "TLSv1.2", "ciphers": "ECDHE-RSA-CHACHA20-POLY1305"}),
                  ("n6", {"max_version": "TLSv1.2", "ciphers": "ECDHE-RSA-CHACHA20-POLY1305", "resume_from": 0})],
                 client_options=DEFLATE_CTX, client_tls={"alpn": ["http/1.1"]}, concurrent=False),
        ],
        "scripts": {f"n{i}": tls_short(110 + i, closer="cs"[i % 2], reason=f"node tls {i}",
                                       big=65536 if i in (0, 2, 6) else 300) for i in range(7)},
    },    {
        "name": "16-dsb",
        "capture": {"format": "pcapng", "tool": "dumpcap", "iface": "lo", "dsb": True},
        "tls": True,
        "description": "wss:// pcapng (dumpcap) whose TLS secrets are inside the file: the peers' key log was "
                       "injected as a Decryption Secrets Block (editcap --inject-secrets tls,KEYS); "
                       "16-dsb.keys is a copy for reference only. python-websockets client -> node ws server "
                       "(TLS 1.3, deflate) and node ws client -> python-websockets server (TLS 1.2 "
                       "ECDHE-RSA-AES128-GCM-SHA256, deflate).",
        "pairs": [
            pair("a", tls(nodews(8447, DEFLATE_CTX), cert="rsa"), "python-websockets", ["d1"]),
            pair("b", tls(pyws(8448), cert="rsa"), "node-ws",
                 [("d2", {"max_version": "TLSv1.2", "ciphers": "ECDHE-RSA-AES128-GCM-SHA256"})],
                 client_options=DEFLATE_CTX),
        ],
        "scripts": {"d1": tls_short(130, closer="c", reason="dsb a"),
                    "d2": tls_short(131, closer="s", reason="dsb b", big=300)},
    },
    {
        "name": "17-keyupdate",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo"},
        "tls": True,
        "description": "wss:// TLS 1.3 with KeyUpdate messages in both directions (SSL_key_update called through "
                       "ctypes on the peers' SSL objects; OpenSSL sends the KeyUpdate before the next "
                       "application data): client KeyUpdates with update_requested, update_not_requested, "
                       "update_requested; server KeyUpdates not_requested, not_requested, requested, "
                       "not_requested. A requested update makes the other side answer with its own KeyUpdate "
                       "(not_requested) before its next record. WebSocket messages before, between and after. "
                       "python-websockets client+server, deflate, TLS_AES_256_GCM_SHA384.",
        "pairs": [pair("a", tls(pyws(8449), cert="ecdsa"), "python-websockets", ["ku"])],
        "scripts": {"ku": keyupdates(140)},
    },    {
        "name": "18-tls-lossy",
        "capture": {"format": "pcap-us", "tool": "nflog", "iface": "nflog:5", "lossy": "input-nflog"},
        "tls": True,
        "description": "wss:// with real gaps, made like 12-lossy-gaps: iptables drops 4% of TCP packets on "
                       "INPUT and the capture is the NFLOG stream of the survivors (rewritten as Ethernet), so "
                       "TLS records are split by holes, filled later by retransmissions, out of order, with "
                       "duplicates. python-websockets TLS 1.3 (AES-256-GCM, deflate) and node ws TLS 1.2 "
                       "(ECDHE-RSA-AES128-GCM-SHA256, plain), multi-KB messages.",
        "pairs": [
            pair("a", tls(pyws(8450), cert="rsa"), "python-websockets", ["lt1"]),
            pair("b", tls(nodews(8451), cert="rsa"), "node-ws",
                 [("lt2", {"max_version": "TLSv1.2", "ciphers": "ECDHE-RSA-AES128-GCM-SHA256"})]),
        ],
        "scripts": {"lt1": bulk(150, n=10), "lt2": bulk(151, n=10)},
    },    {
        "name": "19-chromium-wss",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo"},
        "tls": True,
        "description": "headless Chromium (SSLKEYLOGFILE) loads https://ws.test:8453/ from a Python https "
                       "server (host-resolver-rules map ws.test to 127.0.0.1) and its JavaScript opens "
                       "wss://ws.test:8452/a/0 to a python-websockets TLS server (deflate offered by Chromium, "
                       "accepted). The capture also holds the page's HTTPS connection(s) (HTTP/1.1 or h2, not "
                       "WebSocket). Chromium's sent records have fragments/compressed null (not visible to the "
                       "page); client_port comes from the server's records.",
        "pairs": [pair("a", tls(pyws(8452), cert="rsa"), "chromium", ["cr"], client_options={"page_port": 8453})],
        "scripts": {"cr": browser(160)},
    },
    # ------------------------------------------------------------- WebSocket over HTTP/2 (RFC 8441)
    # "h2": true: hypercorn server, client on h2 + wsproto (or Chromium); several WebSockets may share
    # one TCP connection (one HTTP/2 stream each), the truth has h2_stream_id, and orchestrate.py
    # checks the HTTP/2 streams with tshark instead of its WebSocket dissector (which does not
    # look inside HTTP/2 DATA).
    {
        "name": "24-h2c-websocket",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo"},
        "h2": True,
        "description": "WebSocket over cleartext HTTP/2 (h2c, prior knowledge: the client starts with the "
                       "connection preface), RFC 8441 extended CONNECT (:protocol websocket) on stream 1, "
                       "hypercorn server (SETTINGS_ENABLE_CONNECT_PROTOCOL=1), client on the h2 library + "
                       "wsproto, permessage-deflate (wsproto's offer client_max_window_bits=15; "
                       "server_max_window_bits=15, accepted as offered, context takeover). Full mix: "
                       "text/binary/empty/non-ASCII, 125/126/65535/65536 B, fragmented messages both ways, "
                       "pings, unsolicited pong, close 1000 from the client. WebSocket frames are split "
                       "across HTTP/2 DATA frames (at most 16384 bytes each).",
        "pairs": [pair("a", hyper(8470), "h2-wsproto", [h2ws("h2c", deflate={})])],
        "scripts": {"h2c": h2_mix(170, closer="c", code=1000, reason="h2c bye")},
    },
    {
        "name": "25-h2-tls-websockets",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo"},
        "h2": True,
        "tls": True,
        "description": "WebSockets over HTTP/2 over TLS 1.3 (ALPN h2, RSA certificate, SNI ws.test), one TCP "
                       "connection: stream 1 extended CONNECT with permessage-deflate (offer "
                       "client_max_window_bits=10; server_max_window_bits=11; server_no_context_takeover, "
                       "accepted with the same parameters), stream 3 extended CONNECT without extensions "
                       "offering subprotocols chat.v2, chat.v1 (server picks chat.v2); both conversations "
                       "run at the same time (interleaved); light mix plus a 65536-byte binary from the client on each. On conn a/0's script, after its sixth action: "
                       "GET /status.json (stream 5, 200, JSON) and an extended CONNECT to /forbidden that "
                       "the app refuses before accepting (stream 7; hypercorn answers 403). hypercorn "
                       "server, h2 + wsproto client. Key log: both peers' NSS key logs.",
        "pairs": [pair("a", tls(hyper(8471, {"protocols": ["chat.v2"]}), cert="rsa"), "h2-wsproto",
                       [h2ws("h2t0", deflate={"client_max_window_bits": 10, "server_max_window_bits": 11,
                                              "server_no_context_takeover": True}),
                        h2ws("h2t1", protocols=["chat.v2", "chat.v1"])])],
        "scripts": {"h2t0": h2_mix(180, closer="c", code=1000, reason="stream 1 done", light=True, big=65536,
                                   extra=[{"from": "client", "op": "h2_get", "path": "/status.json"},
                                          {"from": "client", "op": "h2_connect", "path": "/forbidden"}]),
                    "h2t1": h2_mix(181, closer="s", code=1001, reason="stream 3 going away", light=True,
                                   big=65536)},
    },
    {
        "name": "26-chromium-h2-websocket",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo"},
        "h2": True,
        "tls": True,
        "description": "headless Chromium (SSLKEYLOGFILE) loads https://ws.test:8472/ from hypercorn over HTTP/2 "
                       "(TLS 1.3, ALPN h2); the page's JavaScript opens wss://ws.test:8472/a/0 on the same "
                       "origin, which Chromium sends as an RFC 8441 extended CONNECT on the same HTTP/2 "
                       "connection (the server announced SETTINGS_ENABLE_CONNECT_PROTOCOL=1), with its "
                       "permessage-deflate offer (accepted), then POSTs its report on that connection too. "
                       "Other streams: GET / (200), POST /report (204) and whatever else Chromium asks "
                       "(favicon: 404). Chromium's sent records have fragments/compressed null; client_port "
                       "and h2_stream_id come from the server's records.",
        "pairs": [pair("a", tls(hyper(8472, {"page": True, "end_stream_after_close": True}), cert="rsa"), "chromium", ["crh2"],
                       client_options={"same_origin_h2": True})],
        # no empty client message: over HTTP/2, Chromium 156 never put the page's ws.send("") on the wire
        # (the server waited 60 s for it; the same script over HTTP/1.1 works, see 19)
        "scripts": {"crh2": [a for a in browser(190) if not (a["from"] == "client" and a.get("text") == "")]},
    },
]


# ------------------------------------------------------------- rotated capture sets
# "rotate" in "capture": tcpdump writes a set of files instead of one, into corpus/<name>/
# with the truth beside them: {"C": 1} is tcpdump -C 1 (a new file once the current one
# exceeds 1,000,000 bytes: <name>.pcap, <name>.pcap1, ...), {"G": 1} is tcpdump -G 1 (a
# new file for the first packet at least 1 s after the current file was opened, named
# <name>-<epoch seconds>.pcap).  "require": what must straddle files, or the attempt is
# retried (orchestrate.py:set_report).  "handshake_delay" on a connection (Python peers):
# seconds between the TCP handshake and the upgrade request (client), between the request
# and the 101 (server).
SCENARIOS += [
    {
        "name": "27-rotated",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo", "rotate": {"C": 1},
                    "require": {"handshakes": 1, "messages": 2, "compressed_frames": 1}},
        "description": "a rotated capture set: tcpdump -C 1 (new file every 1,000,000 bytes) while "
                       "python-websockets (permessage-deflate, context takeover) and node ws (deflate, "
                       "threshold 0) exchange ~3.4 MB over three concurrent connections. a/0: large "
                       "deflate messages (random and hextext, up to 400 kB), fragmented ones, pings, close; "
                       "a/1: upgrade request 1 s after its TCP handshake and the 101 1 s after the request "
                       "while a/0 moves >1 MB in each gap, so its handshake spans files; b/0: node ws. "
                       "Frames and messages straddle files (manifest: set.straddling).",
        "pairs": [
            pair("a", pyws(8027), "python-websockets",
                 [{"script": "r0"},
                  {"script": "r1", "handshake_delay": {"request": 1.0, "response": 1.0}}]),
            pair("b", nodews(8028, DEFLATE_CTX), "node-ws", ["r2"], client_options=DEFLATE_CTX),
        ],
        "scripts": {"r0": rotated_bulk(270), "r1": mix(271, closer="s", code=1001, reason="a/1 going away",
                                                          light=True),
                    "r2": rotated_node(272)},
    },
    {
        "name": "28-rotated-time",
        "capture": {"format": "pcap-us", "tool": "tcpdump", "iface": "lo", "rotate": {"G": 1},
                    "require": {"handshakes": 1}},
        "description": "a time-rotated capture set: tcpdump -G 1 (a new file each second, named by "
                       "strftime %s) while a python-websockets pair (deflate, context takeover) follows "
                       "a light conversation spread over ~4 s; the server holds the 101 back 1.3 s, so "
                       "the request and the 101 are in different files, and the deflate context runs "
                       "through all of them.",
        "pairs": [pair("a", pyws(8029), "python-websockets",
                       [{"script": "t0", "handshake_delay": {"response": 1.3}}])],
        "scripts": {"t0": timed(280)},
    },
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for sc in SCENARIOS:
        with open(os.path.join(OUT, sc["name"] + ".json"), "w") as f:
            json.dump(sc, f, indent=1, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main()
