"""Reload (SIGHUP) with Modbus devices (issue 10): a Modbus adapter whose
devices did not change is left running, one whose devices changed keeps the
state of the others - their connection, counters and availability - and
fields are declared at bind, so an unchanged file adds no instance and sends
no Update. --print-mapping shows every register field of the shipped RTU
example.

Connections are read from /proc/net/tcp: the gateway's socket to the
pymodbus server keeps its local port when it is not re-connected."""

import os
import re
import signal
import subprocess
import time

import configs
import harness
from harness import Gateway, ModbusServer, TestServer
from test_modbus import Watch, close
from test_modbus_rtu import EXAMPLE, PtyPair, RtuServer, example_conf, near, s16, wait_vals

REGS = ('{ field = "temperature"; table = "input"; address = 1; type = "s16"; scale = 0.1; '
        'interval = 0.2; }, '
        '{ field = "humidity"; table = "input"; address = 2; type = "s16"; scale = 0.1; interval = 0.2; }')
VALUES = {"ir": {"1": [215], "2": [456]}}


def mb_device(ep, unit):
    """A Modbus device whose registers carry no path: the default map places them."""
    return ('{ endpoint = "%s"; adapter = "modbus"; bus = "plc"; unit_id = %d;\n'
            '  registers = ( %s ); }' % (ep, unit, REGS))


def mb_conf(port, devices):
    return (configs.gateway(devices) +
            'adapters = { modbus = ( { name = "plc"; type = "tcp"; host = "127.0.0.1"; port = %d; '
            'timeout_ms = 300; backoff_max_ms = 800; } ); };\n' % port)


def gateway_conns(port):
    """Local ports of the established TCP connections to 127.0.0.1:port."""
    ports = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            local, remote, state = parts[1], parts[2], parts[3]
            if state == "01" and remote == "0100007F:%04X" % port:
                ports.add(int(local.split(":")[1], 16))
    return ports


def rewrite(gw, srv, tmp, text):
    with open(gw.config_file, "w") as f:
        f.write(text.replace("@SERVER_URI@", srv.uri).replace("@TMP@", tmp))


def reading_after(watch, path_ts):
    """Wait for a notification whose timestamp (5518, seconds) is later than
    now: a reading polled after this point reached the store."""
    t = int(time.time())
    return watch.wait(lambda v: (v.get(path_ts) or 0) > t)


def test_sighup_with_the_same_file_adds_no_instance_and_sends_no_update(tmp):
    with ModbusServer(tmp, VALUES).start() as mb, TestServer() as srv:
        conf = mb_conf(mb.port, [mb_device("mb-1", 1)])
        with Gateway(tmp, conf, server=srv) as gw:
            reg = srv.wait_register("mb-1")
            # declared at bind: both instances are in the first registration
            assert "</3303/0>" in reg["links"] and "</3304/0>" in reg["links"], reg
            temp = Watch(srv, "mb-1", "/3303")
            temp.wait(lambda v: close(v.get("/3303/0/5700"), 21.5))
            conns = gateway_conns(mb.port)
            assert len(conns) == 1, conns
            mark = gw.mark()
            for _ in range(2):
                m = gw.mark()
                gw.signal(signal.SIGHUP)
                gw.wait_log(r"reload of .*: 0 added, 0 removed, 0 changed, 1 untouched", since=m)
                vals = reading_after(temp, "/3303/0/5518")
                assert not [p for p in vals if not p.startswith("/3303/0/")], vals
            assert not [e for e in srv.events if e["event"] == "update" and e["ep"] == "mb-1"]
            assert len([e for e in srv.events if e["event"] == "register" and e["ep"] == "mb-1"]) == 1
            assert not gw.has_log(r"adapter modbus|new field", since=mark)
            assert gateway_conns(mb.port) == conns
            assert gw.stop() == 0, gw.log_tail()


def test_sighup_adding_and_removing_a_device_keeps_the_first_ones_connection(tmp):
    with ModbusServer(tmp, VALUES, units="1,2").start() as mb, TestServer() as srv:
        with Gateway(tmp, mb_conf(mb.port, [mb_device("mb-1", 1)]), server=srv) as gw:
            srv.wait_register("mb-1")
            temp = Watch(srv, "mb-1", "/3303")
            temp.wait(lambda v: close(v.get("/3303/0/5700"), 21.5))
            conns = gateway_conns(mb.port)
            assert len(conns) == 1, conns
            mark = gw.mark()
            rewrite(gw, srv, tmp, mb_conf(mb.port, [mb_device("mb-1", 1), mb_device("mb-2", 2)]))
            gw.signal(signal.SIGHUP)
            gw.wait_log(r"reload of .*: 1 added, 0 removed, 0 changed, 1 untouched", since=mark)
            gw.wait_log(r"modbus: 2 devices, 2 poll groups on 1 buses after 1 change", since=mark)
            srv.wait_register("mb-2")
            Watch(srv, "mb-2", "/3304").wait(lambda v: close(v.get("/3304/0/5700"), 45.6))
            reading_after(temp, "/3303/0/5518")
            # the first device's connection carries the second's polls too
            assert gateway_conns(mb.port) == conns
            assert not gw.has_log(r"adapter modbus (started|.*restarting)", since=mark)
            assert len([e for e in srv.events if e["event"] == "register" and e["ep"] == "mb-1"]) == 1
            assert not [e for e in srv.events if e["event"] == "update" and e["ep"] == "mb-1"]
            # and removed again: the connection stays the first device's
            m = gw.mark()
            rewrite(gw, srv, tmp, mb_conf(mb.port, [mb_device("mb-1", 1)]))
            gw.signal(signal.SIGHUP)
            gw.wait_log(r"reload of .*: 0 added, 1 removed, 0 changed, 1 untouched", since=m)
            gw.wait_log(r"modbus: 1 devices, 1 poll groups on 1 buses after 1 change", since=m)
            srv.wait_deregister("mb-2")
            reading_after(temp, "/3303/0/5518")
            assert gateway_conns(mb.port) == conns
            assert gw.stop() == 0, gw.log_tail()


def test_reload_keeps_a_silent_units_unavailability_until_it_answers(tmp):
    """The issue's reproduction: a unit with fail_threshold = 2 goes silent,
    its client de-registers; SIGHUP with the same file, then with another
    device changed; the unit answers again and its client registers again,
    once, without having come back in between."""
    units = {1: {"ir": {1: s16(200), 2: s16(500)}}, 2: {"ir": {1: s16(-10), 2: s16(700)}}}
    pty = PtyPair(tmp)
    dev = RtuServer(pty.b, units, reply_delay=0.002)
    dev.silent.add(2)
    try:
        conf = example_conf(pty.a, extra_bus="fail_threshold = 2;")
        with TestServer() as srv, Gateway(tmp, conf, server=srv) as gw:
            gw.wait_log(r"modbus: modbus:rs485/2 unavailable after 2 consecutive failures")
            srv.wait_register("th-attic")
            srv.wait_deregister("th-attic")
            srv.wait_register("th-cellar")
            mark = gw.mark()
            gw.signal(signal.SIGHUP)
            gw.wait_log(r"reload of .*: 0 added, 0 removed, 0 changed, 2 untouched", since=mark)
            # the cellar changes (its error code moves): the adapter is
            # reconfigured, the attic's state stays
            changed = conf.replace('unit_id = 1; resources = ( { field = "error_code"; '
                                   'path = "/3300/99/5700"; } );',
                                   'unit_id = 1; resources = ( { field = "error_code"; '
                                   'path = "/3300/98/5700"; } );')
            assert changed != conf
            rewrite(gw, srv, tmp, changed)
            m = gw.mark()
            gw.signal(signal.SIGHUP)
            gw.wait_log(r"reload of .*: 0 added, 0 removed, 1 changed, 1 untouched", since=m)
            gw.wait_log(r"modbus: 2 devices, .* after 1 change", since=m)
            wait_vals(srv, "th-cellar", "/3303", lambda v: near(v.get("/3303/0/5700"), 20.0))
            m = gw.mark()
            dev.silent.discard(2)
            gw.wait_log(r"modbus: modbus:rs485/2 is available again", since=m)
            srv.wait_register("th-attic")
            wait_vals(srv, "th-attic", "/3303", lambda v: near(v.get("/3303/0/5700"), -1.0))
            regs = [e for e in srv.events if e["event"] == "register" and e["ep"] == "th-attic"]
            assert len(regs) == 2, regs
            assert len(re.findall(r"rs485/2 unavailable", "\n".join(gw.lines))) == 1
            assert not gw.has_log(r"adapter modbus (started|.*restarting)", since=mark)
            assert gw.stop() == 0, gw.log_tail()
    finally:
        dev.close()
        pty.close()


def test_print_mapping_of_the_rtu_example_shows_every_field(tmp):
    exe = os.path.join(harness.build_dir(), "lwm2m-gateway")
    p = subprocess.run([exe, "-c", EXAMPLE, "--print-mapping"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    out = p.stdout.decode()
    assert p.returncode == 0, out
    for ep in ("th-cellar", "th-attic"):
        block = out.split(ep + "  (", 1)[1].split("\nth-", 1)[0]
        assert re.search(r"register temperature +<- input register 1, s16, scale 0\.1, every 10 s", block), block
        assert re.search(r"register humidity +<- input register 2, s16, scale 0\.1, every 10 s", block), block
        assert re.search(r"field temperature +-> /3303/0/5700 ", block), block
        assert re.search(r"field humidity +-> /3304/0/5700 ", block), block
