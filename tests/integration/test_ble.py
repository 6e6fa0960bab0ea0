"""BLE adapter end to end against BlueZ mocked by python3-dbusmock's bluez5
template on a private D-Bus daemon (the daemon finds it through
adapters.ble.bus): a Ruuvi RAWv2 and a BTHome advert set as a device's
ManufacturerData / ServiceData arrive at the test LwM2M server as the right
values; bluetoothd restarting is survived (discovery started again); a
device nobody configured is ignored; a silent device is marked absent and
comes back on its next advert."""

import subprocess
import time

import dbus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

import configs
import harness
from harness import Gateway, TestServer, decode_senml_json

RUUVI = "CB:B8:33:4C:88:4F"
BTHOME = "A4:C1:38:00:00:01"
# ruuvi docs, data format 5, "valid data"
RUUVI_FRAME = bytes.fromhex("0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F")[0:]
# bthome.io format page: 25.00 Cel, 50.55 %
BTHOME_FRAME = bytes.fromhex("4002C40903BF13")
BASE_UUID = "0000%04x-0000-1000-8000-00805f9b34fb"


class Bus:
    """A private dbus-daemon and the bluez5 mock on it."""

    def __init__(self):
        self.daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork",
                                        "--print-address=1"], stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL)
        harness._PROCS.append(self.daemon)
        self.address = self.daemon.stdout.readline().decode().strip()
        assert self.address, "dbus-daemon gave no address"
        # signals reach the test through GLib's loop, run only inside wait()
        self.conn = dbus.bus.BusConnection(self.address, mainloop=DBusGMainLoop())
        self.mock = None

    def wait(self, done, what, timeout=10, **match):
        """done()'s first result other than None, asked again on each D-Bus
        signal that matches (add_signal_receiver's keywords); an assertion
        once timeout seconds pass. No signal is missed between the first
        done() and the wait: the bus daemon takes this connection's AddMatch
        before the calls done() makes."""
        self.conn.add_signal_receiver(self._woken, **match)
        expired = []

        def expire():
            expired.append(True)
            return False
        timer = GLib.timeout_add(int(timeout * 1000), expire)
        try:
            while True:
                r = done()
                if r is not None:
                    return r
                assert not expired, "timed out after %ss waiting for %s" % (timeout, what)
                GLib.MainContext.default().iteration(True)
        finally:
            self.conn.remove_signal_receiver(self._woken, **match)
            if not expired:
                GLib.source_remove(timer)

    @staticmethod
    def _woken(*args, **kw):
        """A matching signal: wait() asks done() again."""

    def start_bluez(self, devices=()):
        env = {"DBUS_SYSTEM_BUS_ADDRESS": self.address, "PATH": "/usr/bin:/bin"}
        self.mock = subprocess.Popen(["/usr/bin/python3", "-m", "dbusmock", "--system",
                                      "--template", "bluez5"], env=env,
                                     stdout=subprocess.DEVNULL)
        harness._PROCS.append(self.mock)
        # the mock is ready when it owns its name (NameOwnerChanged)
        self.wait(lambda: self.conn.name_has_owner("org.bluez") or None,
                  "the bluez5 mock to take org.bluez (exit status %s)" % self.mock.poll(),
                  signal_name="NameOwnerChanged", dbus_interface="org.freedesktop.DBus",
                  arg0="org.bluez")
        root = self.conn.get_object("org.bluez", "/")
        root.AddAdapter("hci0", "gw", dbus_interface="org.bluez.Mock")
        for mac in devices:
            root.AddDevice("hci0", mac, "dev-" + mac[-2:], dbus_interface="org.bluez.Mock")

    def stop_bluez(self):
        self.mock.terminate()
        self.mock.wait(5)

    def adapter(self):
        return self.conn.get_object("org.bluez", "/org/bluez/hci0")

    def advert(self, mac, rssi=-60, mfr=None, svc=None):
        path = "/org/bluez/hci0/dev_" + mac.replace(":", "_")
        props = {"RSSI": dbus.Int16(rssi)}
        if mfr:
            props["ManufacturerData"] = dbus.Dictionary(
                {dbus.UInt16(k): dbus.ByteArray(v) for k, v in mfr.items()}, signature="qv")
        if svc:
            props["ServiceData"] = dbus.Dictionary(
                {BASE_UUID % k: dbus.ByteArray(v) for k, v in svc.items()}, signature="sv")
        # EmitSignal, not UpdateProperties: dbusmock 0.28 cannot wrap a
        # dictionary-valued property in a variant
        self.conn.get_object("org.bluez", path).EmitSignal(
            "org.freedesktop.DBus.Properties", "PropertiesChanged", "sa{sv}as",
            ["org.bluez.Device1", dbus.Dictionary(props, signature="sv"),
             dbus.Array([], signature="s")], dbus_interface="org.freedesktop.DBus.Mock")

    def close(self):
        for p in (self.mock, self.daemon):
            if p and p.poll() is None:
                p.terminate()
                p.wait(5)


def ble_conf(bus, devices):
    return (configs.gateway(devices) +
            'adapters = { ble = { controller = "hci0"; bus = "%s"; }; };\n' % bus.address)


def ble_dev(ep, mac, extra=""):
    return '{ endpoint = "%s"; adapter = "ble"; address = "%s"; %s }' % (ep, mac, extra)


def _senml(ev):
    if ev.get("code") != "2.05" or not ev.get("payload_hex"):
        return {}
    return dict(decode_senml_json(bytes.fromhex(ev["payload_hex"])))


def wait_values(srv, ep, path, want, timeout=10):
    """Observe path's object instance (SenML JSON) until every want[path]
    holds. A declared field's instance exists from the registration on, value
    or not; one that appears with its first reading (BTHome) has none until
    the mapping created it: 4.04 until then, asked again after the Update that
    follows."""
    deadline = time.monotonic() + timeout
    path = "/".join(path.split("/")[:3])
    while True:
        req = srv.send_command("observe", ep=ep, path=path, accept=110)
        first = srv.wait_response(req)
        if first["code"] != "4.04":
            break
        # the instance comes with the field's first reading and the
        # gateway's Update follows: ask again after that Update
        after = [e is first for e in srv.events].index(True)
        srv.wait_event(lambda e: e["event"] == "update" and e["ep"] == ep and
                       any(x is e for x in srv.events[after:]),
                       max(0.1, deadline - time.monotonic()), "%s's Update with %s" % (ep, path))
    assert first["code"] == "2.05", first
    state = {"v": _senml(first), "seq": first.get("observe", -1)}

    def ok(v):
        return all(k in v and v[k] is not None and abs(v[k] - x) <= 1e-6 * max(1, abs(x))
                   for k, x in want.items())
    if ok(state["v"]):
        return state["v"]

    def later(e):
        if e["event"] != "notify" or e["req"] != req:
            return False
        state["v"].update(_senml(e))
        return ok(state["v"])
    srv.wait_event(later, timeout, "%s at %s" % (want, path))
    return state["v"]


def test_ruuvi_and_bthome_adverts_reach_the_server(tmp):
    bus = Bus()
    try:
        bus.start_bluez([RUUVI, BTHOME])
        with TestServer() as srv:
            conf = ble_conf(bus, [ble_dev("ruuvi-1", RUUVI, 'decoder = "ruuvi";'),
                                  ble_dev("bthome-1", BTHOME, 'decoder = "bthome";')])
            with Gateway(tmp, conf, server=srv) as gw:
                srv.wait_register("ruuvi-1")
                srv.wait_register("bthome-1")
                gw.wait_log(r"discovery running on hci0")
                assert bus.adapter().Get("org.bluez.Adapter1", "Discovering",
                                         dbus_interface="org.freedesktop.DBus.Properties")
                filt = bus.adapter().Get("org.bluez.Adapter1", "DiscoveryFilter",
                                         dbus_interface="org.freedesktop.DBus.Properties")
                assert filt["Transport"] == "le" and filt["DuplicateData"], filt
                bus.advert(RUUVI, rssi=-61, mfr={0x0499: RUUVI_FRAME})
                wait_values(srv, "ruuvi-1", "/3303/0/5700", {"/3303/0/5700": 24.3})
                wait_values(srv, "ruuvi-1", "/3304/0/5700", {"/3304/0/5700": 53.49})
                wait_values(srv, "ruuvi-1", "/3315/0/5700", {"/3315/0/5700": 1000.44})
                wait_values(srv, "ruuvi-1", "/4/0/2", {"/4/0/2": -61})
                bus.advert(BTHOME, rssi=-70, svc={0xFCD2: BTHOME_FRAME})
                wait_values(srv, "bthome-1", "/3303/0/5700", {"/3303/0/5700": 25.0})
                wait_values(srv, "bthome-1", "/3304/0/5700", {"/3304/0/5700": 50.55})
                # a changed advert: a new value follows
                frame = bytearray(BTHOME_FRAME)
                frame[2:4] = (2650).to_bytes(2, "little")
                bus.advert(BTHOME, rssi=-71, svc={0xFCD2: bytes(frame)})
                wait_values(srv, "bthome-1", "/3303/0/5700", {"/3303/0/5700": 26.5})
                # a truncated Ruuvi frame is dropped with a warning, no crash
                mark = gw.mark()
                bus.advert(RUUVI, rssi=-62, mfr={0x0499: RUUVI_FRAME[:10]})
                gw.wait_log(r"ruuvi frame of 10 bytes refused", since=mark)
    finally:
        bus.close()


def test_bluetoothd_restart_restarts_discovery(tmp):
    bus = Bus()
    try:
        bus.start_bluez([BTHOME])
        with TestServer() as srv:
            conf = ble_conf(bus, [ble_dev("bthome-1", BTHOME, 'decoder = "bthome";')])
            with Gateway(tmp, conf, server=srv) as gw:
                srv.wait_register("bthome-1")
                gw.wait_log(r"discovery running on hci0")
                mark = gw.mark()
                bus.stop_bluez()
                gw.wait_log(r"bluetoothd left the bus", since=mark)
                bus.start_bluez([BTHOME])
                gw.wait_log(r"bluetoothd (joined|restarted on) the bus", since=mark)
                gw.wait_log(r"discovery running on hci0", since=mark)
                bus.advert(BTHOME, svc={0xFCD2: BTHOME_FRAME})
                wait_values(srv, "bthome-1", "/3303/0/5700", {"/3303/0/5700": 25.0})
                # the controller powered off and on: discovery again
                mark = gw.mark()
                bus.adapter().UpdateProperties("org.bluez.Adapter1",
                                               {"Powered": False, "Discovering": False},
                                               dbus_interface="org.freedesktop.DBus.Mock")
                gw.wait_log(r"controller hci0 powered off", since=mark)
                bus.adapter().UpdateProperties("org.bluez.Adapter1", {"Powered": True},
                                               dbus_interface="org.freedesktop.DBus.Mock")
                gw.wait_log(r"discovery running on hci0", since=mark)
    finally:
        bus.close()


def test_unknown_devices_are_ignored(tmp):
    bus = Bus()
    others = ["11:22:33:44:55:%02X" % i for i in range(20)]
    try:
        bus.start_bluez([BTHOME] + others)
        with TestServer() as srv:
            conf = ble_conf(bus, [ble_dev("bthome-1", BTHOME, 'decoder = "bthome";')])
            with Gateway(tmp, conf, server=srv) as gw:
                srv.wait_register("bthome-1")
                gw.wait_log(r"discovery running on hci0")
                mark = gw.mark()
                for i in range(5):
                    for mac in others:
                        bus.advert(mac, rssi=-50 - i, svc={0xFCD2: BTHOME_FRAME},
                                   mfr={0x0499: RUUVI_FRAME})
                bus.advert(BTHOME, svc={0xFCD2: BTHOME_FRAME})
                wait_values(srv, "bthome-1", "/3303/0/5700", {"/3303/0/5700": 25.0})
                assert not gw.has_log(r"11:22:33:44:55", since=mark), gw.log_tail()
                assert [c for c in srv.clients() if "11:22" in str(c)] == []
    finally:
        bus.close()


def test_silent_device_is_absent_and_comes_back(tmp):
    bus = Bus()
    try:
        bus.start_bluez([BTHOME])
        with TestServer() as srv:
            conf = ble_conf(bus, [ble_dev("bthome-1", BTHOME, 'decoder = "bthome"; '
                                          'absent_after = 2.0; absent_deregister = true;')])
            with Gateway(tmp, conf, server=srv) as gw:
                srv.wait_register("bthome-1")
                gw.wait_log(r"discovery running on hci0")
                bus.advert(BTHOME, svc={0xFCD2: BTHOME_FRAME})
                wait_values(srv, "bthome-1", "/3303/0/5700", {"/3303/0/5700": 25.0})
                gw.wait_log(r"ble:A4:C1:38:00:00:01 absent \(not heard for 2 s\)", timeout=10)
                srv.wait_deregister("bthome-1")
                bus.advert(BTHOME, rssi=-55, svc={0xFCD2: BTHOME_FRAME})
                gw.wait_log(r"ble:A4:C1:38:00:00:01 heard again")
                srv.wait_register("bthome-1")
    finally:
        bus.close()


# ---- GATT ---------------------------------------------------------------

MOCK = "org.freedesktop.DBus.Mock"
CHAR = "org.bluez.GattCharacteristic1"
GATT_DEV = "C0:FF:EE:00:00:01"
GATT_FAR = "C0:FF:EE:00:00:02"
SETPOINT_UUID = "12345678-1234-5678-1234-56789abcdef0"


def dev_path(mac):
    return "/org/bluez/hci0/dev_" + mac.replace(":", "_")


def gatt_device(bus, mac, chars, connect_ok=True):
    """Connect/Disconnect behaviours on the bluez5 mock's device and one
    service with chars [(uuid, value bytes)] as GattCharacteristic1
    objects. ReadValue returns Value, WriteValue stores it (a first byte
    0xFF is refused as BlueZ refuses a write the device does not permit),
    StartNotify sets Notifying."""
    dev = bus.conn.get_object("org.bluez", dev_path(mac))
    if connect_ok:
        dev.AddMethod("org.bluez.Device1", "Connect", "", "",
                      "self.UpdateProperties('org.bluez.Device1', {'Connected': dbus.Boolean(True)})\n"
                      "self.UpdateProperties('org.bluez.Device1', "
                      "{'ServicesResolved': dbus.Boolean(True)})",
                      dbus_interface=MOCK)
    else:
        dev.AddMethod("org.bluez.Device1", "Connect", "", "",
                      "raise dbus.exceptions.DBusException('Page Timeout', "
                      "name='org.bluez.Error.Failed')", dbus_interface=MOCK)
    dev.AddMethod("org.bluez.Device1", "Disconnect", "", "",
                  "self.UpdateProperties('org.bluez.Device1', {'ServicesResolved': dbus.Boolean(False), "
                  "'Connected': dbus.Boolean(False)})", dbus_interface=MOCK)
    root = bus.conn.get_object("org.bluez", "/")
    svc = dev_path(mac) + "/service0010"
    root.AddObject(svc, "org.bluez.GattService1",
                   {"UUID": BASE_UUID % 0x181A, "Primary": True,
                    "Device": dbus.ObjectPath(dev_path(mac))}, [], dbus_interface=MOCK)
    paths = {}
    for i, (uuid, val) in enumerate(chars):
        path = "%s/char%04x" % (svc, 0x11 + i)
        root.AddObject(path, CHAR, {
            "UUID": uuid, "Service": dbus.ObjectPath(svc),
            "Value": dbus.Array([dbus.Byte(b) for b in val], signature="y"),
            "Flags": dbus.Array(["read", "write", "notify"], signature="s"),
            "Notifying": False}, [
            ("ReadValue", "a{sv}", "ay", "ret = self.props['%s']['Value']" % CHAR),
            ("WriteValue", "aya{sv}", "",
             "if len(args[0]) and args[0][0] == 0xFF:\n"
             "    raise dbus.exceptions.DBusException('Write not permitted', "
             "name='org.bluez.Error.NotPermitted')\n"
             "self.props['%s']['Value'] = dbus.Array(args[0], signature='y')" % CHAR),
            ("StartNotify", "", "", "self.props['%s']['Notifying'] = True" % CHAR),
            ("StopNotify", "", "", "self.props['%s']['Notifying'] = False" % CHAR),
        ], dbus_interface=MOCK)
        paths[uuid] = path
    return paths


def set_value(bus, path, val):
    """A notification: BlueZ's PropertiesChanged of Value."""
    bus.conn.get_object("org.bluez", path).EmitSignal(
        "org.freedesktop.DBus.Properties", "PropertiesChanged", "sa{sv}as",
        [CHAR, dbus.Dictionary({"Value": dbus.Array([dbus.Byte(b) for b in val], signature="y")},
                               signature="sv"), dbus.Array([], signature="s")],
        dbus_interface=MOCK)


def calls(bus, path, method):
    return bus.conn.get_object("org.bluez", path).GetMethodCalls(method, dbus_interface=MOCK)


def wait_calls(bus, path, method, n, timeout=15):
    """The mock's log of method once it holds n calls, looked at again on each
    MethodCalled signal the mock object at path emits."""
    def enough():
        c = calls(bus, path, method)
        return c if len(c) >= n else None
    return bus.wait(enough, "%s: %s called %d times" % (path, method, n), timeout,
                    signal_name="MethodCalled", dbus_interface=MOCK, path=path)


SETPOINT_CODEC = ('codec = { type = "layout"; uplinks = ( { fport = 0; fields = ( '
                  '{ name = "setpoint"; offset = 0; length = 2; type = "int"; scale = 0.1; '
                  'endian = "little"; path = "/3308/0/5900"; } ); } ); '
                  'downlinks = ( { fport = 0; fields = ( '
                  '{ name = "setpoint"; offset = 0; length = 2; type = "int"; scale = 0.1; '
                  'endian = "little"; path = "/3308/0/5900"; } ); } ); };')




def test_gatt_reads_notifications_and_writes(tmp):
    bus = Bus()
    try:
        bus.start_bluez([GATT_DEV])
        paths = gatt_device(bus, GATT_DEV, [
            (BASE_UUID % 0x2A6E, (2137).to_bytes(2, "little", signed=True)),
            (BASE_UUID % 0x2A6F, (4550).to_bytes(2, "little")),
            (BASE_UUID % 0x2A19, bytes([87])),
            (SETPOINT_UUID, (215).to_bytes(2, "little"))])
        gatt = ('gatt = ( { uuid = "2a6e"; }, { uuid = "2a6f"; }, { uuid = "2a19"; notify = true; }, '
                '{ uuid = "%s"; %s } ); gatt_interval = 0.5;' % (SETPOINT_UUID, SETPOINT_CODEC))
        with TestServer() as srv:
            conf = ble_conf(bus, [ble_dev("gatt-1", GATT_DEV, gatt)])
            with Gateway(tmp, conf, server=srv) as gw:
                srv.wait_register("gatt-1")
                gw.wait_log(r"ble:C0:FF:EE:00:00:01 connected, 4 of 4 characteristics found")
                wait_values(srv, "gatt-1", "/3303/0/5700", {"/3303/0/5700": 21.37})
                wait_values(srv, "gatt-1", "/3304/0/5700", {"/3304/0/5700": 45.5})
                wait_values(srv, "gatt-1", "/3308/0/5900", {"/3308/0/5900": 21.5})
                # interval reads: a changed value arrives by the next read
                bus.conn.get_object("org.bluez", paths[BASE_UUID % 0x2A6E]).UpdateProperties(
                    CHAR, {"Value": dbus.Array([dbus.Byte(b) for b in
                                                (-512).to_bytes(2, "little", signed=True)],
                                               signature="y")}, dbus_interface=MOCK)
                wait_values(srv, "gatt-1", "/3303/0/5700", {"/3303/0/5700": -5.12})
                assert len(calls(bus, paths[BASE_UUID % 0x2A6E], "ReadValue")) >= 2
                # notify: StartNotify once, each Value change is a reading
                wait_calls(bus, paths[BASE_UUID % 0x2A19], "StartNotify", 1)
                set_value(bus, paths[BASE_UUID % 0x2A19], bytes([55]))
                wait_values(srv, "gatt-1", "/3/0/9", {"/3/0/9": 55})
                assert not calls(bus, paths[BASE_UUID % 0x2A19], "ReadValue")
                # a Write becomes WriteValue with the codec's bytes, 2.04 once BlueZ answered
                r = srv.request("write", ep="gatt-1", path="/3308/0/5900", cf=0,
                                payload_text="-12.5")
                assert r["code"] == "2.04", r
                w = calls(bus, paths[SETPOINT_UUID], "WriteValue")
                assert [bytes(c[1][0]) for c in w] == [(-125).to_bytes(2, "little", signed=True)], w
                assert w[0][1][1].get("type") == "request", w
                # BlueZ refusing the write: the server gets an error, not 2.04
                r = srv.request("write", ep="gatt-1", path="/3308/0/5900", cf=0,
                                payload_text="-0.1")
                assert r["code"] == "5.00", r
                gw.wait_log(r"WriteValue to %s failed: org.bluez.Error.NotPermitted" %
                            SETPOINT_UUID)
                # out of the field's range: refused before any GATT traffic
                n = len(calls(bus, paths[SETPOINT_UUID], "WriteValue"))
                r = srv.request("write", ep="gatt-1", path="/3308/0/5900", cf=0,
                                payload_text="4000")
                assert r["code"] == "4.00", r
                assert len(calls(bus, paths[SETPOINT_UUID], "WriteValue")) == n
                # the connection is kept (a notified characteristic)
                assert not calls(bus, dev_path(GATT_DEV), "Disconnect")
                assert len(calls(bus, dev_path(GATT_DEV), "Connect")) == 1
    finally:
        bus.close()


def test_gatt_disconnects_between_reads_and_backs_off_from_a_device_out_of_range(tmp):
    bus = Bus()
    try:
        bus.start_bluez([GATT_DEV, GATT_FAR])
        paths = gatt_device(bus, GATT_DEV, [(BASE_UUID % 0x2A6E, (2500).to_bytes(2, "little")),
                                            (BASE_UUID % 0x2A19, bytes([20]))])
        gatt_device(bus, GATT_FAR, [(BASE_UUID % 0x2A6E, (100).to_bytes(2, "little"))],
                    connect_ok=False)
        gatt = 'gatt = ( { uuid = "2a6e"; } ); gatt_interval = 0.5;'
        # a characteristic known by its UUID (uint8 0..100) written as a set
        # point; unit = "": in the unit of the target, which has none
        gatt_w = ('gatt = ( { uuid = "2a6e"; }, { uuid = "2a19"; field = "setpoint"; '
                  'path = "/3308/0/5900"; unit = ""; writable = true; } ); gatt_interval = 0.5;')
        with TestServer() as srv:
            conf = ble_conf(bus, [ble_dev("far-1", GATT_FAR, gatt),
                                  ble_dev("gatt-1", GATT_DEV, gatt_w)])
            with Gateway(tmp, conf, server=srv) as gw:
                srv.wait_register("gatt-1")
                gw.wait_log(r"ble:C0:FF:EE:00:00:02: Connect failed: org.bluez.Error.Failed: "
                            r"Page Timeout \(next attempt in 1000 ms\)")
                wait_values(srv, "gatt-1", "/3303/0/5700", {"/3303/0/5700": 25.0})
                # connected for each read, disconnected after it
                wait_calls(bus, dev_path(GATT_DEV), "Disconnect", 2)
                assert len(calls(bus, paths[BASE_UUID % 0x2A6E], "ReadValue")) >= 2
                # the device out of range: attempts 1 s, then 2 s apart (back-off)
                c = wait_calls(bus, dev_path(GATT_FAR), "Connect", 3)
                t = [x[0] for x in c]
                assert t[1] - t[0] >= 0.9 and t[2] - t[1] >= 1.9, t
                # a Write between two connections: connected for it, answered once written
                r = srv.request("write", ep="gatt-1", path="/3308/0/5900", cf=0,
                                payload_text="55")
                assert r["code"] == "2.04", r
                w = calls(bus, paths[BASE_UUID % 0x2A19], "WriteValue")
                assert [bytes(c[1][0]) for c in w] == [bytes([55])], w
                # between two steps of the format or out of its range: 4.00, nothing sent
                for text in ("55.5", "101", "-1"):
                    r = srv.request("write", ep="gatt-1", path="/3308/0/5900", cf=0,
                                    payload_text=text)
                    assert r["code"] == "4.00", (text, r)
                assert len(calls(bus, paths[BASE_UUID % 0x2A19], "WriteValue")) == 1
                # only the first failure of the streak is a warning
                assert sum(1 for line in gw.lines if "C0:FF:EE:00:00:02: Connect failed" in line
                           and line.startswith("<4>")) == 1, gw.log_tail()
    finally:
        bus.close()


# ---- encrypted BTHome ---------------------------------------------------

BINDKEY = "231d39c1d7cc1ab1aee224cd096db932"


def bthome_encrypt(mac, key_hex, counter, objects):
    """An encrypted BTHome v2 frame (bthome.io "Encryption"), built with
    python3-cryptography's AES-CCM: info byte 0x41, ciphertext, counter
    (little-endian), 4-byte MIC."""
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM
    ctr = counter.to_bytes(4, "little")
    nonce = bytes.fromhex(mac.replace(":", "")) + b"\xd2\xfc\x41" + ctr
    sealed = AESCCM(bytes.fromhex(key_hex), tag_length=4).encrypt(nonce, objects, None)
    return b"\x41" + sealed[:-4] + ctr + sealed[-4:]


def test_encrypted_bthome_key_and_replays(tmp):
    enc, wrong = "54:48:E6:8F:80:A5", "54:48:E6:8F:80:A6"
    bus = Bus()
    try:
        bus.start_bluez([enc, wrong])
        with TestServer() as srv:
            conf = ble_conf(bus, [
                ble_dev("enc-1", enc, 'decoder = "bthome"; bindkey = "%s";' % BINDKEY),
                ble_dev("enc-2", wrong, 'decoder = "bthome"; bindkey = "%s";' % ("00" * 16))])
            with Gateway(tmp, conf, server=srv) as gw:
                srv.wait_register("enc-1")
                srv.wait_register("enc-2")
                gw.wait_log(r"discovery running on hci0")
                # the published vector itself: 25.06 Cel, 50.55 %
                vec = bytes.fromhex("41a47266c95f730011223378237214")
                assert bthome_encrypt(enc, BINDKEY, 0x33221100,
                                      bytes.fromhex("02CA0903BF13")) == vec
                bus.advert(enc, svc={0xFCD2: vec})
                wait_values(srv, "enc-1", "/3303/0/5700", {"/3303/0/5700": 25.06})
                wait_values(srv, "enc-1", "/3304/0/5700", {"/3304/0/5700": 50.55})
                # a later counter: a new reading
                bus.advert(enc, svc={0xFCD2: bthome_encrypt(enc, BINDKEY, 0x33221101,
                                                            bytes.fromhex("02D007"))})
                wait_values(srv, "enc-1", "/3303/0/5700", {"/3303/0/5700": 20.0})
                # an older counter (a recorded frame sent again): refused, counted
                mark = gw.mark()
                bus.advert(enc, svc={0xFCD2: bthome_encrypt(enc, BINDKEY, 0x33221000,
                                                            bytes.fromhex("029001"))})
                gw.wait_log(r"counter 857870336 after 857870593 refused as a replay", since=mark)
                bus.advert(enc, svc={0xFCD2: bthome_encrypt(enc, BINDKEY, 0x33221102,
                                                            bytes.fromhex("02A00F"))})
                wait_values(srv, "enc-1", "/3303/0/5700", {"/3303/0/5700": 40.0})
                # the wrong key: no reading, logged once however many frames
                for i in range(5):
                    bus.advert(wrong, rssi=-50 - i,
                               svc={0xFCD2: bthome_encrypt(wrong, BINDKEY, 10 + i,
                                                           bytes.fromhex("02CA09"))})
                gw.wait_log(r"54:48:E6:8F:80:A6: encrypted bthome frame does not "
                            r"authenticate")
                wait_values(srv, "enc-2", "/4/0/2", {"/4/0/2": -54})
                assert sum("does not authenticate" in line for line in gw.lines) == 1
                assert srv.read("enc-2", "/3303/0/5700")["code"] == "4.04"
    finally:
        bus.close()


def test_mibeacon_plain_and_encrypted(tmp):
    plain_dev, enc_dev = "A4:C1:38:B4:94:4C", "A4:C1:38:02:83:F4"
    bus = Bus()
    try:
        bus.start_bluez([plain_dev, enc_dev])
        with TestServer() as srv:
            conf = ble_conf(bus, [
                ble_dev("mi-1", plain_dev, 'decoder = "mibeacon";'),
                ble_dev("mi-2", enc_dev, 'decoder = "mibeacon"; '
                        'bindkey = "e9ea895fac7cca6d30532432a516f3a8";')])
            with Gateway(tmp, conf, server=srv) as gw:
                srv.wait_register("mi-1")
                srv.wait_register("mi-2")
                gw.wait_log(r"discovery running on hci0")
                # xiaomi-ble's LYWSD03MMC vectors (v3 plain, v5 encrypted)
                bus.advert(plain_dev, svc={0xFE95: bytes.fromhex(
                    "50305b05034c94b438c1a40d10041001ea01")})
                wait_values(srv, "mi-1", "/3303/0/5700", {"/3303/0/5700": 27.2})
                wait_values(srv, "mi-1", "/3304/0/5700", {"/3304/0/5700": 49.0})
                vec = bytes.fromhex("58585b0550f4830238c1a495ef58763c26000097e2abb5")
                bus.advert(enc_dev, svc={0xFE95: vec})
                wait_values(srv, "mi-2", "/3304/0/5700", {"/3304/0/5700": 46.7})
                # the same frame sent again later (a replay) is not a new reading
                bus.advert(enc_dev, rssi=-70, svc={0xFE95: vec})
                wait_values(srv, "mi-2", "/4/0/2", {"/4/0/2": -70})
                assert not gw.has_log(r"83:F4: encrypted mibeacon frame")
    finally:
        bus.close()


# ---- byte layout on adverts ---------------------------------------------

ADV_CODEC = ('advert_codec = { type = "layout"; uplinks = ( { fport = 0; fields = ( '
             '{ name = "temperature"; offset = 0; length = 2; type = "int"; scale = 0.01; '
             'endian = "little"; unit = "Cel"; }, '
             '{ name = "humidity"; offset = 2; length = 1; unit = "%RH"; } ); } ); };')


def test_layout_codec_on_manufacturer_and_service_data(tmp):
    mfr_dev, svc_dev = "D1:00:00:00:00:01", "D1:00:00:00:00:02"
    bus = Bus()
    try:
        bus.start_bluez([mfr_dev, svc_dev])
        with TestServer() as srv:
            conf = ble_conf(bus, [
                ble_dev("mfr-1", mfr_dev, ADV_CODEC + " company_id = 0x1234;"),
                ble_dev("svc-1", svc_dev, ADV_CODEC + ' service_data = "fff0";')])
            with Gateway(tmp, conf, server=srv) as gw:
                srv.wait_register("mfr-1")
                srv.wait_register("svc-1")
                gw.wait_log(r"discovery running on hci0")
                frame = (-1234).to_bytes(2, "little", signed=True) + bytes([61])
                # another company's data on the same device is not read by the codec
                bus.advert(mfr_dev, mfr={0x1234: frame, 0x0499: b"\x01\x02"})
                wait_values(srv, "mfr-1", "/3303/0/5700", {"/3303/0/5700": -12.34})
                wait_values(srv, "mfr-1", "/3304/0/5700", {"/3304/0/5700": 61})
                bus.advert(svc_dev, svc={0xFFF0: (2222).to_bytes(2, "little") + bytes([40])})
                wait_values(srv, "svc-1", "/3303/0/5700", {"/3303/0/5700": 22.22})
                # shorter than the layout: dropped with a warning, no crash
                mark = gw.mark()
                bus.advert(mfr_dev, mfr={0x1234: b"\x01"})
                gw.wait_log(r"D1:00:00:00:00:01: advert of 1 bytes refused by its codec",
                            since=mark)
                bus.advert(mfr_dev, mfr={0x1234: (500).to_bytes(2, "little") + bytes([10])})
                wait_values(srv, "mfr-1", "/3303/0/5700", {"/3303/0/5700": 5.0})
    finally:
        bus.close()


# ---- matching, reload, configuration errors -----------------------------

def test_match_name_and_identity_bind_random_addresses(tmp):
    named, random_ruuvi = "E1:00:00:00:00:01", "E2:00:00:00:00:02"
    bus = Bus()
    try:
        bus.start_bluez([BTHOME])
        with TestServer() as srv:
            conf = ble_conf(bus, [
                '{ endpoint = "named-1"; adapter = "ble"; match_name = "Kitchen-Thermo"; '
                'decoder = "bthome"; }',
                # the MAC inside the Ruuvi frame, not the address BlueZ sees
                ble_dev("ruuvi-id", RUUVI, 'decoder = "ruuvi"; identity = true;')])
            with Gateway(tmp, conf, server=srv) as gw:
                srv.wait_register("named-1")
                srv.wait_register("ruuvi-id")
                gw.wait_log(r"discovery running on hci0")
                # a device appears advertising the name: bound to its address
                bus.conn.get_object("org.bluez", "/").AddDevice("hci0", named, "Kitchen-Thermo",
                                                                 dbus_interface="org.bluez.Mock")
                gw.wait_log(r"ble:Kitchen-Thermo found at E1:00:00:00:00:01")
                bus.advert(named, svc={0xFCD2: BTHOME_FRAME})
                wait_values(srv, "named-1", "/3303/0/5700", {"/3303/0/5700": 25.0})
                # the Ruuvi at a random address carries CB:B8:33:4C:88:4F in its frame
                bus.conn.get_object("org.bluez", "/").AddDevice("hci0", random_ruuvi, "Ruuvi",
                                                                 dbus_interface="org.bluez.Mock")
                bus.advert(random_ruuvi, mfr={0x0499: RUUVI_FRAME})
                gw.wait_log(r"ble:CB:B8:33:4C:88:4F found at E2:00:00:00:00:02")
                wait_values(srv, "ruuvi-id", "/3303/0/5700", {"/3303/0/5700": 24.3})
                # another Ruuvi (another MAC inside) is not taken for it
                other = bytearray(RUUVI_FRAME)
                other[-6:] = bytes.fromhex("112233445566")
                other[1:3] = (1000).to_bytes(2, "big")
                bus.conn.get_object("org.bluez", "/").AddDevice("hci0", "E3:00:00:00:00:03", "x",
                                                                 dbus_interface="org.bluez.Mock")
                bus.advert("E3:00:00:00:00:03", mfr={0x0499: bytes(other)})
                bus.advert(random_ruuvi, rssi=-44, mfr={0x0499: RUUVI_FRAME})
                wait_values(srv, "ruuvi-id", "/4/0/2", {"/4/0/2": -44})
                wait_values(srv, "ruuvi-id", "/3303/0/5700", {"/3303/0/5700": 24.3})
                assert not gw.has_log(r"found at E3:00")
    finally:
        bus.close()


def test_reload_keeps_an_unchanged_gatt_connection(tmp):
    import signal
    bus = Bus()
    try:
        bus.start_bluez([GATT_DEV, BTHOME])
        paths = gatt_device(bus, GATT_DEV, [(BASE_UUID % 0x2A6E, (2137).to_bytes(2, "little")),
                                            (BASE_UUID % 0x2A19, bytes([90]))])
        gatt = ('gatt = ( { uuid = "2a6e"; }, { uuid = "2a19"; notify = true; } ); '
                'gatt_interval = 0.3;')
        one = [ble_dev("gatt-1", GATT_DEV, gatt)]
        with TestServer() as srv:
            with Gateway(tmp, ble_conf(bus, one), server=srv) as gw:
                srv.wait_register("gatt-1")
                wait_values(srv, "gatt-1", "/3303/0/5700", {"/3303/0/5700": 21.37})
                wait_calls(bus, paths[BASE_UUID % 0x2A19], "StartNotify", 1)
                # a device added: gatt-1 keeps its connection and subscription
                mark = gw.mark()
                with open(gw.config_file, "w") as f:
                    f.write(ble_conf(bus, one + [ble_dev("bthome-1", BTHOME, 'decoder = "bthome";')])
                            .replace("@SERVER_URI@", srv.uri).replace("@TMP@", tmp))
                gw.signal(signal.SIGHUP)
                gw.wait_log(r"reload of .*: 1 added, 0 removed, 0 changed, 1 untouched", since=mark)
                srv.wait_register("bthome-1")
                bus.advert(BTHOME, svc={0xFCD2: BTHOME_FRAME})
                wait_values(srv, "bthome-1", "/3303/0/5700", {"/3303/0/5700": 25.0})
                set_value(bus, paths[BASE_UUID % 0x2A19], bytes([42]))
                wait_values(srv, "gatt-1", "/3/0/9", {"/3/0/9": 42})
                reads = len(calls(bus, paths[BASE_UUID % 0x2A6E], "ReadValue"))
                wait_calls(bus, paths[BASE_UUID % 0x2A6E], "ReadValue", reads + 1)
                assert len(calls(bus, dev_path(GATT_DEV), "Connect")) == 1
                assert len(calls(bus, paths[BASE_UUID % 0x2A19], "StartNotify")) == 1
                assert not calls(bus, dev_path(GATT_DEV), "Disconnect")
                # its gatt list changed: a new connection with the new list
                mark = gw.mark()
                gatt2 = 'gatt = ( { uuid = "2a6e"; } ); gatt_interval = 0.3;'
                with open(gw.config_file, "w") as f:
                    f.write(ble_conf(bus, [ble_dev("gatt-1", GATT_DEV, gatt2)])
                            .replace("@SERVER_URI@", srv.uri).replace("@TMP@", tmp))
                gw.signal(signal.SIGHUP)
                gw.wait_log(r"reload of .*: 0 added, 1 removed, 1 changed, 0 untouched", since=mark)
                wait_calls(bus, dev_path(GATT_DEV), "Connect", 2)
    finally:
        bus.close()


def test_config_errors_are_reported_at_their_line(tmp):
    import os
    from test_config_files import expect_errors
    conf = os.path.join(tmp, "gw.conf")
    with open(conf, "w") as f:
        f.write('servers = ( { uri = "coap://127.0.0.1:5683"; } );\n'
                'devices = (\n'
                '{ endpoint = "a"; adapter = "ble"; address = "C0:FF:EE:00:00:01";\n'
                '  gatt = ( { uuid = "2a6"; },\n'
                '           { uuid = "2a1c"; },\n'
                '           { uuid = "2a6e"; codec = "lpp"; field = "t"; } ); },\n'
                '{ endpoint = "b"; adapter = "ble"; address = "C0:FF:EE:00:00:02";\n'
                '  bindkey = "231d39c1d7cc1ab1"; gatt_interval = 0; },\n'
                '{ endpoint = "c"; adapter = "ble"; address = "C0:FF:EE:00:00:03";\n'
                '  stay_connected = false; gatt = ( { uuid = "2a19"; notify = true; } ); },\n'
                '{ endpoint = "d"; adapter = "ble"; address = "C0:FF:EE:00:00:04";\n'
                '  decoder = "ruuvi"; bindkey = "231d39c1d7cc1ab1aee224cd096db932"; },\n'
                '{ endpoint = "e"; adapter = "ble"; address = "C0:FF:EE:00:00:05";\n'
                '  advert_codec = "lpp"; },\n'
                '{ endpoint = "f"; adapter = "ble"; address = "C0:FF:EE:00:00:06";\n'
                '  service_data = "1800a"; company_id = 70000; }\n'
                ');\n')
    expect_errors(
        conf,
        '%s:4: gatt[0].uuid "2a6" is not a UUID, expected "2a6e" or '
        '"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"' % conf,
        '%s:5: gatt[1]: characteristic 00002a1c-0000-1000-8000-00805f9b34fb has no format known '
        'by its UUID, expected uuid 2a6e, 2a6f, 2a6d or 2a19, or codec = { type = "layout"; '
        'uplinks = ( { fport = 0; fields = (...); } ); }' % conf,
        '%s:6: gatt[2]: field, path, unit and writable are for a characteristic decoded by its UUID; '
        'with a codec its fields say them (the fields of its downlinks are writable)' % conf,
        '%s:8: "bindkey" must be 32 hexadecimal digits (the device\'s 16-byte AES key), got 16 '
        'characters' % conf,
        '%s:8: "gatt_interval" must be 0.2 to 86400 seconds, got 0' % conf,
        '%s:9: devices[2]: stay_connected = false but a gatt characteristic has notify = true, '
        'which needs the connection kept; expected stay_connected = true or notify = false' % conf,
        '%s:11: devices[3]: bindkey is for encrypted BTHome and MiBeacon frames, expected '
        'decoder = "bthome" or "mibeacon" (or no decoder)' % conf,
        '%s:14: devices[4]: advert_codec needs the advert data it reads, expected company_id = '
        '0x... '
        '(ManufacturerData) or service_data = "181a" (ServiceData)' % conf,
        '%s:16: "service_data" "1800a" is not a 16-bit service UUID, expected e.g. "181a"' % conf,
        '%s:16: "company_id" must be 0 to 0xFFFF (a Bluetooth SIG company identifier), got 70000'
        % conf)


def test_config_refuses_a_writable_codec_on_adverts(tmp):
    import os
    from test_config_files import expect_errors
    conf = os.path.join(tmp, "gw.conf")
    with open(conf, "w") as f:
        f.write('servers = ( { uri = "coap://127.0.0.1:5683"; } );\n'
                'devices = ( { endpoint = "a"; adapter = "ble"; address = "C0:FF:EE:00:00:01";\n'
                '  company_id = 0x1234;\n'
                '  advert_codec = { type = "layout"; downlinks = ( { fport = 0; fields = (\n'
                '    { name = "setpoint"; offset = 0; length = 2; path = "/3308/0/5900"; } ); } ); };\n'
                '} );\n')
    expect_errors(conf, '%s:4: devices[0]: advert_codec has writable fields (downlinks), '
                        'which adverts cannot carry; expected uplinks only (writes go to a gatt '
                        'characteristic)' % conf)


def test_scan_ble_lists_devices_with_decoders_and_entries(tmp):
    from harness import build_dir
    import os
    unknown = "D2:00:00:00:00:09"
    bus = Bus()
    try:
        bus.start_bluez([BTHOME, RUUVI, unknown])
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        p = subprocess.Popen([os.path.join(build_dir(), "lwm2m-gateway"), "--scan-ble", "3"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        harness._PROCS.append(p)
        # adverts once the scan's discovery runs (the adapter's PropertiesChanged)
        bus.wait(lambda: bus.adapter().Get("org.bluez.Adapter1", "Discovering",
                                           dbus_interface="org.freedesktop.DBus.Properties")
                 or None, "the scan to start discovery", signal_name="PropertiesChanged",
                 dbus_interface="org.freedesktop.DBus.Properties", path="/org/bluez/hci0")
        assert p.poll() is None, p.communicate()
        bus.advert(BTHOME, rssi=-48, svc={0xFCD2: BTHOME_FRAME})
        bus.advert(RUUVI, rssi=-61, mfr={0x0499: RUUVI_FRAME})
        bus.advert(unknown, rssi=-77, mfr={0x1234: b"\x01\x02\x03"})
        out, err = p.communicate(timeout=20)
        out = out.decode()
        assert p.returncode == 0, (out, err)
        assert "3 BLE devices heard" in out, out
        assert "A4:C1:38:00:00:01  dev-01  -48 dBm\n  bthome: temperature=25.00 Cel " \
               "humidity=50.55 %RH" in out, out
        assert '{ endpoint = "ble-A4-C1-38-00-00-01"; adapter = "ble"; address = ' \
               '"A4:C1:38:00:00:01"; decoder = "bthome"; },' in out, out
        assert "ruuvi: temperature=24.300 Cel" in out, out
        assert "no decoder knows its ManufacturerData of company 0x1234 (3 bytes)" in out, out
        assert 'company_id = 0x1234; advert_codec = { type = "layout";' in out, out
    finally:
        bus.close()


def _ruuvi_frame(mv, seq):
    """RUUVI_FRAME with another battery voltage (tx power kept) and sequence
    number: the adapter skips a frame whose sequence it has seen."""
    frame = bytearray(RUUVI_FRAME)
    tx = int.from_bytes(frame[13:15], "big") & 0x1F
    frame[13:15] = ((mv - 1600) << 5 | tx).to_bytes(2, "big")
    frame[16:18] = seq.to_bytes(2, "big")
    return bytes(frame)


def test_ruuvi_battery_voltage_lands_on_power_source_voltage(tmp):
    """The Ruuvi's battery voltage (2977 mV in the docs' valid frame) is
    /3/0/7/0 Power Source Voltage in mV, its power source /3/0/6/0 the
    internal battery (1): printed, read (TLV multiple resource, SenML
    instance), observed, discovered, kept by a reload that leaves the device
    as it was and bound there again by one that changes it."""
    import os
    import re
    import signal
    from harness import (TLV_MULTIPLE_RESOURCE, TLV_RESOURCE_INSTANCE, build_dir,
                         decode_tlv_entries, parse_link_format, tlv_int)
    bus = Bus()
    try:
        bus.start_bluez([RUUVI])
        with TestServer() as srv:
            dev = ble_dev("ruuvi-v", RUUVI, 'decoder = "ruuvi";')
            conf = ble_conf(bus, [dev])
            path = os.path.join(tmp, "print.conf")
            with open(path, "w") as f:
                f.write(conf.replace("@SERVER_URI@", srv.uri).replace("@TMP@", tmp))
            out = subprocess.run([os.path.join(build_dir(), "lwm2m-gateway"), "--print-mapping",
                                  "-c", path], capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            assert re.search(r"field battery_voltage\s+-> /3/0/7/0\s+Device / Power Source Voltage "
                             r"\[mV\], unit converted", out.stdout), out.stdout
            with Gateway(tmp, conf, server=srv) as gw:
                srv.wait_register("ruuvi-v")
                gw.wait_log(r"discovery running on hci0")
                bus.advert(RUUVI, mfr={0x0499: RUUVI_FRAME})
                wait_values(srv, "ruuvi-v", "/3/0/7/0", {"/3/0/7/0": 2977})
                r = srv.read("ruuvi-v", "/3/0/7", accept=11542)
                assert r["code"] == "2.05", r
                ents = decode_tlv_entries(bytes.fromhex(r["payload_hex"]))
                assert len(ents) == 1 and ents[0][:2] == (TLV_MULTIPLE_RESOURCE, 7), ents
                inst = ents[0][2]
                assert len(inst) == 1 and inst[0][:2] == (TLV_RESOURCE_INSTANCE, 0), inst
                assert tlv_int(inst[0][2]) == 2977
                r = srv.read("ruuvi-v", "/3/0/7", accept=110)
                assert r["code"] == "2.05", r
                assert dict(decode_senml_json(bytes.fromhex(r["payload_hex"]))) == {"/3/0/7/0": 2977}
                r = srv.read("ruuvi-v", "/3/0/6", accept=110)
                assert dict(decode_senml_json(bytes.fromhex(r["payload_hex"]))) == {"/3/0/6/0": 1}, r
                r = srv.request("discover", ep="ruuvi-v", path="/3/0")
                assert r["code"] == "2.05", r
                links = dict(parse_link_format(r["payload_text"]))
                assert links.get("/3/0/7", {}).get("dim") == "1", links
                # an observation of the instance is notified of the next voltage
                req = srv.send_command("observe", ep="ruuvi-v", path="/3/0/7/0", accept=110)
                first = srv.wait_response(req)
                assert first["code"] == "2.05" and _senml(first) == {"/3/0/7/0": 2977}, first
                bus.advert(RUUVI, mfr={0x0499: _ruuvi_frame(3001, 300)})
                srv.wait_event(lambda e: e["event"] == "notify" and e["req"] == req and
                               _senml(e).get("/3/0/7/0") == 3001, 10, "notify of 3001 mV")
                # a reload that leaves the device as it was keeps the value
                mark = gw.mark()
                gw.signal(signal.SIGHUP)
                gw.wait_log(r"reload of .*: 0 added, 0 removed, 0 changed, 1 untouched", since=mark)
                r = srv.read("ruuvi-v", "/3/0/7/0", accept=110)
                assert dict(decode_senml_json(bytes.fromhex(r["payload_hex"]))) == {"/3/0/7/0": 3001}, r
                # one that changes it builds its objects again: the field
                # still lands on /3/0/7/0, /3/0/6/0 says battery again
                mark = gw.mark()
                with open(gw.config_file, "w") as f:
                    f.write(ble_conf(bus, [ble_dev("ruuvi-v", RUUVI, 'decoder = "ruuvi"; resources = '
                                                   '( { field = "temperature"; '
                                                   'application_type = "outdoor"; } );')])
                            .replace("@SERVER_URI@", srv.uri).replace("@TMP@", tmp))
                gw.signal(signal.SIGHUP)
                gw.wait_log(r"reload of .*: 0 added, 0 removed, 1 changed", since=mark)
                bus.advert(RUUVI, mfr={0x0499: _ruuvi_frame(2950, 301)})
                wait_values(srv, "ruuvi-v", "/3/0/7/0", {"/3/0/7/0": 2950})
                r = srv.read("ruuvi-v", "/3/0/6/0", accept=110)
                assert dict(decode_senml_json(bytes.fromhex(r["payload_hex"]))) == {"/3/0/6/0": 1}, r
    finally:
        bus.close()
