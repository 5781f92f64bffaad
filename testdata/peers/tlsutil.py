"""TLS helpers for the Python peers (wss:// scenarios).

Certificates come from $WSD_CERTS (written by orchestrate.py:ensure_certs):
<dir>/{rsa,ecdsa}.{crt,key}, self-signed, CN/SAN ws.test.  Clients trust that
certificate as their only CA and verify the host name ws.test (they connect to
an IP address and send server_hostname/SNI "ws.test").

Every context writes an NSS key log (ssl.SSLContext.keylog_filename, i.e.
OpenSSL's keylog callback, appending to the given file).

Two things Python's ssl module has no API for are done through ctypes on the
OpenSSL objects behind the Python ones (same libssl the _ssl module uses):
  * SSL_CTX_set_ciphersuites (the TLS 1.3 suites; set_ciphers only covers <= 1.2)
  * SSL_key_update (TLS 1.3 KeyUpdate)
"""

import ctypes
import os
import ssl

CERTS = os.environ.get("WSD_CERTS", "/tmp/wsdissect-testdata-work/certs")
SNI = "ws.test"

_libssl = None


def libssl():
    global _libssl
    if _libssl is None:
        import _ssl
        path = None
        with open("/proc/self/maps") as f:
            for line in f:
                if "libssl.so" in line:
                    path = line.split()[-1]
                    break
        if path is None:
            raise RuntimeError(f"libssl not mapped (_ssl at {_ssl.__file__})")
        lib = ctypes.CDLL(path)
        lib.SSL_CTX_set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.SSL_CTX_set_ciphersuites.restype = ctypes.c_int
        lib.SSL_key_update.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.SSL_key_update.restype = ctypes.c_int
        lib.SSL_version.argtypes = [ctypes.c_void_p]
        lib.SSL_version.restype = ctypes.c_int
        lib.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
        lib.SSL_CTX_get_options.restype = ctypes.c_uint64
        _libssl = lib
    return _libssl


def _ssl_ctx_ptr(ctx):
    # CPython 3.11 PySSLContext: PyObject_HEAD; SSL_CTX *ctx; ...
    ptr = ctypes.c_void_p.from_address(id(ctx) + 2 * ctypes.sizeof(ctypes.c_void_p)).value
    # sanity check: the options OpenSSL reports must be the ones Python reports
    if libssl().SSL_CTX_get_options(ptr) != int(ctx.options):
        raise RuntimeError("could not locate SSL_CTX behind SSLContext")
    return ptr


def _ssl_ptr(sslobject):
    # ssl.SSLObject._sslobj is a _ssl._SSLSocket: PyObject_HEAD; PyObject *Socket; SSL *ssl; ...
    inner = sslobject._sslobj
    ptr = ctypes.c_void_p.from_address(id(inner) + 3 * ctypes.sizeof(ctypes.c_void_p)).value
    want = {"TLSv1.3": 0x304, "TLSv1.2": 0x303}[sslobject.version()]
    if libssl().SSL_version(ptr) != want:
        raise RuntimeError("could not locate SSL behind SSLObject")
    return ptr


def set_tls13_suites(ctx, suites):
    if libssl().SSL_CTX_set_ciphersuites(_ssl_ctx_ptr(ctx), suites.encode()) != 1:
        raise RuntimeError(f"SSL_CTX_set_ciphersuites({suites}) failed")


def key_update(sslobject, requested):
    """Queue a TLS 1.3 KeyUpdate (sent before the next application data)."""
    if libssl().SSL_key_update(_ssl_ptr(sslobject), 1 if requested else 0) != 1:
        raise RuntimeError("SSL_key_update failed")


VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
OPTIONS = {"NO_ENCRYPT_THEN_MAC": 0x80000, "NO_TICKET": ssl.OP_NO_TICKET}


def _common(ctx, o, keylog):
    ctx.keylog_filename = keylog
    if o.get("min_version"):
        ctx.minimum_version = VERSIONS[o["min_version"]]
    if o.get("max_version"):
        ctx.maximum_version = VERSIONS[o["max_version"]]
    if o.get("ciphers"):
        ctx.set_ciphers(o["ciphers"])
    if o.get("ciphersuites"):
        set_tls13_suites(ctx, o["ciphersuites"])
    for name in o.get("options", []):
        ctx.options |= OPTIONS[name]
    if o.get("alpn"):
        ctx.set_alpn_protocols(o["alpn"])


def server_context(o, keylog, sni_log):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    kind = o.get("cert", "rsa")
    ctx.load_cert_chain(os.path.join(CERTS, f"{kind}.crt"), os.path.join(CERTS, f"{kind}.key"))
    _common(ctx, o, keylog)

    def sni_cb(sslobj, name, _ctx):
        sni_log[id(sslobj)] = name
    ctx.sni_callback = sni_cb
    return ctx


def client_context(o, keylog):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    kind = o.get("cert", "rsa")
    ctx.load_verify_locations(os.path.join(CERTS, f"{kind}.crt"))
    ctx.check_hostname = True
    _common(ctx, o, keylog)
    return ctx


def info(sslobj, role, conn, cport, sport, sni):
    c = sslobj.cipher()
    return {"role": role, "conn": conn, "client_port": cport, "server_port": sport,
            "version": sslobj.version(), "cipher": c[0] if c else None,
            "sni": sni, "alpn": sslobj.selected_alpn_protocol(),
            "resumed": bool(sslobj.session_reused),
            "library": ssl.OPENSSL_VERSION}
