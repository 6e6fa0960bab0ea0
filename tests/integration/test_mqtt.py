"""The MQTT mirror against a real mosquitto broker started by each test on
a reserved loopback port; what arrives is read with mosquitto_sub.

Debian packages: mosquitto, mosquitto-clients, openssl (tools/install-deps.sh)."""

import json
import os
import pwd
import re
import signal
import socket
import subprocess
import threading
import time

import configs
from harness import Gateway, HelperProcess, TestServer, build_dir, reserve_port

SIM = ('{ endpoint = "sim-1"; adapter = "simulated"; device = { manufacturer = "Sim"; model = "S-1"; '
       'serial = "SN-7"; };\n'
       '  simulate = ( { field = "temperature"; wave = "sawtooth"; min = 0.0; max = 10.0; period = %s; '
       'interval = %s; } ); }')
SETPOINT = ('{ endpoint = "sim-sp"; adapter = "simulated"; device = { manufacturer = "Sim"; model = "S-2"; };\n'
            '  simulate = ( { field = "setpoint"; wave = "random_walk"; min = 0.0; max = 100.0; interval = 0.2; } );\n'
            '  resources = ( { field = "setpoint"; path = "/3308/0/5900"; writable = true; } ); }')
MSG = re.compile(r"^([01])\|([012])\|([^|]*)\|(.*)$")


class Broker(HelperProcess):
    """mosquitto on 127.0.0.1:port (a reservation the test holds, so a
    restart gets the same port), its log on stderr."""

    def __init__(self, tmp, port, tls=None, persist=False):
        self.conf = os.path.join(tmp, "mosquitto-%d.conf" % port)
        # as root, mosquitto would become user "mosquitto", who cannot read the test's files
        lines = ["listener %d 127.0.0.1" % port, "allow_anonymous true", "log_dest stderr",
                 "user %s" % pwd.getpwuid(os.geteuid()).pw_name,
                 "log_type error", "log_type warning", "log_type notice", "log_type information"]
        if tls:
            lines += ["cafile %s" % tls["ca"], "certfile %s" % tls["cert"], "keyfile %s" % tls["key"]]
        if persist:
            lines += ["persistence true", "persistence_location %s/" % tmp, "autosave_interval 0"]
        else:
            lines += ["persistence false"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.port = port
        super().__init__(["mosquitto", "-c", self.conf], name="mosquitto")

    def start(self, timeout=10):
        super().start()
        self.wait_line(r"mosquitto version .* running", timeout=timeout, stream="stderr",
                       count=1 + self._starts())
        return self

    def _starts(self):
        return 0


class Sub(HelperProcess):
    """mosquitto_sub printing retain|qos|topic|payload per message; waits
    for the broker's SUBACK before it returns."""

    def __init__(self, port, topics, qos=1, client_id=None, tls=None):
        args = ["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", str(qos), "-d",
                "-F", "%r|%q|%t|%p"]
        if client_id:
            args += ["-c", "-i", client_id]
        if tls:
            args += ["--cafile", tls]
        for t in topics:
            args += ["-t", t]
        super().__init__(args, name="mosquitto_sub", stdout=True)

    def start(self):
        super().start()
        self.wait_line(r"received SUBACK", timeout=10)
        return self

    def messages(self):
        with self._cond:
            lines = list(self.out_lines)
        out = []
        for line in lines:
            m = MSG.match(line)
            if m:
                out.append((int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)))
        return out

    def mark(self):
        with self._cond:
            return len(self.out_lines)

    def wait_msg(self, topic, pred=lambda payload: True, timeout=15, count=1, since=0,
                 retained=None):
        """The count-th message on topic from output line since on whose
        payload satisfies pred (and whose retain flag is `retained`, when
        given): (retain, qos, topic, payload)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                n = count
                for line in self.out_lines[since:]:
                    m = MSG.match(line)
                    if m and m.group(3) == topic and pred(m.group(4)) and (
                            retained is None or int(m.group(1)) == int(retained)):
                        n -= 1
                        if n == 0:
                            return (int(m.group(1)), int(m.group(2)), m.group(3), m.group(4))
                died = self._died()
                if died:
                    raise died
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out after %.1fs waiting for message %d on %s; got:\n%s"
                                         % (timeout, count, topic, "\n".join(self.out_lines[-20:])))
                self._cond.wait(left)


def pub(port, topic, payload):
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic,
                    "-m", payload], check=True, timeout=10)


def conf(port, devices, mqtt_extra="", server="coap://127.0.0.1:%d" % 9, scheme="tcp"):
    return ('gateway = { name = "test-gw"; state_dir = "@TMP@/state"; };\n'
            'servers = ( { uri = "%s"; lifetime = 60; } );\n'
            'mqtt = { uri = "%s://127.0.0.1:%d"; %s };\n'
            'devices = ( %s );\n' % (server, scheme, port, mqtt_extra, ",\n".join(devices)))


def unreachable_server():
    return "coap://127.0.0.1:%d" % reserve_port("udp")


def test_values_arrive_on_their_topics_and_a_late_subscriber_gets_the_retained_state(tmp):
    port = reserve_port("tcp")
    dev = configs.device("static-1")
    with Broker(tmp, port), Sub(port, ["lwm2m/#"]) as early:
        with Gateway(tmp, conf(port, [dev, SIM % (5.0, 0.2)], server=unreachable_server())) as gw:
            gw.wait_log(r"mqtt: connected to tcp://127\.0\.0\.1:%d" % port)
            # plain values as LwM2M's text format writes them
            early.wait_msg("lwm2m/static-1/3303/0/5700", lambda p: p == "21.5")
            early.wait_msg("lwm2m/static-1/3304/0/5701", lambda p: p == "%RH")
            early.wait_msg("lwm2m/static-1/3/0/0", lambda p: p == "Acme")
            early.wait_msg("lwm2m/sim-1/3303/0/5700", lambda p: 0.0 <= float(p) < 10.0, count=3)
            early.wait_msg("lwm2m/test-gw/status", lambda p: p == "online")
            early.wait_msg("lwm2m/static-1/status")
            st = early.wait_msg("lwm2m/sim-1/status", lambda p: "last_reading" in p)
            js = json.loads(st[3])
            assert js["state"] == "not registered", js
            assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", js["last_reading"]), js
            # the security object's keys never leave, nor the LwM2M session's settings
            assert not [m for m in early.messages() if re.match(r"lwm2m/[^/]+/[01]/", m[2])]
            # A status published while the late subscriber subscribes may
            # reach it live (retain flag 0) besides the retained copy.
            with Sub(port, ["lwm2m/static-1/#", "lwm2m/test-gw/status"]) as late:
                r = late.wait_msg("lwm2m/static-1/3303/0/5700", retained=1)
                assert r[3] == "21.5", r
                r = late.wait_msg("lwm2m/test-gw/status", retained=1)
                assert r[3] == "online", r
                r = late.wait_msg("lwm2m/static-1/status", retained=1)
                assert json.loads(r[3])["state"] == "not registered", r


def _senml_records(payload):
    """(name, time, value) of a SenML JSON pack, base name and time applied."""
    out, bn, bt = [], "", 0.0
    for rec in json.loads(payload):
        bn = rec.get("bn", bn)
        bt = rec.get("bt", bt)
        v = next((rec[k] for k in ("v", "vs", "vb", "vd") if k in rec), None)
        out.append((bn + rec.get("n", ""), bt + rec.get("t", 0.0), v))
    return out


def test_senml_json_batches_carry_timestamps(tmp):
    port = reserve_port("tcp")
    with Broker(tmp, port), Sub(port, ["lwm2m/sim-1"]) as sub:
        with Gateway(tmp, conf(port, [SIM % (5.0, 0.2)], 'format = "senml-json";', server=unreachable_server())):
            r = sub.wait_msg("lwm2m/sim-1", lambda p: any(n == "/3303/0/5700" for n, _, _ in _senml_records(p)))
            recs = _senml_records(r[3])
            # one pack per reading batch: the value with its min/max tracking, one time
            names = [n for n, _, _ in recs]
            assert "/3303/0/5700" in names and "/3303/0/5602" in names, recs
            times = {t for _, t, _ in recs}
            assert len(times) == 1 and abs(times.pop() - time.time()) < 60, recs


def test_sigkill_produces_the_offline_will(tmp):
    port = reserve_port("tcp")
    with Broker(tmp, port), Sub(port, ["lwm2m/test-gw/status"]) as sub:
        gw = Gateway(tmp, conf(port, [configs.device("static-1")], server=unreachable_server()))
        with gw:
            sub.wait_msg("lwm2m/test-gw/status", lambda p: p == "online")
            gw.proc.kill()
            gw.proc.wait(10)
            sub.wait_msg("lwm2m/test-gw/status", lambda p: p == "offline")


def test_clean_stop_publishes_offline(tmp):
    port = reserve_port("tcp")
    with Broker(tmp, port), Sub(port, ["lwm2m/test-gw/status"]) as sub:
        gw = Gateway(tmp, conf(port, [configs.device("static-1")], server=unreachable_server()))
        with gw:
            sub.wait_msg("lwm2m/test-gw/status", lambda p: p == "online")
        sub.wait_msg("lwm2m/test-gw/status", lambda p: p == "offline")


def _sawtooth_values(sub):
    """(time, value) of every SenML record of sim-1's temperature, in
    arrival order (QoS 1 is at least once: a duplicate is the same pair)."""
    return [(t, v) for _, _, topic, payload in sub.messages() if topic == "lwm2m/sim-1" and payload
            for n, t, v in _senml_records(payload) if n == "/3303/0/5700"]


def _assert_arrived_in_order(vals):
    """Arrival order is reading order (a QoS 1 duplicate may come again
    later: only first arrivals count)."""
    seen, firsts = set(), []
    for tv in vals:
        if tv not in seen:
            seen.add(tv)
            firsts.append(tv)
    assert firsts == sorted(firsts), firsts


def test_broker_restart_loses_nothing_at_qos1(tmp):
    port = reserve_port("tcp")
    broker = Broker(tmp, port, persist=True)
    broker.start()
    try:
        # a persistent subscriber session: the broker keeps its messages
        # across its own restart
        sub = Sub(port, ["lwm2m/sim-1"], client_id="test-sub").start()
        with TestServer() as srv:
            gw = Gateway(tmp, conf(port, [SIM % (2.0, 0.2)], 'format = "senml-json"; qos = 1;', server=srv.uri))
            with gw:
                srv.wait_register("sim-1")
                req = srv.send_command("observe", ep="sim-1", path="/3303/0")
                first = srv.wait_response(req)
                assert first["code"] == "2.05" and "observe" in first, first
                for _ in range(3):
                    srv.wait_notify(req, timeout=10)
                sub.wait_msg("lwm2m/sim-1", count=3)
                broker.stop()
                down = time.time()
                sub.stop()
                before = _sawtooth_values(sub)
                gw.wait_log(r"mqtt: connection to .* lost")
                # readings the adapter makes while the broker is away: the
                # LwM2M server sees each as a notification (those it got
                # before the broker went are not counted: wait_notify also
                # returns notifications it had not been asked for yet)
                away = 0
                while away < 8:
                    if srv.wait_notify(req, timeout=10)["ts"] > down + 0.3:
                        away += 1
                mark = gw.mark()
                up = time.time()
                broker = Broker(tmp, port, persist=True)
                broker.start()
                gw.wait_log(r"mqtt: connected to .* again", since=mark)
                sub = Sub(port, ["lwm2m/sim-1"], client_id="test-sub").start()
                n_before = len(_sawtooth_values(sub))
                sub.wait_msg("lwm2m/sim-1", count=n_before + 3 if n_before else 12)
        _assert_arrived_in_order(before + _sawtooth_values(sub))
        got = sorted(set(before + _sawtooth_values(sub)))
        assert len(got) >= 12, got
        # readings made while the broker was away did arrive
        assert len([t for t, _ in got if down + 0.3 < t < up - 0.3]) >= 5, (down, up, got)
        # one reading every 0.2 s, the sawtooth steps by 10 * 0.2 / 2 = 1.0:
        # a gap in time or a step of 2 is a lost message
        for (t1, v1), (t2, v2) in zip(got, got[1:]):
            assert abs((v2 - v1) % 10.0 - 1.0) < 1e-6, "lost between %r and %r: %r" % ((t1, v1), (t2, v2), got)
            assert 0.1 < t2 - t1 < 0.35, "lost between %r and %r" % ((t1, v1), (t2, v2))
    finally:
        broker.stop()


def _make_ca(tmp, name):
    key, crt = os.path.join(tmp, name + ".key"), os.path.join(tmp, name + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=%s" % name], check=True, capture_output=True, timeout=60)
    return key, crt


def _make_server_cert(tmp, ca_key, ca_crt):
    key, csr, crt = (os.path.join(tmp, "broker" + s) for s in (".key", ".csr", ".crt"))
    ext = os.path.join(tmp, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", "/CN=127.0.0.1"], check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                    "-out", crt, "-days", "2", "-extfile", ext], check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o644)  # mosquitto may drop privileges to read it
    return key, crt


def test_tls_with_the_test_ca_works_and_a_wrong_ca_is_refused(tmp):
    ca_key, ca_crt = _make_ca(tmp, "test-ca")
    _, wrong_crt = _make_ca(tmp, "wrong-ca")
    key, crt = _make_server_cert(tmp, ca_key, ca_crt)
    port = reserve_port("tcp")
    tls = {"ca": ca_crt, "cert": crt, "key": key}
    with Broker(tmp, port, tls=tls), Sub(port, ["lwm2m/test-gw/status"], tls=ca_crt) as sub:
        good = os.path.join(tmp, "good")
        os.mkdir(good)
        with Gateway(good, conf(port, [configs.device("static-1")], 'tls = { ca_file = "%s"; };' % ca_crt,
                                server=unreachable_server(), scheme="ssl")) as gw:
            gw.wait_log(r"mqtt: connected to ssl://127\.0\.0\.1:%d" % port)
            sub.wait_msg("lwm2m/test-gw/status", lambda p: p == "online")
        bad = os.path.join(tmp, "bad")
        os.mkdir(bad)
        with Gateway(bad, conf(port, [configs.device("static-1")], 'tls = { ca_file = "%s"; };' % wrong_crt,
                               server=unreachable_server(), scheme="ssl")) as gw:
            m = gw.wait_log(r"mqtt: TLS with ssl://127\.0\.0\.1:%d failed: .*certificate verify failed" % port)
            assert "ca_file" in m.string, m.string
            gw.wait_log(r"mqtt: cannot connect to ssl://127\.0\.0\.1:%d: .*retrying" % port)
            assert not gw.has_log(r"mqtt: connected")


def test_homeassistant_discovery_and_removal(tmp):
    port = reserve_port("tcp")
    text = conf(port, [SIM % (5.0, 0.5), SETPOINT], "homeassistant = true; commands = true;",
                server=unreachable_server())
    with Broker(tmp, port), Sub(port, ["homeassistant/#"]) as sub:
        with Gateway(tmp, text) as gw:
            r = sub.wait_msg("homeassistant/sensor/sim-1/3303_0_5700/config")
            c = json.loads(r[3])
            for k in ("name", "unique_id", "state_topic", "device", "availability_topic"):
                assert k in c, c
            assert c["state_topic"] == "lwm2m/sim-1/3303/0/5700", c
            assert c["device_class"] == "temperature" and c["unit_of_measurement"] == "°C", c
            assert c["availability_topic"] == "lwm2m/test-gw/status", c
            d = c["device"]
            assert d["identifiers"] == ["sim-1"] and d["manufacturer"] == "Sim", d
            assert d["model"] == "S-1" and d["serial_number"] == "SN-7", d
            r = sub.wait_msg("homeassistant/number/sim-sp/3308_0_5900/config")
            n = json.loads(r[3])
            assert n["command_topic"] == "lwm2m/sim-sp/3308/0/5900/set", n
            assert n["state_topic"] == "lwm2m/sim-sp/3308/0/5900", n
            # the set point device goes: its entity is cleared (empty retained config)
            with open(gw.config_file, "w") as f:
                f.write(conf(port, [SIM % (5.0, 0.5)], "homeassistant = true; commands = true;",
                             server=unreachable_server()).replace("@TMP@", tmp))
            mark = gw.mark()
            gw.signal(signal.SIGHUP)
            gw.wait_log(r"reload of .*1 removed", since=mark)
            sub.wait_msg("homeassistant/number/sim-sp/3308_0_5900/config", lambda p: p == "")
            assert not gw.has_log(r"mqtt section changed")
            # a changed section is for the next start: the mirror goes on as it was
            with open(gw.config_file, "w") as f:
                f.write(conf(port, [SIM % (5.0, 0.5)], "homeassistant = true; commands = true; qos = 0;",
                             server=unreachable_server()).replace("@TMP@", tmp))
            mark = gw.mark()
            gw.signal(signal.SIGHUP)
            gw.wait_log(r"reload: the mqtt section changed; it takes effect after a restart", since=mark)
            gw.wait_log(r"reload of ", since=mark)
            since = sub.mark()
            with Sub(port, ["lwm2m/sim-1/3303/0/5700"]) as vals:
                vals.wait_msg("lwm2m/sim-1/3303/0/5700", lambda p: True, count=2)


def test_set_command_writes_a_writable_field_and_refuses_the_others(tmp):
    port = reserve_port("tcp")
    text = conf(port, [SETPOINT, configs.device("static-1")], "commands = true;", server=unreachable_server())
    with Broker(tmp, port), Sub(port, ["lwm2m/#"]) as sub:
        with Gateway(tmp, text) as gw:
            gw.wait_log(r"mqtt: subscribed to lwm2m/\+/\+/\+/\+/set")
            sub.wait_msg("lwm2m/sim-sp/3308/0/5900")
            pub(port, "lwm2m/sim-sp/3308/0/5900/set", "77.5")
            r = sub.wait_msg("lwm2m/sim-sp/3308/0/5900/result")
            assert json.loads(r[3]) == {"ok": True}, r
            # the walk continues from the written value (steps of at most 5)
            sub.wait_msg("lwm2m/sim-sp/3308/0/5900", lambda p: abs(float(p) - 77.5) < 1e-9)
            since = sub.mark()
            later = sub.wait_msg("lwm2m/sim-sp/3308/0/5900", since=since)
            assert abs(float(later[3]) - 77.5) <= 10.0, later
            # a static value the mapping does not mark writable
            pub(port, "lwm2m/static-1/3303/0/5700/set", "30")
            r = sub.wait_msg("lwm2m/static-1/3303/0/5700/result")
            res = json.loads(r[3])
            assert res["ok"] is False and "writable" in res["detail"], res
            gw.wait_log(r"mqtt: command on lwm2m/static-1/3303/0/5700/set refused")
            # a payload that is no number
            pub(port, "lwm2m/sim-sp/3308/0/5900/set", "warm")
            r = sub.wait_msg("lwm2m/sim-sp/3308/0/5900/result", count=2)
            res = json.loads(r[3])
            assert res["ok"] is False and "Float" in res["detail"], res


def _check(tmp, text):
    path = os.path.join(tmp, "g.conf")
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([os.path.join(build_dir(), "lwm2m-gateway"), "-c", path, "--check"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr, path


def test_check_reports_mqtt_errors_at_their_lines(tmp):
    text = ('gateway = { name = "gw"; state_dir = "%s"; };\n'
            'servers = ( { uri = "coap://127.0.0.1:5683"; } );\n'
            'mqtt = {\n'
            '  uri = "http://broker";\n'
            '  qos = 3;\n'
            '  format = "xml";\n'
            '  topic_prefix = "a/+/b";\n'
            '  tls = { ca_file = "/nonexistent/ca.pem"; verify = true; };\n'
            '  retian = true;\n'
            '};\n' % tmp)
    rc, out, path = _check(tmp, text)
    assert rc != 0, out
    for line, what in ((4, r"mqtt uri \"http://broker\" is not a broker address, expected"),
                       (5, r"\"qos\" must be between 0 and 2, got 3"),
                       (6, r"format \"xml\" is unknown, expected \"value\" or \"senml-json\""),
                       (7, r"topic_prefix \"a/\+/b\" is not valid"),
                       (8, r"tls ca_file \"/nonexistent/ca.pem\" cannot be read"),
                       (9, r"unknown key \"retian\" in mqtt")):
        assert re.search(r"%s:%d: %s" % (re.escape(path), line, what), out), (line, what, out)
    rc, out, _ = _check(tmp, text.replace(text[text.index("mqtt"):], 'mqtt = { uri = "tcp://127.0.0.1:1883"; };\n'))
    assert rc == 0, out


def test_set_command_lands_in_a_modbus_register(tmp):
    from test_modbus import words
    from harness import ModbusServer
    port = reserve_port("tcp")
    reg = ('{ field = "setpoint"; table = "holding"; address = 10; type = "s32"; order = "CDAB"; '
           'scale = 0.01; interval = 0.3; writable = true; path = "/3308/0/5900"; }')
    dev = '{ endpoint = "mb-1"; adapter = "modbus"; bus = "plc"; unit_id = 1; registers = ( %s ); }' % reg
    with ModbusServer(tmp, {"hr": {"10": words("s32", "CDAB", 1850)}}) as mb:
        text = (conf(port, [dev], "commands = true;", server=unreachable_server()) +
                'adapters = { modbus = ( { name = "plc"; type = "tcp"; host = "127.0.0.1"; port = %d; '
                'timeout_ms = 300; } ); };\n' % mb.port)
        with Broker(tmp, port), Sub(port, ["lwm2m/mb-1/3308/0/#"]) as sub:
            with Gateway(tmp, text) as gw:
                gw.wait_log(r"mqtt: subscribed to lwm2m/\+/\+/\+/\+/set")
                sub.wait_msg("lwm2m/mb-1/3308/0/5900", lambda p: abs(float(p) - 18.5) < 1e-9)
                pub(port, "lwm2m/mb-1/3308/0/5900/set", "-21.37")
                r = sub.wait_msg("lwm2m/mb-1/3308/0/5900/result")
                assert json.loads(r[3]) == {"ok": True}, r
                from pymodbus.client import ModbusTcpClient
                c = ModbusTcpClient("127.0.0.1", port=mb.port)
                c.connect()
                try:
                    got = c.read_holding_registers(10, count=2, slave=1).registers
                    assert got == words("s32", "CDAB", -2137), got
                finally:
                    c.close()
                # the next poll reads the written value back
                since = sub.mark()
                sub.wait_msg("lwm2m/mb-1/3308/0/5900", lambda p: abs(float(p) + 21.37) < 1e-9, since=since)


def test_buffered_messages_survive_a_gateway_restart(tmp):
    # the broker is away during the first run: what the gateway published
    # then waits in state_dir and reaches the broker from the second run
    port = reserve_port("tcp")
    text = conf(port, [SIM % (2.0, 0.2)], 'format = "senml-json"; qos = 1;', server=unreachable_server())
    with Gateway(tmp, text) as gw:
        gw.wait_log(r"mqtt: cannot connect to tcp://127\.0\.0\.1:%d" % port)
        gw.wait_log(r"unreachable for [3-9] s")  # a few seconds of readings, one every 0.2 s
        gw.proc.kill()  # SIGKILL: nothing is written at exit
        gw.proc.wait(10)
    first_run_end = time.time()
    persist = os.path.join(tmp, "state", "mqtt")
    assert oct(os.stat(persist).st_mode & 0o777) == "0o700", oct(os.stat(persist).st_mode)
    buf = os.path.join(persist, "buffer")
    assert oct(os.stat(buf).st_mode & 0o777) == "0o600" and os.path.getsize(buf) > 0, oct(os.stat(buf).st_mode)
    with Broker(tmp, port), Sub(port, ["lwm2m/sim-1"]) as sub:
        with Gateway(tmp, text) as gw:
            m = gw.wait_log(r"mqtt: (\d+) message\(s\) kept from the last run")
            assert int(m.group(1)) >= 10, m.string
            gw.wait_log(r"mqtt: connected")
            sub.wait_msg("lwm2m/sim-1", lambda p: any(t > first_run_end for _, t, _ in _senml_records(p)))
            old = sorted({(t, v) for t, v in _sawtooth_values(sub) if t < first_run_end})
            assert len(old) >= 10, old
            # in order and none lost within the first run
            for (t1, v1), (t2, v2) in zip(old, old[1:]):
                assert abs((v2 - v1) % 10.0 - 1.0) < 1e-6, old
            _assert_arrived_in_order(_sawtooth_values(sub))


class Swallow:
    """TCP from 127.0.0.1:port to the broker's port. While `swallow` is set,
    what the gateway sends is read and kept here, never forwarded: messages
    paho has written to its socket that the broker never gets, so never
    acknowledges. Killing the gateway then is a kill mid-delivery."""

    def __init__(self, port, broker_port):
        self.broker_port = broker_port
        self.swallow = False
        self.swallowed = b""
        self.cond = threading.Condition()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(4)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                down, _ = self.lsock.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.broker_port), timeout=10)
            up.settimeout(None)
            threading.Thread(target=self._pump, args=(down, up, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down, False), daemon=True).start()

    def _pump(self, src, dst, from_gateway):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.cond:
                    if from_gateway and self.swallow:
                        self.swallowed += data
                        self.cond.notify_all()
                        continue
                dst.sendall(data)
        except OSError:
            pass
        for sk in (src, dst):
            try:
                sk.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wait_swallowed(self, needle, count, timeout=15):
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.swallowed.count(needle) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out: %d of %d %r swallowed"
                                         % (self.swallowed.count(needle), count, needle))
                self.cond.wait(left)

    def close(self):
        self.lsock.close()


def test_sigkill_mid_delivery_loses_nothing_at_qos1(tmp):
    # The gateway's messages reach a proxy that stops passing them on: paho
    # has sent them and waits for PUBACKs that never come. SIGKILL then; the
    # next run sends every one of them again (from state_dir/mqtt/buffer),
    # in order, and the subscriber misses none of the first run's readings.
    bport, pport = reserve_port("tcp"), reserve_port("tcp")
    text = conf(pport, [SIM % (2.0, 0.1)], 'format = "senml-json"; qos = 1;', server=unreachable_server())
    proxy = Swallow(pport, bport)
    try:
        with Broker(tmp, bport), Sub(bport, ["lwm2m/sim-1"]) as sub:
            gw = Gateway(tmp, text)
            with gw:
                sub.wait_msg("lwm2m/sim-1", count=3)
                with proxy.cond:
                    proxy.swallow = True
                proxy.wait_swallowed(b'"n":"3303/0/5700"', 5)  # five readings
                gw.proc.kill()
                gw.proc.wait(10)
            with proxy.cond:
                proxy.swallow = False
                swallowed = proxy.swallowed
            # the readings the broker never got: SenML packs in PUBLISHes
            lost = {(t, v) for pack in re.findall(rb"\[\{.*?\}\]", swallowed)
                    for n, t, v in _senml_records(pack.decode()) if n == "/3303/0/5700"}
            assert len(lost) >= 5, swallowed
            first_run_end = time.time()
            with Gateway(tmp, text) as gw:
                m = gw.wait_log(r"mqtt: (\d+) message\(s\) kept from the last run")
                assert int(m.group(1)) >= len(lost), (m.string, len(lost))
                last = max(lost)
                sub.wait_msg("lwm2m/sim-1", lambda p: any((t, v) == last for n, t, v in _senml_records(p)
                                                          if n == "/3303/0/5700"))
                sub.wait_msg("lwm2m/sim-1", lambda p: any(t > first_run_end for _, t, _ in _senml_records(p)))
            vals = _sawtooth_values(sub)
            assert lost <= set(vals), sorted(lost - set(vals))
            _assert_arrived_in_order(vals)
            # none of the first run's readings missing: one every 0.1 s, a
            # sawtooth step of 10 * 0.1 / 2 = 0.5
            old = sorted({tv for tv in vals if tv[0] < first_run_end})
            for (t1, v1), (t2, v2) in zip(old, old[1:]):
                assert abs((v2 - v1) % 10.0 - 0.5) < 1e-6, "lost between %r and %r: %r" % ((t1, v1), (t2, v2), old)
    finally:
        proxy.close()


def _buffer_file_records(path):
    """(topic, payload) of each record of <state_dir>/mqtt/buffer not yet
    acknowledged by the broker: a header (8 bytes "GWMQBUF1", u64 offset of
    the first unacknowledged record), then records of u32 topic length, u32
    payload length, u8 qos, u8 retain (host order), topic, payload
    (gateway/mqtt_out.c)."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"GWMQBUF1", data[:16]
    out, (off,) = [], struct.unpack_from("=Q", data, 8)
    while off + 10 <= len(data):
        tl, pl, _qos, _retain = struct.unpack_from("=IIBB", data, off)
        assert off + 10 + tl + pl <= len(data), "record cut short at %d of %d" % (off, len(data))
        out.append((data[off + 10:off + 10 + tl].decode(), data[off + 10 + tl:off + 10 + tl + pl].decode()))
        off += 10 + tl + pl
    assert off == len(data), "%d bytes after the last record" % (len(data) - off)
    return out


def test_overflow_drops_the_newest_and_the_file_keeps_only_what_was_kept(tmp):
    # buffer_max 8 with the broker away and 20 readings a second: the oldest
    # 8 messages are held (in memory and in the file alike), every later one
    # is dropped and counted, and a restart sends exactly the 8, in order
    port = reserve_port("tcp")
    text = conf(port, [SIM % (2.0, 0.05)], 'format = "senml-json"; qos = 1; buffer_max = 8;',
                server=unreachable_server())
    with Gateway(tmp, text) as gw:
        gw.wait_log(r"mqtt: cannot connect to tcp://127\.0\.0\.1:%d" % port)
        gw.wait_log(r"mqtt: (\d{2,}) message\(s\) dropped so far \(buffer_max 8 reached while the broker is away\)")
    first_run_end = time.time()
    kept = _buffer_file_records(os.path.join(tmp, "state", "mqtt", "buffer"))
    assert len(kept) == 8, kept
    with Broker(tmp, port), Sub(port, ["lwm2m/#"]) as sub:
        with Gateway(tmp, text) as gw:
            gw.wait_log(r"mqtt: 8 message\(s\) kept from the last run are sent once connected")
            gw.wait_log(r"mqtt: connected")
            # a reading of this run behind them
            sub.wait_msg("lwm2m/sim-1", lambda p: any(t > first_run_end for _, t, _ in _senml_records(p)))
            # (the gateway's birth and will are paho's, never held)
            got = [(t, p) for _, _, t, p in sub.messages() if t != "lwm2m/test-gw/status"]
            assert got[:8] == kept, (got[:8], kept)
            # nothing else of the first run came: the dropped ones are gone
            for topic, payload in got[8:]:
                if topic.endswith("/status"):
                    assert json.loads(payload).get("last_reading_ms", 1e13) > first_run_end * 1000, payload
                else:
                    assert all(t > first_run_end for _, t, _ in _senml_records(payload)), payload
