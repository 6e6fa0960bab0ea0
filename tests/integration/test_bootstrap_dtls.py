"""DTLS credentials provisioned by a bootstrap server (LwM2M 1.1.1 Core E.1,
Transport 5.2): bs_server.py (NoSec) Bootstrap-Writes /0 and /1 in TLV for
a coaps:// server that is an independent DTLS server (Debian's
coap-rd-gnutls for PSK and X.509, coap-server-gnutls for RPK, as
test_dtls.py runs them), and the client registers with it over DTLS from
what /0 holds: PSK identity and key, or its certificate or raw public key,
its private key (PKCS#8 DER) and the server's certificate, CA or key.

Each test has DTLS servers of its own: coap-rd-gnutls 4.3.1 dies of a
double free when a client de-registers over certificate DTLS."""

import base64
import binascii
import os
import re
import struct
import subprocess

from bs_server import BsServer
from harness import Gateway
from raw_lwm2m import DELETE, PUT
from test_dtls import RD, SERVER, CoapServer, _openssl, _pki

EP = "bsd-dev"
GW = "bsd-gw"
TLV_CF = 11542


def _conf(bs):
    """No servers list: the gateway's endpoint bootstraps too (both are
    provisioned alike); the device says bootstrap = true."""
    return ('gateway = { name = "%s"; state_dir = "@TMP@/state"; };\n'
            'bootstrap_server = { uri = "%s"; };\n'
            'devices = ( { endpoint = "%s"; adapter = "static"; bootstrap = true;\n'
            '  resources = ( { path = "/3303/0/5700"; value = 21.5; } ); } );\n' % (GW, bs.uri, EP))


# ---- TLV (Core 7.4.3), written here from the spec --------------------------

def _tlv_value(v):
    if isinstance(v, bool):
        return bytes([1 if v else 0])
    if isinstance(v, int):
        for n, fmt in ((1, ">b"), (2, ">h"), (4, ">i"), (8, ">q")):
            if -(1 << (8 * n - 1)) <= v < (1 << (8 * n - 1)):
                return struct.pack(fmt, v)
    if isinstance(v, str):
        return v.encode()
    return bytes(v)


def tlv(values):
    """Resources (id -> bool, int, str or bytes) as TLV resource entries,
    the payload of a Bootstrap-Write of an object instance."""
    out = b""
    for rid, v in sorted(values.items()):
        data = _tlv_value(v)
        t = 3 << 6  # resource with a value
        idb = rid.to_bytes(2 if rid > 255 else 1, "big")
        if rid > 255:
            t |= 0x20
        n = len(data)  # type, identifier, then the length (if not in the type)
        if n < 8:
            out += bytes([t | n]) + idb
        else:
            k = 1 if n < 1 << 8 else 2 if n < 1 << 16 else 3
            out += bytes([t | k << 3]) + idb + n.to_bytes(k, "big")
        out += data
    return out


def _provision(b, ep, sec, srv_extra=None):
    """Delete, /0/1 (sec: its resources beyond 1 and 10), /1/1, Finish: the
    codes, in order."""
    codes = [b.op(ep, DELETE, "/")[0]]
    s = {1: False, 10: 101}
    s.update(sec)
    srv = {0: 101, 1: 60, 6: True, 7: "U"}
    srv.update(srv_extra or {})
    codes.append(b.op(ep, PUT, "/0/1", cf=TLV_CF, payload=tlv(s))[0])
    codes.append(b.op(ep, PUT, "/1/1", cf=TLV_CF, payload=tlv(srv))[0])
    f = b.finish(ep)
    codes.append(f[0])
    return codes, f[1]


def _der(*openssl_args):
    return subprocess.run(["openssl"] + list(openssl_args), check=True, capture_output=True).stdout


def _keys(p):
    """The DER a bootstrap server writes: certificates, SubjectPublicKeyInfo
    public keys, PKCS#8 private keys."""
    k = {}
    for who in ("ca", "ca2", "srv", "cli"):
        k[who + ".crt"] = _der("x509", "-in", p(who + ".pem"), "-outform", "DER")
        k[who + ".p8"] = _der("pkcs8", "-topk8", "-nocrypt", "-in", p(who + ".key"), "-outform", "DER")
        k[who + ".spki"] = _der("pkey", "-in", p(who + ".key"), "-pubout", "-outform", "DER")
    return k


def _hex(b):
    return binascii.hexlify(b).decode()


def _scalar(p8):
    """The 32-byte secret of a PKCS#8 P-256 key: the privateKey OCTET STRING
    of the ECPrivateKey inside (RFC 5915: version 1, then 04 20 <key>). A
    PKCS#8 key's tail is the public key, which is no secret."""
    i = p8.index(b"\x02\x01\x01\x04\x20")
    return p8[i + 5:i + 37]


def _assert_no_keys(lines, secrets):
    """No key in the log at debug level (libcoap's lines included): raw, in
    hex of either case, or in base64 (the PKCS#8 DER as a whole)."""
    assert any(x.startswith("<7>") for x in lines), "the log is at debug level"
    blob = "\n".join(lines).encode("utf-8", "replace")
    for s in secrets:
        forms = [s, _hex(s).encode(), _hex(s).upper().encode()]
        if len(s) > 40:  # base64 of the whole blob, as a PEM body or SenML vd would show it
            forms += [base64.b64encode(s)[:40], base64.urlsafe_b64encode(s)[:40]]
        for form in forms:
            assert form not in blob, "key material %r in the log" % form[:12]


def _secrets(k):
    return [_scalar(k["cli.p8"]), k["cli.p8"]]


class RdServer(CoapServer):
    def __init__(self, args):
        super().__init__(RD, args)


def _registered(gw, who, srv, since=0, timeout=30):
    return gw.wait_log(r"%s: registered with coaps://127\.0\.0\.1:%d" % (who, srv.port + 1), timeout=timeout,
                       since=since)


# ---- PSK ---------------------------------------------------------------------

def test_bootstrapped_psk_registers_over_dtls(tmp):
    key = b"bs-psk-secret-0123"
    with RdServer(["-k", key.decode()]) as rd, BsServer() as bs:
        bs.script = lambda b, ep: _provision(b, ep, {0: rd.uri, 2: 0, 3: ep.encode(), 5: key})
        with Gateway(tmp, _conf(bs), extra_args=["--log-level", "debug"]) as gw:
            codes, _ = bs.wait_result(EP)
            assert codes == ["2.02", "2.04", "2.04", "2.04"], codes
            _registered(gw, EP, rd)
            _registered(gw, GW, rd)
            gw.wait_log(r"%s: provisioned servers persisted" % EP)
            assert not gw.has_log(r"%s: registration with .* failed" % EP), gw.log_tail()
            _assert_no_keys(gw.lines, [key])


def test_bootstrapped_wrong_psk_is_refused_retried_then_bootstrapped_again(tmp):
    """A wrong /0/1/5: the handshake is refused and logged, each attempt as
    /1/1/17..20 say (2 attempts 1 s apart, one sequence), never fatal; then
    the client bootstraps again and the right key registers."""
    key, wrong = b"bs-psk-secret-0123", b"not-the-right-key!"
    runs = []

    def script(b, ep):
        runs.append(ep)
        if ep == EP and runs.count(EP) == 1:
            return _provision(b, ep, {0: rd.uri, 2: 0, 3: ep.encode(), 5: wrong},
                              {17: 2, 18: 1, 19: 1, 20: 1})
        return _provision(b, ep, {0: rd.uri, 2: 0, 3: ep.encode(), 5: key})
    with RdServer(["-k", key.decode()]) as rd, BsServer() as bs:
        bs.script = script
        with Gateway(tmp, _conf(bs), extra_args=["--log-level", "debug"]) as gw:
            # named as the bootstrap server wrote them, not as configuration settings
            rx = (r"%s: registration with %s failed \(DTLS handshake failed: [^)]*check the PSK identity "
                  r"/0/1/3 and key /0/1/5\)" % (EP, re.escape(rd.uri)))
            gw.wait_log(rx + r": attempt 1 of 2 in sequence 1 of 1; next in 1 s \(/1/1/18\)", timeout=30)
            gw.wait_log(rx + r": its communication sequences are exhausted", timeout=30)
            gw.wait_log(r"%s: registration with %s failed for good: bootstrapping again" % (EP, re.escape(rd.uri)))
            bs.wait_bs_request(EP, count=2)
            _registered(gw, EP, rd)
            assert gw.proc.poll() is None
            _assert_no_keys(gw.lines, [key, wrong])


# ---- X.509 -----------------------------------------------------------------

def _x509_server(p):
    return RdServer(["-c", p("srv-both.pem"), "-C", p("ca.pem")])


def test_bootstrapped_x509_registers_and_restarts_from_persisted_state(tmp):
    """/0/1/3 the client's certificate, /0/1/5 its PKCS#8 private key, /0/1/4
    the CA with /0/1/15 = 2 (trust anchor assertion: the chain and the name,
    the URI's host 127.0.0.1 against the certificate's IP subjectAltName).
    A restart registers from the persisted /0 over DTLS, no bootstrap."""
    p = _pki(tmp)
    k = _keys(p)
    sec = lambda uri: {0: uri, 2: 2, 3: k["cli.crt"], 4: k["ca.crt"], 5: k["cli.p8"], 15: 2}  # noqa: E731
    with _x509_server(p) as srv, BsServer() as bs:
        bs.script = lambda b, ep: _provision(b, ep, sec(srv.uri))
        with Gateway(tmp, _conf(bs), extra_args=["--log-level", "debug"]) as gw:
            codes, why = bs.wait_result(EP)
            assert codes == ["2.02", "2.04", "2.04", "2.04"], (codes, why)
            _registered(gw, EP, srv)
            _registered(gw, GW, srv)
            gw.wait_log(r"%s: provisioned servers persisted" % EP)
            _assert_no_keys(gw.lines, _secrets(k))
        n = len(bs.bs_requests)
        # a fresh server process on the same port (see the top)
        srv.stop()
        srv.start()
        with Gateway(tmp, _conf(bs), extra_args=["--log-level", "debug"]) as gw:
            gw.wait_log(r"%s: registering from its persisted provisioning" % EP)
            _registered(gw, EP, srv)
            _assert_no_keys(gw.lines, _secrets(k))
        assert [r for r in bs.bs_requests[n:] if r[0] == EP] == [], bs.bs_requests


def test_bootstrapped_x509_pinned_server_certificate(tmp):
    """/0/1/15 absent: usage 3 (domain-issued certificate, Core E.1's
    default), /0/1/4 the server's own certificate, compared as is."""
    p = _pki(tmp)
    k = _keys(p)
    with _x509_server(p) as srv, BsServer() as bs:
        bs.script = lambda b, ep: _provision(b, ep, {0: srv.uri, 2: 2, 3: k["cli.crt"], 4: k["srv.crt"],
                                                      5: k["cli.p8"]})
        with Gateway(tmp, _conf(bs)) as gw:
            _registered(gw, EP, srv)


def test_bootstrapped_x509_untrusted_ca_is_refused_and_logged(tmp):
    p = _pki(tmp)
    k = _keys(p)
    with _x509_server(p) as srv, BsServer() as bs:
        bs.script = lambda b, ep: _provision(b, ep, {0: srv.uri, 2: 2, 3: k["cli.crt"], 4: k["ca2.crt"],
                                                      5: k["cli.p8"], 15: 2})
        with Gateway(tmp, _conf(bs), extra_args=["--log-level", "debug"]) as gw:
            rx = (r"%s: registration with %s failed \(DTLS handshake failed: certificate not trusted: no CA "
                  r"of /0/1/4 signed the server's certificate\); retrying in" % (EP, re.escape(srv.uri)))
            gw.wait_log(rx, timeout=30)
            gw.wait_log(rx, timeout=40, since=gw.mark())
            assert not gw.has_log(r"%s: registered with" % EP)
            _assert_no_keys(gw.lines, _secrets(k))


def test_bootstrapped_x509_client_certificate_the_server_does_not_trust(tmp):
    """The server's CA did not sign /0/1/3: the server ends the handshake,
    the failure names the /0 resources to check, retried, never fatal."""
    p = _pki(tmp)
    _openssl("req", "-new", "-key", p("cli.key"), "-out", p("cli2.csr"), "-subj", "/CN=" + EP)
    _openssl("x509", "-req", "-in", p("cli2.csr"), "-CA", p("ca2.pem"), "-CAkey", p("ca2.key"),
             "-CAcreateserial", "-out", p("cli2.pem"), "-days", "2")
    k = _keys(p)
    other = _der("x509", "-in", p("cli2.pem"), "-outform", "DER")
    with _x509_server(p) as srv, BsServer() as bs:
        bs.script = lambda b, ep: _provision(b, ep, {0: srv.uri, 2: 2, 3: other, 4: k["ca.crt"], 5: k["cli.p8"],
                                                      15: 2})
        with Gateway(tmp, _conf(bs), extra_args=["--log-level", "debug"]) as gw:
            rx = (r'%s: registration with %s failed \(DTLS handshake failed: alert "[^"]+"; does the server '
                  r"trust this client's certificate \(/0/1/3, /0/1/5\)\?\); retrying in" % (EP, re.escape(srv.uri)))
            gw.wait_log(rx, timeout=30)
            gw.wait_log(rx, timeout=40, since=gw.mark())
            assert not gw.has_log(r"%s: registered with" % EP)
            assert gw.proc.poll() is None
            _assert_no_keys(gw.lines, _secrets(k))


# ---- Raw Public Key --------------------------------------------------------

def _device_only(script):
    """coap-server-gnutls is no resource directory: the first POST /rd
    creates /rd (2.01), the next one is 2.04, not a registration. So only
    the device is provisioned; the gateway's endpoint waits for a Finish."""
    return lambda b, ep: script(b, ep) if ep == EP else None


def test_bootstrapped_rpk_registers_with_pinned_server_key(tmp):
    """/0/1/3 the client's SubjectPublicKeyInfo, /0/1/5 its PKCS#8 key,
    /0/1/4 the server's SubjectPublicKeyInfo (pinned)."""
    p = _pki(tmp)
    k = _keys(p)
    assert SERVER, "coap-server-gnutls (libcoap3-bin) is not installed"
    with CoapServer(SERVER, ["-M", p("srv-ec.pem"), "-d", "10"]) as srv, BsServer() as bs:
        bs.script = _device_only(lambda b, ep: _provision(b, ep, {0: srv.uri, 2: 1, 3: k["cli.spki"],
                                                                   4: k["srv.spki"], 5: k["cli.p8"]}))
        with Gateway(tmp, _conf(bs), extra_args=["--log-level", "debug"]) as gw:
            codes, why = bs.wait_result(EP)
            assert codes == ["2.02", "2.04", "2.04", "2.04"], (codes, why)
            _registered(gw, EP, srv)
            _assert_no_keys(gw.lines, _secrets(k))


def test_bootstrapped_rpk_wrong_server_key_is_refused_and_logged(tmp):
    p = _pki(tmp)
    k = _keys(p)
    with CoapServer(SERVER, ["-M", p("srv-ec.pem"), "-d", "10"]) as srv, BsServer() as bs:
        bs.script = lambda b, ep: _provision(b, ep, {0: srv.uri, 2: 1, 3: k["cli.spki"], 4: k["ca.spki"],
                                                      5: k["cli.p8"]})
        with Gateway(tmp, _conf(bs)) as gw:
            gw.wait_log(r"%s: registration with %s failed \(DTLS handshake failed: the server's public key is "
                        r"not the one pinned \(/0/1/4\)\)" % (EP, re.escape(srv.uri)), timeout=30)
            assert not gw.has_log(r"%s: registered with" % EP)
