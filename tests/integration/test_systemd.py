"""The daemon under systemd's notification protocol (sd_notify(3)): the test
plays the service manager, listening on the unix datagram socket named by
NOTIFY_SOCKET, with a watchdog asked for through WATCHDOG_USEC/WATCHDOG_PID."""

import os
import re
import signal
import socket
import threading
import time

import configs
from harness import Gateway, TestServer, reserve_port

# WATCHDOG_PID must name the daemon itself: the shell's pid, which exec hands on
# (to GW_WRAP's valgrind too, which runs the daemon in its own process)
WRAP = ["sh", "-c", 'WATCHDOG_PID=$$ exec %s "$0" "$@"' % os.environ.get("GW_WRAP", "")]


class Manager:
    """The service manager's side: every datagram received, in order."""

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.msgs = []
        self.cond = threading.Condition()
        threading.Thread(target=self._recv, daemon=True).start()

    def _recv(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            fields["_t"] = time.monotonic()
            with self.cond:
                self.msgs.append(fields)
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.msgs)

    def wait(self, pred, what, since=0, timeout=15):
        """Index of the first message at index >= since for which pred holds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(since, len(self.msgs)):
                    if pred(self.msgs[i]):
                        return i
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s within %ss; received: %r" % (what, timeout, self.msgs))
                self.cond.wait(left)

    def absent(self, pred, since, duration):
        """True when no message at index >= since matches pred during duration seconds
        (waits on the socket's arrivals; the duration is the claim being tested)."""
        deadline = time.monotonic() + duration
        with self.cond:
            while True:
                if any(pred(m) for m in self.msgs[since:]):
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return True
                self.cond.wait(left)

    def close(self):
        self.sock.close()


def _gateway(tmp, srv, mgr, watchdog_usec, devices=("dev-a", "dev-b"), extra_env=None):
    conf = configs.gateway([configs.device(ep) for ep in devices])
    env = {"NOTIFY_SOCKET": mgr.path, "WATCHDOG_USEC": str(watchdog_usec)}
    env.update(extra_env or {})
    return Gateway(tmp, conf, server=srv, wrap=WRAP, env=env)


def test_ready_status_watchdog_reload_stop(tmp):
    mgr = Manager(tmp)
    try:
        with TestServer() as srv:
            gw = _gateway(tmp, srv, mgr, 2000000)
            with gw:
                # systemd's start timeout is pushed while clients wait for their first try
                mgr.wait(lambda m: "EXTEND_TIMEOUT_USEC" in m, "EXTEND_TIMEOUT_USEC during start-up")
                ready = mgr.wait(lambda m: m.get("READY") == "1", "READY=1")
                # READY only once every client (the gateway's own included) has been tried
                for ep in ("test-gw", "dev-a", "dev-b"):
                    srv.wait_register(ep, timeout=1)
                status = mgr.msgs[ready].get("STATUS", "")
                assert re.fullmatch(r"3/3 clients registered, 1 adapter up", status), status
                gw.wait_log(r"told systemd: ready")

                # pings keep coming, every WATCHDOG_USEC/2
                first = mgr.wait(lambda m: m.get("WATCHDOG") == "1", "WATCHDOG=1", since=ready)
                mgr.wait(lambda m: m.get("WATCHDOG") == "1", "a second WATCHDOG=1", since=first + 1)

                # a reload: RELOADING=1 with the monotonic time systemd >= 253 wants, then READY=1
                since = mgr.mark()
                before = time.clock_gettime(time.CLOCK_MONOTONIC)
                gw.signal(signal.SIGHUP)
                rel = mgr.wait(lambda m: m.get("RELOADING") == "1", "RELOADING=1", since=since)
                usec = int(mgr.msgs[rel]["MONOTONIC_USEC"])
                assert before * 1e6 <= usec <= time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6, usec
                back = mgr.wait(lambda m: m.get("READY") == "1", "READY=1 after the reload", since=rel + 1)
                assert "clients registered" in mgr.msgs[back]["STATUS"], mgr.msgs[back]

                # a file with errors: still READY (the old configuration runs), and the status says so
                with open(gw.config_file, "a") as f:
                    f.write("this is not libconfig\n")
                since = mgr.mark()
                gw.signal(signal.SIGHUP)
                rel = mgr.wait(lambda m: m.get("RELOADING") == "1", "RELOADING=1", since=since)
                back = mgr.wait(lambda m: m.get("READY") == "1", "READY=1 after a refused reload",
                                since=rel + 1)
                assert mgr.msgs[back]["STATUS"].startswith("reload refused (errors in the file"), \
                    mgr.msgs[back]

                since = mgr.mark()
                gw.signal(signal.SIGTERM)
                mgr.wait(lambda m: m.get("STOPPING") == "1", "STOPPING=1", since=since)
                assert gw.wait_exit() == 0
    finally:
        mgr.close()


def test_status_follows_registrations(tmp):
    """A server that comes late: READY=1 once every client's first Register has
    ended (refused included), then STATUS= follows the count as the clients get
    in, at most one a second."""
    mgr = Manager(tmp)
    try:
        port = reserve_port("udp")
        gw = _gateway(tmp, "coap://127.0.0.1:%d" % port, mgr, 0)
        with gw:
            ready = mgr.wait(lambda m: m.get("READY") == "1", "READY=1", timeout=30)
            status = mgr.msgs[ready]["STATUS"]
            assert re.fullmatch(r"0/3 clients registered, 1 adapter up", status), status
            with TestServer(port=port) as srv:
                for ep in ("test-gw", "dev-a", "dev-b"):
                    srv.wait_register(ep, timeout=40)
                mgr.wait(lambda m: m.get("STATUS") == "3/3 clients registered, 1 adapter up",
                         "STATUS= with every client in", since=ready + 1, timeout=10)
            # no watchdog asked for: none sent
            assert not any("WATCHDOG" in m for m in mgr.msgs), mgr.msgs
            times = [m["_t"] for m in mgr.msgs[ready:] if "STATUS" in m and len(m) == 2]
            assert all(b - a >= 0.9 for a, b in zip(times, times[1:])), times
    finally:
        mgr.close()


def test_hung_loop_stops_pinging(tmp):
    mgr = Manager(tmp)
    try:
        with TestServer() as srv:
            gw = _gateway(tmp, srv, mgr, 400000, extra_env={"GW_TEST_HANG_ON_SIGUSR2": "1"})
            with gw:
                gw.wait_log(r"test hook armed")
                ready = mgr.wait(lambda m: m.get("READY") == "1", "READY=1")
                mgr.wait(lambda m: m.get("WATCHDOG") == "1", "WATCHDOG=1", since=ready)
                gw.signal(signal.SIGUSR2)
                hung = mgr.wait(lambda m: m.get("STATUS") == "test hook: the loop hangs",
                                "the hook's STATUS")
                # five ping periods without a ping: systemd would have killed it
                assert mgr.absent(lambda m: "WATCHDOG" in m, hung + 1, 1.0), mgr.msgs[hung:]
                assert gw.proc.poll() is None, "the daemon should hang, not exit"
                gw.proc.kill()
                gw.proc.wait(5)
    finally:
        mgr.close()
