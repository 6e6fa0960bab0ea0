#!/usr/bin/python3
"""Benchmark of a server outage with many observed clients.

    /usr/bin/python3 tests/bench/bench_outage.py [BUILD_DIR] [--clients 1000] [--outage 60]

N simulated sensors (one temperature reading per second each, a sawtooth that
steps by 1.0 modulo 10, so a missing reading shows as a step of 2) register
with the test server, which observes /3303/0 on every one. The server is then
killed (SIGKILL: it cancels nothing) for --outage seconds and restarted on the
same port. Prints "BENCH <metric> <value> <unit>":

  outage_recovery_s      restarted server ready -> every client registered
                         again and the gateway logged its backlog delivered
  outage_readings_lost   readings of /3303/0/5700 made in the outage that
                         reached the server neither notified nor sent
  outage_readings_repeated  readings the server got twice: notified in the
                         2 s before the outage was noticed and kept again
                         (lwm2m/at_risk.c), same value and timestamp
  outage_log_lines       gateway log lines (level info) from the kill until
                         the backlog was delivered

Standard library and the integration tests' SenML CBOR decoder (python3-cbor2);
traffic only on 127.0.0.1; every process started is stopped before exiting.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import json

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import bench_gateway as bg  # noqa: E402
from harness import decode_senml_cbor, decode_senml_json  # noqa: E402

BACK_RE = re.compile(r"server .* back: (\d+) re-registered, (\d+) readings delivered")
AWAY_RE = re.compile(r"server .* unreachable \(")


def log(msg):
    sys.stderr.write("bench_outage: %s\n" % msg)
    sys.stderr.flush()


def write_config(path, n, state_dir):
    dev = ('{ endpoint = "out-%06d"; adapter = "simulated";\n'
           '  device = { manufacturer = "Sim"; model = "S-1"; serial = "%06d"; };\n'
           '  simulate = ( { field = "temperature"; wave = "sawtooth"; min = 0.0; max = 10.0;'
           ' period = 10.0; interval = 1.0; } ); }')
    with open(path, "w") as f:
        f.write('gateway = { name = "outage-gw"; state_dir = "%s"; };\n' % state_dir)
        # pacing off, as in bench_gateway.py: with the default 50
        # registrations per second, 1,000 clients take 20 s to return by design
        f.write('servers = ( { uri = "coap://127.0.0.1:5683"; lifetime = 600;'
                ' registrations_per_second = 0; } );\n')
        f.write("devices = (\n%s\n);\n" % ",\n".join(dev % (i, i) for i in range(n)))


class Server:
    """The test server with every event kept, read by a thread."""

    def __init__(self, build, port=0):
        self.args = [os.path.join(build, "lwm2m-test-server"), "--port", str(port), "--bind", "127.0.0.1"]
        self.cond = threading.Condition()
        self.events = []
        self.registered = set()
        self.eof = False

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, bufsize=0)
        bg._procs.append(self.proc)
        threading.Thread(target=self._reader, daemon=True).start()
        ev = self.wait(lambda e: e.get("event") == "ready", 10, "ready")
        self.port = ev["port"]
        self.ready_t = time.monotonic()
        return self

    def _reader(self):
        for raw in self.proc.stdout:
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            with self.cond:
                if ev.get("event") == "register":
                    self.registered.add(ev.get("ep"))
                self.events.append(ev)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            i = 0
            while True:
                while i < len(self.events):
                    if pred(self.events[i]):
                        return self.events[i]
                    i += 1
                if self.eof:
                    raise RuntimeError("test server exited while waiting for %s" % what)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))
                self.cond.wait(min(left, 1.0))

    def wait_count(self, fn, count, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while fn() < count:
                if self.eof:
                    raise RuntimeError("test server exited while waiting for %s" % what)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("%s: %d of %d after %.0f s" % (what, fn(), count, timeout))
                self.cond.wait(min(left, 1.0))

    def command(self, **cmd):
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.command(op="quit")
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        bg.stop_proc(self.proc, "test server", timeout=10)


def lost_readings(eps, notified, sent, t_kill):
    """(lost, repeated): readings of the outage missing per client, steps of
    the sawtooth skipped from the last value notified to the first kept one
    and within the kept ones (each 1.0 modulo 10), a client with none kept
    losing all; and readings the server got twice: the first kept ones that
    a notification had brought already (same value, arriving less than 2 s
    after the reading's timestamp), which the gateway sends again when the
    notification was sent in the 2 s before it noticed the outage (the
    server may not have read it: lwm2m/at_risk.c)."""
    lost = repeated = 0
    for ep in eps:
        kept = sorted(sent.get(ep, []), key=lambda vt: vt[1])
        got = notified.get(ep, [])
        if not kept:
            lost += 1
            continue
        k = 0
        while k < len(kept) and any(abs(v - kept[k][0]) < 1e-3 and -0.05 <= nt - kept[k][1] < 2.0
                                    for v, nt in got):
            k += 1
        repeated += k
        # the chain starts at the last notified reading (kept again or not)
        seq = ([got[-1][0]] if got else []) + [v for v, _ in kept[k:]]
        for a, b in zip(seq, seq[1:]):
            step = round((b - a) % 10.0)
            lost += max(0, step - 1) if step else 0
        lost += len(kept) - len(set(t for _, t in kept))  # twice counts as wrong too
        if k and got and not (abs(kept[k - 1][0] - got[-1][0]) < 1e-3):
            lost += 1  # older readings came again but not the last one notified: wrong too
    return lost, repeated


def run(build, tmp, n, outage_s):
    conf = os.path.join(tmp, "outage.conf")
    state = os.path.join(tmp, "state")
    os.makedirs(state, exist_ok=True)
    write_config(conf, n, state)
    eps = ["out-%06d" % i for i in range(n)]
    srv = srv2 = gw = None
    logf = open(os.path.join(tmp, "gateway.log"), "w")
    try:
        srv = Server(build).start()
        port = srv.port
        gw = bg.Gateway(build, conf, port, logf, n)
        gw.cmd[-1] = "info"  # the log is what is counted
        gw.start()
        srv.wait_count(lambda: len(srv.registered), n + 1, 120, "registrations")
        for i, ep in enumerate(eps):
            srv.command(op="observe", ep=ep, path="/3303/0", accept=110, req=i)
        srv.wait_count(lambda: sum(1 for e in srv.events if e.get("event") == "response"), n, 120,
                       "observations")
        # a round of notifications, so each client's last value is known
        srv.wait_count(lambda: len({e.get("req") for e in srv.events if e.get("event") == "notify"}), n,
                       60, "notifications")
        mark = gw.log.count()
        srv.kill()
        t_kill = time.time()
        log("server killed; outage of %d s" % outage_s)
        gw.log.wait_for(AWAY_RE, mark, 30)
        # the outage itself: a fixed length is what is measured here
        time.sleep(outage_s)
        srv2 = Server(build, port).start()
        _, m, idx = gw.log.wait_for(BACK_RE, mark, 600)
        t_back = gw.log.lines[idx][0]
        recovery = t_back - srv2.ready_t
        srv2.wait_count(lambda: len(srv2.registered), n + 1, 60, "registrations after the outage")
        delivered = int(m.group(2))
        srv2.wait_count(lambda: sum(len(decode_senml_cbor(bytes.fromhex(e["payload_hex"]), with_time=True))
                                    for e in srv2.events if e.get("event") == "send"), delivered, 60,
                        "readings in Sends")
        notified = {}
        for e in srv.events:
            if e.get("event") == "notify" and e.get("payload_hex"):
                vals = dict(decode_senml_json(bytes.fromhex(e["payload_hex"])))
                if "/3303/0/5700" in vals:
                    notified.setdefault(eps[e["req"]], []).append((vals["/3303/0/5700"], e["ts"]))
        sent = {}
        for e in srv2.events:
            if e.get("event") == "send":
                recs = decode_senml_cbor(bytes.fromhex(e["payload_hex"]), with_time=True)
                sent.setdefault(e["ep"], []).extend((v, t) for nm, v, t in recs if nm == "/3303/0/5700")
        lost, repeated = lost_readings(eps, notified, sent, t_kill)
        lines = gw.log.count() - mark
        for rx in (r"answers again", r"all \d+ virtual clients registered", r"back: "):
            t, _, _ = gw.log.wait_for(re.compile(rx), idx - 5 if rx != "back: " else idx, 5)
            log("  +%.2f s: /%s/" % (t - srv2.ready_t, rx))
        log("%d clients, %d s outage: back in %.2f s, %d readings delivered, %d lost, %d repeated, %d log lines"
            % (n, outage_s, recovery, delivered, lost, repeated, lines))
        bg.bench("outage_recovery_s", recovery, "s")
        bg.bench("outage_readings_lost", lost, "readings")
        bg.bench("outage_readings_repeated", repeated, "readings")
        bg.bench("outage_log_lines", lines, "lines")
    finally:
        if gw:
            gw.stop()
        for s in (srv, srv2):
            if s:
                s.stop()
        logf.close()


def main(argv):
    build, n, outage_s = "build", 1000, 60
    args = list(argv[1:])
    while args:
        a = args.pop(0)
        if a == "--clients" and args:
            n = int(args.pop(0))
        elif a == "--outage" and args:
            outage_s = int(args.pop(0))
        elif a.startswith("-"):
            sys.stderr.write("usage: bench_outage.py [BUILD_DIR] [--clients 1000] [--outage 60]\n")
            return 2
        else:
            build = a
    if not os.path.isabs(build):
        build = os.path.join(bg.REPO, build)
    tmp = tempfile.mkdtemp(prefix="gw-outage-")
    try:
        run(build, tmp, n, outage_s)
        return 0
    except (RuntimeError, KeyboardInterrupt) as e:
        log("FAILED: %s" % e)
        return 1
    finally:
        for p in list(bg._procs):
            bg.stop_proc(p, "leftover process", sig=signal.SIGKILL, timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
