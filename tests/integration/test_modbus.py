"""Modbus adapter end to end against a pymodbus server on loopback: every data
type and word order arrives scaled at the test LwM2M server, an LwM2M Write
lands in the device's register, an exception response and a stopped server
show up as an error code and recover.

pymodbus client calls pass count= and slave= by keyword: Debian 13's
pymodbus 3.8 takes them only so, Debian 12's 3.0 either way."""

import struct

import configs
from harness import Gateway, ModbusServer, TestServer, decode_senml_json

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
                got = c.read_holding_registers(10, count=2, slave=1).registers
                assert got == words("s32", "CDAB", -2137), got
                setpoint.wait(lambda v: close(v.get("/3308/0/5900"), -21.37))
                r = srv.request("write", ep="mb-1", path="/3306/0/5850", cf=0, payload_text="1")
                assert r["code"] == "2.04", r
                assert c.read_coils(5, count=1, slave=1).bits[0] is True
            finally:
                c.close()


def test_exception_and_stopped_server_set_error_code_and_recover(tmp):
    regs = ['{ field = "voltage"; table = "input"; address = 20; type = "f32"; interval = 0.3; }']
    values = {"ir": {"20": words("f32", "ABCD", 231.0)}}
    small = ModbusServer(tmp, values, size=10).start()  # address 20: exception 2
    try:
        with TestServer() as srv:
            with Gateway(tmp, modbus_conf(small.port, regs), server=srv) as gw:
                srv.wait_register("mb-1")
                err = Watch(srv, "mb-1", "/3300/99")
                err.wait(lambda v: v.get("/3300/99/5700") == 8)
                # The line names the device, function code, table, address
                # and count of the request, and the exception (issue 8).
                gw.wait_log(r"modbus: modbus:plc/1 \(bus plc, unit 1\) fails: FC04 read input "
                            r"registers 20\.\.21 \(address 20, count 2\): Illegal data address")
                small.stop()
                # the same address, now a device with register 20
                full = ModbusServer(tmp, values, reservation=small.reservation).start()
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
        small.close()


def test_float32_publishes_its_decimal_in_every_format(tmp):
    """A meter's float32 288.1 V (288.1000061035156 as a double) and a s16
    2307 with scale 0.1 (230.70000000000002 unrounded) reach the server as
    the decimals the device meant, in text, SenML JSON, SenML CBOR, TLV and
    in notifications (issue 8)."""
    regs = ['{ field = "voltage"; table = "input"; address = 20; type = "f32"; interval = 0.3; '
            'path = "/3316/0/5700"; }',
            '{ field = "mains"; table = "input"; address = 30; type = "s16"; scale = 0.1; '
            'interval = 0.3; path = "/3316/1/5700"; }']
    values = {"ir": {"20": words("f32", "ABCD", 288.1), "30": words("s16", "ABCD", 2307)}}
    assert struct.unpack(">f", struct.pack(">f", 288.1))[0] == 288.1000061035156
    with ModbusServer(tmp, values) as mb, TestServer() as srv:
        with Gateway(tmp, modbus_conf(mb.port, regs), server=srv):
            srv.wait_register("mb-1")
            Watch(srv, "mb-1", "/3316/0").wait(lambda v: v.get("/3316/0/5700") == 288.1)
            Watch(srv, "mb-1", "/3316/1").wait(lambda v: v.get("/3316/1/5700") == 230.7)
            for path, text, dbl in (("/3316/0/5700", "288.1", "407201999999999a"),
                                    ("/3316/1/5700", "230.7", "406cd66666666666")):
                r = srv.read("mb-1", path, accept=0)
                assert r["code"] == "2.05" and r.get("payload_text") == text, r
                r = srv.read("mb-1", path, accept=110)
                assert r["code"] == "2.05" and '"v":%s}' % text in r["payload_text"], r
                # CBOR: the double nearest the decimal (a single 288.1f would
                # reach a server holding doubles as 288.1000061035156).
                r = srv.read("mb-1", path, accept=112)
                assert r["code"] == "2.05" and r["payload_hex"].endswith("fb" + dbl), r
                r = srv.read("mb-1", path, accept=11542)
                assert r["code"] == "2.05" and r["payload_hex"].endswith(dbl), r
                assert struct.unpack(">d", bytes.fromhex(r["payload_hex"])[-8:])[0] == float(text)


def test_write_that_does_not_fit_the_register_is_a_bad_request(tmp):
    """4000 on a s16 with scale 0.1 (at most 3276.7) is refused by the
    gateway with 4.00 and the range that fits, in Write and
    Write-Composite; the register keeps its value; a value that fits still
    lands (issue 8)."""
    regs = ['{ field = "setpoint"; table = "holding"; address = 10; type = "s16"; scale = 0.1; '
            'interval = 0.3; writable = true; path = "/3308/0/5900"; }',
            '{ field = "mode"; table = "holding"; address = 11; type = "u16"; '
            'interval = 0.3; writable = true; path = "/3308/1/5900"; }']
    values = {"hr": {"10": words("s16", "ABCD", 215), "11": words("u16", "ABCD", 3)}}
    with ModbusServer(tmp, values) as mb, TestServer() as srv:
        with Gateway(tmp, modbus_conf(mb.port, regs), server=srv) as gw:
            srv.wait_register("mb-1")
            Watch(srv, "mb-1", "/3308").wait(lambda v: v.get("/3308/0/5900") == 21.5)
            r = srv.request("write", ep="mb-1", path="/3308/0/5900", cf=0, payload_text="4000")
            assert r["code"] == "4.00", r
            assert "-3276.8..3276.7" in r.get("payload_text", ""), r
            gw.wait_log(r"Write /3308/0/5900 = 4000 \(field setpoint\) refused: .*-3276\.8\.\.3276\.7")
            pack = '[{"n":"/3308/0/5900","v":-4000}]'
            r = srv.request("raw", ep="mb-1", path="/", method="ipatch", cf=110,
                            payload_hex=pack.encode().hex())
            assert r["code"] == "4.00", r
            assert "/3308/0/5900" in r.get("payload_text", ""), r
            from pymodbus.client import ModbusTcpClient
            c = ModbusTcpClient("127.0.0.1", port=mb.port)
            c.connect()
            try:
                assert c.read_holding_registers(10, count=1, slave=1).registers == [215]
                r = srv.request("write", ep="mb-1", path="/3308/0/5900", cf=0, payload_text="3276.7")
                assert r["code"] == "2.04", r
                assert c.read_holding_registers(10, count=1, slave=1).registers == [32767]
                # between two steps of 0.1 (or of 1 on a u16): refused, never rounded
                for path, text in (("/3308/0/5900", "12.34"), ("/3308/0/5900", "-0.05"), ("/3308/1/5900", "1.5")):
                    r = srv.request("write", ep="mb-1", path=path, cf=0, payload_text=text)
                    assert r["code"] == "4.00", (text, r)
                    step = "1" if path == "/3308/1/5900" else "0.1"
                    assert "holds steps of %s" % step in r.get("payload_text", ""), r
                assert c.read_holding_registers(10, count=2, slave=1).registers == [32767, 3]
                _ok = srv.request("write", ep="mb-1", path="/3308/1/5900", cf=0, payload_text="2")
                assert _ok["code"] == "2.04", _ok
                assert c.read_holding_registers(11, count=1, slave=1).registers == [2]
            finally:
                c.close()


def test_one_bad_member_writes_nothing(tmp):
    """Write-Composite and an instance Write are all or nothing as far as
    the values go: every member is judged by the adapter (70000 does not fit
    a u16) before any write starts, so the good member listed first never
    reaches its register (issue 8)."""
    regs = ['{ field = "sp"; table = "holding"; address = 0; type = "s16"; scale = 0.1; '
            'interval = 0.3; writable = true; path = "/3308/0/5900"; }',
            '{ field = "sp2"; table = "holding"; address = 1; type = "u16"; '
            'interval = 0.3; writable = true; path = "/3308/1/5900"; }',
            '{ field = "on"; table = "coil"; address = 5; interval = 0.3; writable = true; '
            'path = "/3306/0/5850"; }',
            '{ field = "on_time"; table = "holding"; address = 2; type = "u16"; '
            'interval = 0.3; writable = true; path = "/3306/0/5852"; }']
    values = {"hr": {"0": [215], "1": [7], "2": [9]}, "co": {"5": [0]}}
    with ModbusServer(tmp, values) as mb, TestServer() as srv:
        with Gateway(tmp, modbus_conf(mb.port, regs), server=srv) as gw:
            srv.wait_register("mb-1")
            Watch(srv, "mb-1", "/3308/1").wait(lambda v: v.get("/3308/1/5900") == 7)
            Watch(srv, "mb-1", "/3306").wait(lambda v: v.get("/3306/0/5852") == 9)
            pack = '[{"n":"/3308/0/5900","v":50},{"n":"/3308/1/5900","v":70000}]'
            r = srv.request("raw", ep="mb-1", path="/", method="ipatch", cf=110,
                            payload_hex=pack.encode().hex())
            assert r["code"] == "4.00", r
            assert "/3308/1/5900" in r.get("payload_text", ""), r
            gw.wait_log(r"Write /3308/1/5900 = 70000 \(field sp2\) refused")
            inst = '[{"bn":"/3306/0/","n":"5850","vb":true},{"n":"5852","v":70000}]'
            r = srv.request("raw", ep="mb-1", path="/3306/0", method="post", cf=110,
                            payload_hex=inst.encode().hex())
            assert r["code"] == "4.00", r
            from pymodbus.client import ModbusTcpClient
            c = ModbusTcpClient("127.0.0.1", port=mb.port)
            c.connect()
            try:
                assert c.read_holding_registers(0, count=3, slave=1).registers == [215, 7, 9]
                assert c.read_coils(5, count=1, slave=1).bits[0] is False
                # both members fit: both land
                pack = '[{"n":"/3308/0/5900","v":50},{"n":"/3308/1/5900","v":700}]'
                r = srv.request("raw", ep="mb-1", path="/", method="ipatch", cf=110,
                                payload_hex=pack.encode().hex())
                assert r["code"] == "2.04", r
                assert c.read_holding_registers(0, count=2, slave=1).registers == [500, 700]
            finally:
                c.close()


def mute_conf(port, extra_devices=(), timeout_ms=2000):
    """mb-1 on a MuteUnit: two writable holding registers, polled often."""
    dev = ('{ endpoint = "mb-1"; adapter = "modbus"; bus = "mute"; unit_id = 1;\n'
           '  registers = ( { field = "sp"; table = "holding"; address = 0; type = "s16"; scale = 0.1; '
           'interval = 0.3; writable = true; path = "/3308/0/5900"; },\n'
           '    { field = "sp2"; table = "holding"; address = 1; type = "u16"; '
           'interval = 0.3; writable = true; path = "/3308/1/5900"; } ); }')
    return (configs.gateway([dev] + list(extra_devices)) +
            'adapters = { modbus = ( { name = "mute"; type = "tcp"; host = "127.0.0.1"; port = %d; '
            'timeout_ms = %d; } ); };\n' % (port, timeout_ms))


def test_read_of_another_client_is_not_held_up_by_a_write_to_a_silent_unit(tmp):
    """A Write-Composite to a unit that has gone silent waits for the unit
    (timeout_ms = 2000), the loop does not: a Read of another client sent
    while the write is at the unit is answered before the write is (issue
    10: it used to wait the whole timeout). The write then answers 5.03 and
    stores nothing."""
    from modbus_mute import MuteUnit
    with MuteUnit({0: 215, 1: 7}) as unit, TestServer() as srv:
        with Gateway(tmp, mute_conf(unit.port, [configs.device("other")]), server=srv):
            srv.wait_register("mb-1")
            srv.wait_register("other")
            Watch(srv, "mb-1", "/3308/1").wait(lambda v: v.get("/3308/1/5900") == 7)
            with unit.cond:
                unit.silent = True
            pack = '[{"n":"/3308/0/5900","v":50},{"n":"/3308/1/5900","v":70}]'
            comp = srv.send_command("raw", ep="mb-1", path="/", method="ipatch", cf=110,
                                    payload_hex=pack.encode().hex(), timeout=20)
            # both writes are at the unit: the request is held by the gateway
            unit.wait(lambda u: len(u.writes) >= 2, 10, "two write frames")
            read = srv.read("other", "/3303/0/5700", accept=0)
            assert read["code"] == "2.05" and read.get("payload_text") == "21.5", read
            answered = [e for e in srv.events if e.get("req") == comp and e["event"] != "notify"]
            assert answered == [], "the Write-Composite was answered before the Read: %r" % answered
            r = srv.wait_response(comp)
            assert r["code"] == "5.03", r
            assert "/3308/" in r.get("payload_text", ""), r
            # nothing was stored: a Read shows the values the unit last gave
            r = srv.read("mb-1", "/3308/1/5900", accept=0)
            assert r["code"] == "2.05" and r.get("payload_text") == "7", r


def test_composite_member_failing_at_the_unit_is_named_and_the_written_one_listed(tmp):
    """A Write-Composite whose one member the unit takes and whose other
    fails at the unit (an exception: 5.00; no answer: 5.03) is answered with
    the failure's code, naming the failed path and listing the written one
    (a write a device took cannot be taken back). The register that took its
    value holds it and the store shows it; the failed member's register and
    resource keep their old value. A Write-Composite addresses one client,
    so both members are registers of one unit; the unit fails only for the
    second register (issue 10)."""
    from modbus_mute import MuteUnit
    for how, code, words_ in (("exception", "5.00", "did not accept the value"),
                              ("drop", "5.03", "try again later")):
        with MuteUnit({0: 215, 1: 7}) as unit, TestServer() as srv:
            with Gateway(tmp, mute_conf(unit.port, timeout_ms=500), server=srv):
                srv.wait_register("mb-1")
                Watch(srv, "mb-1", "/3308").wait(
                    lambda v: v.get("/3308/0/5900") == 21.5 and v.get("/3308/1/5900") == 7)
                with unit.cond:
                    unit.fail[1] = how
                pack = '[{"n":"/3308/0/5900","v":50},{"n":"/3308/1/5900","v":70}]'
                r = srv.request("raw", ep="mb-1", path="/", method="ipatch", cf=110,
                                payload_hex=pack.encode().hex(), timeout=20)
                text = r.get("payload_text", "")
                assert r["code"] == code, (how, r)
                assert text.startswith("/3308/1/5900: "), (how, r)
                assert words_ in text, (how, r)
                assert text.endswith("; written: /3308/0/5900"), (how, r)
                with unit.cond:
                    assert unit.regs[0] == 500 and unit.regs[1] == 7, (how, unit.regs)
                    assert (1, None) in unit.writes, (how, unit.writes)
                for path, want in (("/3308/0/5900", "50"), ("/3308/1/5900", "7")):
                    got = srv.read("mb-1", path, accept=0)
                    assert got["code"] == "2.05" and got.get("payload_text") == want, (how, path, got)
