"""Modbus adapter end to end against a pymodbus server on loopback: every data
type and word order arrives scaled at the test LwM2M server, an LwM2M Write
lands in the device's register, an exception response and a stopped server
show up as an error code and recover."""

import json
import os
import random
import socket
import struct
import select
import subprocess

import configs
from harness import Gateway, TestServer, decode_senml_json

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"


def free_port():
    # Below the ephemeral range: a client reconnecting to a stopped server's
    # ephemeral port can connect to itself and hold the port.
    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    while True:
        port = random.randrange(max(1024, lo - 12000), lo)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()


class ModbusServer:
    def __init__(self, tmp, values, port=None, size=200, units="1"):
        self.port = port or free_port()
        self.vfile = os.path.join(tmp, "modbus-values-%d.json" % self.port)
        with open(self.vfile, "w") as f:
            json.dump(values, f)
        self.args = [PY, os.path.join(HERE, "modbus_server.py"), "--port", str(self.port),
                     "--values", self.vfile, "--size", str(size), "--units", units]

        self.proc = None

    def start(self, timeout=10):
        """Starts the server and waits for its "ready" line (listening)."""
        self.errfile = open(self.vfile + ".stderr", "w+")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.errfile)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self.stop()
            raise AssertionError("modbus server did not start on port %d (%r): %s"
                                 % (self.port, line, self.stderr()))
        return self

    def stderr(self):
        self.errfile.seek(0)
        return self.errfile.read()[-2000:]

    def stop(self):
        if self.proc:
            if self.proc.poll() is None:
                self.proc.terminate()
            self.proc.wait(5)
            self.proc.stdout.close()
            self.proc = None
            self.errfile.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


ORDERS = {"ABCD": lambda b: b, "DCBA": lambda b: b[::-1],
          "BADC": lambda b: b"".join(b[i:i + 2][::-1] for i in range(0, len(b), 2)),
          "CDAB": lambda b: b"".join(b[i:i + 2] for i in range(len(b) - 2, -2, -2))}
FMT = {"u16": ">H", "s16": ">h", "u32": ">I", "s32": ">i", "u64": ">Q", "s64": ">q",
       "f32": ">f", "f64": ">d"}


def words(typ, order, value):
    b = ORDERS[order](struct.pack(FMT[typ], value))
    return [b[i] << 8 | b[i + 1] for i in range(0, len(b), 2)]


# (type, order, raw value, scale) -> expected value at the server
CASES = [("u16", "ABCD", 65000, 1), ("s16", "ABCD", -1234, 0.1), ("u32", "ABCD", 4000000000, 1),
         ("s32", "CDAB", -70000, 1), ("u32", "BADC", 123456789, 0.001), ("s32", "DCBA", -5, 1),
         ("u64", "ABCD", 2 ** 40 + 7, 1), ("s64", "DCBA", -(2 ** 35), 1),
         ("f32", "ABCD", 230.5, 1), ("f32", "CDAB", -1.25, 1), ("f32", "BADC", 49.75, 1),
         ("f32", "DCBA", 1234.5, 10), ("f64", "ABCD", 3.14159, 1), ("f64", "CDAB", -2.5e6, 1),
         ("f64", "BADC", 0.125, 1), ("f64", "DCBA", 6.02e23, 1e-23), ("s16", "DCBA", -300, 0.1)]


def build_map():
    hr, regs, expect = {}, [], {}
    addr = 0
    for i, (typ, order, raw, scale) in enumerate(CASES):
        w = words(typ, order, raw)
        hr[str(addr)] = w
        regs.append('{ field = "v%d"; table = "holding"; address = %d; type = "%s"; order = "%s"; '
                    'scale = %r; interval = 0.3; path = "/3300/%d/5700"; }'
                    % (i, addr, typ, order, float(scale), i))
        expect["/3300/%d/5700" % i] = raw * scale
        addr += len(w) + 1  # a one-register gap: merged reads must skip it
    # a string of 4 registers and a coil
    hr["100"] = [ord("S") << 8 | ord("D"), ord("M") << 8 | ord("1"), ord("2") << 8 | ord("0"), 0]
    regs.append('{ field = "model_name"; table = "holding"; address = 100; type = "string"; '
                'length = 4; interval = 0.3; path = "/3300/50/5750"; }')
    expect["/3300/50/5750"] = "SDM120"
    regs.append('{ field = "relay"; table = "coil"; address = 3; interval = 0.3; path = "/3342/0/5500"; }')
    expect["/3342/0/5500"] = True
    return {"hr": hr, "co": {"3": [1]}}, regs, expect


def modbus_conf(port, regs, extra_dev="", bus_extra=""):
    dev = ('{ endpoint = "mb-1"; adapter = "modbus"; bus = "plc"; unit_id = 1;\n'
           '  registers = ( %s );\n'
           '  resources = ( { field = "error_code"; path = "/3300/99/5700"; } ); %s }'
           % (",\n".join(regs), extra_dev))
    return (configs.gateway([dev]) +
            'adapters = { modbus = ( { name = "plc"; type = "tcp"; host = "127.0.0.1"; port = %d; '
            'timeout_ms = 300; backoff_max_ms = 800; %s } ); };\n' % (port, bus_extra))


def _senml(ev):
    if ev.get("code") != "2.05" or not ev.get("payload_hex"):
        return {}
    return dict(decode_senml_json(bytes.fromhex(ev["payload_hex"])))


class Watch:
    """An observation of path (SenML JSON): every change the gateway
    notifies is an event to wait on, instead of reading again and again."""

    def __init__(self, srv, ep, path):
        self.srv, self.path = srv, path
        self.req = srv.send_command("observe", ep=ep, path=path, accept=110)
        first = srv.wait_response(self.req)
        assert first["code"] == "2.05" and "observe" in first, first
        self.pending = first   # the first answer, not looked at yet
        self.seq = first["observe"]
        self.last = _senml(first)

    def wait(self, pred, timeout=10):
        """The first state (from the last one returned on) that satisfies
        pred; the values, a dict path -> value."""
        if self.pending is not None:
            self.pending = None
            if pred(self.last):
                return self.last

        def later(e):
            if e["event"] != "notify" or e["req"] != self.req or e["observe"] <= self.seq:
                return False
            self.seq = e["observe"]
            self.last = _senml(e)
            return pred(self.last)
        try:
            self.srv.wait_event(later, timeout, "notification of %s" % self.path)
        except AssertionError as e:
            raise AssertionError("%s: condition not met, last %r (%s)" % (self.path, self.last, e))
        return self.last


def close(a, b):
    if isinstance(b, (bool, str)):
        return a == b
    return a is not None and abs(a - b) <= 1e-6 * max(1.0, abs(b))


def test_every_type_and_order_arrives_scaled(tmp):
    values, regs, expect = build_map()
    with ModbusServer(tmp, values) as mb, TestServer() as srv:
        with Gateway(tmp, modbus_conf(mb.port, regs), server=srv):
            srv.wait_register("mb-1")
            # one observation per instance: a whole object's notification
            # would need block-wise transfer
            watches = {path: Watch(srv, "mb-1", path.rsplit("/", 1)[0]) for path in expect}
            for path, want in expect.items():
                watches[path].wait(lambda v, p=path, w=want: close(v.get(p), w))


def test_write_lands_in_the_register(tmp):
    regs = ['{ field = "setpoint"; table = "holding"; address = 10; type = "s32"; order = "CDAB"; '
            'scale = 0.01; interval = 0.3; writable = true; path = "/3308/0/5900"; }',
            '{ field = "enable"; table = "coil"; address = 5; interval = 0.3; writable = true; '
            'path = "/3306/0/5850"; }']
    values = {"hr": {"10": words("s32", "CDAB", 1850)}}
    with ModbusServer(tmp, values) as mb, TestServer() as srv:
        with Gateway(tmp, modbus_conf(mb.port, regs), server=srv):
            srv.wait_register("mb-1")
            setpoint = Watch(srv, "mb-1", "/3308")
            setpoint.wait(lambda v: close(v.get("/3308/0/5900"), 18.5))
            r = srv.request("write", ep="mb-1", path="/3308/0/5900", cf=0, payload_text="-21.37")
            assert r["code"] == "2.04", r
            from pymodbus.client import ModbusTcpClient
            c = ModbusTcpClient("127.0.0.1", port=mb.port)
            c.connect()
            try:
                got = c.read_holding_registers(10, 2, slave=1).registers
                assert got == words("s32", "CDAB", -2137), got
                setpoint.wait(lambda v: close(v.get("/3308/0/5900"), -21.37))
                r = srv.request("write", ep="mb-1", path="/3306/0/5850", cf=0, payload_text="1")
                assert r["code"] == "2.04", r
                assert c.read_coils(5, 1, slave=1).bits[0] is True
            finally:
                c.close()


def test_exception_and_stopped_server_set_error_code_and_recover(tmp):
    regs = ['{ field = "voltage"; table = "input"; address = 20; type = "f32"; interval = 0.3; }']
    values = {"ir": {"20": words("f32", "ABCD", 231.0)}}
    port = free_port()
    small = ModbusServer(tmp, values, port=port, size=10).start()  # address 20: exception 2
    try:
        with TestServer() as srv:
            with Gateway(tmp, modbus_conf(port, regs), server=srv) as gw:
                srv.wait_register("mb-1")
                err = Watch(srv, "mb-1", "/3300/99")
                err.wait(lambda v: v.get("/3300/99/5700") == 8)
                gw.wait_log(r"modbus: modbus:plc/1 .*fails: .*(Illegal data address|address)")
                small.stop()
                full = ModbusServer(tmp, values, port=port).start()
                try:
                    err.wait(lambda v: v.get("/3300/99/5700") == 0)
                    Watch(srv, "mb-1", "/3316").wait(lambda v: close(v.get("/3316/0/5700"), 231.0))
                    full.stop()
                    err.wait(lambda v: v.get("/3300/99/5700") == 7)
                    mark = gw.mark()
                    full.start()
                    err.wait(lambda v: v.get("/3300/99/5700") == 0)
                    gw.wait_log(r"modbus:plc/1 answers again", since=mark)
                finally:
                    full.stop()
    finally:
        small.stop()
