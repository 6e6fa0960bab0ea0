"""The gateway against an independent LwM2M server: Telefonica's
lwm2m-node-lib (npm, tests/interop/lwm2m_node_server.js), which shares no
code with the gateway or tests/server. Register (and what it carries),
Update, Read, Write, Observe with notifications, De-register.

Needs node and `npm ci` in tests/interop (tools/install-deps.sh does both)."""

import json
import os
import shutil
import signal
import subprocess
import threading
import time

import configs
import harness
from harness import Gateway

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INTEROP = os.path.join(ROOT, "tests", "interop")
SCRIPT = os.path.join(INTEROP, "lwm2m_node_server.js")


class NodeServer:
    """tests/interop/lwm2m_node_server.js on 127.0.0.1 (port picked by the
    kernel): its JSON events are kept as they arrive, commands go to its
    stdin, and every wait ends as soon as the server dies."""

    def __init__(self):
        self.proc = None
        self.events = []
        self.err = []
        self.port = None
        self._cond = threading.Condition()
        self._open = 0
        self._next_id = 0

    def start(self, timeout=20):
        node = shutil.which("node") or shutil.which("nodejs")
        assert node, "node is not installed: run tools/install-deps.sh (Debian packages nodejs, npm)"
        assert os.path.isdir(os.path.join(INTEROP, "node_modules", "lwm2m-node-lib")), \
            "tests/interop/node_modules is missing: run tools/install-deps.sh (it runs npm ci there)"
        env = dict(os.environ, NODE_NO_WARNINGS="1")
        self.proc = subprocess.Popen([node, SCRIPT, "0"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        harness._PROCS.append(self.proc)
        self._open = 2
        threading.Thread(target=self._drain, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr, False), daemon=True).start()
        self.port = self.wait_event(lambda e: e["event"] == "listening", timeout, "listening")["port"]
        return self

    @property
    def uri(self):
        return "coap://127.0.0.1:%d" % self.port

    def _drain(self, stream, is_events):
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                if is_events:
                    try:
                        self.events.append(json.loads(line))
                    except ValueError:
                        self.err.append("(not JSON on stdout) " + line)
                else:
                    self.err.append(line)
                self._cond.notify_all()
        with self._cond:
            self._open -= 1
            self._cond.notify_all()

    def wait_event(self, pred, timeout=10, what="an event", start=0):
        """The first event from index start on that pred accepts."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events[start:]:
                    if pred(ev):
                        return ev
                if self._open == 0 and self.proc.poll() is not None:
                    raise AssertionError("the node LwM2M server exited (rc=%s) before %s; stderr:\n%s"
                                         % (self.proc.returncode, what, "\n".join(self.err[-30:])))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out after %.0f s waiting for %s; events:\n%s\nstderr:\n%s"
                                         % (timeout, what, "\n".join(map(json.dumps, self.events[-20:])),
                                            "\n".join(self.err[-20:])))
                self._cond.wait(left)

    def wait_register(self, ep, timeout=15):
        return self.wait_event(lambda e: e["event"] == "register" and e["ep"] == ep, timeout,
                               "the Register of %s" % ep)

    def send(self, op, **kw):
        self._next_id += 1
        cmd = dict(kw, id=self._next_id, op=op)
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()
        return self._next_id

    def result(self, cmd_id, timeout=15):
        return self.wait_event(lambda e: e["event"] == "result" and e["id"] == cmd_id, timeout,
                               "the result of command %d" % cmd_id)

    def request(self, op, timeout=15, **kw):
        return self.result(self.send(op, **kw), timeout)

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self.proc.stdin,):
            try:
                f.close()
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _ok(res):
    assert res["ok"], res
    return res["value"]


STATIC = configs.device("dev-a", '{ path = "/3308/0/5900"; value = 20.0; }')
SAW = ('{ endpoint = "saw"; adapter = "simulated"; simulate = ( { field = "temperature"; '
       'wave = "sawtooth"; min = 0.0; max = 10.0; period = 2.0; interval = 0.1; } ); }')


def test_node_server_accepts_register_payload(tmp):
    with NodeServer() as srv, Gateway(tmp, configs.gateway([STATIC], lifetime=90), server=srv.uri):
        for ep in ("test-gw", "dev-a"):
            ev = srv.wait_register(ep)
            assert ev["lifetime"] == 90 and ev["lwm2m"] == "1.1" and ev["binding"] == "U", ev
            links = dict((uri, attrs) for uri, attrs in ev["links"])
            # TLV is preferred by leaving ct out: Wakaama refuses ct=11542
            assert links["/"] == {"rt": "oma.lwm2m"}, ev["payload"]
            # Server and Device are the LwM2M 1.1 versions (the enabler's defaults): no ver
            assert "/1/0" in links and "/3/0" in links and "/1" not in links and "/3" not in links
            assert not any(u.startswith("/0") for u in links)
        ev = srv.wait_register("dev-a")
        assert ev["payload"] == ('</>;rt="oma.lwm2m",</1/0>,</3/0>,</3303>;ver=1.1,</3303/0>,'
                                 '</3304>;ver=1.1,</3304/0>,</3308>;ver=1.1,</3308/0>'), ev["payload"]
        assert sorted(_ok(srv.request("list"))) == ["dev-a", "test-gw"]


def test_node_server_reads_and_writes(tmp):
    with NodeServer() as srv, Gateway(tmp, configs.gateway([STATIC]), server=srv.uri):
        srv.wait_register("dev-a")
        assert _ok(srv.request("read", ep="dev-a", path="/3303/0/5700")) == "21.5"
        assert _ok(srv.request("read", ep="dev-a", path="/3/0/0")) == "Acme"
        assert _ok(srv.request("read", ep="dev-a", path="/3304/0/5701")) == "%RH"
        assert _ok(srv.request("write", ep="dev-a", path="/3308/0/5900", value="22.5")) == ""
        assert _ok(srv.request("read", ep="dev-a", path="/3308/0/5900")) == "22.5"
        # a value that is no number is refused, and the old one stays
        bad = srv.request("write", ep="dev-a", path="/3308/0/5900", value="warm")
        assert not bad["ok"] and "4.00" in (bad["code"] or "") + bad["error"], bad
        assert _ok(srv.request("read", ep="dev-a", path="/3308/0/5900")) == "22.5"
        # read-only resource
        ro = srv.request("write", ep="dev-a", path="/3303/0/5700", value="1")
        assert not ro["ok"] and "4.05" in (ro["code"] or "") + ro["error"], ro
        links = _ok(srv.request("discover", ep="dev-a", path="/3303/0"))
        assert "</3303/0/5700>" in links, links


def test_node_server_observes_notifications(tmp):
    with NodeServer() as srv, Gateway(tmp, configs.gateway([SAW]), server=srv.uri):
        srv.wait_register("saw")
        # the resource exists once the first simulated reading is stored
        # (0.1 s after start): bounded retries, each waiting on the answer
        for _ in range(50):
            res = srv.request("observe", ep="saw", path="/3303/0/5700")
            if res["ok"]:
                break
            assert "4.04" in (res["code"] or "") + res["error"], res
        assert res["ok"], res
        first = float(res["value"])
        assert 0.0 <= first <= 10.0
        values = []
        start = 0
        for _ in range(50):  # the sawtooth moves at every reading: 3 values come at once
            ev = srv.wait_event(lambda e: e["event"] == "notify" and e["id"] == res["id"],
                                timeout=10, what="a notification", start=start)
            start = srv.events.index(ev) + 1
            values.append(float(ev["value"]))
            if len(set(values)) >= 3:
                break
        assert len(set(values)) >= 3, values
        assert all(0.0 <= v <= 10.0 for v in values), values


def test_node_server_update_and_deregister(tmp):
    with NodeServer() as srv:
        gw = Gateway(tmp, configs.gateway([STATIC], lifetime=5), server=srv.uri).start()
        try:
            reg = srv.wait_register("dev-a")
            # an Update before the lifetime ends keeps the registration
            srv.wait_event(lambda e: e["event"] == "update" and e["ep"] == "dev-a", 10,
                           "an Update of dev-a", start=srv.events.index(reg))
            assert not [e for e in srv.events if e["event"] == "expired"], srv.events
            gw.signal(signal.SIGTERM)
            for ep in ("dev-a", "test-gw"):
                srv.wait_event(lambda e, ep=ep: e["event"] == "deregister" and e["ep"] == ep, 10,
                               "the De-register of %s" % ep)
            assert gw.wait_exit() == 0
            assert _ok(srv.request("list")) == []
        finally:
            gw.stop()
