"""Integration-test harness: the independent test LwM2M server, the gateway
daemon, and decoders (written independently of the gateway's C codecs) for
checking what the gateway puts on the wire.

Only the standard library and Debian's python3-cbor2 are used.

Environment:
  GW_BUILD  build directory (default "build", relative to the repo root)
  GW_WRAP   command prefixed to the gateway, e.g.
            "valgrind --leak-check=full --error-exitcode=99"
  GW_SERVER_WRAP  the same for the test server (to check the server itself)
"""

import base64
import json
import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Every process this module starts, so run.py can kill leftovers of a test
# that failed before its own cleanup ran.
_PROCS = []
# Every process object started in this test that can say what it printed
# (report()), so a failure shows why a helper died, not only that the test
# timed out waiting for it.
_REPORTERS = []


def build_dir():
    b = os.environ.get("GW_BUILD", "build")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def cleanup_all():
    """Kill every process started through this module that is still alive."""
    for p in list(_PROCS):
        if p.poll() is None:
            try:
                p.kill()
                p.wait(5)
            except Exception:
                pass
    _PROCS.clear()
    for r in _RESERVED:
        r.close()
    _RESERVED.clear()


def failure_report(n=25):
    """The exit status and last lines of stderr of every process started in
    this test; run.py adds it to a failed test's output."""
    out = []
    for r in _REPORTERS:
        try:
            out.append(r.report(n))
        except Exception as e:  # the report must never hide the failure itself
            out.append("(no report from %r: %s)" % (r, e))
    return "\n".join(x for x in out if x)


def _tail(lines, n):
    return "\n".join("    | " + line for line in lines[-n:]) or "    | (nothing)"


class PortReservation:
    """A port on 127.0.0.1 held by this test until close(), picked by the
    kernel (bind to port 0), so no other process can take it, not even while
    a server of the test is stopped and started again on it. Looking for a
    free port and binding it later races with every other process.

    The socket never receives anything: a TCP one is bound but not listening
    (a connect is refused as if nothing were there), a UDP one is connected
    to itself (only a datagram from its own address would match it, so other
    datagrams reach the server bound after it, or get ICMP port unreachable
    when none is). It has SO_REUSEADDR, which lets the server bind the same
    port: Python's asyncio and libcoap both set it on their server sockets.
    Bound ports are also skipped when the kernel picks a client's local port,
    so a client reconnecting to a stopped server cannot connect to itself."""

    def __init__(self, kind="tcp", port=0):
        self.kind = kind
        self.sock = socket.socket(socket.AF_INET,
                                  socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", port))
            self.port = self.sock.getsockname()[1]
            if kind == "udp":
                self.sock.connect(("127.0.0.1", self.port))
        except OSError:
            self.sock.close()
            raise

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_RESERVED = []


def reserve_port(kind="udp"):
    """A PortReservation kept until the test ends (cleanup_all); its port.
    For a server started more than once at the same address in a test:
    TestServer(port=reserve_port("udp"))."""
    r = PortReservation(kind)
    _RESERVED.append(r)
    return r.port


def reserve_udp_pair():
    """Two reserved UDP ports P and P+1 (coap-rd listens for coap on P and
    coaps on P+1). Bounded: after 50 tries the test fails with the reason."""
    for _ in range(50):
        first = PortReservation("udp")
        if first.port < 65535:
            try:
                return first, PortReservation("udp", first.port + 1)
            except OSError:
                pass
        first.close()
    raise AssertionError("no two consecutive free UDP ports on 127.0.0.1 in 50 tries")


class HelperProcess:
    """A program a test runs beside the gateway (the pymodbus server,
    coap-rd, socat). A thread keeps every line it writes to stderr (and to
    stdout when stdout=True), so a wait can stop as soon as it dies and its
    last words appear in the failure, even after stop() ended it."""

    def __init__(self, args, name=None, stdout=False):
        self.args = list(args)
        self.name = name or os.path.basename(self.args[0])
        self.want_stdout = stdout
        self.proc = None
        self.err_lines = []
        self.out_lines = []
        self._cond = threading.Condition()
        self._open = 0

    def start(self):
        self.err_lines, self.out_lines = [], []
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE if self.want_stdout else subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, bufsize=0)
        _PROCS.append(self.proc)
        if self not in _REPORTERS:
            _REPORTERS.append(self)
        streams = [(self.proc.stderr, self.err_lines)]
        if self.want_stdout:
            streams.append((self.proc.stdout, self.out_lines))
        self._open = len(streams)
        for stream, lines in streams:
            threading.Thread(target=self._drain, args=(stream, lines), daemon=True).start()
        return self

    def _drain(self, stream, lines):
        for raw in stream:
            with self._cond:
                lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        stream.close()
        with self._cond:
            self._open -= 1
            self._cond.notify_all()

    def stderr(self, n=40):
        with self._cond:
            return "\n".join(self.err_lines[-n:])

    def _died(self):
        """An AssertionError naming the exit status and stderr, once the
        process has exited and its output is read; else None."""
        if self._open == 0 and self.proc.poll() is not None:
            return AssertionError("%s exited (rc=%s); stderr:\n%s"
                                  % (self.name, self.proc.returncode, _tail(self.err_lines, 40)))
        return None

    def wait_line(self, regex, timeout=10, stream="stdout", count=1):
        """The count-th line of stream matching regex (a re.Match); fails at
        once, with the process's stderr, when it exits first."""
        rx = re.compile(regex)

        def find():
            lines = self.out_lines if stream == "stdout" else self.err_lines
            found = [m for m in map(rx.search, lines) if m]
            if len(found) >= count:
                return found[count - 1]
            died = self._died()
            if died:
                raise died
            return None
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = find()
                if m is not None:
                    return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out after %.1fs waiting for %s to print /%s/; "
                                         "stderr:\n%s" % (timeout, self.name, regex,
                                                           _tail(self.err_lines, 40)))
                self._cond.wait(left)

    def report(self, n=25):
        if self.proc is None:
            return ""
        rc = self.proc.poll()
        state = "still running" if rc is None else "exited with %s" % rc
        return "%s (%s); last stderr:\n%s" % (self.name, state, _tail(self.err_lines, n))

    def stop(self, timeout=5):
        """SIGTERM, then SIGKILL; returns the exit code. The output read so
        far stays available through stderr() and report()."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc in _PROCS:
            _PROCS.remove(self.proc)
        return self.proc.returncode

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        self.stop()


class ModbusServer(HelperProcess):
    """tests/integration/modbus_server.py (pymodbus) on a reserved TCP port:
    the port stays this object's from construction to close(), so stop()
    and start() again give a stopped and restarted device at the same
    address, with connections refused in between.

    values: {"hr"|"ir"|"co"|"di": {"addr": [words...]}}. reservation: the
    port of another ModbusServer (its .reservation), to replace that device
    with a different one at the same address; its owner releases it."""

    def __init__(self, tmp, values, size=200, units="1", reservation=None):
        self.owns_port = reservation is None
        self.reservation = reservation or PortReservation("tcp")
        self.port = self.reservation.port
        self.vfile = os.path.join(tmp, "modbus-values-%d-%d.json" % (self.port, id(self)))
        with open(self.vfile, "w") as f:
            json.dump(values, f)
        super().__init__(["/usr/bin/python3", os.path.join(REPO, "tests", "integration",
                                                           "modbus_server.py"),
                          "--port", str(self.port), "--values", self.vfile, "--size", str(size),
                          "--units", units],
                         name="modbus_server.py (port %d)" % self.port, stdout=True)

    def start(self, timeout=10):
        """Starts the server and waits for its "ready PORT" line."""
        super().start()
        self.wait_line(r"^ready %d$" % self.port, timeout)
        return self

    def close(self):
        self.stop()
        if self.owns_port:
            self.reservation.close()

    def __exit__(self, *exc):
        self.close()


def _wait_cond(cond, fn, timeout, what):
    """Calls fn() under cond until it returns non-None; raises on timeout."""
    deadline = time.monotonic() + timeout
    with cond:
        while True:
            r = fn()
            if r is not None:
                return r
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
            cond.wait(left)


class TestServer:
    """build/lwm2m-test-server on a free port, driven through stdin/stdout.

    Events are kept in arrival order. wait_event() returns the oldest event
    that matches and has not been returned before, so waiting twice for
    "register of x" gives the first and then the second registration.
    """

    def __init__(self, args=(), build=None, port=0):
        self.binary = os.path.join(build or build_dir(), "lwm2m-test-server")
        # port: 0 lets the server bind any free port and report it; a
        # PortReservation's port to start a server again at the same address
        self.args = ["--port", str(port)] + list(args)
        self.events = []
        self._taken = set()
        self._cond = threading.Condition()
        self._next_req = 1
        self.stderr_lines = []
        self.proc = None
        self.port = None

    # -- process ---------------------------------------------------------
    def start(self, timeout=10):
        if not os.access(self.binary, os.X_OK):
            raise AssertionError("%s is not built (make %s)" % (self.binary,
                                 os.path.relpath(self.binary, REPO)))
        wrap = shlex.split(os.environ.get("GW_SERVER_WRAP", ""))
        self.proc = subprocess.Popen(
            wrap + [self.binary, "--bind", "127.0.0.1"] + self.args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            bufsize=0)
        _PROCS.append(self.proc)
        if self not in _REPORTERS:
            _REPORTERS.append(self)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        ev = self.wait_event(lambda e: e["event"] == "ready", timeout)
        self.port = ev["port"]
        return self

    @property
    def returncode(self):
        return self.proc.returncode if self.proc else None

    def report(self, n=25):
        if self.proc is None:
            return ""
        rc = self.proc.poll()
        with self._cond:
            lines = list(self.stderr_lines)
        return "lwm2m-test-server (%s); last stderr:\n%s" % (
            "still running" if rc is None else "exited with %s" % rc, _tail(lines, n))

    @property
    def uri(self):
        return "coap://127.0.0.1:%d" % self.port

    def _read_stdout(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "unparsed", "line": line}
            with self._cond:
                self.events.append(ev)
                self._cond.notify_all()
        with self._cond:
            self.events.append({"event": "eof"})
            self._cond.notify_all()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            with self._cond:
                self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def stop(self, timeout=10):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'{"op":"quit"}\n')
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        rc = self.proc.returncode
        if self.proc in _PROCS:
            _PROCS.remove(self.proc)
        return rc

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, exc_type, exc, tb):
        rc = self.stop()
        # a sanitizer or valgrind (GW_SERVER_WRAP) finding shows as an exit code
        if exc_type is None and rc != 0:
            raise AssertionError("test server exited with %s; stderr:\n%s"
                                 % (rc, "\n".join(self.stderr_lines[-40:])))

    # -- events ----------------------------------------------------------
    def wait_event(self, pred, timeout=10, what=None):
        """Oldest not-yet-returned event for which pred(event) is true."""
        def find():
            for i, ev in enumerate(self.events):
                if i in self._taken:
                    continue
                try:
                    ok = pred(ev)
                except (KeyError, TypeError):
                    ok = False
                if ok:
                    self._taken.add(i)
                    return ev
            if self.proc.poll() is not None and self.events and self.events[-1]["event"] == "eof":
                raise AssertionError("test server exited (rc=%s) while waiting for %s; stderr: %s"
                                     % (self.proc.returncode, what or "an event",
                                        "\n".join(self.stderr_lines[-20:])))
            return None
        return _wait_cond(self._cond, find, timeout, what or "event")

    def wait_register(self, ep, timeout=10):
        return self.wait_event(lambda e: e["event"] == "register" and e["ep"] == ep, timeout,
                               "register of %s" % ep)

    def wait_update(self, ep, timeout=10):
        return self.wait_event(lambda e: e["event"] == "update" and e["ep"] == ep, timeout,
                               "update of %s" % ep)

    def wait_deregister(self, ep, timeout=10):
        return self.wait_event(lambda e: e["event"] == "deregister" and e["ep"] == ep, timeout,
                               "deregister of %s" % ep)

    def wait_notify(self, req, timeout=10):
        return self.wait_event(lambda e: e["event"] == "notify" and e["req"] == req, timeout,
                               "notify for req %s" % req)

    # -- commands --------------------------------------------------------
    def send_command(self, op, **kw):
        """Writes a command and returns its req tag without waiting."""
        with self._cond:
            req = self._next_req
            self._next_req += 1
        cmd = dict(kw, op=op, req=req)
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()
        return req

    def wait_response(self, req, timeout=40):
        return self.wait_event(
            lambda e: e.get("req") == req and e["event"] != "notify", timeout,
            "response to req %s" % req)

    def request(self, op, wait=None, **kw):
        """Sends a command and waits for its answer (response, clients or
        bench_result event). Returns the event dict. A "timeout" keyword is
        the server's per-request limit (default 30 s); wait is how long to
        wait here (default: that limit plus 10 s, longer for bench_read)."""
        if wait is None:
            wait = kw.get("timeout", 30) + 10
            if op == "bench_read":
                wait = max(wait, 50)
        return self.wait_response(self.send_command(op, **kw), wait)

    def read(self, ep, path, **kw):
        return self.request("read", ep=ep, path=path, **kw)

    def clients(self):
        return self.request("clients")["clients"]


class Gateway:
    """build/lwm2m-gateway with a config written into tmpdir.

    In config_text, @SERVER_URI@, @TMP@ and @PORT@ are replaced (libconfig
    syntax uses braces, so str.format is not used).
    """

    def __init__(self, tmpdir, config_text, server=None, extra_args=(), wrap=None, build=None,
                 env=None):
        self.tmpdir = tmpdir
        self.binary = os.path.join(build or build_dir(), "lwm2m-gateway")
        self.server_uri = server.uri if isinstance(server, TestServer) else server
        self.config_file = os.path.join(tmpdir, "gateway.conf")
        text = config_text.replace("@TMP@", tmpdir)
        if self.server_uri:
            text = text.replace("@SERVER_URI@", self.server_uri)
            text = text.replace("@PORT@", self.server_uri.rsplit(":", 1)[1])
        with open(self.config_file, "w") as f:
            f.write(text)
        if wrap is None:
            wrap = os.environ.get("GW_WRAP", "")
        self.wrap = shlex.split(wrap) if isinstance(wrap, str) else list(wrap)
        self.extra_args = list(extra_args)
        self.env = env
        self.lines = []
        self._cond = threading.Condition()
        self.proc = None

    def command(self):
        cmd = self.wrap + [self.binary, "-c", self.config_file]
        if self.server_uri:
            cmd += ["--server", self.server_uri]
        return cmd + self.extra_args

    def start(self):
        if not os.access(self.binary, os.X_OK):
            raise AssertionError("%s is not built (make %s)" % (self.binary,
                                 os.path.relpath(self.binary, REPO)))
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, cwd=self.tmpdir, bufsize=0)
        _PROCS.append(self.proc)
        if self not in _REPORTERS:
            _REPORTERS.append(self)
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def report(self, n=25):
        if self.proc is None:
            return ""
        rc = self.proc.poll()
        with self._cond:
            lines = list(self.lines)
        return "lwm2m-gateway (%s); last log lines:\n%s" % (
            "still running" if rc is None else "exited with %s" % rc, _tail(lines, n))

    def _read(self):
        for raw in self.proc.stdout:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def mark(self):
        """Index to pass as since= so only later log lines are searched."""
        with self._cond:
            return len(self.lines)

    def wait_log(self, regex, timeout=10, since=0):
        """First log line at index >= since matching regex; the re.Match."""
        rx = re.compile(regex)

        def find():
            for line in self.lines[since:]:
                m = rx.search(line)
                if m:
                    return m
            if getattr(self, "_eof", False):
                raise AssertionError("gateway exited (rc=%s) before logging /%s/; log tail:\n%s"
                                     % (self.proc.poll(), regex, self.log_tail()))
            return None
        return _wait_cond(self._cond, find, timeout, "gateway log /%s/" % regex)

    def has_log(self, regex, since=0):
        rx = re.compile(regex)
        with self._cond:
            return any(rx.search(line) for line in self.lines[since:])

    def log_tail(self, n=40):
        with self._cond:
            return "\n".join(self.lines[-n:])

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=20):
        """Waits for the process to end; returns its exit code."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("gateway did not exit within %ss; log tail:\n%s"
                                 % (timeout, self.log_tail()))

    def stop(self, timeout=20):
        """SIGTERM, wait, then SIGKILL. Returns the exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc in _PROCS:
            _PROCS.remove(self.proc)
        return self.proc.returncode

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------------------
# Decoders, written from the OMA LwM2M 1.1 Core spec and RFC 8428/6690 -
# deliberately independent from the gateway's C codecs.

TLV_OBJECT_INSTANCE, TLV_RESOURCE_INSTANCE, TLV_MULTIPLE_RESOURCE, TLV_RESOURCE = 0, 1, 2, 3


def decode_tlv_entries(data):
    """OMA-TLV -> list of (kind, id, value). value is bytes for a resource or
    resource instance, a nested list for an object instance or multiple
    resource. Raises ValueError on malformed input."""
    data = bytes(data)
    out = []
    i = 0
    while i < len(data):
        t = data[i]
        i += 1
        kind = t >> 6
        id_len = 2 if t & 0x20 else 1
        len_type = (t >> 3) & 3
        if i + id_len > len(data):
            raise ValueError("TLV: truncated identifier at %d" % (i - 1))
        ident = int.from_bytes(data[i:i + id_len], "big")
        i += id_len
        if len_type == 0:
            length = t & 7
        else:
            if t & 7:
                raise ValueError("TLV: length bits set with a length field at %d" % (i - 1))
            if i + len_type > len(data):
                raise ValueError("TLV: truncated length field")
            length = int.from_bytes(data[i:i + len_type], "big")
            i += len_type
        if i + length > len(data):
            raise ValueError("TLV: value of id %d needs %d bytes, %d left"
                             % (ident, length, len(data) - i))
        value = data[i:i + length]
        i += length
        if kind == TLV_OBJECT_INSTANCE:
            inner = decode_tlv_entries(value)
            if any(k in (TLV_OBJECT_INSTANCE, TLV_RESOURCE_INSTANCE) for k, _, _ in inner):
                raise ValueError("TLV: object instance %d holds a bad child" % ident)
            out.append((kind, ident, inner))
        elif kind == TLV_MULTIPLE_RESOURCE:
            inner = decode_tlv_entries(value)
            if any(k != TLV_RESOURCE_INSTANCE for k, _, _ in inner):
                raise ValueError("TLV: multiple resource %d holds a non-instance" % ident)
            out.append((kind, ident, inner))
        else:
            out.append((kind, ident, value))
    return out


def _tlv_tree(entries):
    d = {}
    for kind, ident, value in entries:
        if ident in d:
            raise ValueError("TLV: duplicate id %d" % ident)
        d[ident] = _tlv_tree(value) if kind in (TLV_OBJECT_INSTANCE, TLV_MULTIPLE_RESOURCE) \
            else value
    return d


def decode_tlv(data):
    """OMA-TLV -> nested dicts: {id: bytes} for resources, {id: {riid: bytes}}
    for multiple resources, {iid: {rid: ...}} for object instances. Use
    decode_tlv_entries() when the kind of each level matters."""
    return _tlv_tree(decode_tlv_entries(data))


def tlv_int(b):
    if len(b) not in (1, 2, 4, 8):
        raise ValueError("TLV integer of %d bytes" % len(b))
    return int.from_bytes(b, "big", signed=True)


def tlv_uint(b):
    if len(b) not in (1, 2, 4, 8):
        raise ValueError("TLV unsigned of %d bytes" % len(b))
    return int.from_bytes(b, "big")


def tlv_float(b):
    if len(b) == 4:
        return struct.unpack(">f", b)[0]
    if len(b) == 8:
        return struct.unpack(">d", b)[0]
    raise ValueError("TLV float of %d bytes" % len(b))


def tlv_bool(b):
    if b not in (b"\x00", b"\x01"):
        raise ValueError("TLV boolean %r" % b)
    return b == b"\x01"


def tlv_str(b):
    return b.decode("utf-8")


def tlv_objlnk(b):
    if len(b) != 4:
        raise ValueError("TLV objlnk of %d bytes" % len(b))
    return struct.unpack(">HH", b)


def _b64url(s):
    if not isinstance(s, str) or re.search(r"[^A-Za-z0-9_\-=]", s):
        raise ValueError("SenML vd is not base64url: %r" % (s,))
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


_SENML_VALUE_KEYS = ("v", "vs", "vb", "vd", "vlo")


def _senml_resolve(records, with_time):
    """RFC 8428 section 4.6 resolution over records with text keys."""
    if not isinstance(records, list):
        raise ValueError("SenML pack must be an array")
    out = []
    bn, bt, bv = "", 0.0, None
    for r in records:
        if not isinstance(r, dict):
            raise ValueError("SenML record must be a map")
        if "bn" in r:
            if not isinstance(r["bn"], str):
                raise ValueError("SenML bn must be a string")
            bn = r["bn"]
        if "bt" in r:
            if not isinstance(r["bt"], (int, float)) or isinstance(r["bt"], bool):
                raise ValueError("SenML bt must be a number")
            bt = r["bt"]
        if "bv" in r:
            bv = r["bv"]
        n = r.get("n", "")
        if not isinstance(n, str):
            raise ValueError("SenML n must be a string")
        name = bn + n
        if not name:
            raise ValueError("SenML record without a name")
        present = [k for k in _SENML_VALUE_KEYS if k in r]
        if len(present) > 1:
            raise ValueError("SenML record %r has several values" % name)
        if not present:
            # RFC 8428 4.6: with a base value and no value, the value is bv
            value = bv
        else:
            k = present[0]
            value = r[k]
            if k == "v":
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    raise ValueError("SenML v of %r is not a number" % name)
                if bv is not None:
                    value = value + bv
            elif k == "vs" and not isinstance(value, str):
                raise ValueError("SenML vs of %r is not a string" % name)
            elif k == "vb" and not isinstance(value, bool):
                raise ValueError("SenML vb of %r is not a boolean" % name)
            elif k == "vd":
                value = _b64url(value) if isinstance(value, str) else value
                if not isinstance(value, (bytes, bytearray)):
                    raise ValueError("SenML vd of %r is not data" % name)
                value = bytes(value)
            elif k == "vlo" and not isinstance(value, str):
                raise ValueError("SenML vlo of %r is not a string" % name)
        if with_time:
            out.append((name, value, bt + r.get("t", 0)))
        else:
            out.append((name, value))
    return out


def decode_senml_json(data, with_time=False):
    """SenML JSON (RFC 8428, LwM2M cf 110/11542... as text) -> list of
    (name, value) with bn/bt/bv applied; (name, value, time) with with_time.
    vd is returned as bytes."""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8")
    return _senml_resolve(json.loads(data), with_time)


# RFC 8428 section 6, table 6: CBOR integer labels.
SENML_CBOR_LABELS = {-1: "bver", -2: "bn", -3: "bt", -4: "bu", -5: "bv", -6: "bs",
                     0: "n", 1: "u", 2: "v", 3: "vs", 4: "vb", 5: "s", 6: "t", 7: "ut",
                     8: "vd"}


def decode_senml_cbor(data, with_time=False):
    """SenML CBOR (RFC 8428 section 6, integer labels; LwM2M's "vlo" stays a
    text key) -> list of (name, value) like decode_senml_json."""
    import cbor2
    pack = cbor2.loads(bytes(data))
    if not isinstance(pack, list):
        raise ValueError("SenML CBOR pack must be an array")
    recs = []
    for r in pack:
        if not isinstance(r, dict):
            raise ValueError("SenML CBOR record must be a map")
        t = {}
        for k, v in r.items():
            if isinstance(k, int):
                if k not in SENML_CBOR_LABELS:
                    raise ValueError("SenML CBOR: unknown label %d" % k)
                k = SENML_CBOR_LABELS[k]
            elif k not in ("vlo",):
                raise ValueError("SenML CBOR: text label %r (labels must be integers)" % k)
            t[k] = v
        if "vd" in t and not isinstance(t["vd"], (bytes, bytearray)):
            raise ValueError("SenML CBOR: vd must be a byte string")
        recs.append(t)
    return _senml_resolve(recs, with_time)


def parse_link_format(text):
    """RFC 6690 link-format -> list of (uri, {attr: value}). A value-less
    attribute maps to None; quoted values are unquoted. Raises ValueError."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    out = []
    i, n = 0, len(text)
    while i < n:
        if text[i] != "<":
            raise ValueError("link-format: expected '<' at %d in %r" % (i, text))
        j = text.find(">", i)
        if j < 0:
            raise ValueError("link-format: unterminated '<' at %d" % i)
        uri = text[i + 1:j]
        attrs = {}
        i = j + 1
        while i < n and text[i] == ";":
            i += 1
            m = re.match(r"[A-Za-z0-9!#$&+\-.^_`|~]+", text[i:])
            if not m:
                raise ValueError("link-format: bad attribute name at %d" % i)
            name = m.group(0)
            i += len(name)
            value = None
            if i < n and text[i] == "=":
                i += 1
                if i < n and text[i] == '"':
                    k = i + 1
                    buf = []
                    while k < n and text[k] != '"':
                        if text[k] == "\\" and k + 1 < n:
                            k += 1
                        buf.append(text[k])
                        k += 1
                    if k >= n:
                        raise ValueError("link-format: unterminated quote at %d" % i)
                    value = "".join(buf)
                    i = k + 1
                else:
                    m = re.match(r"[^;,]*", text[i:])
                    value = m.group(0)
                    i += len(value)
            attrs[name] = value
        out.append((uri, attrs))
        if i < n:
            if text[i] != ",":
                raise ValueError("link-format: expected ',' at %d in %r" % (i, text))
            i += 1
    return out


# The gateway keeps again, for the backlog, the readings of NON
# notifications sent within this long before it noticed the server was gone
# (lwm2m/at_risk.c GW_AT_RISK_MS): the server may or may not have read them.
AT_RISK_S = 2.0


def check_outage_junction(notified, sent, t_kill, step=1.0, modulo=10.0):
    """What a server got before it was killed and the backlog it got after,
    for one sawtooth reading (value steps by step modulo modulo, one reading
    every 0.5 s). notified: (value, arrival time) of every notification of
    that path the server logged, oldest first; sent: (value, timestamp) of
    the backlog's readings in arrival order (already checked contiguous,
    none twice); t_kill: wall time just before the kill.

    Guarantee checked: no reading lost (the backlog starts at the latest
    notified reading or right after it), and readings come twice only as
    the at-risk window allows: the first readings of the backlog, each
    equal in value to a notification that arrived less than 2 s after its
    timestamp (the same value comes back every 5 s; the server can tell it
    by value and time), none older than
    that window before the kill (1 s of margin for a loaded machine)."""
    assert notified and sent, (notified, sent)

    def seen(vt):
        v, t = vt
        return any(abs(nv - v) < 1e-3 and -0.05 <= nt - t < 2.0 for nv, nt in notified)

    dups = [vt for vt in sent if seen(vt)]
    assert sent[:len(dups)] == dups, ("a reading the server had, after new ones", dups, sent[:8])
    assert all(t > t_kill - AT_RISK_S - 1.0 for _, t in dups), ("twice outside the at-risk window", dups, t_kill)
    last_v, last_t = notified[-1]
    if dups:
        v, t = dups[-1]
        assert abs(v - last_v) < 1e-3 and -0.05 <= last_t - t < 2.0, ("the latest notified reading not kept again "
                                                                        "though older ones were", notified[-3:],
                                                                        dups)
    else:
        assert abs((sent[0][0] - last_v) % modulo - step) < 1e-3, ("reading(s) lost", notified[-3:], sent[:3])
    return dups


def check_contiguous(temps, step=1.0, modulo=10.0):
    """Readings (value, time) of a simulated sawtooth that steps by `step`
    per reading (modulo `modulo`): none twice, oldest first, none missing
    (a lost reading shows as a step of 2 * step, whatever the timing)."""
    times = [t for _, t in temps]
    assert len(set(times)) == len(times), "duplicates: %r" % temps
    assert times == sorted(times), temps
    for (v1, t1), (v2, t2) in zip(temps, temps[1:]):
        assert abs((v2 - v1) % modulo - step) < 1e-3, "reading(s) missing between %r and %r: %r" % (
            (v1, t1), (v2, t2), temps)


PROBE_LINE = re.compile(r"server .* unreachable for \d+ s \(\d+ clients waiting\); next try in")


def wait_probes(gw, since, n, timeout=40):
    """Wait for n of the gateway's "unreachable for ... next try in" lines
    (one per probe of an away server) after log line `since`; returns the
    index just past the last one."""
    for _ in range(n):
        gw.wait_log(PROBE_LINE.pattern, timeout=timeout, since=since)
        since = next(i for i in range(since, gw.mark()) if PROBE_LINE.search(gw.lines[i])) + 1
    return since
