"""Mapping layer end to end: simulated sensors' readings land at the right
paths of their virtual clients, IPSO housekeeping, live reload (SIGHUP) and
--print-mapping."""

import os
import signal
import subprocess

import configs
from harness import Gateway, TestServer, build_dir, decode_senml_json


def sim_device(ep, simulate, resources="", extra=""):
    res = ("resources = ( %s );" % resources) if resources else ""
    return ('{ endpoint = "%s"; adapter = "simulated"; device = { manufacturer = "Sim"; model = "S-1"; };\n'
            '  simulate = ( %s ); %s %s }' % (ep, simulate, res, extra))


def _senml(resp):
    assert resp.get("code") == "2.05", resp
    return dict(decode_senml_json(bytes.fromhex(resp["payload_hex"])))


def _observe_until(srv, ep, path, pred, timeout=15, accept=110):
    """Observe path; return the first value set (dict) for which pred holds."""
    req = srv.send_command("observe", ep=ep, path=path, accept=accept)
    ev = srv.wait_response(req)
    while True:
        if ev.get("code") == "2.05":
            vals = dict(decode_senml_json(bytes.fromhex(ev["payload_hex"])))
            if pred(vals):
                return vals
        ev = srv.wait_notify(req, timeout=timeout)


def test_simulated_readings_land_at_the_right_paths(tmp):
    devs = [
        sim_device("sim-temp", '{ field = "temperature"; wave = "constant"; min = 21.25; interval = 0.2; }'),
        sim_device("sim-hum", '{ field = "humidity"; wave = "constant"; min = 40.5; interval = 0.2; }'),
        sim_device("sim-f", '{ field = "t_probe"; wave = "constant"; min = 212.0; interval = 0.2; unit = "F"; }',
                   resources='{ field = "t_probe"; path = "/3303/1/5700"; unit = "F"; }'),
    ]
    with TestServer() as srv:
        with Gateway(tmp, configs.gateway(devs), server=srv):
            reg = srv.wait_register("sim-temp")
            assert "</3303/0>" in reg["links"]
            vals = _observe_until(srv, "sim-temp", "/3303/0", lambda v: "/3303/0/5700" in v)
            assert vals["/3303/0/5700"] == 21.25
            assert vals["/3303/0/5701"] == "Cel"
            vals = _observe_until(srv, "sim-hum", "/3304/0", lambda v: "/3304/0/5700" in v)
            assert vals["/3304/0/5700"] == 40.5 and vals["/3304/0/5701"] == "%RH"
            srv.wait_register("sim-f")
            vals = _observe_until(srv, "sim-f", "/3303/1", lambda v: "/3303/1/5700" in v)
            assert abs(vals["/3303/1/5700"] - 100.0) < 1e-9, vals  # 212 °F -> 100 Cel


def test_simulated_values_publish_at_their_decimals(tmp):
    """A simulated sensor resolves its values like a real one: 2 decimals by
    default, `decimals` otherwise; the number a server reads has no binary
    noise (20.32, never 20.316704277139795)."""
    import re
    devs = [
        sim_device("sim-d2", '{ field = "temperature"; wave = "sine"; min = 18.0; max = 24.5; '
                             'period = 7.0; interval = 0.2; }'),
        sim_device("sim-d0", '{ field = "humidity"; wave = "sine"; min = 30.0; max = 70.0; '
                             'period = 7.0; interval = 0.2; decimals = 0; }'),
    ]
    with TestServer() as srv:
        with Gateway(tmp, configs.gateway(devs), server=srv):
            for ep, inst, most in (("sim-d2", "/3303/0", 2), ("sim-d0", "/3304/0", 0)):
                srv.wait_register(ep)
                seen = 0
                req = srv.send_command("observe", ep=ep, path=inst, accept=110)
                ev = srv.wait_response(req)
                while seen < 5:
                    text = ev.get("payload_text") or ""
                    m = re.search(r'"n":"5700","v":(-?[0-9.]+)', text)
                    if ev.get("code") == "2.05" and m:
                        frac = m.group(1).split(".", 1)[1] if "." in m.group(1) else ""
                        assert len(frac) <= most, (ep, text)
                        seen += 1
                    ev = srv.wait_notify(req, timeout=15)


def test_simulated_decimals_out_of_range_is_a_config_error(tmp):
    path = os.path.join(tmp, "bad.conf")
    with open(path, "w") as f:
        f.write(configs.gateway([sim_device("sim-x", '{ field = "temperature"; decimals = 7; }')],
                                server="coap://127.0.0.1:5683").replace("@TMP@", tmp))
    p = subprocess.run([os.path.join(build_dir(), "lwm2m-gateway"), "-c", path, "--check"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, p
    assert '"decimals" must be 0..6, got 7' in p.stderr + p.stdout, p.stderr


def test_min_max_follow_readings_and_5605_resets_them(tmp):
    dev = sim_device("sim-sq", '{ field = "temperature"; wave = "square"; min = 10.0; max = 20.0; '
                               'period = 4.0; interval = 1.0; }')
    with TestServer() as srv:
        with Gateway(tmp, configs.gateway([dev]), server=srv):
            srv.wait_register("sim-sq")
            vals = _observe_until(srv, "sim-sq", "/3303/0",
                                  lambda v: v.get("/3303/0/5601") == 10.0 and v.get("/3303/0/5602") == 20.0,
                                  timeout=10)
            assert vals["/3303/0/5700"] in (10.0, 20.0)
            assert "/3303/0/5518" in vals  # timestamp of the last reading
            r = srv.request("execute", ep="sim-sq", path="/3303/0/5605")
            assert r["code"] == "2.04", r
            vals = _senml(srv.read("sim-sq", "/3303/0", accept=110))
            # right after the reset min and max are the current value (a
            # reading in between can only widen them again to 10..20)
            assert vals["/3303/0/5601"] <= vals["/3303/0/5700"] <= vals["/3303/0/5602"]
            assert not (vals["/3303/0/5601"] == 10.0 and vals["/3303/0/5602"] == 20.0 and
                        vals["/3303/0/5700"] == vals["/3303/0/5601"]), vals


def _conf(devices):
    return configs.gateway(devices)


def test_sighup_adds_removes_changes_and_leaves_others_alone(tmp):
    a, b, c = configs.device("dev-a"), configs.device("dev-b"), configs.device("dev-c")
    with TestServer() as srv:
        gw = Gateway(tmp, _conf([a, b, c]), server=srv).start()
        try:
            for ep in ("dev-a", "dev-b", "dev-c"):
                srv.wait_register(ep)
            req = srv.send_command("observe", ep="dev-a", path="/3303/0/5750")
            assert srv.wait_response(req)["code"] == "2.05"
            c2 = configs.device("dev-c", extra_resources='{ path = "/3316/0/5700"; value = 230.0; }')
            d = configs.device("dev-d")
            with open(gw.config_file, "w") as f:
                f.write(_conf([a, c2, d]).replace("@SERVER_URI@", srv.uri).replace("@TMP@", tmp))
            mark = gw.mark()
            gw.signal(signal.SIGHUP)
            gw.wait_log(r"reload of .*: 1 added, 1 removed, 1 changed, 1 untouched", since=mark)
            srv.wait_register("dev-d")
            srv.wait_deregister("dev-b")
            upd = srv.wait_update("dev-c")
            assert "</3316/0>" in upd["links"], upd
            # dev-a was not disturbed: no new Register, its observation lives
            assert len([e for e in srv.events if e["event"] == "register" and e["ep"] == "dev-a"]) == 1
            assert len([e for e in srv.events if e["event"] == "register" and e["ep"] == "dev-c"]) == 1
            assert srv.request("write", ep="dev-a", path="/3303/0/5750", cf=0, payload_text="x")["code"] == "2.04"
            assert srv.wait_notify(req)["payload_text"] == "x"
            assert not [e for e in srv.events if e["event"] == "update" and e["ep"] == "dev-a"]
        finally:
            gw.stop()


def test_broken_file_on_sighup_changes_nothing(tmp):
    with TestServer() as srv:
        with Gateway(tmp, _conf([configs.device("dev-a")]), server=srv) as gw:
            srv.wait_register("dev-a")
            with open(gw.config_file, "a") as f:
                f.write('\ndevices_typo = ( );\nservers = 12;\n')
            mark = gw.mark()
            gw.signal(signal.SIGHUP)
            gw.wait_log(r"gateway\.conf:\d+: ", since=mark)
            gw.wait_log(r"keeping the running configuration", since=mark)
            assert srv.read("dev-a", "/3303/0/5700")["payload_text"] == "21.5"
            assert not [e for e in srv.events if e["event"] in ("deregister", "update")]
            assert gw.proc.poll() is None


def test_print_mapping_shows_where_fields_land(tmp):
    devs = [sim_device("sim-x", '{ field = "temperature"; wave = "sine"; min = 1.0; max = 2.0; }'
                                ', { field = "humidity"; wave = "random_walk"; min = 30.0; max = 60.0; }')]
    path = os.path.join(tmp, "g.conf")
    with open(path, "w") as f:
        f.write(_conf(devs).replace("@SERVER_URI@", "coap://127.0.0.1:5683").replace("@TMP@", tmp))
    out = subprocess.run([os.path.join(build_dir(), "lwm2m-gateway"), "--print-mapping", "-c", path],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "sim-x" in out.stdout and "simulated:sim-x" in out.stdout
    assert "temperature" in out.stdout and "/3303/0/5700" in out.stdout
    assert "humidity" in out.stdout and "/3304/0/5700" in out.stdout


def test_write_to_writable_field_goes_to_the_adapter(tmp):
    # A set point simulated as a random walk: a Write moves the walk there,
    # so the readings that follow continue from the written value.
    dev = sim_device("sim-sp", '{ field = "setpoint"; wave = "random_walk"; min = 0.0; max = 100.0; '
                               'interval = 0.2; }',
                     resources='{ field = "setpoint"; path = "/3308/0/5900"; writable = true; }')
    with TestServer() as srv:
        with Gateway(tmp, configs.gateway([dev]), server=srv):
            srv.wait_register("sim-sp")
            _observe_until(srv, "sim-sp", "/3308/0", lambda v: "/3308/0/5900" in v)
            r = srv.request("write", ep="sim-sp", path="/3308/0/5900", cf=0, payload_text="77.5")
            assert r["code"] == "2.04", r
            req = srv.send_command("observe", ep="sim-sp", path="/3308/0/5900")
            first = srv.wait_response(req)
            vals = [float(first["payload_text"])] + [float(srv.wait_notify(req)["payload_text"]) for _ in range(3)]
            # a walk of at most 5 per step from 77.5 (steps are (max-min)/20)
            for k, v in enumerate(vals):
                assert abs(v - 77.5) <= 5.0 * (k + 2) + 1e-9, vals


def test_write_composite_to_a_writable_field_goes_to_the_adapter(tmp):
    import json
    dev = sim_device("sim-wc", '{ field = "setpoint"; wave = "random_walk"; min = 0.0; max = 100.0; '
                               'interval = 0.2; }',
                     resources='{ field = "setpoint"; path = "/3308/0/5900"; writable = true; }')
    with TestServer() as srv:
        with Gateway(tmp, configs.gateway([dev]), server=srv):
            srv.wait_register("sim-wc")
            _observe_until(srv, "sim-wc", "/3308/0", lambda v: "/3308/0/5900" in v)
            body = json.dumps([{"n": "/3308/0/5900", "v": 22.5}]).encode().hex()
            r = srv.request("raw", ep="sim-wc", path="/", method="ipatch", cf=110, payload_hex=body)
            assert r["code"] == "2.04", r
            req = srv.send_command("observe", ep="sim-wc", path="/3308/0/5900")
            first = srv.wait_response(req)
            vals = [float(first["payload_text"])] + [float(srv.wait_notify(req)["payload_text"]) for _ in range(3)]
            for k, v in enumerate(vals):  # the walk continues from the written value
                assert abs(v - 22.5) <= 5.0 * (k + 2) + 1e-9, vals
