#!/usr/bin/env python3
"""Runs every scenario of testdata/scenarios/*.json with a capture around it.
Must run INSIDE the network namespace prepared by generate.sh (as root).

usage: orchestrate.py [SCENARIO_NAME ...]   (default: all)

For each scenario: start the capture, start the servers, start the clients,
wait, stop the capture (SIGINT), merge the peers' truth logs into
corpus/<name>.truth.jsonl, cross-check sent vs received, cross-check the
capture with tshark, and (re)write corpus/manifest.json.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
WORK = os.environ.get("WSD_WORK", "/tmp/wsdissect-testdata-work")
PY = os.path.join(HERE, ".venv", "bin", "python")
NODE = os.environ.get("NODE", "node")
PEER_TIMEOUT = float(os.environ.get("PEER_TIMEOUT", "60"))
# receive-side loss, logged to NFLOG group 5 only if the packet survived: the
# capture then holds exactly what the receiving TCP saw, i.e. real gaps.
GAP_RULES = [["INPUT", "-i", "lo", "-p", "tcp", "-m", "statistic", "--mode", "random",
              "--probability", "0.04", "-j", "DROP"],
             ["INPUT", "-i", "lo", "-p", "tcp", "-j", "NFLOG", "--nflog-group", "5"]]
LOSS_RULE = ["OUTPUT", "-o", "lo", "-p", "tcp", "-m", "statistic", "--mode", "random",
             "--probability", "0.04", "-j", "DROP"]

CERTS = os.path.join(WORK, "certs")
SNI = "ws.test"

OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


def log(*a):
    print("[orchestrate]", *a, file=sys.stderr, flush=True)


def peer_cmd(impl, role, scen_path, pair, out, gate):
    if impl == "chromium":
        cmd = [PY, os.path.join(HERE, "peers", "chromium_peer.py"), role, scen_path, pair, out]
    elif impl == "hypercorn":
        cmd = [PY, os.path.join(HERE, "peers", "hypercorn_peer.py"), role, scen_path, pair, out]
    elif impl == "h2-wsproto":
        cmd = [PY, os.path.join(HERE, "peers", "h2_peer.py"), role, scen_path, pair, out]
    elif impl == "node-ws":
        cmd = [NODE, os.path.join(HERE, "peers", "node_peer.js"), role, scen_path, pair, out]
    else:
        cmd = [PY, os.path.join(HERE, "peers", "py_peer.py"), role, impl, scen_path, pair, out]
    if gate:
        cmd += ["--gate", gate]
    return ["timeout", "-k", "5", str(int(PEER_TIMEOUT + 10))] + cmd


def ensure_certs():
    """Self-signed server certificates for the wss:// scenarios (RSA 2048 and ECDSA P-256),
    CN and subjectAltName ws.test.  Not committed: the capture carries the certificate."""
    os.makedirs(CERTS, exist_ok=True)
    for kind, newkey in (("rsa", ["-newkey", "rsa:2048"]),
                         ("ecdsa", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])):
        crt = os.path.join(CERTS, f"{kind}.crt")
        if os.path.exists(crt):
            continue
        subprocess.run(["openssl", "req", "-x509", *newkey, "-nodes", "-sha256", "-days", "3650",
                        "-subj", f"/CN={SNI}", "-addext", f"subjectAltName=DNS:{SNI}",
                        "-keyout", os.path.join(CERTS, f"{kind}.key"), "-out", crt],
                       check=True, capture_output=True)
    os.environ["WSD_CERTS"] = CERTS


def capture_file(sc):
    """The manifest's "file": the capture, or for a rotated set the directory of its files."""
    if sc["capture"].get("rotate"):
        return sc["name"]
    ext = "pcapng" if sc["capture"]["format"] == "pcapng" else "pcap"
    return f"{sc['name']}.{ext}"


def rotate_target(sc, cdir):
    """tcpdump's -w argument for a rotated set in directory cdir: -C appends 1, 2, ... to
    the name after the first file; -G needs a strftime pattern (one file per second)."""
    rot = sc["capture"]["rotate"]
    if "G" in rot:
        return os.path.join(cdir, f"{sc['name']}-%s.pcap")
    return os.path.join(cdir, f"{sc['name']}.pcap")


def set_files(sc, cdir):
    """The files tcpdump wrote for a rotated set, in the order it wrote them."""
    names = [n for n in os.listdir(cdir) if ".pcap" in n]
    if "G" in sc["capture"]["rotate"]:
        return sorted(names)
    base = f"{sc['name']}.pcap"
    return sorted(names, key=lambda n: int(n[len(base):] or 0))


def capture_cmd(cap, path):
    snap = str(cap.get("snaplen", 262144))
    if cap["tool"] == "nflog":
        return ["tcpdump", "-n", "-Z", "root", "-B", "32768", "-i", "nflog:5", "-s", snap, "-w", path + ".nflog"]
    if cap["tool"] == "dumpcap":
        return ["dumpcap", "-B", "16", "-i", cap["iface"], "-s", snap, "-f", "tcp", "-w", path]
    cmd = ["tcpdump", "-n", "-Z", "root", "-B", "32768", "-i", cap["iface"], "-s", snap, "-w", path]
    rot = cap.get("rotate") or {}
    if "C" in rot:  # unit: 1,000,000 bytes
        cmd += ["-C", str(rot["C"])]
    if "G" in rot:  # seconds; path holds a strftime pattern
        cmd += ["-G", str(rot["G"])]
    if cap["format"] == "pcap-ns":
        cmd += ["--time-stamp-precision=nano"]
    if cap.get("linktype"):
        cmd += ["-y", cap["linktype"]]
    return cmd + ["tcp"]


def start_capture(cap, path):
    errf = open(os.path.join(WORK, os.path.basename(path) + ".stderr"), "w+")
    p = subprocess.Popen(capture_cmd(cap, path), stdout=subprocess.DEVNULL, stderr=errf)
    deadline = time.time() + 10
    while time.time() < deadline:
        errf.seek(0)
        s = errf.read()
        if "listening on" in s or "Capturing on" in s:
            break
        if p.poll() is not None:
            raise RuntimeError(f"capture died: {s}")
        time.sleep(0.05)
    else:
        log("capture did not report listening; continuing after sleep")
    time.sleep(0.5)
    return p, errf


def stop_capture(p, errf):
    time.sleep(1.5)  # > libpcap's 1 s buffer timeout, so nothing is left in the ring
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    errf.seek(0)
    s = errf.read()
    errf.close()
    import re
    m = re.search(r"received/dropped on interface [^:]*: (\d+)/(\d+)", s)
    if m and int(m.group(2)) != 0:
        raise RuntimeError(f"dumpcap dropped packets: {m.group(0)}")
    if "dropped by kernel" in s:
        for line in s.splitlines():
            if "dropped by kernel" in line and not line.strip().startswith("0 "):
                raise RuntimeError(f"capture dropped packets: {line}")
    return s


def iptables(*args):
    for tool in ("iptables", "iptables-legacy", "iptables-nft"):
        try:
            subprocess.run([tool, *args], check=True, capture_output=True)
            return tool
        except (FileNotFoundError, subprocess.CalledProcessError):
            continue
    raise RuntimeError("no working iptables")


def run_scenario(sc_path):
    with open(sc_path) as f:
        sc = json.load(f)
    name = sc["name"]
    cap = sc["capture"]
    wdir = os.path.join(WORK, name)
    subprocess.run(["rm", "-rf", wdir], check=True)
    os.makedirs(wdir)
    cfile = os.path.join(CORPUS, capture_file(sc))
    rotated = bool(cap.get("rotate"))
    if rotated:  # cfile is the set's directory; tcpdump writes into it
        subprocess.run(["rm", "-rf", cfile], check=True)
        os.makedirs(cfile)
    elif os.path.exists(cfile):
        os.unlink(cfile)
    late = cap.get("late", False)
    gate = os.path.join(wdir, "gate") if late else None
    lossy = cap.get("lossy", False)
    is_tls = bool(sc.get("tls"))
    if is_tls:
        ensure_certs()
    log(f"=== {name}")
    t0 = time.time()

    capp = None
    ipt = None
    procs = []
    try:
        if lossy == "input-nflog":
            for r in GAP_RULES:
                ipt = iptables("-A", *r)
        elif lossy:
            ipt = iptables("-A", *LOSS_RULE)
        if not late:
            capp = start_capture(cap, rotate_target(sc, cfile) if rotated else cfile)
        servers = []
        for pr in sc["pairs"]:
            out = os.path.join(wdir, f"{pr['name']}.server.jsonl")
            p = subprocess.Popen(peer_cmd(pr["server"]["impl"], "server", sc_path, pr["name"], out, gate),
                                 stdout=subprocess.PIPE, stderr=open(out + ".stderr", "w"), text=True)
            line = p.stdout.readline()
            if "listening" not in line:
                raise RuntimeError(f"server {pr['name']} did not start: {line!r}")
            servers.append((pr, p))
            procs.append(p)
        clients = []
        for pr in sc["pairs"]:
            out = os.path.join(wdir, f"{pr['name']}.client.jsonl")
            p = subprocess.Popen(peer_cmd(pr["client"]["impl"], "client", sc_path, pr["name"], out, gate),
                                 stdout=subprocess.DEVNULL, stderr=open(out + ".stderr", "w"))
            clients.append((pr, p))
            procs.append(p)
        if late:
            want = sum(len(pr["connections"]) for pr in sc["pairs"])
            deadline = time.time() + 30
            while len(glob.glob(gate + ".ready.*")) < want:
                if time.time() > deadline:
                    raise RuntimeError("peers never became ready")
                time.sleep(0.05)
            time.sleep(0.5)  # let handshake ACKs etc. drain before the capture starts
            capp = start_capture(cap, cfile)
            open(gate, "w").close()
        failed = []
        for pr, p in clients + servers:
            rc = p.wait(timeout=PEER_TIMEOUT + 20)
            if rc != 0:
                failed.append(pr["name"])
        if failed:
            for f in glob.glob(os.path.join(wdir, "*.stderr")):
                log(f, open(f).read()[-2000:])
            raise RuntimeError(f"peers failed in pairs {failed}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        if capp:
            stats = stop_capture(*capp)
            log(" ".join(stats.split()[-12:]))
        if ipt and lossy == "input-nflog":
            for r in GAP_RULES:
                iptables("-D", *r)
        elif ipt:
            iptables("-D", *LOSS_RULE)
    if cap["tool"] == "nflog":
        n = nflog_to_ethernet(cfile + ".nflog", cfile, cap.get("ts_nano", False))
        os.unlink(cfile + ".nflog")
        log(f"converted {n} NFLOG records to Ethernet")

    keyfile = None
    if is_tls:
        keyfile = collect_keys(sc, wdir)
        if cap.get("dsb"):
            tmp = cfile + ".nodsb"
            os.rename(cfile, tmp)
            subprocess.run(["editcap", "--inject-secrets", f"tls,{keyfile}", tmp, cfile], check=True)
            os.unlink(tmp)
    if rotated:
        files = set_files(sc, cfile)
        for fn in files:
            os.chmod(os.path.join(cfile, fn), 0o644)
        # tshark reads one file: check a concatenation (the files are consecutive)
        merged = os.path.join(wdir, "merged.pcap")
        subprocess.run(["mergecap", "-a", "-F", "pcap", "-w", merged, *[os.path.join(cfile, fn) for fn in files]],
                       check=True)
    else:
        os.chmod(cfile, 0o644)
    truth = merge_truth(sc, wdir)
    tname = f"{name}/{name}.truth.jsonl" if rotated else f"{name}.truth.jsonl"
    with open(os.path.join(CORPUS, tname), "w") as f:
        for r in truth:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n")
    crosscheck_views(truth, name)
    conns = len({(r["client_port"], r["server_port"], r.get("h2_stream_id")) for r in truth})
    deflate = any(r.get("compressed") for r in truth if r["view"] == "sent")
    tshark_keys = keyfile if (is_tls and not cap.get("dsb")) else None
    problems = []
    if sc.get("h2"):  # WebSocket over HTTP/2: tshark's WebSocket dissector does not look inside h2 DATA
        h2_extra = h2_report(sc, wdir, cfile, tshark_keys, truth)
        tls_extra = {"tls": is_tls, "keylog": os.path.basename(keyfile) if keyfile else None, **h2_extra}
        log(f"{name}: {len(truth)} truth records, {conns} WebSockets, {time.time() - t0:.1f}s")
        return {
            "file": capture_file(sc), "truth": tname, "format": cap["format"],
            "linktype": cap.get("linktype", "EN10MB"), "snaplen": cap.get("snaplen", 262144),
            "lossy": False, "loss_method": None, "starts_after_handshake": False,
            "connections": conns, "deflate": deflate,
            "ip_version": 6 if any(":" in pr["server"].get("host", "") for pr in sc["pairs"]) else 4,
            "server_ports": [pr["server"]["port"] for pr in sc["pairs"]],
            "description": sc["description"], **tls_extra,
        }
    set_extra = {}
    if rotated:
        problems = tshark_check(merged, sc, truth, tshark_keys)
        set_extra["set"] = set_report(sc, cfile, files, truth)
    elif not (late or cap.get("snaplen")):
        problems = tshark_check(cfile, sc, truth, tshark_keys, tolerate=sc.get("tshark_tolerate"))
    tls_extra = {"tls": is_tls, "keylog": os.path.basename(keyfile) if keyfile and not cap.get("dsb") else None}
    if is_tls:
        if cap.get("dsb"):
            tls_extra["keylog_in_dsb"] = True
            tls_extra["keylog_copy"] = os.path.basename(keyfile)
        tls_extra.update(tls_report(sc, wdir, cfile, keyfile, tshark_keys, truth))
        tls_extra["tshark_websocket_check"] = "agrees" if not problems else problems[:20]
    log(f"{name}: {len(truth)} truth records, {conns} connections, {time.time() - t0:.1f}s")
    return {
        "file": capture_file(sc),
        "truth": tname,
        "format": cap["format"],
        "linktype": cap.get("linktype", "EN10MB"),
        "snaplen": cap.get("snaplen", 262144),
        "lossy": bool(lossy),
        "loss_method": {True: "iptables OUTPUT statistic DROP 4% (capture on lo)",
                        "input-nflog": "iptables INPUT statistic DROP 4%, capture = NFLOG of surviving packets"}.get(lossy),
        "starts_after_handshake": late,
        "connections": conns,
        "deflate": deflate,
        "ip_version": 6 if any(":" in pr["server"].get("host", "") for pr in sc["pairs"]) else 4,
        "server_ports": [pr["server"]["port"] for pr in sc["pairs"]],
        "description": sc["description"],
        **tls_extra,
        **set_extra,
    }


def collect_keys(sc, wdir):
    """corpus/<name>.keys: the NSS key logs exactly as the peers wrote them, concatenated
    per pair (client's, then server's); lines logged by both peers appear twice."""
    parts = []
    for pr in sc["pairs"]:
        for role in ("client", "server"):
            path = os.path.join(wdir, f"{pr['name']}.{role}.keys")
            if os.path.exists(path):
                with open(path, "rb") as f:
                    parts.append(f.read())
            else:
                log(f"warning: no key log from {pr['name']} {role}")
    out = os.path.join(CORPUS, f"{sc['name']}.keys")
    with open(out, "wb") as f:
        f.write(b"".join(parts))
    os.chmod(out, 0o644)
    return out


def tshark_fields(cfile, keys, flt, fields, extra=()):
    cmd = ["tshark", "-r", cfile, "-n", "-o", "tcp.reassemble_out_of_order:TRUE"]
    if keys:
        cmd += ["-o", f"tls.keylog_file:{keys}"]
    cmd += [*extra, "-Y", flt, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def follow_tls(cfile, keys, stream):
    """Decrypted bytes per direction of one TCP stream, as tshark's follow,tls,raw sees them."""
    cmd = ["tshark", "-r", cfile, "-n", "-o", "tcp.reassemble_out_of_order:TRUE"]
    if keys:
        cmd += ["-o", f"tls.keylog_file:{keys}"]
    cmd += ["-q", "-z", f"follow,tls,raw,{stream}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    data = {0: bytearray(), 1: bytearray()}
    body = False
    for line in out.splitlines():
        if line.startswith("Node 1:"):
            body = True
            continue
        if not body or line.startswith("====="):
            continue
        side = 1 if line.startswith("\t") else 0
        try:
            data[side] += bytes.fromhex(line.strip())
        except ValueError:
            pass
    # tshark 4.0 sometimes names the nodes oddly ("Node 1: :0"); tell the client's side
    # (the one that starts with the HTTP upgrade request) by its content
    a, b = bytes(data[0]), bytes(data[1])
    return (b, a) if b.startswith(b"GET /") else (a, b)


def tls_report(sc, wdir, cfile, keyfile, tshark_keys, truth):
    """Per connection: what both peers reported about their TLS session (they must agree),
    what is on the wire (tshark: SNI, ServerHello suite), which key log labels exist for the
    connection's client random, and whether tshark decrypts the stream (follow,tls,raw)."""
    reports = defaultdict(dict)
    for path in glob.glob(os.path.join(wdir, "*.tls.jsonl")):
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                reports[(r["client_port"], r["server_port"])][r["role"]] = r
    keylog = defaultdict(lambda: defaultdict(int))
    with open(keyfile) as f:
        for line in f:
            p = line.split()
            if len(p) == 3:
                keylog[p[1].lower()][p[0]] += 1
    hello = {}
    for stream, sport, dport, rnd, sni, sidlen, etypes, elens in tshark_fields(
            cfile, tshark_keys, "tls.handshake.type == 1",
            ["tcp.stream", "tcp.srcport", "tcp.dstport", "tls.handshake.random", "tls.handshake.extensions_server_name",
             "tls.handshake.session_id_length", "tls.handshake.extension.type", "tls.handshake.extension.len"]):
        ext = dict(zip((int(x) for x in etypes.split(",") if x), (int(x) for x in elens.split(",") if x)))
        hello[(int(sport), int(dport))] = {"stream": int(stream), "random": rnd.replace(":", "").lower(),
                                           "sni": sni or None, "session_id_length": int(sidlen or 0),
                                           "ticket_length": ext.get(35), "psk_offered": 41 in ext,
                                           "alpn_offered": 16 in ext}
    shello = {}
    for sport, dport, suite, ver, exts in tshark_fields(
            cfile, tshark_keys, "tls.handshake.type == 2",
            ["tcp.srcport", "tcp.dstport", "tls.handshake.ciphersuite",
             "tls.handshake.extensions.supported_version", "tls.handshake.extension.type"]):
        exts = {int(x) for x in exts.split(",") if x}
        shello[(int(dport), int(sport))] = {"suite": suite.split(",")[0], "supported_version": ver or None,
                                            "encrypt_then_mac": 22 in exts, "extended_master_secret": 23 in exts,
                                            "session_ticket_ext": 35 in exts, "pre_shared_key_ext": 41 in exts}
    kupd = defaultdict(lambda: {"client_to_server": [], "server_to_client": []})
    for sport, dport, req in tshark_fields(cfile, tshark_keys, "tls.handshake.type == 24",
                                           ["tcp.srcport", "tcp.dstport", "tls.handshake.key_update.request_update"]):
        for r in req.split(","):
            if (int(sport), int(dport)) in hello:
                kupd[(int(sport), int(dport))]["client_to_server"].append(int(r))
            else:
                kupd[(int(dport), int(sport))]["server_to_client"].append(int(r))
    conn_of = {(r["client_port"], r["server_port"]): r["conn"] for r in truth}
    ku_calls = {}  # SSL_key_update calls the scripts made (the automatic answers are not in here)
    for pr in sc["pairs"]:
        for i, cn in enumerate(pr["connections"]):
            acts = [a for a in sc["scripts"][cn["script"]] if a["op"] == "keyupdate"]
            if acts:
                ku_calls[f"{pr['name']}/{i}"] = {
                    d: [int(a.get("requested", False)) for a in acts if a["from"] == who]
                    for d, who in (("client_to_server", "client"), ("server_to_client", "server"))}
    wanted = {}  # what the scenario asked for, checked against what the peers negotiated
    for pr in sc["pairs"]:
        for i, cn in enumerate(pr["connections"]):
            o = {**pr["server"].get("tls", {}), **pr["client"].get("tls", {}), **cn.get("tls", {})}
            w = {}
            for k in ("ciphersuites", "ciphers"):
                if o.get(k) and ":" not in o[k].split(":@")[0]:
                    w["cipher"] = o[k].split(":@")[0]
            if o.get("max_version") == "TLSv1.2":
                w["version"] = "TLSv1.2"
            w["resumed"] = "resume_from" in cn.get("tls", {})
            wanted[f"{pr['name']}/{i}"] = w
    entries, all_ok = [], True
    for key in sorted(conn_of, key=lambda k: conn_of[k]):
        rep = reports.get(key, {})
        c, s_ = rep.get("client"), rep.get("server")
        if c is None and s_ is None:
            raise RuntimeError(f"no TLS report for {key}")
        a = c or s_
        for fld in ("version", "cipher", "alpn", "resumed"):
            if c and s_ and c[fld] != s_[fld]:
                raise RuntimeError(f"{conn_of[key]}: client says {fld}={c[fld]!r}, server {s_[fld]!r}")
        for fld, v in wanted.get(conn_of[key], {}).items():
            if a[fld] != v:
                raise RuntimeError(f"{conn_of[key]}: wanted {fld}={v!r}, peers negotiated {a[fld]!r}")
        h = hello.get(key)
        if h is None:
            raise RuntimeError(f"tshark sees no ClientHello for {key}")
        cli, srv = follow_tls(cfile, tshark_keys, h["stream"])
        ok = cli.startswith(b"GET /") and srv.startswith(b"HTTP/1.1 101")
        all_ok &= ok
        sh = shello.get(key, {})
        how = None
        if a["resumed"]:
            how = ("psk" if sh.get("pre_shared_key_ext") else "?") if a["version"] == "TLSv1.3" else \
                ("ticket" if h["ticket_length"] else "session_id")
        entries.append({
            "conn": conn_of[key], "client_port": key[0], "server_port": key[1],
            "version": a["version"], "cipher": a["cipher"],
            "sni": (s_ or {}).get("sni") if s_ else a.get("sni"),
            "alpn": a["alpn"], "resumed": a["resumed"], "resumption": how,
            "wire": {"tcp_stream": h["stream"], "client_random": h["random"], "sni": h["sni"],
                     "client_hello_session_id_length": h["session_id_length"],
                     "client_hello_ticket_length": h["ticket_length"], "client_hello_psk": h["psk_offered"],
                     **{f"server_hello_{k}": v for k, v in shello.get(key, {}).items()}},
            # label -> number of lines for this client random (both peers log: usually 2 each)
            **({"key_updates_on_wire": kupd[key], "key_update_calls": ku_calls.get(conn_of[key])}
               if key in kupd or conn_of[key] in ku_calls else {}),
            "keylog_labels": dict(sorted(keylog.get(h["random"], {}).items())),
            "tshark_decrypted": ok,
            "tshark_decrypted_bytes": [len(cli), len(srv)],
            "reported_by": {k: {f: v for f, v in r.items() if f not in ("role", "conn", "client_port", "server_port")}
                            for k, r in rep.items()},
        })
        log(f"{conn_of[key]}: {a['version']} {a['cipher']} alpn={a['alpn']} resumed={a['resumed']} "
            f"keylog={entries[-1]['keylog_labels']} tshark follow: {len(cli)}/{len(srv)} bytes ok={ok}")
    return {"tls_connections": entries, "tshark_decrypted_all": all_ok}


# ------------------------------------------------------------------ WebSocket over HTTP/2 (RFC 8441)
def _as_list(x):
    return x if isinstance(x, list) else [x]


def h2_frames(cfile, sc, keys):
    """Every HTTP/2 frame tshark decodes: (frame number, client port, direction, stream id, type,
    flags, DATA payload, [(header name, value)])."""
    cmd = ["tshark", "-r", cfile, "-n", "--no-duplicate-keys", "-o", "tcp.reassemble_out_of_order:TRUE"]
    if keys:
        cmd += ["-o", f"tls.keylog_file:{keys}"]
    for pr in sc["pairs"]:
        cmd += ["-d", f"tcp.port=={pr['server']['port']},{'tls' if sc.get('tls') else 'http2'}"]
    cmd += ["-Y", "http2", "-T", "json", "-J", "frame tcp http2"]
    pkts = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout or "[]")
    server_ports = {pr["server"]["port"] for pr in sc["pairs"]}
    out = []
    for pk in pkts:
        lay = pk["_source"]["layers"]
        num = int(_as_list(lay["frame"])[0]["frame.number"])
        tcp = _as_list(lay["tcp"])[0]
        sp, dp = int(tcp["tcp.srcport"]), int(tcp["tcp.dstport"])
        cport, d = (sp, "client_to_server") if dp in server_ports else (dp, "server_to_client")
        for h in _as_list(lay["http2"]):
            for st in _as_list(h.get("http2.stream", [])):
                if "http2.type" not in st:
                    continue
                data = bytes.fromhex(st.get("http2.data.data", "").replace(":", "")) if st["http2.type"] == "0" else None
                hdrs = [(x.get("http2.header.name"), x.get("http2.header.value"))
                        for x in _as_list(st.get("http2.header", []))]
                out.append((num, cport, d, int(st["http2.streamid"]), int(st["http2.type"]),
                            int(st["http2.flags"], 16), data, hdrs))
    return out


def parse_ws_frames(data, client, deflate):
    """WebSocket messages in one direction of an RFC 8441 stream (the concatenated DATA payloads):
    [opcode, frames, rsv1, length, sha256] per message; deflate = (sender_no_context_takeover,) or None.
    Also returns problems (masking, truncation)."""
    import hashlib
    import zlib
    msgs, problems, pos, cur, inflater = [], [], 0, None, None
    while pos < len(data):
        if pos + 2 > len(data):
            problems.append("truncated frame header")
            break
        b0, b1 = data[pos], data[pos + 1]
        fin, rsv1, op, masked, ln = b0 >> 7, (b0 >> 6) & 1, b0 & 15, b1 >> 7, b1 & 127
        pos += 2
        if ln == 126:
            ln = int.from_bytes(data[pos:pos + 2], "big")
            pos += 2
        elif ln == 127:
            ln = int.from_bytes(data[pos:pos + 8], "big")
            pos += 8
        key = None
        if masked:
            key = data[pos:pos + 4]
            pos += 4
        if bool(masked) != client:
            problems.append(f"frame at {pos}: masked={masked}")
        pl = data[pos:pos + ln]
        pos += ln
        if len(pl) < ln:
            problems.append("truncated frame payload")
            break
        if key:
            k = (key * (ln // 4 + 1))[:ln]
            pl = (int.from_bytes(pl, "big") ^ int.from_bytes(k, "big")).to_bytes(ln, "big") if ln else b""
        if op >= 8:
            msgs.append([OPCODES.get(op, str(op)), 1, False, len(pl), hashlib.sha256(pl).hexdigest()])
            continue
        if op in (1, 2):
            cur = [OPCODES[op], 1, bool(rsv1), [pl]]
        elif cur is None:
            problems.append("continuation without a message")
            continue
        else:
            cur[1] += 1
            cur[3].append(pl)
        if fin:
            body = b"".join(cur[3])
            if cur[2]:
                if deflate is None:
                    problems.append("RSV1 without permessage-deflate")
                else:
                    if inflater is None or deflate[0]:
                        inflater = zlib.decompressobj(-15)
                    body = inflater.decompress(body + b"\x00\x00\xff\xff")
            msgs.append([cur[0], cur[1], cur[2], len(body), hashlib.sha256(body).hexdigest()])
            cur = None
    return msgs, problems


def _deflate_params(ext):
    """permessage-deflate parameters of a sec-websocket-extensions response value"""
    if not ext or not ext.startswith("permessage-deflate"):
        return None
    return {p.split("=")[0].strip(): (p.split("=")[1].strip() if "=" in p else True)
            for p in ext.split(";")[1:]}


def h2_report(sc, wdir, cfile, keys, truth):
    """The HTTP/2 side of an h2 scenario, from tshark (-Y http2; with the key log for TLS):
    every stream's request and response HEADERS, the WebSockets (extended CONNECT + :status 200)
    with their stream ids, and the other streams. The WebSocket frames are parsed here from the
    DATA payloads tshark decoded and compared with the truth (tshark itself does not dissect
    WebSocket inside HTTP/2). Cross-checked with what the peers logged about their streams."""
    frames = h2_frames(cfile, sc, keys)
    streams = {}
    settings = defaultdict(dict)
    for num, cport, d, sid, typ, flags, data, hdrs in frames:
        if sid == 0:
            continue
        s = streams.setdefault((cport, sid), {"req": None, "resp": None, "data": {"client_to_server": bytearray(),
                                                                              "server_to_client": bytearray()},
                                              "end": {}, "rst": None, "frames": 0, "first_frame": num})
        s["frames"] += 1
        if typ == 1:
            if d == "client_to_server" and s["req"] is None:
                s["req"] = hdrs
            elif d == "server_to_client" and s["resp"] is None:
                s["resp"] = hdrs
        elif typ == 0:
            s["data"][d] += data
        elif typ == 3:
            s["rst"] = d
        if typ in (0, 1) and flags & 1:
            s["end"][d] = num
    # SETTINGS_ENABLE_CONNECT_PROTOCOL (0x8) as tshark shows it (fields: id/value per setting)
    ecp = {}
    for sp, dp, ids, vals in tshark_fields(
            cfile, keys, "http2.type == 4 && http2.flags.ack.settings == 0",
            ["tcp.srcport", "tcp.dstport", "http2.settings.id", "http2.settings.extended_connect"],
            extra=[x for pr in sc["pairs"] for x in
                   ("-d", f"tcp.port=={pr['server']['port']},{'tls' if sc.get('tls') else 'http2'}")]):
        if int(sp) in {pr["server"]["port"] for pr in sc["pairs"]}:
            ecp[int(dp)] = {"setting_ids": [int(x) for x in ids.split(",") if x],
                            "enable_connect_protocol": vals or None}
    conn_of = {(r["client_port"], r["h2_stream_id"]): r["conn"] for r in truth}
    want = defaultdict(list)
    for r in truth:
        if r["view"] == "sent":
            want[(r["client_port"], r["h2_stream_id"], r["direction"])].append(
                [r["opcode"], r["fragments"], r["compressed"], r["length"], r["sha256"]])
    peer_logs = defaultdict(dict)
    for path in glob.glob(os.path.join(wdir, "*.h2.jsonl")):
        role = path.rsplit(".", 3)[-3]
        with open(path) as f:
            for line in f:
                e = json.loads(line)
                k = (e["client_port"], e["stream"])
                if role == "server" and e.get("event") == "response":
                    peer_logs[k]["server_status"] = e["status"]
                elif role == "client":
                    peer_logs[k]["client_status"] = e["status"]
    websockets, others, problems = [], [], []
    for (cport, sid), s in sorted(streams.items()):
        req, resp = dict(s["req"] or []), dict(s["resp"] or [])
        status = int(resp[":status"]) if ":status" in resp else None
        pl = peer_logs.get((cport, sid), {})
        for who in ("client_status", "server_status"):
            if who in pl and pl[who] != status:
                problems.append(f"stream {sid}: {who} {pl[who]} but tshark shows :status {status}")
        if req.get(":method") == "CONNECT" and req.get(":protocol") == "websocket" and status == 200:
            ext = resp.get("sec-websocket-extensions")
            dp = _deflate_params(ext)
            entry = {"conn": conn_of.get((cport, sid)), "client_port": cport, "h2_stream_id": sid,
                     "path": req.get(":path"), "authority": req.get(":authority"), "scheme": req.get(":scheme"),
                     "status": status, "extensions_offered": req.get("sec-websocket-extensions"),
                     "extensions": ext, "protocols_offered": req.get("sec-websocket-protocol"),
                     "protocol": resp.get("sec-websocket-protocol"),
                     "end_stream": {k: v is not None for k, v in
                                    (("client_to_server", s["end"].get("client_to_server")),
                                     ("server_to_client", s["end"].get("server_to_client")))},
                     "rst_stream": s["rst"],
                     "data_bytes": {k: len(v) for k, v in s["data"].items()},
                     "tshark_headers": True}
            for d in ("client_to_server", "server_to_client"):
                sender_noctx = None
                if dp is not None:
                    sender_noctx = (bool(dp.get("client_no_context_takeover" if d == "client_to_server"
                                                else "server_no_context_takeover")),)
                got, probs = parse_ws_frames(bytes(s["data"][d]), d == "client_to_server", sender_noctx)
                w = want.get((cport, sid, d), [])
                problems += [f"stream {sid} {d}: {p}" for p in probs]
                if len(got) != len(w):
                    problems.append(f"stream {sid} {d}: truth {len(w)} messages, h2 DATA {len(got)}")
                for i, (a, b) in enumerate(zip(w, got)):
                    if a[0] != b[0] or (a[1] is not None and a[1] != b[1]) or \
                            (a[2] is not None and a[2] != b[2]) or a[3] != b[3] or a[4] != b[4]:
                        problems.append(f"stream {sid} {d} #{i}: truth {a[:4]} h2 DATA {b[:4]}")
                entry.setdefault("messages", {})[d] = len(got)
            websockets.append(entry)
        else:
            others.append({"stream": sid, "client_port": cport, "method": req.get(":method"),
                           "path": req.get(":path"), "protocol": req.get(":protocol"), "status": status,
                           "content_type": resp.get("content-type"),
                           "response_body_bytes": len(s["data"]["server_to_client"]),
                           "end_stream": {k: v is not None for k, v in
                                          (("client_to_server", s["end"].get("client_to_server")),
                                           ("server_to_client", s["end"].get("server_to_client")))},
                           "rst_stream": s["rst"]})
    ws_keys = {(e["client_port"], e["h2_stream_id"]) for e in websockets}
    for k in {(r["client_port"], r["h2_stream_id"]) for r in truth} - ws_keys:
        problems.append(f"truth WebSocket {k} not found as an extended CONNECT with :status 200")
    if problems:
        raise RuntimeError("h2 check failed:\n  " + "\n  ".join(problems[:30]))
    log(f"h2: {len(websockets)} WebSockets {[(e['h2_stream_id'], e['path'], e['extensions'], e['protocol']) for e in websockets]}, "
        f"other streams {[(o['stream'], o['method'], o['path'], o['status']) for o in others]}; "
        "WebSocket frames in the DATA agree with the truth")
    res = {"h2": True, "h2_websockets": websockets, "h2_other_streams": others,
           "h2_settings_from_server": {str(k): v for k, v in ecp.items()},
           "tshark_h2_headers": "tshark -Y http2 shows every stream's HEADERS, the WebSocket requests with "
                                ":method CONNECT and :protocol websocket (it does not dissect the WebSocket "
                                "frames inside the DATA frames)",
           "h2_data_check": "agrees"}
    if sc.get("tls"):
        res.update(h2_tls_report(sc, wdir, cfile, keys, truth))
    return res


def h2_tls_report(sc, wdir, cfile, keys, truth):
    """tls_connections for h2 scenarios: one entry per TCP connection (which may carry several
    WebSockets and other streams); peers' reports must agree; ALPN must be h2."""
    reports = defaultdict(dict)
    for path in glob.glob(os.path.join(wdir, "*.tls.jsonl")):
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                reports[(r["client_port"], r["server_port"])][r["role"]] = r
    keylog = defaultdict(lambda: defaultdict(int))
    with open(keys) as f:
        for line in f:
            p = line.split()
            if len(p) == 3:
                keylog[p[1].lower()][p[0]] += 1
    extra = [x for pr in sc["pairs"] for x in ("-d", f"tcp.port=={pr['server']['port']},tls")]
    hello = {}
    for stream, sport, dport, rnd, sni, alpn in tshark_fields(
            cfile, keys, "tls.handshake.type == 1",
            ["tcp.stream", "tcp.srcport", "tcp.dstport", "tls.handshake.random",
             "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str"], extra=extra):
        hello[(int(sport), int(dport))] = {"stream": int(stream), "random": rnd.replace(":", "").lower(),
                                           "sni": sni or None, "alpn_offered": alpn.split(",") if alpn else []}
    shello = {}
    for sport, dport, suite, ver in tshark_fields(
            cfile, keys, "tls.handshake.type == 2",
            ["tcp.srcport", "tcp.dstport", "tls.handshake.ciphersuite", "tls.handshake.extensions.supported_version"],
            extra=extra):
        shello[(int(dport), int(sport))] = {"suite": suite.split(",")[0], "supported_version": ver or None}
    alpn_sel = {}
    for sport, dport, alpn in tshark_fields(cfile, keys, "tls.handshake.type == 8",
                                            ["tcp.srcport", "tcp.dstport", "tls.handshake.extensions_alpn_str"],
                                            extra=extra):
        alpn_sel[(int(dport), int(sport))] = alpn or None
    ws_by_port = defaultdict(list)
    for r in truth:
        if r["conn"] not in ws_by_port[r["client_port"]]:
            ws_by_port[r["client_port"]].append(r["conn"])
    entries, all_ok = [], True
    for key, h in sorted(hello.items(), key=lambda kv: kv[1]["stream"]):
        rep = reports.get(key, {})
        c, s_ = rep.get("client"), rep.get("server")
        a = c or s_
        if c and s_:
            for fld in ("version", "cipher", "alpn", "resumed"):
                if c[fld] != s_[fld]:
                    raise RuntimeError(f"{key}: client says {fld}={c[fld]!r}, server {s_[fld]!r}")
        cli, srv = follow_tls(cfile, keys, h["stream"])
        if srv.startswith(b"PRI * HTTP/2.0"):
            cli, srv = srv, cli
        ok = cli.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") and len(srv) > 0
        if key[0] in ws_by_port and not ok:
            raise RuntimeError(f"{key}: tshark does not decrypt the HTTP/2 connection")
        all_ok &= ok
        entries.append({
            "conn": None, "websocket_conns": ws_by_port.get(key[0], []),
            "client_port": key[0], "server_port": key[1],
            "version": a["version"] if a else None, "cipher": a["cipher"] if a else None,
            "sni": (s_ or {}).get("sni") if s_ else (a or {}).get("sni"),
            "alpn": a["alpn"] if a else None, "resumed": a["resumed"] if a else None, "resumption": None,
            "wire": {"tcp_stream": h["stream"], "client_random": h["random"], "sni": h["sni"],
                     "alpn_offered": h["alpn_offered"], "alpn_selected": alpn_sel.get(key),
                     **{f"server_hello_{k}": v for k, v in shello.get(key, {}).items()}},
            "keylog_labels": dict(sorted(keylog.get(h["random"], {}).items())),
            "tshark_decrypted": ok, "tshark_decrypted_bytes": [len(cli), len(srv)],
            "reported_by": {k: {f: v for f, v in r.items() if f not in ("role", "conn", "client_port", "server_port")}
                            for k, r in rep.items()},
        })
        log(f"TLS {key}: {entries[-1]['version']} {entries[-1]['cipher']} alpn={entries[-1]['alpn']} "
            f"ws={entries[-1]['websocket_conns']} keylog={entries[-1]['keylog_labels']} decrypted={ok}")
    return {"tls_connections": entries, "tshark_decrypted_all": all_ok}


def nflog_to_ethernet(src, dst, nano=False):
    """Rewrite a LINKTYPE_NFLOG pcap as LINKTYPE_ETHERNET with the all-zero MAC
    header loopback uses, keeping timestamps; only IPv4/IPv6 payloads (TLV 9)."""
    import struct
    with open(src, "rb") as f:
        data = f.read()
    magic = data[:4]
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    _, _, _, _, _, snap, lt = struct.unpack(e + "IHHiIII", data[:24])
    assert lt == 239, f"not NFLOG: {lt}"
    out = [struct.pack(e + "IHHiIII", struct.unpack(e + "I", magic)[0], 2, 4, 0, 0, 262144, 1)]
    pos, n = 24, 0
    while pos + 16 <= len(data):
        ts, tf, incl, orig = struct.unpack(e + "IIII", data[pos:pos + 16])
        rec = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        family = rec[0]
        p = 4
        payload = None
        while p + 4 <= len(rec):
            tlen, ttype = struct.unpack("<HH", rec[p:p + 4])  # NFLOG TLVs are host (LE) order
            if tlen < 4:
                break
            if ttype == 9:
                payload = rec[p + 4:p + tlen]
            p += (tlen + 3) & ~3
        if payload is None:
            continue
        etype = b"\x08\x00" if family == 2 else b"\x86\xdd"
        frame = b"\x00" * 12 + etype + payload
        out.append(struct.pack(e + "IIII", ts, tf, len(frame), len(frame)) + frame)
        n += 1
    with open(dst, "wb") as f:
        f.write(b"".join(out))
    return n


def merge_truth(sc, wdir):
    recs = []
    order = {}
    for pr in sc["pairs"]:
        for role in ("client", "server"):
            path = os.path.join(wdir, f"{pr['name']}.{role}.jsonl")
            with open(path) as f:
                for line in f:
                    r = json.loads(line)
                    r["server_ip"] = pr["server"].get("host", "127.0.0.1")
                    recs.append(r)
    # stable order: by connection (pair/index), direction, sent records by index,
    # then received records in the order the receiver saw them
    for pr_i, pr in enumerate(sc["pairs"]):
        for ci in range(len(pr["connections"])):
            order[f"{pr['name']}/{ci}"] = (pr_i, ci)
    # a browser peer cannot see its own port: take it from the other peer's records
    ports = {r["conn"]: r["client_port"] for r in recs if r["client_port"] is not None}
    sids = {r["conn"]: r["h2_stream_id"] for r in recs if r.get("h2_stream_id") is not None}
    for r in recs:
        if r["client_port"] is None:
            r["client_port"] = ports[r["conn"]]
        if "h2_stream_id" in r and r["h2_stream_id"] is None:
            r["h2_stream_id"] = sids[r["conn"]]
    out = []
    for i, r in enumerate(recs):
        out.append(((order[r["conn"]], r["direction"] != "client_to_server",
                     r["view"] != "sent", r["index"] if r["index"] is not None else i), r))
    out.sort(key=lambda x: x[0])
    res = []
    for _, r in out:
        nr = {k: r.get(k) for k in ("peer", "view", "impl", "conn", "server_ip", "client_port", "server_port",
                                     *(("h2_stream_id",) if "h2_stream_id" in r else ()),
                                     "direction", "index", "opcode", "length", "sha256", "fragments",
                                     "compressed", "close_code", "close_reason", "auto")}
        for k in ("text", "hex"):
            if k in r:
                nr[k] = r[k]
        res.append(nr)
    return res


def crosscheck_views(truth, name):
    by = defaultdict(lambda: {"sent": [], "received": []})
    for r in truth:
        by[(r["client_port"], r.get("h2_stream_id"), r["direction"])][r["view"]].append(r)
    for key, v in by.items():
        s = [(r["opcode"], r["sha256"]) for r in v["sent"] if r["opcode"] in ("text", "binary")]
        g = [(r["opcode"], r["sha256"]) for r in v["received"] if r["opcode"] in ("text", "binary")]
        if s != g:
            raise RuntimeError(f"{name} {key}: sent data messages != received ({len(s)} vs {len(g)})")
        sc = [(r["close_code"], r["close_reason"]) for r in v["sent"] if r["opcode"] == "close"]
        gc = [(r["close_code"], r["close_reason"]) for r in v["received"] if r["opcode"] == "close"]
        if gc and gc[0][1] is not None and sc != gc:
            raise RuntimeError(f"{name} {key}: close sent {sc} != received {gc}")
        idx = [r["index"] for r in v["sent"]]
        if idx != list(range(len(idx))):
            raise RuntimeError(f"{name} {key}: sent indexes not contiguous")


def read_pcap(path):
    """(packet number from 1, time in seconds, frame bytes) of a pcap file (us or ns)."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    e, nano = {b"\xd4\xc3\xb2\xa1": ("<", False), b"\xa1\xb2\xc3\xd4": (">", False),
               b"\x4d\x3c\xb2\xa1": ("<", True), b"\xa1\xb2\x3c\x4d": (">", True)}[data[:4]]
    assert struct.unpack(e + "I", data[20:24])[0] == 1, f"{path}: not Ethernet"
    pos, n = 24, 0
    while pos + 16 <= len(data):
        ts, frac, incl, _ = struct.unpack(e + "IIII", data[pos:pos + 16])
        n += 1
        yield n, ts + frac / (1e9 if nano else 1e6), data[pos + 16:pos + 16 + incl]
        pos += 16 + incl


def set_report(sc, cdir, files, truth):
    """What straddles the files of a rotated set, read from the files themselves (IPv4 over
    Ethernet, no loss): per connection the files of its SYN, upgrade request and 101; per
    WebSocket frame and message the files of its first and last bytes. The frame structure
    found must be the truth's (opcode and frame count of every message, in order). Aborts
    (so the attempt is retried) unless the scenario's "require" is met."""
    import bisect
    import struct
    server_ports = {pr["server"]["port"] for pr in sc["pairs"]}
    segs = defaultdict(list)  # (client port, direction) -> [(seq, payload, file, packet)]
    isn, syn_file, finfo = {}, {}, []
    for fi, fn in enumerate(files):
        npk, first, last = 0, None, None
        for n, t, fr in read_pcap(os.path.join(cdir, fn)):
            npk, first, last = n, first if first is not None else t, t
            if fr[12:14] != b"\x08\x00" or fr[23] != 6:
                continue
            ip = fr[14:]
            ihl = (ip[0] & 15) * 4
            tot = struct.unpack(">H", ip[2:4])[0]
            tcp = ip[ihl:tot]
            sp, dp, seq = struct.unpack(">HHI", tcp[:8])
            flags = tcp[13]
            key = (sp, "client_to_server") if dp in server_ports else (dp, "server_to_client")
            if flags & 2:
                isn[key] = seq
                if key[1] == "client_to_server":
                    syn_file[key[0]] = fi
            payload = tcp[(tcp[12] >> 4) * 4:]
            if payload:
                segs[key].append(((seq - isn[key] - 1) % (1 << 32), payload, fi, n))
        finfo.append({"name": fn, "packets": npk, "bytes": os.path.getsize(os.path.join(cdir, fn)),
                      "first_time": first, "last_time": last})
    streams = {}
    for key, sl in segs.items():  # reassemble; each byte belongs to the first packet that carried it
        sl.sort(key=lambda x: (x[0], x[3]))
        buf, starts, owners = bytearray(), [], []
        for off, pl, fi, n in sl:
            if off + len(pl) <= len(buf):
                continue
            if off > len(buf):
                raise RuntimeError(f"{key}: hole at {len(buf)} in the rotated set")
            starts.append(len(buf))
            owners.append(fi)
            buf += pl[len(buf) - off:]
        streams[key] = (bytes(buf), starts, owners)

    def file_at(key, off):
        _, starts, owners = streams[key]
        return owners[bisect.bisect_right(starts, off) - 1]

    sent = defaultdict(list)
    for r in truth:
        if r["view"] == "sent":
            sent[(r["client_port"], r["direction"])].append(r)
    conn_of = {r["client_port"]: r["conn"] for r in truth}
    handshakes, messages = [], []
    nframes = split_frames = split_headers = split_compressed = 0
    deflate_files = defaultdict(set)
    for key in sorted(streams):
        buf = streams[key][0]
        head = buf.index(b"\r\n\r\n") + 4
        if key[1] == "client_to_server":
            cport = key[0]
            resp = streams[(cport, "server_to_client")][0].index(b"\r\n\r\n") + 4
            h = {"conn": conn_of[cport], "client_port": cport, "syn_file": syn_file[cport],
                 "request_files": [file_at(key, 0), file_at(key, head - 1)],
                 "response_files": [file_at((cport, "server_to_client"), 0),
                                    file_at((cport, "server_to_client"), resp - 1)]}
            h["straddles"] = len({h["syn_file"], *h["request_files"], *h["response_files"]}) > 1
            handshakes.append(h)
        frames, pos = [], head
        while pos + 2 <= len(buf):
            b0, b1 = buf[pos], buf[pos + 1]
            ln, hl = b1 & 127, 2
            if ln == 126:
                ln, hl = struct.unpack(">H", buf[pos + 2:pos + 4])[0], 4
            elif ln == 127:
                ln, hl = struct.unpack(">Q", buf[pos + 2:pos + 10])[0], 10
            hl += 4 if b1 & 128 else 0
            frames.append((pos, hl, ln, bool(b0 & 128), bool(b0 & 64), b0 & 15))
            pos += hl + ln
        if pos != len(buf):
            raise RuntimeError(f"{key}: stream does not end at a frame boundary")
        msgs, cur = [], None
        for fr in frames:
            if fr[5] >= 8:
                msgs.append([fr])
            elif fr[5] in (1, 2):
                cur = [fr]
                if fr[3]:
                    msgs.append(cur)
            else:
                cur.append(fr)
                if fr[3]:
                    msgs.append(cur)
        want = sent[key]
        if [(OPCODES[m[0][5]], len(m)) for m in msgs] != [(r["opcode"], r["fragments"]) for r in want]:
            raise RuntimeError(f"{key}: frames in the rotated set are not the truth's messages")
        for m, r in zip(msgs, want):
            straddling = 0
            for (p, hl, ln, _, _, _) in m:
                nframes += 1
                a, b = file_at(key, p), file_at(key, p + hl + ln - 1)
                if a != b:
                    straddling += 1
                    split_compressed += bool(m[0][4])
                if file_at(key, p + hl - 1) != a:
                    split_headers += 1
            split_frames += straddling
            first, last = file_at(key, m[0][0]), file_at(key, m[-1][0] + m[-1][1] + m[-1][2] - 1)
            if m[0][4]:
                deflate_files[r["conn"]] |= {first, last}
            if first != last:
                messages.append({"conn": r["conn"], "client_port": key[0], "direction": key[1], "index": r["index"],
                                 "opcode": r["opcode"], "length": r["length"], "fragments": r["fragments"],
                                 "compressed": r["compressed"], "first_file": first, "last_file": last,
                                 "frames_straddling": straddling})
    rep = {"rotation": " ".join(f"-{k} {v}" for k, v in sc["capture"]["rotate"].items()),
           "files": finfo,
           "straddling": {"handshakes": handshakes, "messages": messages, "frames": nframes,
                          "frames_straddling": split_frames, "frame_headers_split": split_headers,
                          "compressed_frames_straddling": split_compressed,
                          "deflate_connection_files": {k: sorted(v) for k, v in sorted(deflate_files.items())}}}
    req = sc["capture"].get("require", {})
    got = {"handshakes": sum(h["straddles"] for h in handshakes), "messages": len(messages),
           "compressed_frames": split_compressed}
    log(f"set: {len(files)} files {[(f['name'], f['packets'], f['bytes']) for f in finfo]}; straddling: {got}, "
        f"{split_frames} of {nframes} frames, {split_headers} frame headers")
    for k, n in req.items():
        if got[k] < n:
            raise RuntimeError(f"rotated set: {got[k]} {k} straddle files, {n} required")
    return rep


def tshark_check(cfile, sc, truth, keys=None, tolerate=None):
    """Compare the frame structure tshark sees with the truth: per connection and
    direction the list of (opcode, number of frames, first-frame RSV1) and, for
    uncompressed messages, the payload length."""
    cmd = ["tshark", "-r", cfile, "-n", "--no-duplicate-keys", "-o", "tcp.reassemble_out_of_order:TRUE"]
    if keys:
        cmd += ["-o", f"tls.keylog_file:{keys}"]
    for pr in sc["pairs"]:
        if sc.get("tls"):
            cmd += ["-d", f"tcp.port=={pr['server']['port']},tls", "-d", f"tls.port=={pr['server']['port']},http"]
        else:
            cmd += ["-d", f"tcp.port=={pr['server']['port']},http"]
    cmd += ["-Y", "websocket", "-T", "json", "-J", "tcp websocket"]
    pkts = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout or "[]")
    server_ports = {pr["server"]["port"] for pr in sc["pairs"]}
    frames = defaultdict(list)

    def as_list(x):
        return x if isinstance(x, list) else [x]

    for pk in pkts:
        lay = pk["_source"]["layers"]
        tcp = as_list(lay["tcp"])[0]
        src, dst = int(tcp["tcp.srcport"]), int(tcp["tcp.dstport"])
        key = (src, "client_to_server") if dst in server_ports else (dst, "server_to_client")
        for w in as_list(lay["websocket"]):
            pl = int(w["websocket.payload_length"])
            if pl == 126:
                pl = int(w["websocket.payload_length_ext_16"])
            elif pl == 127:
                pl = int(w["websocket.payload_length_ext_64"])
            frames[key].append((w["websocket.fin"] in ("1", "True"), int(w["websocket.opcode"]),
                                w.get("websocket.pmc", "0") in ("1", "True"), pl))
    got = {}
    for key, fl in frames.items():
        msgs, cur = [], None
        for fin, op, r1, pl in fl:
            if op >= 8:
                msgs.append([OPCODES.get(op, str(op)), 1, False, pl])
            elif op in (1, 2):
                cur = [OPCODES.get(op, str(op)), 1, r1, pl]
                if fin:
                    msgs.append(cur)
            else:
                if cur is None:
                    continue
                cur[1] += 1
                cur[3] += pl
                if fin:
                    msgs.append(cur)
        got[key] = msgs
    want = defaultdict(list)
    for r in truth:
        if r["view"] == "sent":
            want[(r["client_port"], r["direction"])].append(
                [r["opcode"], r["fragments"], None if r["compressed"] is None else bool(r["compressed"]), r["length"]])
    problems = []
    for key in sorted(set(want) | set(got), key=str):
        w, g = want.get(key, []), got.get(key, [])
        if len(w) != len(g):
            problems.append(f"{key}: truth {len(w)} messages, tshark {len(g)}")
            continue
        for i, (a, b) in enumerate(zip(w, g)):
            # fragments / compressed are null where the sender could not know them (browser)
            comp = a[2] if a[2] is not None else b[2]
            if a[0] != b[0] or (a[1] is not None and a[1] != b[1]) or (a[2] is not None and a[2] != b[2]) \
                    or (not comp and a[3] != b[3]):
                problems.append(f"{key} #{i}: truth {a} tshark {b}")
    if problems:
        if tolerate:  # known tshark limitation for this scenario (README): record, do not abort
            log(f"tshark disagrees (tolerated: {tolerate}):\n  " + "\n  ".join(problems[:20]))
            return problems
        raise RuntimeError(f"tshark check failed for {cfile}:\n  " + "\n  ".join(problems[:20]))
    log(f"tshark agrees: {sum(len(v) for v in want.values())} messages in {len(want)} directions")
    return []


def main():
    os.makedirs(CORPUS, exist_ok=True)
    os.makedirs(WORK, exist_ok=True)
    only = sys.argv[1:]
    paths = sorted(glob.glob(os.path.join(HERE, "scenarios", "*.json")))
    mpath = os.path.join(CORPUS, "manifest.json")
    manifest = {}
    if os.path.exists(mpath) and only:
        with open(mpath) as f:
            manifest = {e["file"]: e for e in json.load(f)}
    for p in paths:
        name = os.path.basename(p)[:-5]
        if only and name not in only:
            continue
        last = None
        for attempt in range(3):
            try:
                e = run_scenario(p)
                manifest[e["file"]] = e
                break
            except Exception as ex:  # retry: a rare timing problem must not kill the run
                last = ex
                log(f"{name}: attempt {attempt + 1} failed: {ex}")
        else:
            raise SystemExit(f"scenario {name} failed: {last}")
    for e in manifest.values():  # plain ws:// captures: no TLS, no key log
        e.setdefault("tls", False)
        e.setdefault("keylog", None)
    with open(mpath, "w") as f:
        json.dump([manifest[k] for k in sorted(manifest)], f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
