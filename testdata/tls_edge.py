#!/usr/bin/env python3
"""TLS edge captures (0-RTT, HelloRetryRequest, ALPN h2) between OpenSSL's own command-line
peers, `openssl s_server` and `openssl s_client`.  Must run INSIDE the network namespace
prepared by tls_edge.sh (as root): everything goes over that namespace's loopback.

usage: tls_edge.py [NAME ...]     (default: all; names as in SCENARIOS, e.g. 22-tls13-hrr)

Per scenario: start tcpdump on lo, start one s_server (its stdin and stdout are pipes),
run its client connections one after the other (s_client, stdin/stdout pipes), stop the
capture, and write into testdata/tls-edge/:
  NN-name.pcap         the capture
  NN-name.keys         the NSS key log exactly as the peers wrote it: the client's file
                       (all its connections), then the server's
  NN-name.server.keys  the server's key log file alone (it is the second half of .keys)
  NN-name.truth.json   {"connections": [{"client_port", "server_port",
                        "client_to_server_hex", "server_to_client_hex", ...}]}
  manifest.json        one entry per capture (entries of other captures are kept)

The truth is the application bytes each side wrote: what this script fed to s_client's
stdin (and, for 0-RTT, the -early_data file) and to s_server's stdin.  It is checked
against what the other side printed (s_server -quiet / s_client -quiet print exactly the
application data they received on stdout): a mismatch aborts the run.  For early data the
server rejected, the bytes the client wrote as early data are not part of the stream the
server received: they are in `early_data_rejected_hex`, not in `client_to_server_hex`.

The conversation is lock-step: the client writes part i, the script waits until the
server has printed it, the server writes its part i, the script waits until the client
has printed it, and so on; then the client's stdin is closed (s_client -no_ign_eof sends
close_notify and exits).  The script also checks, with tshark and the key log, that the
wire shows what the scenario is about (HRR, early data accepted/rejected, ALPN h2) and
that tshark's follow,tls,raw gives exactly the truth.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "tls-edge")
WORK = os.path.join(os.environ.get("WSD_WORK", "/tmp/wsdissect-testdata-work"), "tls-edge")
CERTS = os.path.join(WORK, "certs")
SNI = "ws.test"
TIMEOUT = float(os.environ.get("PEER_TIMEOUT", "60"))
# the magic ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3)
HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
GROUPS = {"29": "x25519", "23": "secp256r1", "24": "secp384r1", "25": "secp521r1", "30": "x448"}


def log(*a):
    print("[tls_edge]", *a, file=sys.stderr, flush=True)


def http_req(path, extra=b""):
    return (b"GET " + path + b" HTTP/1.1\r\nHost: ws.test\r\nUser-Agent: openssl-s_client\r\n"
            + extra + b"\r\n")


def http_resp(body):
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


# HTTP/2 frames (RFC 9113): 9-byte header (length 24 bits, type, flags, stream id) + payload
def h2_frame(ftype, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream.to_bytes(4, "big") + payload


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# client: preface + SETTINGS (ENABLE_PUSH=0, INITIAL_WINDOW_SIZE=65535) + HEADERS (stream 1,
# END_STREAM|END_HEADERS, HPACK: :method GET, :scheme https, :path /, :authority ws.test
# as a literal without indexing)
H2_CLIENT_1 = (H2_PREFACE
               + h2_frame(4, 0, 0, bytes.fromhex("000200000000" "00040000ffff"))
               + h2_frame(1, 0x05, 1, bytes.fromhex("828784") + b"\x01\x07ws.test"))
H2_CLIENT_2 = h2_frame(4, 0x01, 0) + h2_frame(6, 0, 0, b"wsdping!")  # SETTINGS ack, PING
# server: SETTINGS (MAX_CONCURRENT_STREAMS=100) + SETTINGS ack, then HEADERS :status 200 +
# DATA with END_STREAM, then the PING ack
H2_SERVER_1 = (h2_frame(4, 0, 0, bytes.fromhex("000300000064")) + h2_frame(4, 0x01, 0)
               + h2_frame(1, 0x04, 1, bytes.fromhex("88"))
               + h2_frame(0, 0x01, 1, b"hello over h2\n"))
H2_SERVER_2 = h2_frame(6, 0x01, 0, b"wsdping!")

BIG = b"".join(b"line %05d of a response body that spans several TLS records\n" % i for i in range(700))

# Each connection: "early" (bytes for s_client -early_data, or absent), "c2s"/"s2c": the
# lock-step parts, "client": extra s_client options, "early_expect": accepted/rejected.
SCENARIOS = {
    "21-tls13-0rtt": {
        "port": 8461,
        "server": ["-early_data"],
        "description": "TLS 1.3 0-RTT. Connection 0: full handshake, s_client -sess_out saves "
                       "the session (ticket with max_early_data 16384). Connection 1: s_client "
                       "-sess_in -early_data: PSK resumption with early data the server accepted "
                       "(early_data in EncryptedExtensions, EndOfEarlyData), then one more "
                       "request after the handshake. Connection 2: the same ticket again "
                       "(replay): the server's anti-replay rejects the early data (full "
                       "handshake, no early_data in EncryptedExtensions); the client's early "
                       "bytes are on the wire, encrypted with the early secret the client "
                       "logged, but never reached the server application. Then one request "
                       "after the handshake.",
        "conns": [
            {"c2s": [http_req(b"/first")], "s2c": [http_resp(b"first response\n")],
             "client": ["-sess_out", "{sess}"]},
            {"early": http_req(b"/early", b"X-Early: 0-RTT\r\n"),
             "c2s": [http_req(b"/after-handshake")],
             "s2c": [http_resp(b"early request answered\n" * 3)],
             "client": ["-sess_in", "{sess}", "-early_data", "{early}"], "early_expect": "accepted"},
            {"early": http_req(b"/replayed-early", b"X-Early: replay\r\n"),
             "c2s": [http_req(b"/after-rejected-early")],
             "s2c": [http_resp(b"only the post-handshake request was seen\n")],
             "client": ["-sess_in", "{sess}", "-early_data", "{early}"], "early_expect": "rejected"},
        ],
    },
    "22-tls13-hrr": {
        "port": 8462,
        "server": ["-groups", "P-256"],
        "description": "TLS 1.3 HelloRetryRequest: s_client -groups X25519:P-256 sends a key "
                       "share for X25519 only, s_server -groups P-256 answers with a "
                       "HelloRetryRequest (key_share selected_group secp256r1), the client "
                       "sends a second ClientHello with a P-256 share. Then two HTTP/1.1 "
                       "request/response rounds, the second response 43 KB (several records).",
        "conns": [
            {"c2s": [http_req(b"/one"), http_req(b"/two")],
             "s2c": [http_resp(b"after a HelloRetryRequest\n"), http_resp(BIG)],
             "client": ["-groups", "X25519:P-256"]},
        ],
    },
    "23-tls-alpn-h2": {
        "port": 8463,
        "server": ["-alpn", "h2"],
        "description": "TLS 1.3 with ALPN h2 (s_client -alpn h2, s_server -alpn h2). The client "
                       "writes the HTTP/2 connection preface, SETTINGS and a HEADERS frame "
                       "(GET /), later a SETTINGS ack and a PING; the server writes SETTINGS, a "
                       "SETTINGS ack, HEADERS (:status 200) and DATA, later the PING ack. "
                       "Hand-made frames, fed to the peers' stdin.",
        "conns": [
            {"c2s": [H2_CLIENT_1, H2_CLIENT_2], "s2c": [H2_SERVER_1, H2_SERVER_2],
             "client": ["-alpn", "h2"]},
        ],
    },
}


class Peer:
    """A child process whose stdout is collected by a thread."""

    def __init__(self, cmd, name):
        self.name = name
        self.err = open(os.path.join(WORK, name + ".stderr"), "wb")
        self.p = subprocess.Popen(["timeout", "-k", "5", str(int(TIMEOUT))] + cmd,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err)
        self.out = bytearray()
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        while True:
            b = self.p.stdout.read1(65536)
            with self.cv:
                if not b:
                    self.eof = True
                    self.cv.notify_all()
                    return
                self.out += b
                self.cv.notify_all()

    def write(self, b):
        self.p.stdin.write(b)
        self.p.stdin.flush()

    def wait_for(self, n, timeout=10.0, fatal=True):
        """Wait until stdout holds at least n bytes."""
        deadline = time.time() + timeout
        with self.cv:
            while len(self.out) < n:
                left = deadline - time.time()
                if left <= 0 or getattr(self, "eof", False):
                    if fatal:
                        raise RuntimeError(f"{self.name}: wanted {n} bytes on stdout, have "
                                           f"{len(self.out)}: {bytes(self.out)[-200:]!r}")
                    return False
                self.cv.wait(left)
        return True

    def close(self, timeout=15.0):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.terminate()
            self.p.wait(5)
        self.t.join(5)
        self.err.close()
        return self.p.returncode


def ensure_certs():
    os.makedirs(CERTS, exist_ok=True)
    crt, key = os.path.join(CERTS, "ecdsa.crt"), os.path.join(CERTS, "ecdsa.key")
    if not os.path.exists(crt):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-sha256", "-days", "3650", "-subj", f"/CN={SNI}",
                        "-addext", f"subjectAltName=DNS:{SNI}", "-keyout", key, "-out", crt],
                       check=True, capture_output=True)
    return crt, key


def wait_listening(port):
    for _ in range(200):
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
        if out.strip():
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def start_capture(path):
    errf = open(os.path.join(WORK, os.path.basename(path) + ".stderr"), "w+")
    p = subprocess.Popen(["tcpdump", "-n", "-Z", "root", "-B", "32768", "-i", "lo", "-s", "262144",
                          "-w", path, "tcp"], stdout=subprocess.DEVNULL, stderr=errf)
    deadline = time.time() + 10
    while time.time() < deadline:
        errf.seek(0)
        if "listening on" in errf.read():
            break
        if p.poll() is not None:
            raise RuntimeError("tcpdump died")
        time.sleep(0.05)
    time.sleep(0.5)
    return p, errf


def stop_capture(p, errf):
    time.sleep(1.5)  # > libpcap's 1 s buffer timeout
    p.send_signal(signal.SIGINT)
    p.wait(15)
    errf.seek(0)
    s = errf.read()
    errf.close()
    for line in s.splitlines():
        if "dropped by kernel" in line and not line.strip().startswith("0 "):
            raise RuntimeError(f"capture dropped packets: {line}")


def tshark_fields(cfile, keys, flt, fields):
    cmd = ["tshark", "-r", cfile, "-n", "-o", f"tls.keylog_file:{keys}", "-Y", flt, "-T", "fields",
           "-E", "separator=/t", "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def follow_tls(cfile, keys, stream, server_port):
    """(client bytes, server bytes) of tshark -z follow,tls,raw,STREAM.  tshark 4.0 may name
    the server "Node 0" (and the client "Node 1: :0"): the nodes are told apart by port."""
    out = subprocess.run(["tshark", "-r", cfile, "-n", "-o", f"tls.keylog_file:{keys}", "-q",
                          "-z", f"follow,tls,raw,{stream}"], check=True, capture_output=True, text=True).stdout
    data = {0: bytearray(), 1: bytearray()}
    body = False
    node0 = None
    for line in out.splitlines():
        if line.startswith("Node 0:"):
            node0 = line.split(":")[-1].strip()
        if line.startswith("Node 1:"):
            body = True
            continue
        if not body or line.startswith("====="):
            continue
        data[1 if line.startswith("\t") else 0] += bytes.fromhex(line.strip())
    if node0 == str(server_port):
        return bytes(data[1]), bytes(data[0])
    return bytes(data[0]), bytes(data[1])


def run_scenario(name):
    sc = SCENARIOS[name]
    port = sc["port"]
    wdir = os.path.join(WORK, name)
    subprocess.run(["rm", "-rf", wdir], check=True)
    os.makedirs(wdir)
    crt, key = ensure_certs()
    cfile = os.path.join(OUT, f"{name}.pcap")
    ckeys, skeys = os.path.join(wdir, "client.keys"), os.path.join(wdir, "server.keys")
    sess = os.path.join(wdir, "session.pem")
    log(f"=== {name}")
    capp = start_capture(cfile)
    server = Peer(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-4", "-naccept", str(len(sc["conns"])),
                   "-cert", crt, "-key", key, "-keylogfile", skeys, "-quiet", *sc["server"]],
                  f"{name}.server")
    conns = []
    try:
        wait_listening(port)
        for i, cn in enumerate(sc["conns"]):
            early_file = None
            if cn.get("early"):
                early_file = os.path.join(wdir, f"early{i}.bin")
                with open(early_file, "wb") as f:
                    f.write(cn["early"])
            opts = [o.replace("{sess}", sess).replace("{early}", early_file or "") for o in cn.get("client", [])]
            client = Peer(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", SNI,
                           "-CAfile", crt, "-verify_hostname", SNI, "-verify_return_error",
                           "-keylogfile", ckeys, "-brief", "-nocommands", *opts],
                          f"{name}.client{i}")
            base = len(server.out)
            got = 0
            early = "none"
            if cn.get("early"):
                # the server prints accepted early data before the handshake ends
                if server.wait_for(base + len(cn["early"]), timeout=3, fatal=False):
                    got = len(cn["early"])
                    early = "accepted"
                else:
                    early = "rejected"
                if early != cn["early_expect"]:
                    raise RuntimeError(f"{name}/{i}: early data {early}, wanted {cn['early_expect']}")
            c_sent = bytearray(cn["early"] if early == "accepted" else b"")
            s_sent = bytearray()
            for cpart, spart in zip(cn["c2s"], cn["s2c"]):
                client.write(cpart)
                c_sent += cpart
                server.wait_for(base + len(c_sent))
                server.write(spart)
                s_sent += spart
                client.wait_for(len(s_sent))
            time.sleep(0.2)
            rc = client.close()
            if rc != 0:
                raise RuntimeError(f"{name}/{i}: s_client exited {rc}")
            time.sleep(0.2)
            s_got = bytes(server.out[base:])
            if s_got != bytes(c_sent):
                raise RuntimeError(f"{name}/{i}: server received {s_got[:200]!r}, client sent {bytes(c_sent)[:200]!r}")
            if bytes(client.out) != bytes(s_sent):
                raise RuntimeError(f"{name}/{i}: client received something else than the server sent")
            with open(os.path.join(WORK, f"{name}.client{i}.stderr"), errors="replace") as f:
                summary = f.read()
            conns.append({"index": i, "early_data": early if cn.get("early") else None,
                          "c2s": bytes(c_sent), "s2c": bytes(s_sent),
                          "early_rejected": cn["early"] if early == "rejected" else None,
                          "client_summary": [ln for ln in summary.splitlines() if ln.strip()]})
        rc = server.close()
        if rc != 0:
            raise RuntimeError(f"{name}: s_server exited {rc}")
    finally:
        if server.p.poll() is None:
            server.p.terminate()
        stop_capture(*capp)

    # key log: as the peers wrote it, client's file then server's
    kfile = os.path.join(OUT, f"{name}.keys")
    with open(kfile, "wb") as out:
        for k in (ckeys, skeys):
            with open(k, "rb") as f:
                out.write(f.read())
    # and the server's file alone: what a server operator has (on 21 it lacks the early
    # secret of the rejected connection, which only the client logged)
    with open(skeys, "rb") as f, open(os.path.join(OUT, f"{name}.server.keys"), "wb") as out:
        out.write(f.read())
    return check(name, sc, cfile, kfile, conns, os.path.join(OUT, f"{name}.server.keys"))


def check(name, sc, cfile, kfile, conns, server_kfile):
    """Match connections to TCP streams, check the wire with tshark, write truth + manifest entry."""
    syns = tshark_fields(cfile, kfile, "tcp.flags.syn == 1 && tcp.flags.ack == 0",
                         ["tcp.stream", "tcp.srcport", "tcp.dstport"])
    if len(syns) != len(conns):
        raise RuntimeError(f"{name}: {len(syns)} SYNs for {len(conns)} connections")
    keylog = defaultdict(lambda: defaultdict(int))
    with open(kfile) as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and not line.startswith("#"):
                keylog[p[1].lower()][p[0]] += 1
    per_stream = defaultdict(lambda: defaultdict(list))
    for row in tshark_fields(cfile, kfile, "tls.handshake.type",
                             ["tcp.stream", "tcp.srcport", "tls.handshake.type", "tls.handshake.random",
                              "tls.handshake.extension.type", "tls.handshake.extensions_key_share_group",
                              "tls.handshake.extensions.supported_version", "tls.handshake.ciphersuite",
                              "tls.handshake.extensions_alpn_str", "tls.handshake.extensions_server_name"]):
        per_stream[int(row[0])]["rows"].append(row)
    truth, entries = [], []
    problems = []
    for cn, (stream, sport, dport) in zip(conns, syns):
        stream, cport, sport = int(stream), int(sport), int(dport)
        hs = {"client_hellos": 0, "server_hellos": 0, "hello_retry_request": False, "client_key_shares": [],
              "server_key_share": None, "ext_early_data_client_hello": False,
              "ext_early_data_encrypted_extensions": False, "end_of_early_data": False,
              "psk_offered": False, "psk_accepted": False, "alpn": None, "alpn_offered": None,
              "suite": None, "version": None, "sni": None, "client_random": None}
        for row in per_stream[stream]["rows"]:
            _, src, types, rnds, exts, ks, sv, suite, alpn, sni = row
            from_client = int(src) == cport
            types = [int(t) for t in types.split(",") if t]
            exts = {int(x) for x in exts.split(",") if x}
            rnds = [r.replace(":", "").lower() for r in rnds.split(",") if r]
            ksg = [GROUPS.get(g, g) for g in ks.split(",") if g]
            for t in types:
                if t == 1:
                    hs["client_hellos"] += 1
                    hs["client_key_shares"].append(ksg)
                    hs["client_random"] = hs["client_random"] or rnds[0]
                    hs["ext_early_data_client_hello"] |= 42 in exts
                    hs["psk_offered"] |= 41 in exts
                    hs["alpn_offered"] = alpn or hs["alpn_offered"]
                    hs["sni"] = sni or hs["sni"]
                elif t == 2:
                    if HRR_RANDOM in rnds:
                        hs["hello_retry_request"] = True
                    else:
                        hs["server_hellos"] += 1
                        hs["server_key_share"] = ksg[-1] if ksg else None
                        hs["psk_accepted"] = 41 in exts
                        hs["suite"] = suite.split(",")[-1]
                        hs["version"] = sv.split(",")[-1] or None
                elif t == 8:
                    hs["ext_early_data_encrypted_extensions"] = 42 in exts
                    hs["alpn"] = alpn or None
                elif t == 5 and from_client:
                    hs["end_of_early_data"] = True
        labels = dict(sorted(keylog.get(hs["client_random"], {}).items()))
        n0, n1 = follow_tls(cfile, kfile, stream, sport)
        tshark_ok = (n0, n1) == (cn["c2s"], cn["s2c"])
        tshark_note = None
        if not tshark_ok and cn["early_rejected"] and (n0, n1) == (cn["early_rejected"] + cn["c2s"], cn["s2c"]):
            # tshark opens the rejected early data with the client's early secret and puts it
            # in the stream, although the server skipped it (RFC 8446 4.2.10)
            tshark_note = "tshark's client_to_server also holds the rejected early data, in front"
        elif not tshark_ok:
            problems.append(f"tshark follow,tls,raw of stream {stream} differs from the truth "
                            f"({len(n0)}/{len(n1)} bytes, truth {len(cn['c2s'])}/{len(cn['s2c'])})")
        # with the server's key log alone tshark must give what the server read
        tshark_server_keys_ok = follow_tls(cfile, server_kfile, stream, sport) == (cn["c2s"], cn["s2c"])
        if not tshark_server_keys_ok:
            problems.append(f"tshark follow,tls,raw of stream {stream} with the server's key log "
                            f"differs from the truth")
        # what the scenario is about must be on the wire
        if name.startswith("22") and not (hs["hello_retry_request"] and hs["client_hellos"] == 2):
            raise RuntimeError(f"{name}: no HelloRetryRequest: {hs}")
        if name.startswith("23") and hs["alpn"] != "h2":
            raise RuntimeError(f"{name}: ALPN {hs['alpn']!r}")
        if cn["early_data"] == "accepted" and not (hs["ext_early_data_encrypted_extensions"]
                                                   and hs["end_of_early_data"]
                                                   and "CLIENT_EARLY_TRAFFIC_SECRET" in labels):
            raise RuntimeError(f"{name}: early data accepted by s_server but not so on the wire: {hs} {labels}")
        if cn["early_data"] == "rejected" and hs["ext_early_data_encrypted_extensions"]:
            raise RuntimeError(f"{name}: early data rejected but EncryptedExtensions has early_data")
        t = {"client_port": cport, "server_port": sport,
             "client_to_server_hex": cn["c2s"].hex(), "server_to_client_hex": cn["s2c"].hex()}
        if cn["early_data"]:
            t["early_data"] = cn["early_data"]
        if cn["early_data"] == "accepted":
            t["early_data_hex"] = SCENARIOS[name]["conns"][cn["index"]]["early"].hex()
        if cn["early_rejected"]:
            t["early_data_rejected_hex"] = cn["early_rejected"].hex()
        truth.append(t)
        entries.append({"client_port": cport, "server_port": sport, "tcp_stream": stream,
                        "early_data": cn["early_data"], "wire": hs, "keylog_labels": labels,
                        "bytes": [len(cn["c2s"]), len(cn["s2c"])],
                        "tshark_follow_tls_equals_truth": tshark_ok,
                        **({"tshark_follow_tls_note": tshark_note} if tshark_note else {}),
                        "tshark_follow_tls_server_keylog_equals_truth": tshark_server_keys_ok,
                        "client_summary": cn["client_summary"]})
    if problems:
        raise RuntimeError(f"{name}: " + "; ".join(problems))
    with open(os.path.join(OUT, f"{name}.truth.json"), "w") as f:
        json.dump({"connections": truth}, f, indent=1)
        f.write("\n")
    return {"file": f"{name}.pcap", "keylog": f"{name}.keys", "server_keylog": f"{name}.server.keys",
            "truth": f"{name}.truth.json",
            "tls": True, "edge": True, "format": "pcap-us", "linktype": "EN10MB",
            "description": sc["description"], "connections": entries,
            "peers": {"server": ["openssl", "s_server", "-quiet", *sc["server"]],
                      "client": ["openssl", "s_client", "-brief", "-nocommands"],
                      "openssl": subprocess.run(["openssl", "version"], capture_output=True,
                                                text=True).stdout.strip()}}


def main():
    names = sys.argv[1:] or list(SCENARIOS)
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(OUT, exist_ok=True)
    mpath = os.path.join(OUT, "manifest.json")
    manifest = []
    if os.path.exists(mpath):
        with open(mpath) as f:
            manifest = json.load(f)
    for name in names:
        for attempt in range(3):
            try:
                entry = run_scenario(name)
                break
            except Exception as e:  # noqa: BLE001 -- retried, then fatal
                log(f"{name}: attempt {attempt + 1} failed: {e}")
                if attempt == 2:
                    raise
                time.sleep(1)
        manifest = [m for m in manifest if m["file"] != entry["file"]] + [entry]
        manifest.sort(key=lambda m: m["file"])
        with open(mpath, "w") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
        log(f"{name}: ok")


if __name__ == "__main__":
    main()
