"""DTLS-PSK against an independent DTLS server: libcoap's own resource
directory example, coap-rd-gnutls (Debian package libcoap3-bin), which
accepts an LwM2M Register (POST /rd) like any RD registration."""

import binascii
import os
import re
import shutil
import subprocess

import configs
import harness
from harness import Gateway

RD = shutil.which("coap-rd-gnutls")


class RD_Server(harness.HelperProcess):
    """coap-rd-gnutls on a reserved pair of UDP ports (coap on PORT, coaps
    on PORT+1), held until the test ends so no other process can take them
    while it starts."""

    def __init__(self, key):
        assert RD, "coap-rd-gnutls (libcoap3-bin) is not installed"
        self.reservations = harness.reserve_udp_pair()
        self.port = self.reservations[0].port
        super().__init__([RD, "-A", "127.0.0.1", "-p", str(self.port), "-k", key, "-v", "6"],
                         name="coap-rd-gnutls")
        self.start()

    @property
    def uri(self):
        return "coaps://127.0.0.1:%d" % (self.port + 1)

    def __exit__(self, *exc):
        self.stop()
        for r in self.reservations:
            r.close()


def _conf(uri, key_hex, identity="{endpoint}"):
    sec = 'security = "psk"; psk_identity = "%s"; psk_key = "%s";' % (identity, key_hex)
    return configs.gateway([configs.device("dtls-dev")], name="dtls-gw", security=sec, server=uri)


def test_dtls_psk_registration(tmp):
    with RD_Server("secretkey") as rd:
        conf = _conf(rd.uri, b"secretkey".hex())
        with Gateway(tmp, conf) as gw:
            gw.wait_log(r"dtls-dev: registered with coaps://127\.0\.0\.1:%d at /rd/" % (rd.port + 1), timeout=30)
            gw.wait_log(r"dtls-gw: registered with coaps://", timeout=30)


def test_dtls_wrong_key_is_refused_logged_and_backed_off(tmp):
    with RD_Server("secretkey") as rd:
        conf = _conf(rd.uri, b"wrong-key".hex())
        with Gateway(tmp, conf) as gw:
            rx = r"dtls-dev: registration with coaps://.* failed \(DTLS handshake failed.*\); retrying in ([0-9.]+) s"
            delays = [float(gw.wait_log(rx, timeout=30).group(1))]
            while len(delays) < 3:
                delays.append(float(gw.wait_log(rx, timeout=40, since=_after(gw, rx, len(delays))).group(1)))
            # not a tight loop: every retry waits, and the waits grow
            assert delays[0] >= 1.0, delays
            assert delays[2] > delays[0] * 1.4, delays
            assert not gw.has_log(r"dtls-dev: registered with")


def _after(gw, rx, n):
    """Index just past the n-th log line matching rx."""
    r = re.compile(rx)
    seen = 0
    for i, line in enumerate(gw.lines):
        if r.search(line):
            seen += 1
            if seen == n:
                return i + 1
    return len(gw.lines)


# ---- Raw Public Keys and X.509 certificates --------------------------------
# Keys and certificates are made by openssl at test time into the test's
# temporary directory: a CA, the server's certificate (localhost and
# 127.0.0.1) signed by it, the client's, and an unrelated CA.

SERVER = shutil.which("coap-server-gnutls")


def _openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _ec_key(path):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    os.chmod(path, 0o600)


def _pki(tmp):
    d = os.path.join(tmp, "pki")
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    for ca in ("ca", "ca2"):
        _ec_key(p(ca + ".key"))
        _openssl("req", "-x509", "-new", "-key", p(ca + ".key"), "-out", p(ca + ".pem"), "-days", "2",
                 "-subj", "/CN=test " + ca)
    with open(p("ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for who, cn in (("srv", "localhost"), ("cli", "dtls-dev")):
        _ec_key(p(who + ".key"))
        _openssl("req", "-new", "-key", p(who + ".key"), "-out", p(who + ".csr"), "-subj", "/CN=" + cn)
        _openssl("x509", "-req", "-in", p(who + ".csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
                 "-CAcreateserial", "-out", p(who + ".pem"), "-days", "2",
                 *(["-extfile", p("ext")] if who == "srv" else []))
        _openssl("pkey", "-in", p(who + ".key"), "-pubout", "-out", p(who + ".pub"))
    with open(p("srv-both.pem"), "w") as f:
        f.write(open(p("srv.pem")).read() + open(p("srv.key")).read())
    # coap-server takes an RPK as an "EC PRIVATE KEY" PEM (SEC1)
    _openssl("ec", "-in", p("srv.key"), "-out", p("srv-ec.pem"))
    return p


class CoapServer(harness.HelperProcess):
    """coap-rd-gnutls (X.509: registers at /rd) or coap-server-gnutls (RPK:
    -d lets the first POST /rd create the resource, a 2.01) on a reserved
    pair of UDP ports, coaps on PORT+1."""

    def __init__(self, program, args):
        assert program, "libcoap3-bin is not installed"
        self.reservations = harness.reserve_udp_pair()
        self.port = self.reservations[0].port
        super().__init__([program, "-A", "127.0.0.1", "-p", str(self.port), "-v", "6"] + args,
                         name=os.path.basename(program))
        self.start()

    @property
    def uri(self):
        return "coaps://127.0.0.1:%d" % (self.port + 1)

    def __exit__(self, *exc):
        self.stop()
        for r in self.reservations:
            r.close()


def _x509_server(p):
    return CoapServer(RD, ["-c", p("srv-both.pem"), "-C", p("ca.pem")])


def _rpk_server(p):
    return CoapServer(SERVER, ["-M", p("srv-ec.pem"), "-d", "10"])


def _pki_conf(uri, sec, devices=None):
    return configs.gateway(devices if devices is not None else [], name="dtls-gw", security=sec, server=uri)


def test_dtls_x509_registers_with_ca_check(tmp):
    p = _pki(tmp)
    with _x509_server(p) as srv:
        sec = 'security = "x509"; cert_file = "%s"; key_file = "%s"; ca_file = "%s";' % (
            p("cli.pem"), p("cli.key"), p("ca.pem"))
        with Gateway(tmp, _pki_conf(srv.uri, sec, [configs.device("dtls-dev")])) as gw:
            gw.wait_log(r"dtls-gw: registered with coaps://127\.0\.0\.1:%d at /rd/" % (srv.port + 1), timeout=30)
            gw.wait_log(r"dtls-dev: registered with coaps://", timeout=30)


def test_dtls_x509_device_own_certificate_and_server_name(tmp):
    """The server entry says x509 with the CA; the device brings its own
    certificate and key, server_name names the certificate's DNS name."""
    p = _pki(tmp)
    with _x509_server(p) as srv:
        sec = ('security = "x509"; cert_file = "%s"; key_file = "%s"; ca_file = "%s"; '
               'server_name = "localhost";' % (p("cli.pem"), p("cli.key"), p("ca.pem")))
        dev = configs.device("dtls-dev").replace(
            'adapter = "static";', 'adapter = "static"; security = "x509"; cert_file = "%s"; key_file = "%s"; '
            'ca_file = "%s";' % (p("cli.pem"), p("cli.key"), p("ca.pem")))
        with Gateway(tmp, _pki_conf(srv.uri, sec, [dev])) as gw:
            gw.wait_log(r"dtls-dev: registered with coaps://", timeout=30)


def test_dtls_rpk_registers_with_pinned_server_key(tmp):
    p = _pki(tmp)
    with _rpk_server(p) as srv:
        sec = 'security = "rpk"; key_file = "%s"; server_cert_file = "%s";' % (p("cli.key"), p("srv.pub"))
        with Gateway(tmp, _pki_conf(srv.uri, sec)) as gw:
            gw.wait_log(r"dtls-gw: registered with coaps://127\.0\.0\.1:%d" % (srv.port + 1), timeout=30)


def _refused(tmp, server, sec, why):
    with server as srv, Gateway(tmp, _pki_conf(srv.uri, sec)) as gw:
        rx = r"dtls-gw: registration with coaps://.* failed \(DTLS handshake failed: %s.*\); retrying in" % why
        gw.wait_log(rx, timeout=30)
        gw.wait_log(rx, timeout=40, since=_after(gw, rx, 1))  # retried, after a backoff
        assert not gw.has_log(r"dtls-gw: registered with")
        # one line per attempt: the DTLS failure is not told twice
        assert len([x for x in gw.lines if re.search(r"handshake", x)]) == len(
            [x for x in gw.lines if re.search(rx, x)]), gw.lines


def test_dtls_x509_untrusted_ca_is_refused_and_logged(tmp):
    p = _pki(tmp)
    _refused(tmp, _x509_server(p), 'security = "x509"; cert_file = "%s"; key_file = "%s"; ca_file = "%s";' % (
        p("cli.pem"), p("cli.key"), p("ca2.pem")), r"certificate not trusted")


def test_dtls_x509_wrong_server_name_is_refused_and_logged(tmp):
    p = _pki(tmp)
    _refused(tmp, _x509_server(p), 'security = "x509"; cert_file = "%s"; key_file = "%s"; ca_file = "%s"; '
             'server_name = "other.example";' % (p("cli.pem"), p("cli.key"), p("ca.pem")),
             r'name mismatch: the server\'s certificate is not for "other\.example"')


def test_dtls_x509_client_certificate_the_server_refuses_is_named(tmp):
    """The server's CA did not sign the client's certificate: libcoap 4.3.1
    reports the server's alert as the session closing, and the failure
    still names the certificate, not a PSK."""
    p = _pki(tmp)
    _openssl("req", "-new", "-key", p("cli.key"), "-out", p("cli2.csr"), "-subj", "/CN=dtls-gw")
    _openssl("x509", "-req", "-in", p("cli2.csr"), "-CA", p("ca2.pem"), "-CAkey", p("ca2.key"),
             "-CAcreateserial", "-out", p("cli2.pem"), "-days", "2")
    _refused(tmp, _x509_server(p), 'security = "x509"; cert_file = "%s"; key_file = "%s"; ca_file = "%s";' % (
        p("cli2.pem"), p("cli.key"), p("ca.pem")),
        r'alert "[^"]+"; does the server trust this client\'s certificate \(cert_file/key_file\)\?')


def test_dtls_rpk_wrong_server_key_is_refused_and_logged(tmp):
    p = _pki(tmp)
    _refused(tmp, _rpk_server(p), 'security = "rpk"; key_file = "%s"; server_cert_file = "%s";' % (
        p("cli.key"), p("cli.pub")), r"the server's public key is not the one pinned")


def _hex(b):
    return binascii.hexlify(b).decode()


def test_dtls_keys_never_logged_at_debug(tmp):
    """At the highest log level, with PSK and X.509 sessions and their
    failures, neither the PSK nor the private key appears in the log: raw,
    in hex (either case), or as the PEM file's base64."""
    p = _pki(tmp)
    key_der = subprocess.run(["openssl", "pkey", "-in", p("cli.key"), "-outform", "DER"], check=True,
                             capture_output=True).stdout
    pem_lines = [x for x in open(p("cli.key")).read().splitlines() if x and not x.startswith("-----")]
    secrets = [b"secretkey", _hex(b"secretkey").encode(), _hex(b"secretkey").upper().encode(),
               _hex(key_der[-32:]).encode(), _hex(key_der[-32:]).upper().encode(), key_der[-16:]]
    secrets += [x.encode() for x in pem_lines]
    logs = []
    for key in ("secretkey", "wrong-key"):
        with RD_Server("secretkey") as rd:
            conf = _conf(rd.uri, key.encode().hex())
            with Gateway(tmp, conf, extra_args=["--log-level", "debug"]) as gw:
                gw.wait_log(r"dtls-gw: (registered with|registration with .* failed)", timeout=30)
                logs += gw.lines
    for ca in ("ca.pem", "ca2.pem"):
        # a server each: coap-rd-gnutls 4.3.1 dies of a double free after a
        # De-register over certificate DTLS
        sec = 'security = "x509"; cert_file = "%s"; key_file = "%s"; ca_file = "%s";' % (
            p("cli.pem"), p("cli.key"), p(ca))
        with _x509_server(p) as srv:
            with Gateway(tmp, _pki_conf(srv.uri, sec), extra_args=["--log-level", "debug"]) as gw:
                gw.wait_log(r"dtls-gw: (registered with|registration with .* failed)", timeout=30)
                logs += gw.lines
    assert any("libcoap:" in x for x in logs), "libcoap's own lines are in the log at debug"
    blob = "\n".join(logs).encode("utf-8", "replace")
    for s in secrets:
        assert s not in blob, "key material %r in the log" % s[:12]


def _check(tmp, text):
    path = os.path.join(tmp, "check.conf")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([os.path.join(harness.build_dir(), "lwm2m-gateway"), "-c", path, "--check"],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def test_dtls_config_file_errors_at_their_line(tmp):
    p = _pki(tmp)
    with open(p("garbage.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    text = ('gateway = { name = "g"; state_dir = "%s"; };\n'
            'servers = (\n'
            '  { uri = "coaps://127.0.0.1:5684";\n'
            '    security = "x509";\n'
            '    cert_file = "%s";\n'          # line 5: missing
            '    key_file = "%s";\n'           # line 6: a certificate, not a key
            '    ca_file = "%s"; },\n'         # line 7: not PEM certificates
            '  { uri = "coaps://127.0.0.1:5685"; security = "rpk"; key_file = "%s"; },\n'  # line 8: no server key
            '  { uri = "coaps://127.0.0.1:5686"; security = "x509"; cert_file = "%s";\n'
            '    key_file = "%s"; ca_file = "%s"; }\n'  # line 10: key not of that certificate
            ');\n'
            'devices = ( );\n' % (tmp, p("missing.pem"), p("cli.pem"), p("garbage.pem"), p("cli.key"),
                                  p("cli.pem"), p("srv.key"), p("ca.pem")))
    rc, out = _check(tmp, text)
    assert rc == 1, out
    assert re.search(r"check\.conf:5: cert_file \".*missing\.pem\" cannot open: No such file", out), out
    assert re.search(r"check\.conf:6: key_file \".*cli\.pem\" holds no private key", out), out
    assert re.search(r"check\.conf:7: ca_file \".*garbage\.pem\" is not a PEM file of certificates", out), out
    assert re.search(r"check\.conf:8: security \"rpk\" needs server_cert_file", out), out
    assert re.search(r"check\.conf:10: key_file does not belong to the client's certificate", out), out


def test_dtls_readable_key_file_warned_or_refused(tmp):
    p = _pki(tmp)
    os.chmod(p("cli.key"), 0o644)
    base = ('gateway = { name = "g"; state_dir = "%s"; %s };\n'
            'servers = ( { uri = "coaps://127.0.0.1:5684"; security = "x509"; cert_file = "%s"; key_file = "%s"; '
            'ca_file = "%s"; } );\ndevices = ( );\n')
    rc, out = _check(tmp, base % (tmp, "", p("cli.pem"), p("cli.key"), p("ca.pem")))
    assert rc == 0 and re.search(r"warning: key_file .*cli\.key holds a private key but every user can read it", out), out
    rc, out = _check(tmp, base % (tmp, "refuse_readable_keys = true;", p("cli.pem"), p("cli.key"), p("ca.pem")))
    assert rc == 1 and "refused (refuse_readable_keys)" in out, out
