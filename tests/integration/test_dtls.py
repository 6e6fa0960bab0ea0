"""DTLS-PSK against an independent DTLS server: libcoap's own resource
directory example, coap-rd-gnutls (Debian package libcoap3-bin), which
accepts an LwM2M Register (POST /rd) like any RD registration."""

import re
import shutil

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
