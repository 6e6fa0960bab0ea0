#!/usr/bin/python3
"""Benchmark of full DTLS-PSK handshakes + Register against a local DTLS
server (issue 15): how fast a gateway with many secured virtual clients
comes back after a restart.

    /usr/bin/python3 tests/bench/bench_dtls.py [BUILD_DIR] [--clients 200]

Starts coap-rd-gnutls (libcoap3-bin, an independent DTLS server) with one
PSK, writes N static devices with distinct PSK identities ("{endpoint}")
and no pacing, starts the gateway and timestamps its log lines from a
thread. Prints on stdout:

  BENCH dtls_psk_handshakes_per_s  (N+1 registrations) / (time from the
                                   first "Register sent" to "all N+1
                                   virtual clients registered")

Every registration is a new DTLS session: a full handshake (no resumption)
then a Register. Bounded: fails after 300 s. The gateway is stopped with
SIGKILL (no De-registers: coap-rd-gnutls 4.3.1 dies of a double free on
De-register over DTLS). Traffic only on 127.0.0.1.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))



def _wait_udp_bound(port, proc, timeout=10.0):
    """Until a UDP socket is bound to port (the kernel's socket table), or
    proc exits, or timeout seconds pass (an error)."""
    want = ":%04X" % port
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        for table in ("/proc/net/udp", "/proc/net/udp6"):
            try:
                with open(table) as f:
                    rows = f.read().splitlines()[1:]
            except OSError:
                continue
            if any(r.split()[1].endswith(want) for r in rows if len(r.split()) > 1):
                return
        time.sleep(0.005)
    raise RuntimeError("coap-rd-gnutls did not bind UDP port %d" % port)

def free_udp_pair():
    """A port P with P and P+1 free (coap-rd takes coaps on P+1); bound
    here and released just before the server starts."""
    for _ in range(200):
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.bind(("127.0.0.1", 0))
        p = a.getsockname()[1]
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            b.bind(("127.0.0.1", p + 1))
        except OSError:
            a.close()
            b.close()
            continue
        return p, (a, b)
    raise RuntimeError("no free UDP port pair")


def main():
    args = sys.argv[1:]
    build = "build"
    n = 200
    while args:
        a = args.pop(0)
        if a == "--clients":
            n = int(args.pop(0))
        else:
            build = a
    rd = shutil.which("coap-rd-gnutls")
    if not rd:
        print("bench_dtls: coap-rd-gnutls (libcoap3-bin) is not installed", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="bench-dtls-")
    procs = []
    try:
        port, holds = free_udp_pair()
        devs = ",\n".join('{ endpoint = "bench-%05d"; adapter = "static"; '
                          'resources = ( { path = "/3303/0/5700"; value = 21.5; } ); }' % i for i in range(n))
        conf = os.path.join(tmp, "gw.conf")
        with open(conf, "w") as f:
            f.write('gateway = { name = "bench-gw"; state_dir = "%s"; };\n'
                    'servers = ( { uri = "coaps://127.0.0.1:%d"; lifetime = 3600; registrations_per_second = 0; '
                    'security = "psk"; psk_identity = "{endpoint}"; psk_key = "%s"; } );\n'
                    'devices = ( %s );\n' % (tmp, port + 1, b"benchkey".hex(), devs))
        os.chmod(conf, 0o600)
        for h in holds:
            h.close()
        srv = subprocess.Popen([rd, "-A", "127.0.0.1", "-p", str(port), "-k", "benchkey"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(srv)
        _wait_udp_bound(port + 1, srv)  # coap-rd prints nothing when it is ready
        gw = subprocess.Popen([os.path.join(REPO, build, "lwm2m-gateway"), "-c", conf, "--log-level", "debug"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs.append(gw)
        first = [None]
        done = [None]
        ev = threading.Event()
        rx_all = re.compile(r"all %d virtual clients registered" % (n + 1))

        def read():
            for raw in gw.stdout:
                line = raw.decode("utf-8", "replace")
                now = time.monotonic()
                if first[0] is None and "Register sent" in line:
                    first[0] = now
                if rx_all.search(line):
                    done[0] = now
                    ev.set()
            ev.set()

        threading.Thread(target=read, daemon=True).start()
        if not ev.wait(300) or done[0] is None or first[0] is None:
            print("bench_dtls: not every client registered within 300 s", file=sys.stderr)
            return 1
        rate = (n + 1) / (done[0] - first[0])
        print("BENCH dtls_psk_handshakes_per_s %.0f /s" % rate)
        print("bench_dtls: %d full DTLS-PSK handshakes + Register in %.2f s" % (n + 1, done[0] - first[0]),
              file=sys.stderr)
        return 0
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
