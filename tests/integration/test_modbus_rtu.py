"""Modbus RTU end to end over a virtual serial line: a pty pair made by socat,
the gateway's RTU bus on one end and a Modbus RTU server on the other. Two
unit ids share the line; the server records every frame so the tests can
prove that the bus never has two requests in flight and keeps the
turnaround pause between frames.

The server is written here rather than taken from pymodbus so that it can
timestamp frames, stay silent or garble replies on demand. Framing and CRC
follow the Modbus over Serial Line specification V1.02 (2.5.1, 6.2.2) and
the Modbus Application Protocol V1.1b3 (function codes, exception 2)."""

import os
import re
import select
import subprocess
import termios
import threading
import time
import tty

import harness
from harness import Gateway, TestServer, decode_senml_json

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples", "modbus-th-rtu.conf")


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes([crc & 0xFF, crc >> 8])


class PtyPair(harness.HelperProcess):
    """socat's two linked ptys. socat -d -d reports each pty ("PTY is") but
    may create its link just after; "starting data transfer loop" follows
    once both addresses, links included, are set up."""

    def __init__(self, tmp):
        self.a = os.path.join(tmp, "ttyGW")
        self.b = os.path.join(tmp, "ttyDEV")
        super().__init__(["socat", "-d", "-d", "pty,raw,echo=0,link=" + self.a,
                          "pty,raw,echo=0,link=" + self.b], name="socat")
        self.start()
        self.wait_line(r"PTY is", stream="stderr", count=2)
        self.wait_line(r"starting data transfer loop", stream="stderr")
        assert os.path.exists(self.a) and os.path.exists(self.b)

    def close(self):
        self.stop()


class RtuServer:
    """A Modbus RTU server on a pty. units: {unit: {"ir"|"hr"|"co"|"di": {addr: value}}}.

    Every request frame is logged as a dict: unit, fc, start (first byte
    seen), end (frame complete), reply (just before the reply was written,
    None when unanswered) and overlap (bytes of another frame arrived before
    this one was answered)."""

    SIZE = 100

    def __init__(self, path, units, reply_delay=0.02, gw_timeout=0.2):
        self.units = units
        self.gw_timeout = gw_timeout
        self.reply_delay = reply_delay
        self.silent = set()   # units that do not answer
        self.garble = set()   # units whose replies get a bad CRC
        self.wrong = {}       # unit -> "unit" (reply from another unit), "fc" (another
                              # function code) or "short" (a truncated reply)
        self.log = []
        self.bad_frames = 0
        self.lock = threading.Condition()
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd, termios.TCSANOW)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def close(self):
        self.stopping = True
        self.thread.join(5)
        os.close(self.fd)

    def requests(self, unit=None):
        with self.lock:
            return [r for r in self.log if unit is None or r["unit"] == unit]

    def wait_requests(self, unit, n, timeout=10):
        """Wait until unit has been sent at least n requests."""
        with self.lock:
            if not self.lock.wait_for(lambda: len([r for r in self.log if r["unit"] == unit]) >= n,
                                      timeout):
                raise AssertionError("unit %d: fewer than %d requests in %ss" % (unit, n, timeout))

    @staticmethod
    def _frame_len(buf):
        if len(buf) < 2:
            return None
        fc = buf[1]
        if fc in (1, 2, 3, 4, 5, 6):
            return 8
        if fc in (15, 16):
            return 9 + buf[6] if len(buf) >= 7 else None
        return -1

    def _run(self):
        buf, t_first = b"", None
        while not self.stopping:
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if not r:
                if buf:  # a silence longer than any frame gap: drop the fragment
                    self.bad_frames += 1
                    buf = b""
                continue
            data = os.read(self.fd, 512)
            if not buf:
                t_first = time.monotonic()
            buf += data
            while True:
                n = self._frame_len(buf)
                if n is None or len(buf) < n:
                    break
                if n < 0 or crc16(buf[:n - 2]) != buf[n - 2:n]:
                    self.bad_frames += 1
                    buf = b""
                    break
                frame, buf = buf[:n], buf[n:]
                self._serve(frame, t_first)
                t_first = time.monotonic()

    def _serve(self, frame, t_first):
        unit, fc = frame[0], frame[1]
        rec = {"unit": unit, "fc": fc, "start": t_first, "end": time.monotonic(),
               "reply": None, "overlap": False,
               "addr": frame[2] << 8 | frame[3], "count": frame[4] << 8 | frame[5]}
        with self.lock:
            self.log.append(rec)
            self.lock.notify_all()
        regs = self.units.get(unit)
        if regs is None or unit in self.silent:
            return
        # Whatever arrives while the request is being "processed" belongs to
        # a request sent before this one was answered.
        r, _, _ = select.select([self.fd], [], [], self.reply_delay)
        # On a loaded machine this thread may wake after the gateway gave
        # the request up (timeout_ms): a next request then is no overlap.
        late = time.monotonic() - rec["end"] >= self.gw_timeout
        rec["overlap"] = bool(r) and not late
        if late:
            rec["late"] = True
            return
        body = self._answer(regs, fc, frame)
        how = self.wrong.get(unit)
        if how == "fc":
            body = bytes([(body[0] % 16) + 1 if body[0] != 1 else 2]) + body[1:]
        elif how == "short":
            body = body[:2]
        reply = bytes([(unit % 247) + 1 if how == "unit" else unit]) + body
        reply += crc16(reply)
        if unit in self.garble:
            reply = reply[:-1] + bytes([reply[-1] ^ 0xFF])
        rec["reply"] = time.monotonic()
        os.write(self.fd, reply)

    def _answer(self, regs, fc, frame):
        addr, count = frame[2] << 8 | frame[3], frame[4] << 8 | frame[5]
        table = {1: "co", 2: "di", 3: "hr", 4: "ir", 5: "co", 6: "hr", 15: "co", 16: "hr"}[fc]
        t = regs.setdefault(table, {})
        if fc in (5, 6):
            count = 1
        if addr + count > self.SIZE:
            return bytes([fc | 0x80, 2])
        if fc in (1, 2):
            out = bytearray((count + 7) // 8)
            for i in range(count):
                if t.get(addr + i):
                    out[i // 8] |= 1 << (i % 8)
            return bytes([fc, len(out)]) + bytes(out)
        if fc in (3, 4):
            out = b"".join((t.get(addr + i, 0) & 0xFFFF).to_bytes(2, "big") for i in range(count))
            return bytes([fc, len(out)]) + out
        if fc == 5:
            t[addr] = 1 if frame[4] == 0xFF else 0
            return frame[1:6]
        if fc == 6:
            t[addr] = frame[4] << 8 | frame[5]
            return frame[1:6]
        data = frame[7:7 + frame[6]]
        for i in range(count):
            if fc == 15:
                t[addr + i] = (data[i // 8] >> (i % 8)) & 1
            else:
                t[addr + i] = data[2 * i] << 8 | data[2 * i + 1]
        return frame[1:6]


def s16(v):
    return v & 0xFFFF


def example_conf(tty_path, extra_regs="", extra_bus=""):
    """The shipped RTU example, pointed at the pty, the test server and a fast poll."""
    text = open(EXAMPLE).read()
    text = text.replace('"/dev/ttyUSB0"', '"%s"' % tty_path)
    text = text.replace('"/var/lib/lwm2m-gateway"', '"@TMP@"')
    text = text.replace('"coap://127.0.0.1:5683"', '"@SERVER_URI@"')
    text = text.replace("interval = 10.0", "interval = 0.2")
    text = text.replace("turnaround_ms = 20;", "turnaround_ms = 30; backoff_max_ms = 600; %s"
                        % extra_bus)
    text = text.replace("timeout_ms = 500;", "timeout_ms = 200;")
    if extra_regs:
        text = text.replace("interval = 0.2; }   # -> /3304",
                            "interval = 0.2; }, %s   # -> /3304" % extra_regs)
    text = text.replace('unit_id = 1; }', 'unit_id = 1; resources = ( { field = "error_code"; '
                        'path = "/3300/99/5700"; } ); }')
    text = text.replace('unit_id = 2; }', 'unit_id = 2; resources = ( { field = "error_code"; '
                        'path = "/3300/99/5700"; } ); }')
    assert tty_path in text and "@SERVER_URI@" in text and "interval = 0.2" in text
    return text


def wait_vals(srv, ep, path, pred, timeout=10):
    """Observe path until its values satisfy pred (each notification is the
    event waited on), then cancel the observation."""
    for _ in range(5):
        req = srv.send_command("observe", ep=ep, path=path, accept=110)
        ev = srv.wait_response(req)
        if ev.get("code") != "4.04":
            break
        # the object appears with the device's first reading, announced to
        # the server by a Registration Update: that is the event to wait for
        srv.wait_update(ep, timeout=timeout)
    while True:
        vals = dict(decode_senml_json(bytes.fromhex(ev["payload_hex"]))) if ev.get("code") == "2.05" else {}
        if pred(vals):
            if ev.get("code") == "2.05":
                srv.request("cancel_observe", observe_req=req)
            return vals
        if ev.get("code") != "2.05" and "observe" not in ev:
            raise AssertionError("%s %s: %s" % (ep, path, ev))
        ev = srv.wait_notify(req, timeout=timeout)


def near(a, b):
    return a is not None and abs(a - b) < 1e-6


def check_serialised(log, turnaround):
    """No request arrived before the previous one was answered (or timed
    out), and answered ones were followed by at least the turnaround."""
    assert log, "no requests"
    for i, r in enumerate(log):
        assert not r["overlap"], "request %d arrived before request %d was answered" % (i + 1, i)
        if i and log[i - 1]["reply"] is not None and not log[i - 1].get("late"):
            gap = r["start"] - log[i - 1]["reply"]
            # 2 ms for the gateway's whole-millisecond clock
            assert gap >= turnaround - 0.002, "request %d: %.1f ms after the reply" % (i, gap * 1e3)


def test_two_units_share_the_line_without_overlap(tmp):
    units = {1: {"ir": {1: s16(215), 2: s16(453)}}, 2: {"ir": {1: s16(-52), 2: s16(801)}}}
    pty = PtyPair(tmp)
    dev = RtuServer(pty.b, units, reply_delay=0.02)
    try:
        with TestServer() as srv, Gateway(tmp, example_conf(pty.a), server=srv):
            srv.wait_register("th-cellar")
            srv.wait_register("th-attic")
            wait_vals(srv, "th-cellar", "/3303", lambda v: near(v.get("/3303/0/5700"), 21.5))
            wait_vals(srv, "th-cellar", "/3304", lambda v: near(v.get("/3304/0/5700"), 45.3))
            wait_vals(srv, "th-attic", "/3303", lambda v: near(v.get("/3303/0/5700"), -5.2))
            wait_vals(srv, "th-attic", "/3304", lambda v: near(v.get("/3304/0/5700"), 80.1))
            units[1]["ir"][1] = s16(230)  # a new value arrives with the next poll
            wait_vals(srv, "th-cellar", "/3303", lambda v: near(v.get("/3303/0/5700"), 23.0))
            for unit in (1, 2):
                dev.wait_requests(unit, 5)
            log = dev.requests()
        # both sensors polled, each poll one merged FC04 read of registers 1..2
        for unit in (1, 2):
            mine = [r for r in log if r["unit"] == unit]
            assert len(mine) >= 5, "unit %d polled %d times" % (unit, len(mine))
            assert all((r["fc"], r["addr"], r["count"]) == (4, 1, 2) for r in mine), mine
        assert dev.bad_frames == 0
        check_serialised(log, 0.030)
    finally:
        dev.close()
        pty.close()


def test_write_silent_and_garbled_units(tmp):
    units = {1: {"ir": {1: s16(200), 2: s16(500)}},
             2: {"ir": {1: s16(100), 2: s16(600)}, "hr": {10: s16(180)}, "co": {4: 0}}}
    extra = ('{ field = "setpoint"; table = "holding"; address = 10; type = "s16"; scale = 0.1; '
             'interval = 0.2; writable = true; path = "/3308/0/5900"; }, '
             '{ field = "heater"; table = "coil"; address = 4; type = "bool"; interval = 0.2; '
             'writable = true; path = "/3306/0/5850"; }, '
             '{ field = "relays"; table = "coil"; type = "u16"; length = 4; address = 8; '
             'interval = 0.2; writable = true; path = "/3306/1/5851"; }')
    pty = PtyPair(tmp)
    dev = RtuServer(pty.b, units, reply_delay=0.005)
    try:
        with TestServer() as srv, Gateway(tmp, example_conf(pty.a, extra), server=srv) as gw:
            srv.wait_register("th-attic")
            wait_vals(srv, "th-attic", "/3308", lambda v: near(v.get("/3308/0/5900"), 18.0))
            r = srv.request("write", ep="th-attic", path="/3308/0/5900", cf=0, payload_text="-12.5")
            assert r["code"] == "2.04", r
            assert units[2]["hr"][10] == s16(-125)
            r = srv.request("write", ep="th-attic", path="/3306/0/5850", cf=0, payload_text="1")
            assert r["code"] == "2.04", r
            assert units[2]["co"][4] == 1
            wait_vals(srv, "th-attic", "/3306", lambda v: v.get("/3306/0/5850") is True)
            # a coil bit field: one FC15 for its four coils, first coil = bit 0
            r = srv.request("write", ep="th-attic", path="/3306/1/5851", cf=0, payload_text="5")
            assert r["code"] == "2.04", r
            assert [units[2]["co"].get(a) for a in range(8, 12)] == [1, 0, 1, 0], units[2]["co"]
            wait_vals(srv, "th-attic", "/3306", lambda v: v.get("/3306/1/5851") == 5)

            # a unit that stops answering: error code 8, the other goes on
            dev.silent.add(2)
            wait_vals(srv, "th-attic", "/3300/99", lambda v: v.get("/3300/99/5700") == 8)
            gw.wait_log(r"modbus: modbus:rs485/2 \(bus rs485, unit 2\) fails: .*timed out")
            r = srv.request("write", ep="th-attic", path="/3308/0/5900", cf=0, payload_text="20")
            # no answer is not the server's fault, and may pass: 5.03
            assert r["code"] == "5.03", r
            n1 = len(dev.requests(1))
            units[1]["ir"][2] = s16(555)
            wait_vals(srv, "th-cellar", "/3304", lambda v: near(v.get("/3304/0/5700"), 55.5))
            assert len(dev.requests(1)) > n1
            dev.silent.discard(2)
            wait_vals(srv, "th-attic", "/3300/99", lambda v: v.get("/3300/99/5700") == 0)

            # replies with a bad CRC: counted as a fault, then recovery
            mark = gw.mark()
            dev.garble.add(2)
            wait_vals(srv, "th-attic", "/3300/99", lambda v: v.get("/3300/99/5700") == 8)
            gw.wait_log(r"modbus:rs485/2 .*fails: .*(CRC|crc)", since=mark)
            dev.garble.discard(2)
            wait_vals(srv, "th-attic", "/3300/99", lambda v: v.get("/3300/99/5700") == 0)
            gw.wait_log(r"modbus:rs485/2 answers again", since=mark)

            # replies from the wrong unit, with the wrong function code, or
            # cut short: each a fault (error code 8), then recovery, no crash
            for how in ("unit", "fc", "short"):
                mark = gw.mark()
                dev.wrong[2] = how
                wait_vals(srv, "th-attic", "/3300/99", lambda v: v.get("/3300/99/5700") == 8)
                gw.wait_log(r"modbus:rs485/2 .*fails", since=mark)
                del dev.wrong[2]
                wait_vals(srv, "th-attic", "/3300/99", lambda v: v.get("/3300/99/5700") == 0)
                gw.wait_log(r"modbus:rs485/2 answers again", since=mark)
            assert gw.proc.poll() is None
            log = dev.requests()
        assert dev.bad_frames == 0
        check_serialised(log, 0.030)
        for fc in (1, 5, 6, 15):
            assert any(r["fc"] == fc for r in log), "no FC%d on the line" % fc
        assert [(r["addr"], r["count"]) for r in log if r["fc"] == 15] == [(8, 4)]
    finally:
        dev.close()
        pty.close()


def test_fail_threshold_marks_a_silent_unit_unavailable_until_it_answers(tmp):
    units = {1: {"ir": {1: s16(200), 2: s16(500)}}, 2: {"ir": {1: s16(-10), 2: s16(700)}}}
    pty = PtyPair(tmp)
    dev = RtuServer(pty.b, units, reply_delay=0.002)
    dev.silent.add(2)
    try:
        conf = example_conf(pty.a, extra_bus="fail_threshold = 2;")
        with TestServer() as srv, Gateway(tmp, conf, server=srv) as gw:
            gw.wait_log(r"modbus: modbus:rs485/2 unavailable after 2 consecutive failures")
            assert not gw.has_log(r"modbus:rs485/1 unavailable")
            srv.wait_register("th-attic")
            srv.wait_deregister("th-attic")  # unreachable: off the server
            srv.wait_register("th-cellar")
            wait_vals(srv, "th-cellar", "/3303", lambda v: near(v.get("/3303/0/5700"), 20.0))
            mark = gw.mark()
            dev.silent.discard(2)
            gw.wait_log(r"modbus: modbus:rs485/2 is available again", since=mark)
            srv.wait_register("th-attic")  # back: registered again
            wait_vals(srv, "th-attic", "/3303", lambda v: near(v.get("/3303/0/5700"), -1.0))
            wait_vals(srv, "th-attic", "/3300/99", lambda v: v.get("/3300/99/5700") == 0)
            assert len(re.findall(r"rs485/2 unavailable", "\n".join(gw.lines))) == 1
    finally:
        dev.close()
        pty.close()


def test_rtu_config_of_the_example_checks(tmp):
    """The shipped example passes --check as it is."""
    exe = os.path.join(harness.build_dir(), "lwm2m-gateway")
    p = subprocess.run([exe, "-c", EXAMPLE, "--check"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    assert p.returncode == 0, p.stdout.decode()
    assert not re.search(rb"error", p.stdout, re.I), p.stdout.decode()

