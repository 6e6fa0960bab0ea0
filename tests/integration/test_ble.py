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
        self.conn = dbus.bus.BusConnection(self.address)
        self.mock = None

    def start_bluez(self, devices=()):
        env = {"DBUS_SYSTEM_BUS_ADDRESS": self.address, "PATH": "/usr/bin:/bin"}
        self.mock = subprocess.Popen(["/usr/bin/python3", "-m", "dbusmock", "--system",
                                      "--template", "bluez5"], env=env,
                                     stdout=subprocess.DEVNULL)
        harness._PROCS.append(self.mock)
        # bounded wait for the name: the mock says nothing when it is ready
        deadline = time.monotonic() + 10
        while not self.conn.name_has_owner("org.bluez"):
            assert time.monotonic() < deadline, "the bluez5 mock did not take org.bluez"
            assert self.mock.poll() is None, "the bluez5 mock exited"
            time.sleep(0.02)
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
    """Observe path (SenML JSON) until every want[path] holds."""
    req = srv.send_command("observe", ep=ep, path=path, accept=110)
    first = srv.wait_response(req)
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
                                          'absent_after = 1.0; absent_deregister = true;')])
            with Gateway(tmp, conf, server=srv) as gw:
                srv.wait_register("bthome-1")
                gw.wait_log(r"discovery running on hci0")
                bus.advert(BTHOME, svc={0xFCD2: BTHOME_FRAME})
                wait_values(srv, "bthome-1", "/3303/0/5700", {"/3303/0/5700": 25.0})
                gw.wait_log(r"ble:A4:C1:38:00:00:01 absent \(not heard for 1 s\)", timeout=10)
                srv.wait_deregister("bthome-1")
                bus.advert(BTHOME, rssi=-55, svc={0xFCD2: BTHOME_FRAME})
                gw.wait_log(r"ble:A4:C1:38:00:00:01 heard again")
                srv.wait_register("bthome-1")
    finally:
        bus.close()
