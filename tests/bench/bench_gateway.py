#!/usr/bin/python3
"""End-to-end benchmark of the gateway daemon against the test LwM2M server.

    /usr/bin/python3 tests/bench/bench_gateway.py [BUILD_DIR] [--sizes 1000,10000]

For each fleet size N it writes a configuration of N static devices (each
with /3/0 and the IPSO objects 3303/0 and 3304/0, pacing off, lifetime 600),
starts build/lwm2m-test-server on a free 127.0.0.1 port and then the gateway,
and prints on stdout, one per line, "BENCH <metric> <value> <unit>":

  register_<N>_s           gateway start -> server has seen all N+1 Registers
  register_<N>_server_drops  datagrams the server's socket dropped (full
                           receive buffer) while they registered
  rss_per_client_<N>       (VmRSS with N clients - VmRSS with 0) / N
  deregister_<N>_s         SIGTERM -> daemon exited after de-registering all
  reads_per_s, read_p50_us, read_p99_us, read_failed
                           the server's bench_read op on the largest fleet

Progress and diagnostics go to stderr. Standard library only; traffic only on
127.0.0.1. Every process started here is stopped (SIGTERM, then SIGKILL after
a timeout) before the script exits, also on errors and Ctrl-C.
"""

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REGISTER_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
READS = 50000
READ_PARALLEL = 200
READ_PATH = "/3303/0/5700"
# Each virtual client owns a UDP socket; the daemon also needs a few more.
FD_HEADROOM = 100

# The values every benchmark device shares, as a fleet of one sensor model
# would; only the serial number differs per device, as it does in real life.
TEMPLATE = {"manufacturer": "Acme", "model": "TH-200", "firmware": "2.4.1",
            "serial": "TH200-%06d"}

_procs = []


def log(msg):
    sys.stderr.write("bench_gateway: %s\n" % msg)
    sys.stderr.flush()


def bench(metric, value, unit):
    if isinstance(value, float):
        value = ("%.3f" % value) if abs(value) < 1000 else ("%.0f" % value)
    sys.stdout.write("BENCH %s %s %s\n" % (metric, value, unit))
    sys.stdout.flush()


def write_config(path, n, state_dir):
    dev = ('{ endpoint = "bench-%06d"; adapter = "static";\n'
           '  device = { manufacturer = "%s"; model = "%s"; serial = "%s"; firmware = "%s"; };\n'
           '  resources = ( { path = "/3303/0/5700"; value = %.1f; },'
           ' { path = "/3303/0/5701"; value = "Cel"; },\n'
           '                { path = "/3304/0/5700"; value = %.1f; },'
           ' { path = "/3304/0/5701"; value = "%%RH"; } ); }')
    with open(path, "w") as f:
        f.write('gateway = { name = "bench-gw"; state_dir = "%s"; };\n' % state_dir)
        f.write('servers = ( { uri = "coap://127.0.0.1:5683"; lifetime = 600;'
                ' registrations_per_second = 0; } );\n')
        f.write("devices = (\n")
        f.write(",\n".join(
            dev % (i, TEMPLATE["manufacturer"], TEMPLATE["model"], TEMPLATE["serial"] % i,
                   TEMPLATE["firmware"], 15.0 + (i % 100) / 10.0, 30.0 + (i % 50))
            for i in range(n)))
        f.write("\n);\n")


def stop_proc(p, name, sig=signal.SIGTERM, timeout=STOP_TIMEOUT_S):
    """Signals p and waits; SIGKILL after timeout. Returns seconds waited."""
    if p is None:
        return 0.0
    t0 = time.monotonic()
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            log("%s (pid %d) did not stop within %.0f s: SIGKILL" % (name, p.pid, timeout))
            p.kill()
            p.wait(10)
    if p in _procs:
        _procs.remove(p)
    return time.monotonic() - t0


class Server:
    """The test server, its stdout read by a thread; counts Register events."""

    def __init__(self, build):
        self.binary = os.path.join(build, "lwm2m-test-server")
        self.cond = threading.Condition()
        self.registered = set()
        self.last_register_ts = None
        self.events = []      # events other than register/update, for wait()
        self.eof = False
        self.proc = None
        self.port = None

    def start(self):
        self.proc = subprocess.Popen([self.binary, "--port", "0", "--bind", "127.0.0.1"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0)
        _procs.append(self.proc)
        self.stderr_lines = []
        threading.Thread(target=self._reader, daemon=True).start()
        threading.Thread(target=self._stderr_reader, daemon=True).start()
        ev = self.wait(lambda e: e.get("event") == "ready", 10, "ready")
        self.port = ev["port"]
        return self

    def _stderr_reader(self):
        # kept for the failure messages below: why the server died
        for raw in self.proc.stderr:
            with self.cond:
                self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip())

    def _died(self, what):
        return RuntimeError("test server exited (rc=%s) %s; its stderr:\n%s"
                            % (self.proc.poll(), what, "\n".join(self.stderr_lines[-20:])))

    def _reader(self):
        for raw in self.proc.stdout:
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            with self.cond:
                name = ev.get("event")
                if name == "register":
                    self.registered.add(ev.get("ep"))
                    self.last_register_ts = ev.get("ts")
                elif name not in ("update",):
                    self.events.append(ev)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, ev in enumerate(self.events):
                    if pred(ev):
                        return self.events.pop(i)
                if self.eof:
                    raise self._died("while waiting for %s" % what)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))
                self.cond.wait(min(left, 1.0))

    def wait_registered(self, count, timeout, alive):
        """Waits until count distinct endpoints registered; alive() False aborts."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.registered) < count:
                if self.eof:
                    raise self._died("during the registrations")
                if not alive():
                    raise RuntimeError("gateway exited after %d of %d registrations"
                                       % (len(self.registered), count))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("only %d of %d registrations after %.0f s"
                                       % (len(self.registered), count, timeout))
                self.cond.wait(min(left, 0.5))
            return self.last_register_ts

    def command(self, **cmd):
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.command(op="quit")
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        stop_proc(self.proc, "test server", timeout=10)


def udp_drops(port):
    """The kernel's drop count of the UDP socket bound to 127.0.0.1:port.

    Datagrams dropped because a receive buffer was full are resent only
    after CoAP's ACK_TIMEOUT (2-3 s), which shows as a long registration
    tail; this count says whether that happened."""
    want = "0100007F:%04X" % port
    try:
        with open("/proc/net/udp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1] == want:
                    return int(fields[-1])
    except (OSError, ValueError, IndexError):
        pass
    return -1


def vm_rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


def ensure_fd_limit(n):
    """Makes sure the daemon can raise its soft limit to n + headroom fds.

    The daemon raises its soft RLIMIT_NOFILE to the hard limit itself; only
    a hard limit that is too low needs raising, which the daemon inherits
    from here. That takes CAP_SYS_RESOURCE; without it, raises RuntimeError
    saying what to run."""
    need = n + FD_HEADROOM
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= need:
        return
    log("open-file hard limit %d is below the %d a fleet of %d needs; raising it"
        % (hard, need, n))
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, need), need))
    except (ValueError, OSError) as e:
        raise RuntimeError("cannot raise the open-file hard limit from %d to %d (%s); run as "
                           "root with CAP_SYS_RESOURCE, or first `ulimit -Hn %d` in a root "
                           "shell, or `prlimit --pid $$ --nofile=%d:%d`"
                           % (hard, need, e, need, need, need))


class GatewayLog:
    """The gateway's stderr, line by line with the monotonic time of arrival."""

    def __init__(self, pipe, copy):
        self.cond = threading.Condition()
        self.lines = []
        self.eof = False
        self.copy = copy
        threading.Thread(target=self._reader, args=(pipe,), daemon=True).start()

    def _reader(self, pipe):
        for raw in pipe:
            now = time.monotonic()
            line = raw.decode(errors="replace").rstrip("\n")
            self.copy.write(line + "\n")
            with self.cond:
                self.lines.append((now, line))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_for(self, regex, since, timeout):
        """The first line at or after index since matching regex: (t, match, index)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = since
            while True:
                while i < len(self.lines):
                    m = regex.search(self.lines[i][1])
                    if m:
                        return self.lines[i][0], m, i
                    i += 1
                if self.eof:
                    raise RuntimeError("gateway exited before logging /%s/" % regex.pattern)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("no /%s/ in the gateway log after %.0f s"
                                       % (regex.pattern, timeout))
                self.cond.wait(min(left, 0.5))

    def count(self):
        with self.cond:
            return len(self.lines)


# The gateway logs this once every client is registered.
ALL_REGISTERED_RE = re.compile(r"all \d+ virtual clients registered")


class Gateway:
    def __init__(self, build, conf, port, logf, n):
        self.cmd = [os.path.join(build, "lwm2m-gateway"), "-c", conf,
                    "--server", "coap://127.0.0.1:%d" % port, "--log-level", "notice"]
        self.logf = logf
        self.n = n
        self.proc = None
        self.start_wall = None

    def start(self):
        ensure_fd_limit(self.n)
        self.start_wall = time.time()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _procs.append(self.proc)
        self.log = GatewayLog(self.proc.stderr, self.logf)
        return self

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        return stop_proc(self.proc, "gateway")


def run_fleet(build, tmp, n, do_reads):
    """One daemon with n devices; returns the VmRSS once all registered."""
    conf = os.path.join(tmp, "bench-%d.conf" % n)
    state = os.path.join(tmp, "state-%d" % n)
    os.makedirs(state, exist_ok=True)
    write_config(conf, n, state)
    logpath = os.path.join(tmp, "gateway-%d.log" % n)
    server = gw = None
    with open(logpath, "w") as logf:
        try:
            server = Server(build).start()
            gw = Gateway(build, conf, server.port, logf, n).start()
            last_ts = server.wait_registered(n + 1, REGISTER_TIMEOUT_S, gw.alive)
            reg_s = last_ts - gw.start_wall
            # wait until the daemon has the answers too, not only the server
            gw.log.wait_for(ALL_REGISTERED_RE, 0, REGISTER_TIMEOUT_S)
            rss = vm_rss_bytes(gw.proc.pid)
            log("%d devices: %d registrations in %.3f s, VmRSS %d KiB"
                % (n, n + 1, reg_s, rss // 1024))
            if n:
                bench("register_%d_s" % n, reg_s, "s")
                bench("register_%d_server_drops" % n, udp_drops(server.port), "datagrams")
            if do_reads:
                read_bench(server)
            dereg_s = gw.stop()
            if n:
                bench("deregister_%d_s" % n, dereg_s, "s")
            if gw.proc.returncode != 0:
                log("gateway exited with %s" % gw.proc.returncode)
            return rss
        except Exception:
            logf.flush()
            with open(logpath) as f:
                tail = f.readlines()[-20:]
            if tail:
                log("gateway log tail:\n%s" % "".join(tail))
            raise
        finally:
            if gw:
                gw.stop()
            if server:
                server.stop()


def read_bench(server):
    # The gateway's own endpoint has no /3303: leave it out of the
    # server's round-robin so every read targets a sensor client.
    server.command(op="forget", ep="bench-gw", req="forget")
    server.wait(lambda e: e.get("req") == "forget", 10, "forget")
    server.command(op="bench_read", path=READ_PATH, count=READS, parallel=READ_PARALLEL,
                   timeout=10, req="bench")
    ev = server.wait(lambda e: e.get("req") == "bench" and e.get("event") in
                     ("bench_result", "response"), 300, "bench_read result")
    if ev.get("event") != "bench_result":
        raise RuntimeError("bench_read refused: %s" % ev.get("error"))
    log("bench_read: %d ok, %d failed over %d clients in %.2f s"
        % (ev["ok"], ev["failed"], ev["clients"], ev["seconds"]))
    bench("reads_per_s", float(ev["per_second"]), "ops/s")
    bench("read_p50_us", int(ev["p50_us"]), "us")
    bench("read_p99_us", int(ev["p99_us"]), "us")
    bench("read_failed", int(ev["failed"]), "reads")


def main(argv):
    build = "build"
    sizes = [1000, 10000]
    args = list(argv[1:])
    while args:
        a = args.pop(0)
        if a == "--sizes" and args:
            sizes = [int(x) for x in args.pop(0).split(",") if x]
        elif a.startswith("-"):
            sys.stderr.write("usage: bench_gateway.py [BUILD_DIR] [--sizes 1000,10000]\n")
            return 2
        else:
            build = a
    if not os.path.isabs(build):
        build = os.path.join(REPO, build)
    for b in ("lwm2m-gateway", "lwm2m-test-server"):
        if not os.access(os.path.join(build, b), os.X_OK):
            log("%s/%s is not built (make all)" % (build, b))
            return 1
    tmp = tempfile.mkdtemp(prefix="gw-bench-")
    failed = 0
    try:
        rss0 = run_fleet(build, tmp, 0, False)
        log("baseline VmRSS (0 devices) %d KiB" % (rss0 // 1024))
        for n in sizes:
            try:
                rss = run_fleet(build, tmp, n, n == max(sizes))
                bench("rss_per_client_%d" % n, (rss - rss0) // n, "bytes")
            except RuntimeError as e:
                log("%d devices: FAILED: %s" % (n, e))
                failed += 1
    except RuntimeError as e:
        log("FAILED: %s" % e)
        failed += 1
    except KeyboardInterrupt:
        log("interrupted")
        failed += 1
    finally:
        for p in list(_procs):
            stop_proc(p, "leftover process", sig=signal.SIGKILL, timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
