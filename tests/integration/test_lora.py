"""LoRaWAN adapter end to end: simulated Semtech packet forwarders
(tests/interop/lora_forwarder.js, frames built and checked by the npm
package lora-packet, independent of the gateway's encoder) speak UDP to the
gateway; readings reach the test LwM2M server at their paths; replays, bad
MICs and unknown DevAddrs are refused; a Write becomes a downlink after the
next uplink; counters survive a restart and a reload; bad datagrams are
dropped with a log line.

Keys: lora-packet's test vectors (shared/test-vectors/README.md) for ABP;
the OTAA AppKey is the one of tests/unit/adapters/test_lora_mac.c."""

import json
import os
import shutil
import signal
import subprocess
import threading
import time

import configs
import harness
from harness import Gateway, TestServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INTEROP = os.path.join(ROOT, "tests", "interop")
SCRIPT = os.path.join(INTEROP, "lora_forwarder.js")

NWK = "44024241ed4ce9a68c6a8bc055233fd3"
APP = "ec925802ae430ca77fd3dd73cb2cc588"
ADDR = "26011bda"
APP_KEY = "b6b53f4a168a7a88bdf7ea135ce9cfca"
DEV_EUI = "0004a30b001c0530"
JOIN_EUI = "70b3d57ed0000001"
GW1, GW2 = "0102030405060708", "1112131415161718"
# Cayenne LPP README: channel 3 temperature 27.2 Cel
LPP_27_2 = "03670110"


class Forwarders:
    """lora_forwarder.js: commands on stdin, JSON events kept as they come."""

    def __init__(self, port):
        node = shutil.which("node") or shutil.which("nodejs")
        assert node, "node is not installed: run tools/install-deps.sh"
        assert os.path.isdir(os.path.join(INTEROP, "node_modules", "lora-packet")), \
            "tests/interop/node_modules lacks lora-packet: run tools/install-deps.sh"
        self.events, self.err = [], []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen([node, SCRIPT, "127.0.0.1", str(port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=dict(os.environ, NODE_NO_WARNINGS="1"))
        harness._PROCS.append(self.proc)
        threading.Thread(target=self._drain, args=(self.proc.stdout, self.events), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr, self.err), daemon=True).start()
        self.wait(lambda e: e["event"] == "ready", what="ready")
        self._id = 0

    def _drain(self, stream, into):
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                into.append(json.loads(line) if into is self.events else line)
                self._cond.notify_all()

    def send(self, **cmd):
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()

    def mark(self):
        with self._cond:
            return len(self.events)

    def wait(self, pred, timeout=10, since=0, what="event"):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.events[since:]:
                    if e["event"] == "error":
                        raise AssertionError("forwarder: %s" % e["error"])
                    if pred(e):
                        return e
                if self.proc.poll() is not None:
                    raise AssertionError("lora_forwarder.js exited: %s" % "\n".join(self.err[-20:]))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %s; events: %s; stderr: %s"
                                         % (what, self.events[-10:], self.err[-10:]))
                self._cond.wait(left)

    def pull(self, eui):
        m = self.mark()
        self.send(cmd="pull", eui=eui)
        self.wait(lambda e: e["event"] == "ack" and e["type"] == "pull" and e["eui"] == eui,
                  since=m, what="PULL_ACK")

    def uplink(self, eui=(GW1,), rssi=None, **kw):
        m = self.mark()
        self.send(cmd="uplink", eui=list(eui), rssi=rssi or [-50] * len(eui), **kw)
        for g in eui:
            self.wait(lambda e, g=g: e["event"] == "ack" and e["type"] == "push" and e["eui"] == g,
                      since=m, what="PUSH_ACK from %s" % g)

    def call(self, **cmd):
        self._id += 1
        m = self.mark()
        self.send(id=self._id, **cmd)
        return self.wait(lambda e: e["event"] == "decoded" and e.get("id") == self._id, since=m,
                         what="decoded %d" % self._id)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def lora_conf(port, devices, extra=""):
    return (configs.gateway(devices) +
            'adapters = { lora = { listen = "127.0.0.1:%d"; region = "EU868"; dedup_ms = 100; '
            'flush_ms = 0; state_dir = "@TMP@/lora"; %s }; };\n' % (port, extra))


def abp_dev(ep="lora-abp", extra=""):
    return ('{ endpoint = "%s"; adapter = "lora"; dev_addr = "%s"; nwk_skey = "%s"; '
            'app_skey = "%s"; codec = { type = "lpp"; channels = ( { channel = 3; type = '
            '"temperature"; }, { channel = 5; type = "digital_output"; } ); }; %s }'
            % (ep, ADDR, NWK, APP, extra))


def otaa_dev(ep="lora-otaa"):
    return ('{ endpoint = "%s"; adapter = "lora"; dev_eui = "%s"; join_eui = "%s"; app_key = "%s"; '
            'codec = { type = "lpp"; channels = ( { channel = 3; type = "temperature"; } ); }; }'
            % (ep, DEV_EUI, JOIN_EUI, APP_KEY))


def read_value(srv, ep, path):
    """The text value, None while the resource has none yet (4.04)."""
    r = srv.read(ep, path, accept=0)
    if r["code"] == "4.04":
        return None
    assert r["code"] == "2.05", r
    return bytes.fromhex(r["payload_hex"]).decode()


def wait_value(srv, ep, path, want, timeout=10):
    """Observe path's object instance until the notifications carry want at
    path (see test_ble.wait_values)."""
    from test_ble import wait_values
    wait_values(srv, ep, path, {path: float(want)}, timeout)


def up(fcnt, payload=LPP_27_2, **kw):
    return dict(devaddr=ADDR, nwk=NWK, app=APP, fcnt=fcnt, fport=1, payload=payload, **kw)


def test_abp_readings_replay_bad_mic_unknown(tmp):
    port = harness.reserve_port("udp")
    with TestServer() as srv:
        with Gateway(tmp, lora_conf(port, [abp_dev()]), server=srv,
                     extra_args=["--log-level", "debug"]) as gw:
            srv.wait_register("lora-abp")
            gw.wait_log(r"lora: listening on 127\.0\.0\.1:%d" % port)
            fw = Forwarders(port)
            try:
                # two forwarders hear the frame: one reading, the best RSSI
                fw.uplink(eui=(GW1, GW2), rssi=[-90, -40], **up(1))
                wait_value(srv, "lora-abp", "/3303/3/5700", 27.2)
                wait_value(srv, "lora-abp", "/4/0/2", -40)
                # a copy within dedup_ms is the same frame from a slow forwarder; once
                # frame 2 is in, frame 1's window is over and a copy is a replay
                fw.uplink(**up(2, payload="03670120"))
                wait_value(srv, "lora-abp", "/3303/3/5700", 28.8)
                mark = gw.mark()
                fw.uplink(**up(1))
                gw.wait_log(r"replayed frame dropped \(FCnt 1, last accepted 2\)", since=mark)
                fw.uplink(bad_mic=True, **up(3, payload="03670120"))
                gw.wait_log(r"DevAddr 26011bda \(FCnt 3\) dropped: bad MIC", since=mark)
                fw.uplink(**dict(up(3), devaddr="01020304"))
                gw.wait_log(r"unknown DevAddr 01020304", since=mark)
                # -4.1 Cel (LPP README's channel 1 vector, on channel 3 here)
                fw.uplink(**up(4, payload="0367ffd7"))
                wait_value(srv, "lora-abp", "/3303/3/5700", -4.1)
            finally:
                fw.close()


def test_bad_datagrams_are_dropped(tmp):
    port = harness.reserve_port("udp")
    with TestServer() as srv:
        with Gateway(tmp, lora_conf(port, [abp_dev()]), server=srv) as gw:
            srv.wait_register("lora-abp")
            fw = Forwarders(port)
            try:
                mark = gw.mark()
                fw.send(cmd="raw", eui=GW1, hex="027b")
                gw.wait_log(r"dropped a 2-byte datagram: shorter than its 4-byte header", since=mark)
                fw.send(cmd="raw", eui=GW1, hex="017b00000102030405060708" + "7b7d".upper())
                gw.wait_log(r"datagram: protocol version other than 2", since=mark)
                fw.send(cmd="push_json", eui=GW1, json='{"rxpk":[{')
                gw.wait_log(r"PUSH_DATA dropped: its JSON does not parse", since=mark)
                bad = {"tmst": 1, "freq": 868.1, "stat": 1, "modu": "LORA", "datr": "SF7BW125",
                       "rssi": -50, "lsnr": 5, "size": 3, "data": "!!!!"}
                fw.send(cmd="push_json", eui=GW1, json=json.dumps({"rxpk": [bad]}))
                gw.wait_log(r"rxpk\[0\] dropped: \"data\" is not valid base64", since=mark)
                short = dict(bad, size=3, data="QAEC")
                fw.send(cmd="push_json", eui=GW1, json=json.dumps({"rxpk": [short]}))
                gw.wait_log(r"dropped a 3-byte frame that is no LoRaWAN 1.0 uplink", since=mark)
                # the chirpstack vector: PUSH_DATA {} is acknowledged with its token
                m = fw.mark()
                fw.send(cmd="raw", eui=GW1, hex="027b00000102030405060708" + "7b7d")
                fw.wait(lambda e: e["event"] == "ack" and e["type"] == "push" and
                        e["token"] == "7b00", since=m, what="PUSH_ACK 7b00")
                # and the gateway still works
                fw.uplink(**up(1))
                wait_value(srv, "lora-abp", "/3303/3/5700", 27.2)
            finally:
                fw.close()


def test_otaa_join_uplink_and_nonce_reuse(tmp):
    port = harness.reserve_port("udp")
    with TestServer() as srv:
        with Gateway(tmp, lora_conf(port, [otaa_dev()]), server=srv) as gw:
            srv.wait_register("lora-otaa")
            fw = Forwarders(port)
            try:
                fw.pull(GW1)
                m = fw.mark()
                fw.send(cmd="join", eui=[GW1], dev_eui=DEV_EUI, join_eui=JOIN_EUI, app_key=APP_KEY,
                        dev_nonce="3b5a")
                ev = fw.wait(lambda e: e["event"] == "pull_resp", since=m, what="Join-Accept")
                sent = fw.wait(lambda e: e["event"] == "sent", since=m, what="sent")
                assert ev["txpk"]["freq"] == 868.1 and ev["txpk"]["datr"] == "SF7BW125", ev
                assert ev["txpk"]["ipol"] is True
                ja = fw.call(cmd="decode_join_accept", phy=ev["phy"], app_key=APP_KEY,
                             dev_nonce="3b5a")
                assert ja["mic_ok"], ja
                gw.wait_log(r"lora-?.*joined: DevAddr %s" % ja["devaddr"])
                assert sent  # the Join-Request went out before its answer
                fw.uplink(devaddr=ja["devaddr"], nwk=ja["nwk"], app=ja["app"], fcnt=0, fport=1,
                          payload=LPP_27_2)
                wait_value(srv, "lora-otaa", "/3303/3/5700", 27.2)
                mark = gw.mark()
                fw.send(cmd="join", eui=[GW1], dev_eui=DEV_EUI, join_eui=JOIN_EUI, app_key=APP_KEY,
                        dev_nonce="3b5a")
                gw.wait_log(r"DevNonce 3b5a used before: refused", since=mark)
            finally:
                fw.close()
            # the DevNonce and session are in state_dir, mode 0600
            st = os.stat(os.path.join(tmp, "lora", DEV_EUI + ".lora"))
            assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)


def test_write_becomes_downlink_after_uplink(tmp):
    port = harness.reserve_port("udp")
    with TestServer() as srv:
        with Gateway(tmp, lora_conf(port, [abp_dev()]), server=srv) as gw:
            srv.wait_register("lora-abp")
            fw = Forwarders(port)
            try:
                fw.pull(GW1)
                req = srv.send_command("write", ep="lora-abp", path="/3201/5/5550", cf=0,
                                       payload_text="1")
                gw.wait_log(r"write of digital_output_5 queued")
                m = fw.mark()
                fw.uplink(confirmed=True, **up(1))
                ev = fw.wait(lambda e: e["event"] == "pull_resp", since=m, what="PULL_RESP")
                r = srv.wait_response(req)
                assert r["code"] == "2.04", r
                d = fw.call(cmd="decode_down", phy=ev["phy"], nwk=NWK, app=APP)
                assert d["mic_ok"] and d["fport"] == 1 and d["payload"] == "050101", d
                assert d["ack"] is True and d["fcnt"] == 0, d
                # RX1 one second after the uplink on its channel
                assert ev["txpk"]["freq"] == 868.1 and ev["txpk"]["imme"] is False, ev
            finally:
                fw.close()


def test_counters_survive_restart_and_reload(tmp):
    port = harness.reserve_port("udp")
    conf = lora_conf(port, [abp_dev()])
    with TestServer() as srv:
        with Gateway(tmp, conf, server=srv) as gw:
            srv.wait_register("lora-abp")
            fw = Forwarders(port)
            try:
                fw.uplink(**up(7))
                wait_value(srv, "lora-abp", "/3303/3/5700", 27.2)
            finally:
                fw.close()
        with Gateway(tmp, conf, server=srv) as gw:
            gw.wait_log(r"lora: listening")
            fw = Forwarders(port)
            try:
                mark = gw.mark()
                fw.uplink(**up(7))
                gw.wait_log(r"replayed frame dropped \(FCnt 7, last accepted 7\)", since=mark)
                # a reload with the device unchanged keeps its counter too
                gw.signal(signal.SIGHUP)
                gw.wait_log(r"reload of .*: 0 added, 0 removed, 0 changed, 1 untouched", since=mark)
                mark = gw.mark()
                fw.uplink(**up(6))
                gw.wait_log(r"replayed frame dropped \(FCnt 6, last accepted 7\)", since=mark)
                fw.uplink(**up(8, payload="03670120"))
                wait_value(srv, "lora-abp", "/3303/3/5700", 28.8)
            finally:
                fw.close()


def test_absence_and_write_timeout(tmp):
    port = harness.reserve_port("udp")
    conf = lora_conf(port, [abp_dev(extra="uplink_timeout = 1;"), otaa_dev()],
                     extra="downlink_timeout = 1;")
    with TestServer() as srv:
        with Gateway(tmp, conf, server=srv) as gw:
            srv.wait_register("lora-abp")
            gw.wait_log(r"lora:26011bda not heard for 1 s: absent")
            wait_value(srv, "lora-abp", "/3/0/11/0", 7)
            fw = Forwarders(port)
            try:
                mark = gw.mark()
                fw.uplink(**up(1))
                gw.wait_log(r"lora:26011bda is heard again", since=mark)
                wait_value(srv, "lora-abp", "/3/0/11/0", 0)
                # no uplink opens a window in time: the write fails (5.03)
                r = srv.request("write", ep="lora-abp", path="/3201/5/5550", cf=0,
                                payload_text="1")
                assert r["code"] == "5.03", r
                gw.wait_log(r"not sent within 1 s")
                # a device without an encoder: refused before anything is queued
                r = srv.request("write", ep="lora-abp", path="/3303/3/5700", cf=0,
                                payload_text="1")
                assert r["code"].startswith("4."), r
            finally:
                fw.close()


# A JS codec in the TTN/ChirpStack convention: temperature (0.1 Cel, big
# endian), a nested wind speed (a dotted field), and an encoder whose
# "reset" field is executable: {data: {reset: true}} without arguments,
# the argument text otherwise.
JS_CODEC = (
    "function decodeUplink(input) { var b = input.bytes; "
    "return {data: {temperature: ((b[0] << 8) | b[1]) / 10, wind: {speed: b[2]}}, warnings: []}; } "
    "function encodeDownlink(input) { var r = input.data.reset; "
    "if (r === undefined) return {errors: ['only reset']}; "
    "return {bytes: r === true ? [0xAA, 1] : [0xAA, 2, r.length], fPort: 7}; }")
JS_ADDR = "26011bdc"


def js_dev(ep="lora-js"):
    return ('{ endpoint = "%s"; adapter = "lora"; dev_addr = "%s"; nwk_skey = "%s"; '
            'app_skey = "%s"; codec = { type = "js"; source = "%s"; fields = ( '
            '{ name = "temperature"; path = "/3303/4/5700"; unit = "Cel"; }, '
            '{ name = "wind.speed"; path = "/3300/2/5700"; }, '
            '{ name = "reset"; path = "/3303/4/5605"; writable = true; } ); }; }'
            % (ep, JS_ADDR, NWK, APP, JS_CODEC))


LAYOUT_ADDR = "26011bdd"


def layout_dev(ep="lora-layout"):
    return ('{ endpoint = "%s"; adapter = "lora"; dev_addr = "%s"; nwk_skey = "%s"; '
            'app_skey = "%s"; codec = { type = "layout"; uplinks = ( { fport = 2; fields = ( '
            '{ name = "temperature"; offset = 0; length = 2; type = "int"; scale = 0.01; '
            'path = "/3303/6/5700"; }, '
            '{ name = "humidity"; offset = 2; length = 1; scale = 0.5; path = "/3304/6/5700"; }, '
            '{ name = "level"; offset = 3; length = 2; endian = "little"; path = "/3300/6/5700"; } '
            '); } ); }; }' % (ep, LAYOUT_ADDR, NWK, APP))


def test_js_codec_readings_and_execute_downlink(tmp):
    port = harness.reserve_port("udp")
    with TestServer() as srv:
        with Gateway(tmp, lora_conf(port, [js_dev()]), server=srv) as gw:
            srv.wait_register("lora-js")
            fw = Forwarders(port)
            try:
                # 0x0110 = 27.2 Cel, wind speed 9: fields land where `fields` says
                fw.uplink(devaddr=JS_ADDR, nwk=NWK, app=APP, fcnt=1, fport=1, payload="011009")
                wait_value(srv, "lora-js", "/3303/4/5700", 27.2)
                wait_value(srv, "lora-js", "/3300/2/5700", 9)
                fw.pull(GW1)
                # an Execute is encoded by encodeDownlink and sent after the next uplink
                req = srv.send_command("execute", ep="lora-js", path="/3303/4/5605")
                gw.wait_log(r"execute of reset queued \(2 bytes on FPort 7\)")
                m = fw.mark()
                fw.uplink(devaddr=JS_ADDR, nwk=NWK, app=APP, fcnt=2, fport=1, payload="011109")
                ev = fw.wait(lambda e: e["event"] == "pull_resp", since=m, what="PULL_RESP")
                r = srv.wait_response(req)
                assert r["code"] == "2.04", r
                d = fw.call(cmd="decode_down", phy=ev["phy"], nwk=NWK, app=APP)
                assert d["mic_ok"] and d["fport"] == 7 and d["payload"] == "aa01", d
                assert d["devaddr"] == JS_ADDR, d
                # with arguments: the codec sees their text
                req = srv.send_command("execute", ep="lora-js", path="/3303/4/5605",
                                       payload_text="0='on',1")
                gw.wait_log(r"execute of reset queued \(3 bytes on FPort 7\)")
                m = fw.mark()
                fw.uplink(devaddr=JS_ADDR, nwk=NWK, app=APP, fcnt=3, fport=1, payload="011209")
                ev = fw.wait(lambda e: e["event"] == "pull_resp", since=m, what="PULL_RESP")
                assert srv.wait_response(req)["code"] == "2.04"
                d = fw.call(cmd="decode_down", phy=ev["phy"], nwk=NWK, app=APP)
                assert d["mic_ok"] and d["payload"] == "aa0208", d
            finally:
                fw.close()


def test_layout_codec_readings(tmp):
    port = harness.reserve_port("udp")
    with TestServer() as srv:
        with Gateway(tmp, lora_conf(port, [layout_dev()]), server=srv) as gw:
            srv.wait_register("lora-layout")
            fw = Forwarders(port)
            try:
                # 0x0abc = 2748 -> 27.48 Cel, 0x5b = 91 -> 45.5 %RH, level 0x0102 little endian
                fw.uplink(devaddr=LAYOUT_ADDR, nwk=NWK, app=APP, fcnt=1, fport=2,
                          payload="0abc5b0201")
                wait_value(srv, "lora-layout", "/3303/6/5700", 27.48)
                wait_value(srv, "lora-layout", "/3304/6/5700", 45.5)
                wait_value(srv, "lora-layout", "/3300/6/5700", 258)
                # a payload shorter than the layout is dropped whole
                mark = gw.mark()
                fw.uplink(devaddr=LAYOUT_ADDR, nwk=NWK, app=APP, fcnt=2, fport=2, payload="0bbc")
                gw.wait_log(r"FPort 2 payload of 2 bytes not decoded", since=mark)
                assert read_value(srv, "lora-layout", "/3303/6/5700") == "27.48"
            finally:
                fw.close()


def test_link_check_counts_forwarders_and_best_margin(tmp):
    port = harness.reserve_port("udp")
    with TestServer() as srv:
        with Gateway(tmp, lora_conf(port, [abp_dev()]), server=srv) as gw:
            srv.wait_register("lora-abp")
            fw = Forwarders(port)
            try:
                fw.pull(GW1)
                # LinkCheckReq in FOpts, heard by two forwarders at SF7 (floor -7.5 dB):
                # the margin is over the best SNR, 5.5 + 7.5 = 13 dB, from 2 gateways
                m = fw.mark()
                fw.uplink(eui=(GW1, GW2), rssi=[-60, -80], lsnr=[-3.0, 5.5], fopts="02",
                          **up(1))
                ev = fw.wait(lambda e: e["event"] == "pull_resp", since=m, what="PULL_RESP")
                d = fw.call(cmd="decode_down", phy=ev["phy"], nwk=NWK, app=APP)
                assert d["mic_ok"] and d["fopts"] == "020d02", d
                # one forwarder, SNR -10 at SF7: below the floor, margin 0, 1 gateway
                m = fw.mark()
                fw.uplink(lsnr=[-10.0], fopts="02", **up(2))
                ev = fw.wait(lambda e: e["event"] == "pull_resp", since=m, what="PULL_RESP")
                d = fw.call(cmd="decode_down", phy=ev["phy"], nwk=NWK, app=APP)
                assert d["mic_ok"] and d["fopts"] == "020001", d
            finally:
                fw.close()


def test_drop_lines_limited_and_forwarder_stat(tmp):
    port = harness.reserve_port("udp")
    with TestServer() as srv:
        with Gateway(tmp, lora_conf(port, [abp_dev()]), server=srv) as gw:
            srv.wait_register("lora-abp")
            fw = Forwarders(port)
            try:
                mark = gw.mark()
                flood = 100
                for _ in range(flood):
                    fw.send(cmd="raw", eui=GW1, hex="027b")
                # the burst, then one summary counting the rest once the window ends
                summary = gw.wait_log(r"dropped a 2-byte datagram: .* \[repeated (\d+) times in 5 s",
                                      timeout=20, since=mark)
                with gw._cond:
                    shown = sum(1 for line in gw.lines[mark:]
                                if "dropped a 2-byte datagram" in line and "repeated" not in line)
                assert shown == 10, shown
                assert shown + int(summary.group(1)) == flood, summary.group(0)
                # the forwarder's stat report is kept and logged at info
                stat = {"time": "2026-11-29 14:00:00 UTC", "rxnb": 12, "rxok": 10, "rxfw": 9,
                        "ackr": 100.0, "dwnb": 2, "txnb": 1}
                fw.send(cmd="push_json", eui=GW2, json=json.dumps({"stat": stat}))
                gw.wait_log(r"forwarder 1112131415161718 stat: rxnb 12 rxok 10 rxfw 9 ackr "
                            r"100\.0% dwnb 2 txnb 1", since=mark)
                # with the adapter's own counters: every dropped datagram is in them
                gw.wait_log(r"lora: counters: datagrams \d+ \(bad %d\)" % flood, since=mark)
                # and the gateway still works
                fw.uplink(**up(1))
                wait_value(srv, "lora-abp", "/3303/3/5700", 27.2)
            finally:
                fw.close()
