"""Shared helpers for the Python peers: scenario loading, payload generation,
truth records.  The payload generators MUST stay byte-identical to
peers/common.js (node peer)."""

import hashlib
import json
import math

OPNAMES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


def gen_random(size, seed):
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
        i += 1
    return bytes(out[:size])


def gen_pattern(size, seed):
    unit = f"wsdissect-{seed} the quick brown fox jumps over the lazy dog 0123456789\n".encode()
    reps = size // len(unit) + 1
    return (unit * reps)[:size]


def gen_hextext(size, seed):
    return gen_random(math.ceil(size / 2), seed).hex().encode()[:size]


def payload_of(act):
    """Decoded payload bytes of a scripted action (text/binary/ping/pong)."""
    if "text" in act:
        return act["text"].encode("utf-8")
    if "hex" in act:
        return bytes.fromhex(act["hex"])
    g = act.get("gen")
    if g:
        kind, size, seed = g["kind"], g["size"], g.get("seed", 0)
        return {"random": gen_random, "pattern": gen_pattern, "hextext": gen_hextext}[kind](size, seed)
    return b""


def split_frags(payload, frags):
    """frags: list of byte lengths (must sum to len(payload))."""
    assert sum(frags) == len(payload), (frags, len(payload))
    out, pos = [], 0
    for n in frags:
        out.append(payload[pos:pos + n])
        pos += n
    return out


def close_payload(code, reason):
    if code is None:
        return b""
    return code.to_bytes(2, "big") + reason.encode("utf-8")


def record(*, peer, impl, cport, sport, direction, view, index, opcode, payload,
           fragments=None, compressed=None, close_code=None, close_reason=None,
           auto=False, conn=None):
    r = {
        "peer": peer,
        "view": view,
        "impl": impl,
        "conn": conn,
        "client_port": cport,
        "server_port": sport,
        "direction": direction,
        "index": index,
        "opcode": opcode,
        "length": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "fragments": fragments,
        "compressed": compressed,
        "close_code": close_code,
        "close_reason": close_reason,
        "auto": auto,
    }
    if opcode == "text" and len(payload) <= 200:
        r["text"] = payload.decode("utf-8")
    if len(payload) <= 200:
        r["hex"] = payload.hex()
    return r


def load(path, pair):
    with open(path) as f:
        sc = json.load(f)
    for p in sc["pairs"]:
        if p["name"] == pair:
            return sc, p
    raise SystemExit(f"pair {pair} not in {path}")
