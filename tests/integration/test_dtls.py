"""DTLS-PSK against an independent DTLS server: libcoap's own resource
directory example, coap-rd-gnutls (Debian package libcoap3-bin), which
accepts an LwM2M Register (POST /rd) like any RD registration."""

import os
import re
import shutil
import socket
import subprocess

import configs
from harness import Gateway

RD = shutil.which("coap-rd-gnutls")


def _free_udp_pair():
    # coap-rd listens for coap on PORT and coaps on PORT+1; find both free
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port >= 65535:
            continue
        t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
        finally:
            t.close()
    raise AssertionError("no free UDP port pair")


class RD_Server:
    def __init__(self, key):
        assert RD, "coap-rd-gnutls (libcoap3-bin) is not installed"
        self.port = _free_udp_pair()
        self.proc = subprocess.Popen([RD, "-A", "127.0.0.1", "-p", str(self.port), "-k", key, "-v", "6"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def uri(self):
        return "coaps://127.0.0.1:%d" % (self.port + 1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


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
