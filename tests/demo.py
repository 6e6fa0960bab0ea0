#!/usr/bin/python3
"""`make demo`: the gateway's demo sensors seen from a local LwM2M server.

    /usr/bin/python3 tests/demo.py [BUILD_DIR]

Starts BUILD_DIR/lwm2m-test-server on 127.0.0.1 (port 5683, or a free port
when 5683 is taken) and BUILD_DIR/lwm2m-gateway with examples/demo.conf
pointed at it; prints every client registering as the server sees it, then
reads each registered client's object instances (SenML JSON) and prints the
values, then keeps printing server events until Ctrl-C, or for DEMO_SECONDS
seconds when that is set. Both processes are stopped before exiting: the
gateway with SIGTERM (its de-registrations are shown), then the server.

Standard library only; traffic only on 127.0.0.1.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONF = os.path.join(REPO, "examples", "demo.conf")
REGISTER_WAIT_S = 15.0
READ_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 15.0

# Resource names for the objects the demo uses (OMA LwM2M registry:
# Core objects 1 (version 1.2, every resource, as lwm2m/registry_table.c
# names them) and 3, IPSO 3303/3304/3331 reusable resources 55xx/57xx).
SERVER_NAMES = [
    "Short Server ID", "Lifetime", "Default Minimum Period", "Default Maximum Period", "Disable",
    "Disable Timeout", "Notification Storing When Disabled or Offline", "Binding",
    "Registration Update Trigger", "Bootstrap-Request Trigger", "APN Link", "TLS-DTLS Alert Code",
    "Last Bootstrapped", "Registration Priority Order", "Initial Registration Delay Timer",
    "Registration Failure Block", "Bootstrap on Registration Failure", "Communication Retry Count",
    "Communication Retry Timer", "Communication Sequence Delay Timer", "Communication Sequence Retry Count",
    "Trigger", "Preferred Transport", "Mute Send", "Alternate APN Links", "Supported Server Versions",
    "Default Notification Mode", "Profile ID Hash Algorithm",
]
NAMES = {
    (3, 0): "Manufacturer", (3, 1): "Model Number", (3, 2): "Serial Number",
    (3, 3): "Firmware Version", (3, 4): "Reboot", (3, 6): "Available Power Sources",
    (3, 7): "Power Source Voltage", (3, 8): "Power Source Current", (3, 9): "Battery Level", (3, 10): "Memory Free", (3, 11): "Error Code",
    (3, 13): "Current Time", (3, 14): "UTC Offset", (3, 15): "Timezone",
    (3, 16): "Supported Binding and Modes", (3, 17): "Device Type",
    (3, 18): "Hardware Version", (3, 19): "Software Version", (3, 20): "Battery Status",
    (3, 21): "Memory Total",
    (None, 5601): "Min Measured Value", (None, 5602): "Max Measured Value",
    (None, 5603): "Min Range Value", (None, 5604): "Max Range Value",
    (None, 5700): "Sensor Value", (None, 5701): "Sensor Units",
    (None, 5750): "Application Type", (None, 5805): "Cumulative Active Power",
}
NAMES.update({(1, rid): name for rid, name in enumerate(SERVER_NAMES)})
OBJECTS = {1: "LwM2M Server", 3: "Device", 3303: "Temperature", 3304: "Humidity",
           3331: "Energy"}

_out_lock = threading.Lock()


def say(text=""):
    with _out_lock:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def stamp(ts=None):
    return time.strftime("%H:%M:%S", time.localtime(ts if ts else time.time()))


def resource_name(path):
    parts = [int(p) for p in path.strip("/").split("/") if p.isdigit()]
    if len(parts) < 3:
        return ""
    return NAMES.get((parts[0], parts[2])) or NAMES.get((None, parts[2]), "")


def link_instances(links):
    """Object instance paths (/O/I) from a registration's CoRE link list."""
    out = []
    for m in re.finditer(r"<(/[0-9]+/[0-9]+)>", links or ""):
        out.append(m.group(1))
    return out


def link_summary(links):
    items = []
    for m in re.finditer(r"<(/[0-9/]*)>([^,]*)", links or ""):
        path, attrs = m.group(1), m.group(2)
        parts = path.strip("/").split("/")
        if len(parts) == 1 and parts[0]:
            ver = re.search(r"ver=([0-9.]+)", attrs)
            name = OBJECTS.get(int(parts[0]))
            items.append("%s%s%s" % (path, " (%s)" % name if name else "",
                                     " v" + ver.group(1) if ver else ""))
        elif len(parts) == 2:
            items.append(path)
    return ", ".join(items)


def senml_lines(payload):
    """SenML JSON (RFC 8428) records -> [(name, value text)]."""
    recs = json.loads(payload)
    if not isinstance(recs, list):
        raise ValueError("SenML JSON must be an array")
    out, bn = [], ""
    for r in recs:
        if not isinstance(r, dict):
            raise ValueError("SenML record must be an object")
        bn = r.get("bn", bn)
        name = bn + r.get("n", "")
        for k in ("v", "vs", "vb", "vd", "vlo"):
            if k in r:
                v = r[k]
                if k == "vs":
                    v = '"%s"' % v
                elif k == "vb":
                    v = "true" if v else "false"
                elif k == "vd":
                    v = "opaque (base64) " + v
                elif k == "vlo":
                    v = "link " + v
                out.append((name, str(v)))
                break
        else:
            out.append((name, "(no value)"))
    return out


class Server:
    def __init__(self, build):
        self.binary = os.path.join(build, "lwm2m-test-server")
        self.proc = None
        self.port = None
        self.cond = threading.Condition()
        self.pending = {}       # req -> response event
        self.ready = None
        self.registered = {}    # ep -> register event
        self.next_req = 1
        self.on_event = None

    def start(self, port):
        # own session: Ctrl-C reaches only the demo, which then stops the
        # gateway first so its de-registrations reach a live server
        self.proc = subprocess.Popen([self.binary, "--port", str(port), "--bind", "127.0.0.1"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0, start_new_session=True)
        self.stderr_lines = []
        threading.Thread(target=self._reader, daemon=True).start()
        self.stderr_thread = threading.Thread(target=self._stderr_reader, daemon=True)
        self.stderr_thread.start()
        deadline = time.monotonic() + 10
        with self.cond:
            while self.ready is None and self.proc.poll() is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.2))
        if self.ready is None:
            self.stop()
            self.stderr_thread.join(2)  # its last words
            return " ".join(self.stderr_lines[-3:]) or "no ready event"
        self.port = self.ready["port"]
        return None

    def _stderr_reader(self):
        # drained so a chatty server never blocks on a full pipe
        for raw in self.proc.stderr:
            self.stderr_lines.append(raw.decode("utf-8", "replace").strip())

    def _reader(self):
        for raw in self.proc.stdout:
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            name = ev.get("event")
            # printed before waiters wake, so the reads come after it
            if self.on_event and name != "ready":
                self.on_event(ev)
            with self.cond:
                if name == "ready":
                    self.ready = ev
                elif name == "register":
                    self.registered[ev.get("ep")] = ev
                elif name == "deregister":
                    self.registered.pop(ev.get("ep"), None)
                if "req" in ev and ev["req"] in self.pending:
                    self.pending[ev["req"]] = ev
                self.cond.notify_all()

    def request(self, op, timeout, **kw):
        with self.cond:
            req = "demo-%d" % self.next_req
            self.next_req += 1
            self.pending[req] = None
        cmd = dict(kw, op=op, req=req, timeout=timeout)
        if op == "observe":
            OBSERVED[req] = (kw.get("ep"), kw.get("path"))
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        deadline = time.monotonic() + timeout + 2
        with self.cond:
            while self.pending[req] is None:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    self.pending.pop(req)
                    return {"error": "no answer"}
                self.cond.wait(min(left, 0.5))
            return self.pending.pop(req)

    def stop(self):
        p = self.proc
        if not p:
            return
        if p.poll() is None:
            try:
                p.stdin.write(b'{"op":"quit"}\n')
                p.stdin.close()
                p.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if p.poll() is None:
            p.kill()
            p.wait(5)


# req tag of each observation -> (endpoint, path), to print notifications
OBSERVED = {}


def udp_port_free(port):
    """True if nothing is bound to 127.0.0.1:port (UDP).

    libcoap sets SO_REUSEADDR, with which a second server would bind the
    same UDP port and silently take datagrams meant for the first; a bind
    without it fails while any socket holds the port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def print_event(ev):
    name = ev.get("event")
    ts = stamp(ev.get("ts"))
    if name == "register":
        say("%s  REGISTER    %-20s lifetime %s s, LwM2M %s, binding %s, from %s\n"
            "%s              objects: %s"
            % (ts, ev.get("ep"), ev.get("lt"), ev.get("lwm2m"), ev.get("b"), ev.get("addr"),
               " " * len(ts), link_summary(ev.get("links"))))
    elif name == "update":
        say("%s  UPDATE      %-20s lifetime %s s%s" % (ts, ev.get("ep"), ev.get("lt"),
                                                     ", new object list" if "links" in ev else ""))
    elif name == "deregister":
        say("%s  DEREGISTER  %s" % (ts, ev.get("ep")))
    elif name == "notify" and ev.get("req") in OBSERVED:
        ep, path = OBSERVED[ev["req"]]
        try:
            vals = dict(senml_lines(ev.get("payload_text") or ""))
        except ValueError:
            vals = {}
        value = vals.get(path + "/5700")
        if value is not None:
            say("%s  NOTIFY      %-20s %s/5700 %s = %s %s" % (ts, ep, path, resource_name(path + "/5700"),
                                                       value, vals.get(path + "/5701", "").strip('"')))
    elif name in ("notify", "send"):
        say("%s  %-11s %s %s" % (ts, name.upper(), ev.get("ep"),
                                 ev.get("payload_text", ev.get("payload_hex", ""))))
    elif name in ("rejected", "update_unknown", "deregister_unknown", "error"):
        say("%s  %-11s %s" % (ts, name.upper(), json.dumps(ev, sort_keys=True)))


def expected_endpoints(conf):
    """The endpoints demo.conf defines, so the demo knows when all are in."""
    with open(conf) as f:
        text = re.sub(r"(#|//).*", "", f.read())
    eps = re.findall(r'endpoint\s*=\s*"([^"]+)"', text)
    gw = re.search(r'gateway\s*=\s*\{[^}]*name\s*=\s*"([^"]+)"', text)
    if gw:
        eps.append(gw.group(1))
    return set(eps)


def read_client(server, ep, links):
    say("")
    say("Read of %s:" % ep)
    for inst in link_instances(links):
        obj = int(inst.split("/")[1])
        ev = server.request("read", READ_TIMEOUT_S, ep=ep, path=inst, accept=110)
        title = "  %s %s" % (inst, OBJECTS.get(obj, ""))
        if "error" in ev:
            say("%s: %s" % (title, ev["error"]))
            continue
        if ev.get("code") != "2.05":
            say("%s: %s" % (title, ev.get("code")))
            continue
        say(title)
        text = ev.get("payload_text")
        try:
            if ev.get("cf") != 110 or text is None:
                raise ValueError("Content-Format %s" % ev.get("cf"))
            for name, value in senml_lines(text):
                say("    %-14s %-28s %s" % (name, resource_name(name), value))
        except ValueError as e:
            say("    cannot decode (%s): %s" % (e, text if text is not None
                                                 else ev.get("payload_hex", "")))


def main(argv):
    build = argv[1] if len(argv) > 1 else "build"
    if not os.path.isabs(build):
        build = os.path.join(REPO, build)
    for b in ("lwm2m-gateway", "lwm2m-test-server"):
        if not os.access(os.path.join(build, b), os.X_OK):
            sys.stderr.write("demo: %s/%s is not built (make all)\n" % (build, b))
            return 1
    seconds = os.environ.get("DEMO_SECONDS")
    try:
        seconds = float(seconds) if seconds else None
    except ValueError:
        sys.stderr.write("demo: DEMO_SECONDS must be a number of seconds\n")
        return 2

    stop = threading.Event()

    def on_signal(signo, frame):
        stop.set()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    server = Server(build)
    gw = None
    gw_reader_thread = None
    gw_log = []
    try:
        err = server.start(5683) if udp_port_free(5683) else "in use"
        if err:
            say("UDP port 5683 is not available (%s); using a free port" % err)
            server = Server(build)
            err = server.start(0)
            if err:
                sys.stderr.write("demo: cannot start the test server: %s\n" % err)
                return 1
        server.on_event = print_event
        say("LwM2M test server listening on coap://127.0.0.1:%d" % server.port)
        say("Starting lwm2m-gateway with %s" % os.path.relpath(CONF, REPO))
        say("")
        gw = subprocess.Popen([os.path.join(build, "lwm2m-gateway"), "-c", CONF,
                               "--server", "coap://127.0.0.1:%d" % server.port],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, start_new_session=True)

        def gw_reader():
            for raw in gw.stderr:
                gw_log.append(raw.decode("utf-8", "replace").rstrip())
        gw_reader_thread = threading.Thread(target=gw_reader, daemon=True)
        gw_reader_thread.start()

        want = expected_endpoints(CONF)
        deadline = time.monotonic() + REGISTER_WAIT_S
        with server.cond:
            while not want <= set(server.registered) and not stop.is_set():
                if gw.poll() is not None or time.monotonic() > deadline:
                    break
                server.cond.wait(0.2)
            got = dict(server.registered)
        if gw.poll() is not None:
            gw_reader_thread.join(2)  # its last lines
            sys.stderr.write("demo: the gateway exited (%s):\n%s\n"
                             % (gw.returncode, "\n".join(gw_log[-20:])))
            return 1
        missing = sorted(want - set(got))
        if missing and not stop.is_set():
            say("not registered after %.0f s: %s" % (REGISTER_WAIT_S, ", ".join(missing)))
        for ep in got:  # in registration order
            if stop.is_set():
                break
            read_client(server, ep, got[ep].get("links"))
        # Watch the sensors: each IPSO sensor value is observed, and every
        # notification below is a simulated reading arriving at the server.
        for ep in got:
            for inst in link_instances(got[ep].get("links")):
                if int(inst.split("/")[1]) >= 3200 and not stop.is_set():
                    server.request("observe", READ_TIMEOUT_S, ep=ep, path=inst, accept=110)
        if not stop.is_set():
            say("")
            if seconds is not None:
                say("Showing server events for %g s..." % seconds)
            else:
                say("Showing server events; Ctrl-C to stop.")
        end = time.monotonic() + seconds if seconds is not None else None
        while not stop.is_set():
            if gw.poll() is not None:
                sys.stderr.write("demo: the gateway exited (%s):\n%s\n"
                                 % (gw.returncode, "\n".join(gw_log[-20:])))
                return 1
            left = end - time.monotonic() if end is not None else 1.0
            if left <= 0:
                break
            stop.wait(min(left, 1.0))
        say("")
        say("Stopping the gateway (it de-registers every client)...")
    finally:
        if gw is not None and gw.poll() is None:
            gw.send_signal(signal.SIGTERM)
            try:
                gw.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                gw.kill()
                gw.wait(5)
        server.stop()
        say("Stopped.")
    # after a clean stop, anything but 0 is a failure (e.g. a sanitizer report)
    if gw is not None and gw.returncode != 0:
        if gw_reader_thread is not None:
            gw_reader_thread.join(2)  # its last lines
        sys.stderr.write("demo: the gateway exited with status %s:\n%s\n"
                         % (gw.returncode, "\n".join(gw_log[-30:])))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
